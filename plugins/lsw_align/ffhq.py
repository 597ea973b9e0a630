"""FFHQ alignment (Karras et al. 2019, the FFHQ dataset's recipe): from the 68 iBUG landmarks, an
oriented square around eyes and mouth, cropped and resampled to the generator's resolution."""

from __future__ import annotations

import numpy as np

from lsw_core.errors import ImageError
from lsw_core.geometry import AlignedFace, quad_to_affine, warp_to_aligned


def ffhq_quad(landmarks: np.ndarray) -> np.ndarray:
    """The crop quad [4, 2] (upper-left, lower-left, lower-right, upper-right) in photo coordinates.

    Its centre sits a tenth of the way from the eye midpoint to the mouth midpoint; its half-side is the
    larger of 2× the eye distance and 1.8× the eye-to-mouth distance; it is turned so that the eye line,
    corrected by the eye-to-mouth direction, is horizontal."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2):
        raise ImageError(f"FFHQ alignment: expected 68 landmarks [68, 2], got {list(lm.shape)}")
    eye_left, eye_right = lm[36:42].mean(axis=0), lm[42:48].mean(axis=0)
    eye_mid = (eye_left + eye_right) / 2
    eye_to_eye = eye_right - eye_left
    mouth_mid = (lm[48] + lm[54]) / 2
    eye_to_mouth = mouth_mid - eye_mid
    # x axis: the eye direction averaged with the eye-to-mouth direction turned by 90°
    x = eye_to_eye + np.array([eye_to_mouth[1], -eye_to_mouth[0]])
    x = x / max(np.hypot(*x), 1e-12)
    x = x * max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.array([-x[1], x[0]])
    c = eye_mid + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def align_ffhq(photo: np.ndarray, landmarks: np.ndarray, resolution: int, **face_info) -> AlignedFace:
    """The FFHQ-aligned crop [R, R, 3] of `photo` for a face with these 68 landmarks."""
    if resolution < 8:
        raise ImageError(f"FFHQ alignment: resolution must be at least 8, got {resolution}")
    to_aligned = quad_to_affine(ffhq_quad(landmarks), resolution)
    crop = warp_to_aligned(photo, to_aligned, resolution)
    h, w = photo.shape[:2]
    return AlignedFace(crop, to_aligned, (w, h), landmarks=np.asarray(landmarks, dtype=np.float64), **face_info)
