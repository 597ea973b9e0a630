"""Paste-back of an aligned image (e.g. a swap) into the original photo with the inverse transform
and a feathered mask, optionally colour-matched and multi-band blended; `PasteConfig` holds how, and
is where the command line's paste options come from."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
from PIL import Image, ImageDraw

from lsw_core.errors import ImageError
from lsw_core.geometry import AlignedFace, apply_affine, invert_affine, pixel_centres, sample
from lsw_core.photo.blend import BLENDS, COLOR_MATCHES, is_grayscale, laplacian_blend, match_colors, to_grayscale
from lsw_core.validators import choice, number, optional

PASTE_KINDS = ("crop", "face")
#: `--occlusion-mask`'s threshold unless `--occlusion-threshold` says otherwise.
OCCLUSION_THRESHOLD = 3.0


def _option(flag: str, help: str, **click: Any) -> dict[str, Any]:
    """A field's command-line option: its flag and help (the default and type come from the field)."""
    return {"option": {"flag": flag, "help": help, **click}}


@attrs.frozen(kw_only=True)
class PasteConfig:
    """How an aligned swap goes back into its photo: `kind` ("crop": the whole aligned crop; "face":
    the landmark hull) and `feather` (the seam's width, a fraction of the crop) shape the mask;
    `color_match` ("none", "lab", "histogram") moves the swap's colours to the target face's first;
    `blend` ("feather" or "multiband") mixes along the mask; `occlusion` (None: off; else a multiple of
    the median reconstruction error, e.g. 3) keeps the target's own pixels where its inversion misses
    it by more (an occluding hand or microphone)."""

    kind: str = attrs.field(
        default="crop", validator=choice(*PASTE_KINDS),
        metadata=_option("--paste", "Paste back the whole aligned crop, or only the face (landmark hull).",
                         choices=PASTE_KINDS),
    )  # fmt: skip
    feather: float = attrs.field(
        default=0.1, validator=number(ge=0, le=0.5),
        metadata=_option("--feather", "Width of the paste-back seam blend, as a fraction of the crop (0 to 0.5)."),
    )  # fmt: skip
    blend: str = attrs.field(
        default="feather", validator=choice(*BLENDS),
        metadata=_option("--blend", "Paste-back blend: by the feathered mask, or multi-band (Laplacian pyramid) "
                                    "along it.", choices=BLENDS),
    )  # fmt: skip
    color_match: str = attrs.field(
        default="none", validator=choice(*COLOR_MATCHES),
        metadata=_option("--color-match", "Match the swap's colours to the target face's first: Lab mean/std, or "
                                          "Lab histograms.", choices=COLOR_MATCHES),
    )  # fmt: skip
    occlusion: float | None = attrs.field(default=None, validator=optional(number(gt=0)))

    def record(self) -> dict[str, Any]:
        """The settings as a swap record stores them (`lsw edit` pastes an edit back the same way)."""
        return {"paste": self.kind, "feather": self.feather, "blend": self.blend, "color_match": self.color_match}

    @classmethod
    def from_record(cls, info: dict[str, Any]) -> PasteConfig:
        names = {"paste": "kind", "feather": "feather", "blend": "blend", "color_match": "color_match"}
        return cls(**{field: info[key] for key, field in names.items() if key in info})


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
    config: PasteConfig = PasteConfig(),
) -> np.ndarray:
    """The photo with the aligned image (e.g. a swap) [R, R, 3] warped back into the face's place.

    The blend weight is a feathered `face_mask` (of `config.kind` and `config.feather`) times the
    optional `mask` [R, R] in crop coordinates (e.g. 0 over an occluder); pixels where the weight is 0
    (everything outside the warped crop) are returned unchanged. `config.color_match` ("lab",
    "histogram"; see `blend.match_colors`) first moves the aligned image's colours to those of the
    face's own crop under that weight. `config.blend`: "feather" mixes by the weight; "multiband"
    blends the Laplacian pyramids along the weight's half-way line, inside the weight's support. A
    grayscale photo stays grayscale. (`config.occlusion` is the photo swapper's: it makes `mask`.)"""
    kind, feather, blend, color_match = config.kind, config.feather, config.blend, config.color_match
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
