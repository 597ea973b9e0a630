"""Plugin registration for lsw_stylenerf."""

from lsw_core.plugins import hookimpl


def _factory(checkpoint=None, **options):
    from lsw_stylenerf.loader import load_stylenerf

    return load_stylenerf(checkpoint, **options)


@hookimpl
def register_generators(register):
    register("stylenerf", _factory,
             description="StyleNeRF (FFHQ architecture): 3D-aware, camera-conditioned; .pkl, torch file or folder")
