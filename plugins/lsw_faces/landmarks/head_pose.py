"""Head pose from 68 2D landmarks: a perspective-n-point fit of the 3D mean shape (`mean_shape`).

Conventions are the synthetic world's (`lsw_synthface.shape3d.rotation`), so poses compare with
its ground truth: pose = (yaw, pitch, roll) in degrees, R = Rz(roll) · Rx(pitch) · Ry(yaw) turns
head-frame points (x to the viewer's right, y up, z towards the viewer); positive yaw turns the nose
to the viewer's right, positive pitch lifts it, positive roll turns the face counter-clockwise on
screen.

Image points are in image widths (x right, y down, origin at the upper-left corner). Projections:

* "weak" (scaled orthographic): p = s · (R X)_xy + t, y flipped to point down; 6 unknowns.
* "perspective": a pinhole at the image centre with focal length `focal` image widths, the head at
  depth Tz: p = c + focal · ((R X)_xy + T_xy) / (Tz − (R X)_z); 6 unknowns. The default focal length
  4.2647 image widths (field of view 13.4°) is EG3D's estimate for FFHQ-aligned crops.

Both are fitted by Levenberg–Marquardt (scipy) over all 68 points from a closed-form start (the
least-squares affine camera, its 2×3 part made orthonormal).
"""

from __future__ import annotations

import math

import attrs
import numpy as np
from scipy.optimize import least_squares

from lsw_core.errors import SettingError, ShapeError

PROJECTIONS = ("weak", "perspective")
#: EG3D's FFHQ camera: focal length in image widths.
FFHQ_FOCAL = 4.2647
_FLIP = np.array([1.0, -1.0])  # image y points down, head y up


def rotation(pose: np.ndarray) -> np.ndarray:
    """Pose [..., 3] (yaw, pitch, roll) in degrees → rotation matrices [..., 3, 3] (R = Rz Rx Ry)."""
    yaw, pitch, roll = np.moveaxis(np.radians(np.asarray(pose, dtype=np.float64)), -1, 0)
    one, zero = np.ones_like(yaw), np.zeros_like(yaw)
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).reshape(*yaw.shape, 3, 3)
    rx = np.stack([one, zero, zero, zero, cp, sp, zero, -sp, cp], -1).reshape(*yaw.shape, 3, 3)
    rz = np.stack([cr, -sr, zero, sr, cr, zero, zero, zero, one], -1).reshape(*yaw.shape, 3, 3)
    return rz @ rx @ ry


def euler(rot: np.ndarray) -> np.ndarray:
    """Inverse of `rotation`: matrices [..., 3, 3] → (yaw, pitch, roll) [..., 3] in degrees."""
    pitch = np.arcsin(np.clip(-rot[..., 2, 1], -1.0, 1.0))
    yaw = np.arctan2(-rot[..., 2, 0], rot[..., 2, 2])
    roll = np.arctan2(-rot[..., 0, 1], rot[..., 1, 1])
    return np.degrees(np.stack([yaw, pitch, roll], -1))


@attrs.frozen
class PoseFit:
    """A fitted head: pose [3] in degrees, rotation [3, 3], the camera's other unknowns (weak: scale
    in image widths per head unit and the head origin's image position [2]; perspective: the head
    origin T [3] in head units) and the root-mean-square residual in image widths."""

    pose: np.ndarray
    rotation: np.ndarray
    projection: str
    scale: float
    translation: np.ndarray
    focal: float
    centre: np.ndarray
    rms: float

    def project(self, points: np.ndarray) -> np.ndarray:
        """Head-frame points [N, 3] → image points [N, 2] (image widths, y down)."""
        turned = points @ self.rotation.T
        if self.projection == "weak":
            return (self.scale * turned[:, :2] + self.translation) * _FLIP
        depth = self.translation[2] - turned[:, 2]
        return self.centre + self.focal * (turned[:, :2] + self.translation[:2]) / depth[:, None] * _FLIP

    def frontalise(self, image_points: np.ndarray, shape: np.ndarray) -> np.ndarray:
        """Image points [N, 2] → head-frame (x, y) [N, 2] of the frontal face: each point's offset from
        where the fitted mean-shape point projects, carried back through the projection's local 2×2
        Jacobian with respect to head-frame x and y (depth offsets taken as zero)."""
        turned = shape @ self.rotation.T
        offsets = (image_points - self.project(shape)) * _FLIP
        if self.projection == "weak":
            jac = np.broadcast_to(self.scale * self.rotation[:2, :2], (len(shape), 2, 2))
        else:
            depth = self.translation[2] - turned[:, 2]
            lateral = turned[:, :2] + self.translation[:2]
            jac = self.focal * (
                self.rotation[None, :2, :2] / depth[:, None, None]
                + lateral[:, :, None] * self.rotation[None, 2:3, :2] / (depth**2)[:, None, None]
            )
        return shape[:, :2] + np.linalg.solve(jac, offsets[..., None])[..., 0]


def _affine_start(points: np.ndarray, shape: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Closed-form start for y-up image points [N, 2]: rotation, scale and offset of the least-squares
    affine camera, its 2×3 part replaced by the nearest pair of orthonormal rows."""
    design = np.concatenate([shape, np.ones((len(shape), 1))], 1)
    solution = np.linalg.lstsq(design, points, rcond=None)[0]  # [4, 2]
    u, s, vt = np.linalg.svd(solution[:3].T, full_matrices=False)
    rows = u @ vt
    rot = np.concatenate([rows, np.cross(rows[0], rows[1])[None]], 0)
    return rot, float(s.mean()), solution[3]


def fit_pose(
    points: np.ndarray, shape: np.ndarray, *, projection: str = "weak", focal: float = FFHQ_FOCAL,
    aspect: float = 1.0,
) -> PoseFit:  # fmt: skip
    """Fit the 3D `shape` [N, 3] to image `points` [N, 2] (image widths, y down); `aspect` is the
    image's height / width (the perspective camera sits at its centre)."""
    points, shape = np.asarray(points, dtype=np.float64), np.asarray(shape, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or shape.shape != (len(points), 3):
        raise ShapeError(
            f"fit_pose: expected points [N, 2] and shape [N, 3], got {list(points.shape)}, {list(shape.shape)}"
        )
    if len(points) < 6 or not np.isfinite(points).all():
        raise ShapeError(f"fit_pose: expected at least 6 finite points, got {len(points)}")
    if projection not in PROJECTIONS:
        raise SettingError(f"projection: expected one of {PROJECTIONS}, got {projection!r}")
    if not (math.isfinite(focal) and focal > 0):
        raise SettingError(f"focal: expected a positive focal length in image widths, got {focal}")
    centre = np.array([0.5, 0.5 * aspect])
    target = points * _FLIP
    rot, scale, offset = _affine_start(target, shape)
    angles = np.radians(euler(rot))

    def weak(p: np.ndarray) -> np.ndarray:
        return (p[3] * (shape @ rotation(np.degrees(p[:3])).T)[:, :2] + p[4:6] - target).ravel()

    fit = least_squares(weak, np.concatenate([angles, [scale], offset]), method="lm")
    p = fit.x
    translation, residual = p[4:6].copy(), fit.fun
    if projection == "perspective":
        c = centre * _FLIP

        def pinhole(q: np.ndarray) -> np.ndarray:
            turned = shape @ rotation(np.degrees(q[:3])).T
            depth = np.maximum(q[5] - turned[:, 2], 1e-6)
            return (c + focal * (turned[:, :2] + q[3:5]) / depth[:, None] - target).ravel()

        start = np.concatenate([p[:3], (p[4:6] - c) / p[3], [focal / p[3]]])
        fit = least_squares(pinhole, start, method="lm")
        p, translation, residual = fit.x, fit.x[3:6], fit.fun
    rot = rotation(np.degrees(p[:3]))
    rms = float(np.sqrt(np.mean(residual**2) * 2))
    return PoseFit(euler(rot), rot, projection, float(p[3]), translation, float(focal), centre, rms)
