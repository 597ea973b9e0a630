"""The "dlib-ffhq" aligner: detect faces with dlib, pick one, align it the FFHQ way."""

from __future__ import annotations

import os

import numpy as np

from lsw_align.detector import DlibFaceDetector
from lsw_align.ffhq import align_ffhq
from lsw_core.errors import ImageError
from lsw_core.geometry import AlignedFace
from lsw_core.interfaces import Aligner


class DlibFfhqAligner(Aligner):
    """`align(photo, resolution, face_index=None)` → `AlignedFace`; `align_all(photo, resolution)` →
    one per detected face. Faces are numbered by decreasing size; by default the largest is taken."""

    def __init__(
        self, predictor: str | os.PathLike | None = None, upsample: int | None = None, min_score: float = 0.3
    ) -> None:
        self.detector = DlibFaceDetector(predictor=predictor, upsample=upsample, min_score=min_score)

    def _align(self, photo: np.ndarray, resolution: int, face_index: int | None) -> AlignedFace:
        faces = self.detector.detect(photo)
        h, w = photo.shape[:2]
        if not faces:
            raise ImageError(
                f"no face found ({w}×{h} pixels); use a photo with a visible, roughly frontal face"
                " at least ~80 px wide, or pass an already aligned crop"
            )
        index = 0 if face_index is None else face_index
        if not 0 <= index < len(faces):
            raise ImageError(f"face {index} requested, but {len(faces)} face(s) found (0 = largest)")
        face = faces[index]
        return align_ffhq(photo, face.landmarks, resolution, box=face.box, face_index=index)

    def _align_all(self, photo: np.ndarray, resolution: int) -> list[AlignedFace]:
        return [
            align_ffhq(photo, face.landmarks, resolution, box=face.box, face_index=i)
            for i, face in enumerate(self.detector.detect(photo))
        ]

    def count(self, photo: np.ndarray) -> int:
        """How many faces the photo has."""
        return len(self.detector.detect(photo))
