"""`lsw eval --judge sface`: identity by SFace (the OpenCV model zoo's MobileFaceNet-like recognizer),
on ArcFace crops aligned by each face's dlib landmarks (so it needs `lsw-core[faces]` too)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lsw_core.interfaces import Judge, Judgement
from lsw_sface.embedder import SFaceEmbedder


class SFaceJudge(Judge):
    """SFace (128-d) on 112-px ArcFace crops from dlib's 68 landmarks of each face."""

    network = "SFace (OpenCV model zoo, face_recognition_sface_2021dec, int8 weights dequantised)"
    same_as = ("sface",)
    measures = ("identity",)

    def __init__(self, checkpoint: str | None = None, work_size: int = 256) -> None:
        from lsw_faces.judges import FaceLandmarks  # the shared dlib landmarks (extra `faces`)

        self.embedder = SFaceEmbedder(checkpoint)
        self.landmarks = FaceLandmarks(work_size)

    def to(self, device: torch.device | str) -> SFaceJudge:
        self.embedder.to(device)
        return self

    @torch.no_grad()
    def _judge(self, images: torch.Tensor, face_box: tuple[float, float, float, float] | None) -> Judgement:
        marks = self.landmarks(images, face_box)
        points = marks.landmarks.clone()
        missing = ~torch.isfinite(points).all(dim=(1, 2))
        identity = torch.full((len(images), 128), float("nan"))
        if (~missing).any():
            keep = (~missing).nonzero().flatten()
            device = next(self.embedder.parameters()).device
            crops = self.embedder.landmark_crops(images[keep].to(device), points[keep])
            identity[keep] = F.normalize(self.embedder.descriptor(crops).float().cpu(), dim=1)
        return Judgement(found=marks.found, identity=identity)
