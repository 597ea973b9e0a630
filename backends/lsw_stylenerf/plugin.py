"""Plugin registration for lsw_stylenerf."""

import importlib

from lsw_core.errors import PluginError
from lsw_core.plugins import hookimpl

#: Third-party modules the backend imports (beyond torch); `pip install 'lsw-core[stylenerf]'` provides them.
REQUIRED_MODULES = ("einops", "safetensors", "attrs")


def require_modules() -> None:
    """Raise `PluginError` naming the extra to install when a module the backend needs is missing."""
    for name in REQUIRED_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            raise PluginError(
                f"the stylenerf backend needs the Python package {name!r}, which is not installed; "
                "install it with: pip install 'lsw-core[stylenerf]'"
            ) from None


def _factory(checkpoint=None, **options):
    require_modules()
    from lsw_stylenerf.loader import load_stylenerf

    return load_stylenerf(checkpoint, **options)


@hookimpl
def register_generators(register):
    register(
        "stylenerf",
        _factory,
        description="StyleNeRF (FFHQ architecture): 3D-aware, camera-conditioned; .pkl, torch file or folder",
    )
