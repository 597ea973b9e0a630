"""The landmark judge: what a face swap must keep of its target — head pose and expression — measured
from dlib's 68 landmarks, independently of any network a mixer trains against.

    judge = LandmarkJudge()
    m = judge.measure(images)        # pose [B, 3] degrees, expression [B, K], found [B], landmarks [B, 68, 2]
    pose_error(m_swap.pose, m_target.pose), expression_error(m_swap.expression, m_target.expression)
"""

from __future__ import annotations

import math
import os

import attrs
import numpy as np
import torch

from lsw_core.errors import SettingError, ShapeError
from lsw_faces.landmarks.dlib68 import BOX_MODES, Dlib68
from lsw_faces.landmarks.expression import FEATURE_NAMES, NUM_FEATURES, features
from lsw_faces.landmarks.head_pose import FFHQ_FOCAL, PROJECTIONS, fit_pose
from lsw_faces.landmarks.mean_shape import mean_shape


@attrs.frozen
class Measurement:
    """A batch measured: pose [B, 3] (yaw, pitch, roll, degrees), expression [B, K] (`FEATURE_NAMES`),
    found [B] (dlib's detector found the face), placed [B] (landmarks were placed: found, or put in
    the aligned box), landmarks [B, 68, 2] (x, y in input pixels) and the pose fit's residual
    rms [B] in inter-ocular distances. Rows without landmarks are NaN."""

    pose: torch.Tensor
    expression: torch.Tensor
    found: torch.Tensor
    placed: torch.Tensor
    landmarks: torch.Tensor
    rms: torch.Tensor

    def __len__(self) -> int:
        return self.pose.shape[0]

    @property
    def failures(self) -> dict[str, int]:
        """How many faces the detector missed, and how many got no landmarks at all."""
        return {"not_found": int((~self.found).sum()), "not_placed": int((~self.placed).sum())}


@attrs.frozen
class LandmarkJudge:
    """Settings: `box` ("detect-or-aligned", "detect", "aligned") and `aligned_box` (see `dlib68`),
    `work_size` (longer image side handed to dlib), `projection` ("weak" or "perspective") and
    `focal` (perspective focal length in image widths), `predictor` (default: the shipped file)."""

    box: str = "detect-or-aligned"
    aligned_box: str | tuple[float, float, float, float] = "ffhq"
    work_size: int = 256
    projection: str = "weak"
    focal: float = FFHQ_FOCAL
    predictor: str | os.PathLike | None = None
    _dlib: Dlib68 = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        _check_settings(self)
        dlib68 = Dlib68(self.predictor, box=self.box, aligned_box=self.aligned_box, work_size=self.work_size)
        object.__setattr__(self, "_dlib", dlib68)

    def measure(self, images: torch.Tensor) -> Measurement:
        """Images [B, 3, H, W] in [-1, 1] (RGB) → `Measurement`."""
        marks = self._dlib(images)
        pose, expr, rms = measure_landmarks(
            marks.points, images.shape[-2:], projection=self.projection, focal=self.focal
        )
        return Measurement(
            pose=pose,
            expression=expr,
            found=torch.from_numpy(marks.found),
            placed=torch.from_numpy(marks.placed),
            landmarks=torch.from_numpy(marks.points).float(),
            rms=rms,
        )

    def compare(self, images: torch.Tensor, references: torch.Tensor) -> dict[str, float | int]:
        """Mean pose and expression errors of `images` against `references` (e.g. swaps against their
        targets), over the pairs with landmarks in both, and the failure counts of each side."""
        if images.shape[0] != references.shape[0]:
            raise ShapeError(
                f"compare: expected as many references as images, got {references.shape[0]} and {images.shape[0]}"
            )
        a, b = self.measure(images), self.measure(references)
        both = a.placed & b.placed
        return {
            "pose_error_deg": float(pose_error(a.pose[both], b.pose[both]).mean()) if both.any() else float("nan"),
            "expression_error": (
                float(expression_error(a.expression[both], b.expression[both]).mean()) if both.any() else float("nan")
            ),
            "pairs": int(both.sum()),
            "images_not_found": a.failures["not_found"],
            "references_not_found": b.failures["not_found"],
        }


def measure_landmarks(
    points: np.ndarray, size: tuple[int, int], *, projection: str = "weak", focal: float = FFHQ_FOCAL
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Landmarks [B, 68, 2] (x, y in pixels of images of `size` (H, W); rows of NaN are skipped) →
    pose [B, 3] in degrees, expression features [B, K] and the fit's residual rms [B] in inter-ocular
    distances (NaN rows where there were no landmarks)."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 3 or points.shape[1:] != (68, 2):
        raise ShapeError(f"landmarks: expected [B, 68, 2], got {list(points.shape)}")
    h, w = (int(v) for v in size)
    shape, n = mean_shape(), len(points)
    pose, expr, rms = np.full((n, 3), np.nan), np.full((n, NUM_FEATURES), np.nan), np.full(n, np.nan)
    for i in np.flatnonzero(np.isfinite(points).all(axis=(1, 2))):
        p = points[i] / w
        fit = fit_pose(p, shape, projection=projection, focal=focal, aspect=h / w)
        pose[i], expr[i] = fit.pose, features(fit.frontalise(p, shape))
        rms[i] = fit.rms / max(float(np.hypot(*(p[36:42].mean(0) - p[42:48].mean(0)))), 1e-9)
    return tuple(torch.from_numpy(t).float() for t in (pose, expr, rms))


def _check_pair(name: str, a: torch.Tensor, b: torch.Tensor, width: int) -> None:
    for t in (a, b):
        if not isinstance(t, torch.Tensor) or t.ndim != 2 or t.shape[1] != width:
            got = list(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ShapeError(f"{name}: expected tensors [B, {width}], got {got}")
    if a.shape != b.shape:
        raise ShapeError(f"{name}: expected tensors of one shape, got {list(a.shape)} and {list(b.shape)}")


def pose_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per pair [B]: mean absolute difference of yaw, pitch and roll in degrees (taken the short way
    round, so 179° and −179° are 2° apart)."""
    _check_pair("pose_error", a, b, 3)
    return torch.remainder(a - b + 180.0, 360.0).sub(180.0).abs().mean(1)


def expression_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per pair [B]: mean absolute difference of the expression features (dimensionless: each feature
    is a length over a reference length of the same face, see `expression`)."""
    _check_pair("expression_error", a, b, NUM_FEATURES)
    return (a - b).abs().mean(1)


def _check_settings(judge: LandmarkJudge) -> None:
    if judge.box not in BOX_MODES:
        raise SettingError(f"box: expected one of {BOX_MODES}, got {judge.box!r}")
    if judge.projection not in PROJECTIONS:
        raise SettingError(f"projection: expected one of {PROJECTIONS}, got {judge.projection!r}")
    if not (isinstance(judge.focal, (int, float)) and math.isfinite(judge.focal) and judge.focal > 0):
        raise SettingError(f"focal: expected a positive focal length in image widths, got {judge.focal}")


__all__ = ["FEATURE_NAMES", "LandmarkJudge", "Measurement", "expression_error", "pose_error"]
