"""The crops SFace is trained on: faces warped by a similarity so that five points (eye centres,
nose tip, mouth corners) land on ArcFace's 112×112 template.

Two ways in: (a) `landmark_similarity` fits that similarity to a face's own points (dlib's 68
landmarks reduced by `five_points`, or five points given directly); (b) `ffhq_similarity(H, W)` is
one fixed similarity for images that are already FFHQ-aligned (generator samples, the `dlib-ffhq`
aligner's crops), measured once on rendered FFHQ-aligned faces (its README gives the numbers).
`warp` applies either, differentiably (affine_grid / grid_sample, area-prefiltered when it shrinks).

Coordinates are continuous pixel coordinates with pixel (i, j) covering [j, j+1) × [i, i+1), as in
`lsw_core.geometry` and the `dlib-ffhq` aligner's landmarks.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from lsw_core.errors import ShapeError

CROP_SIZE = 112
#: ArcFace's five points (left eye, right eye, nose tip, left and right mouth corner, as seen in the
#: image) in a 112×112 crop, as InsightFace and OpenCV's `FaceRecognizerSF.alignCrop` publish them in
#: OpenCV's convention (pixel centres at integers); + 0.5 gives this module's convention.
ARCFACE_TEMPLATE = (
    np.array(
        [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
        dtype=np.float64,
    )
    + 0.5
)
#: The fixed FFHQ crop: x_crop = FFHQ_SCALE · R(FFHQ_ANGLE) · (x / W, y / H) + FFHQ_SHIFT (crop pixels),
#: fitted by least squares to the eye centres and mouth corners that dlib finds on 96 FFHQ-aligned
#: 1024-px MobileStyleGAN faces (`bench/sface_ffhq_crop.py`; plugins/lsw_sface/README.md). The crop spans 76 % of the
#: image side, from x/W = 0.119 to 0.880 and y/H = 0.108 to 0.869; the −0.34° turn is the template's
#: own tilt (its right eye and mouth corner sit 0.2 px higher than the left ones).
FFHQ_SCALE = 147.26
FFHQ_ANGLE = math.radians(-0.3425)
FFHQ_SHIFT = (-17.59, -15.92)


def five_points(landmarks: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """iBUG 68 landmarks [..., 68, 2] → ArcFace's five points [..., 5, 2]: the means of the two eye
    contours (36–41, 42–47), the nose tip (30), the mouth corners (48, 54)."""
    if landmarks.shape[-2:] != (68, 2):
        raise ShapeError(f"landmarks: expected [..., 68, 2], got {list(landmarks.shape)}")
    parts = [
        landmarks[..., 36:42, :].mean(-2),
        landmarks[..., 42:48, :].mean(-2),
        landmarks[..., 30, :],
        landmarks[..., 48, :],
        landmarks[..., 54, :],
    ]
    stack = torch.stack if isinstance(landmarks, torch.Tensor) else np.stack
    return stack(parts, -2)


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2×3 similarity (rotation, uniform scale, shift; no reflection) that maps points src [N, 2]
    onto dst [N, 2] with the least squared error (Umeyama 1991)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    if src.ndim != 2 or src.shape[1] != 2 or src.shape != dst.shape or len(src) < 2:
        raise ShapeError(
            f"similarity fit: expected two [N ≥ 2, 2] point sets, got {list(src.shape)} and {list(dst.shape)}"
        )
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var = (s**2).sum() / len(src)
    if var <= 0:
        raise ShapeError("similarity fit: the source points coincide")
    u, sigma, vt = np.linalg.svd(d.T @ s / len(src))
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rot = u @ sign @ vt
    scale = float(np.trace(np.diag(sigma) @ sign) / var)
    linear = scale * rot
    return np.concatenate([linear, (mu_d - linear @ mu_s)[:, None]], axis=1)


def landmark_similarity(landmarks: np.ndarray) -> np.ndarray:
    """Per face: 68 landmarks [68, 2] or five points [5, 2] in image pixels → the 2×3 similarity onto
    the ArcFace template."""
    points = np.asarray(landmarks, np.float64)
    if points.shape == (68, 2):
        points = five_points(points)
    if points.shape != (5, 2) or not np.isfinite(points).all():
        raise ShapeError(f"landmarks: expected finite [68, 2] or [5, 2] pixel coordinates, got {list(points.shape)}")
    return fit_similarity(points, ARCFACE_TEMPLATE)


def ffhq_similarity(height: int, width: int) -> np.ndarray:
    """The fixed 2×3 similarity from an FFHQ-aligned H × W image onto the ArcFace template."""
    c, s = math.cos(FFHQ_ANGLE), math.sin(FFHQ_ANGLE)
    linear = FFHQ_SCALE * np.array([[c, -s], [s, c]]) @ np.diag([1.0 / width, 1.0 / height])
    return np.concatenate([linear, np.array(FFHQ_SHIFT, np.float64)[:, None]], axis=1)


def warp(images: torch.Tensor, to_crop: torch.Tensor | np.ndarray, size: int = CROP_SIZE) -> torch.Tensor:
    """images [B, C, H, W], 2×3 maps image → crop pixels ([2, 3] shared or [B, 2, 3]) → crops
    [B, C, size, size], bilinear, zero outside the image. Where the map shrinks by k ≥ 2 the images
    are first box-filtered by k (the smallest shrink in the batch), so the crop does not alias."""
    b, _, h, w = images.shape
    m = torch.as_tensor(to_crop, dtype=torch.float64, device=images.device)
    m = m.expand(b, 2, 3) if m.shape == (2, 3) else m
    if m.shape != (b, 2, 3):
        raise ShapeError(f"crop maps: expected [2, 3] or [{b}, 2, 3], got {list(m.shape)}")
    scale = torch.linalg.det(m[:, :, :2]).abs().sqrt()  # crop pixels per image pixel
    k = int(math.floor(1.0 / float(scale.max()))) if float(scale.max()) > 0 else 1
    if k >= 2 and h >= 2 * k and w >= 2 * k:
        images = F.avg_pool2d(images, k)
        m = m.clone()
        m[:, :, :2] = m[:, :, :2] * k
        h, w = images.shape[-2:]
    # crop pixel → image pixel, then both in affine_grid's normalised coordinates (align_corners=False)
    linear_inv = torch.linalg.inv(m[:, :, :2])
    inv = torch.cat([linear_inv, -linear_inv @ m[:, :, 2:]], dim=2)
    to_norm = torch.tensor([[2.0 / w, 0, -1], [0, 2.0 / h, -1], [0, 0, 1]], dtype=torch.float64, device=m.device)
    from_norm = torch.tensor(
        [[size / 2, 0, size / 2], [0, size / 2, size / 2], [0, 0, 1]], dtype=torch.float64, device=m.device
    )
    inv3 = torch.cat([inv, torch.tensor([[[0.0, 0, 1]]], dtype=torch.float64, device=m.device).expand(b, 1, 3)], dim=1)
    theta = (to_norm @ inv3 @ from_norm)[:, :2].to(images.dtype)
    grid = F.affine_grid(theta, [b, images.shape[1], size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
