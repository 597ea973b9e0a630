"""Paste-back of an aligned image (e.g. a swap) into the original photo with the inverse transform
and a feathered mask, optionally colour-matched and multi-band blended (`blend`)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from lsw_core.errors import ImageError
from lsw_core.photo.blend import BLENDS, is_grayscale, laplacian_blend, match_colors, to_grayscale
from lsw_core.photo.geometry import AlignedFace, apply_affine, invert_affine, pixel_centres, sample


def face_mask(
    resolution: int, *, kind: str = "crop", feather: float = 0.1, landmarks: np.ndarray | None = None
) -> np.ndarray:
    """A feathered paste-back mask [R, R] in [0, 1] in crop coordinates.

    "crop": the whole crop, fading to exactly 0 over the outer `feather`·R pixels; "face": the hull of
    the 68 landmarks raised to the forehead, blurred by `feather`·R/4 (needs `landmarks` in crop
    coordinates)."""
    r = resolution
    if kind == "crop":
        centres = np.arange(r) + 0.5
        edge = np.minimum(centres, r - centres)
        ramp = np.clip((edge - 1.0) / max(feather * r, 1e-6), 0, 1)
        ramp = ramp * ramp * (3 - 2 * ramp)  # smoothstep: no visible kink at the seam
        return np.minimum(ramp[:, None], ramp[None, :]).astype(np.float32)
    if kind == "face":
        from scipy.ndimage import gaussian_filter
        from scipy.spatial import ConvexHull

        if landmarks is None or len(landmarks) != 68:
            raise ImageError("face mask: needs the 68 landmarks of the aligned face")
        brows = landmarks[17:27].copy()
        lift = (landmarks[30, 1] - brows[:, 1].mean()) * 0.6  # eyebrow-to-nose height, to reach the forehead
        brows[:, 1] -= lift
        pts = np.concatenate([landmarks[:17], brows])
        hull = pts[ConvexHull(pts).vertices]
        canvas = Image.new("F", (r, r), 0.0)
        ImageDraw.Draw(canvas).polygon([tuple(p) for p in hull], fill=1.0)
        mask = gaussian_filter(np.asarray(canvas, dtype=np.float32), sigma=max(feather * r / 4, 0.5))
        return mask * face_mask(r, kind="crop", feather=0.02)
    raise ImageError(f"face mask kind: expected 'crop' or 'face', got {kind!r}")


def paste_back(
    photo: np.ndarray,
    aligned: np.ndarray,
    face: AlignedFace,
    *,
    mask: np.ndarray | None = None,
    kind: str = "crop",
    feather: float = 0.1,
    blend: str = "feather",
    color_match: str = "none",
) -> np.ndarray:
    """The photo with the aligned image (e.g. a swap) [R, R, 3] warped back into the face's place.

    The blend weight is a feathered `face_mask` times the optional `mask` [R, R] in crop coordinates
    (e.g. 0 over an occluder); pixels where the weight is 0 (everything outside the warped crop) are
    returned unchanged. `color_match` ("lab", "histogram"; see `blend.match_colors`) first moves the
    aligned image's colours to those of the face's own crop under that weight. `blend`: "feather"
    mixes by the weight; "multiband" blends the Laplacian pyramids along the weight's half-way line,
    inside the weight's support. A grayscale photo stays grayscale."""
    if blend not in BLENDS:
        raise ImageError(f"paste-back blend: expected one of {', '.join(BLENDS)}, got {blend!r}")
    r = aligned.shape[0]
    if aligned.shape[:2] != face.image.shape[:2]:
        raise ImageError(f"paste-back: aligned image is {aligned.shape[1]}×{r}, the face crop {face.resolution}²")
    weight = face_mask(r, kind=kind, feather=feather, landmarks=face.aligned_landmarks if kind == "face" else None)
    if mask is not None:
        if mask.shape != (r, r):
            raise ImageError(f"paste-back mask: expected shape {(r, r)}, got {mask.shape}")
        weight = weight * np.clip(mask.astype(np.float32), 0, 1)
    if color_match != "none":
        aligned = match_colors(aligned, face.image, weight, color_match)
    if is_grayscale(photo):
        aligned = to_grayscale(aligned)
    h, w = photo.shape[:2]
    from_aligned = invert_affine(face.to_aligned)
    corners = apply_affine(from_aligned, np.array([[0, 0], [0, r], [r, r], [r, 0]], dtype=np.float64))
    x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int) - 1, 0, [w, h])
    x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 1, 0, [w, h])
    out = photo.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    points = apply_affine(face.to_aligned, pixel_centres(x1 - x0, y1 - y0, x0, y0).reshape(-1, 2))
    points = points.reshape(y1 - y0, x1 - x0, 2)
    alpha = sample(weight, points, outside="zero")[..., None].clip(0, 1)
    warped = sample(aligned, points, outside="zero")
    region = photo[y0:y1, x0:x1].astype(np.float32)
    if blend == "multiband":
        inside = alpha > 0
        top = np.where(inside, warped, region)  # beyond the crop the photo itself, not black, enters the bands
        warped = laplacian_blend(region, top, (alpha[..., 0] >= 0.5).astype(np.float32))
        alpha = inside.astype(np.float32)
    blended = np.clip(np.round(region + (warped - region) * alpha), 0, 255).astype(np.uint8)
    out[y0:y1, x0:x1] = np.where(alpha > 0, blended, photo[y0:y1, x0:x1])
    return out
