"""Photos in, photos out: reading photos (EXIF orientation, grayscale, alpha, corrupt files), the
aligned face crop and its geometry, warping between photo and crop, paste-back of an aligned swap into
the original photo with the inverse transform and a feathered mask, and a cache of inversion pivots
keyed by image hash.

Coordinates are continuous pixel coordinates: pixel (i, j) covers [j, j+1) × [i, i+1), its centre at
(j + 0.5, i + 0.5). `AlignedFace.to_aligned` is the 2×3 affine map photo (x, y) → crop (u, v).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from lsw_core.errors import ImageError

MIN_PHOTO_SIZE = 32
# Photos are checked against this before decoding: 12032×9024 phone photos (108.6 MP) still load
# (≈ 330 MB as RGB); a file that declares 14000×14000 is refused from its header.
MAX_PHOTO_PIXELS = 120_000_000


def load_photo(path: str | os.PathLike, *, min_size: int = MIN_PHOTO_SIZE) -> np.ndarray:
    """A photo as RGB uint8 [H, W, 3], turned upright by its EXIF orientation; grayscale and palette
    images become RGB, transparent areas are composited over white. Raises `ImageError` for a missing,
    corrupt, too small or too large file."""
    path = Path(path)
    probe_photo(path)
    try:
        with warnings.catch_warnings():  # PIL warns from 89 MP; the limit here is MAX_PHOTO_PIXELS
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(path.read_bytes()))
            image.load()
        image = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: not a readable image (corrupt or unsupported format: {exc})") from exc
    return photo_from_pil(image, name=str(path), min_size=min_size)


def probe_photo(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of an image file, from its header, without decoding its pixels: raises
    `ImageError` for a missing, corrupt or truncated file, or one of more than MAX_PHOTO_PIXELS."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as probe:  # reads the header only
                size = probe.size
                _check_pixels(path, size)
                probe.verify()  # catches truncated and corrupt files that open() alone accepts
    except Image.DecompressionBombError:  # declared so large that PIL refuses to open it
        raise ImageError(f"{path}: refused: larger than {MAX_PHOTO_PIXELS // 10**6} megapixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: not a readable image (corrupt or unsupported format: {exc})") from exc
    return size


def _check_pixels(path: Path, size: tuple[int, int]) -> None:
    if size[0] * size[1] > MAX_PHOTO_PIXELS:
        raise ImageError(
            f"{path}: refused: {size[0]}×{size[1]} pixels is more than {MAX_PHOTO_PIXELS // 10**6} megapixels"
        )


def photo_from_pil(image: Image.Image, *, name: str = "photo", min_size: int = MIN_PHOTO_SIZE) -> np.ndarray:
    """RGB uint8 [H, W, 3] from any PIL image (see `load_photo`)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    elif image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        arr = np.asarray(image, dtype=np.float64)
        span = max(float(arr.max() - arr.min()), 1e-12)
        image = Image.fromarray(np.round((arr - arr.min()) / span * 255).astype(np.uint8))
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    if min(rgb.shape[:2]) < min_size:
        raise ImageError(
            f"{name}: {rgb.shape[1]}×{rgb.shape[0]} pixels is too small for a face (need at least {min_size})"
        )
    return np.ascontiguousarray(rgb)


def save_photo(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write RGB uint8 [H, W, 3] (format from the suffix), creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


def image_hash(image: np.ndarray) -> str:
    """SHA-256 of the pixels and shape: identical pixels give the same key whatever the file format."""
    h = hashlib.sha256(str(image.shape).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()


def to_tensor(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """RGB uint8 [H, W, 3] → float [1, 3, H, W] in [-1, 1]."""
    return torch.tensor(image, device=device).permute(2, 0, 1)[None].float() / 127.5 - 1  # copies: read-only arrays too


def from_tensor(images: torch.Tensor) -> np.ndarray:
    """Float [3, H, W] or [1, 3, H, W] in [-1, 1] → RGB uint8 [H, W, 3]."""
    x = images.detach().float().cpu().reshape(-1, *images.shape[-3:])[0]
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()


@attrs.define
class AlignedFace:
    """One face of a photo, aligned: the crop [R, R, 3], the affine map from photo to crop, the photo's
    size (width, height), the 68 landmarks and detection box in photo coordinates, and which face of
    the photo it is (faces are numbered by decreasing size)."""

    image: np.ndarray
    to_aligned: np.ndarray
    photo_size: tuple[int, int]
    landmarks: np.ndarray | None = None
    box: tuple[int, int, int, int] | None = None
    face_index: int = 0

    @property
    def resolution(self) -> int:
        return int(self.image.shape[0])

    @property
    def aligned_landmarks(self) -> np.ndarray | None:
        """The landmarks in crop coordinates."""
        if self.landmarks is None:
            return None
        return apply_affine(self.to_aligned, self.landmarks)


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points [N, 2] through a 2×3 affine map."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    linear = np.linalg.inv(matrix[:, :2])
    return np.concatenate([linear, -linear @ matrix[:, 2:]], axis=1)


def quad_to_affine(quad: np.ndarray, resolution: int) -> np.ndarray:
    """The affine map sending the quad's corners (upper-left, lower-left, lower-right, upper-right, in
    photo coordinates) to the corners of the [0, R]² crop."""
    src = np.asarray(quad, dtype=np.float64)[[0, 1, 3]]
    dst = np.array([[0, 0], [0, resolution], [resolution, 0]], dtype=np.float64)
    a = np.concatenate([src, np.ones((3, 1))], axis=1)
    return np.linalg.solve(a, dst).T


def sample(image: np.ndarray, points: np.ndarray, *, outside: str = "reflect") -> np.ndarray:
    """Bilinear samples of image [H, W, C] at continuous points [..., 2] (x, y); `outside` is "reflect"
    or "zero" (zero beyond half a pixel outside the image)."""
    from scipy.ndimage import map_coordinates

    coords = [points[..., 1] - 0.5, points[..., 0] - 0.5]
    mode = "mirror" if outside == "reflect" else "constant"
    img = image.astype(np.float32)
    if img.ndim == 2:
        return map_coordinates(img, coords, order=1, mode=mode, cval=0.0)
    return np.stack(
        [map_coordinates(img[..., c], coords, order=1, mode=mode, cval=0.0) for c in range(img.shape[2])], axis=-1
    )


def _pixel_centres(width: int, height: int, x0: int = 0, y0: int = 0) -> np.ndarray:
    ys, xs = np.mgrid[y0 : y0 + height, x0 : x0 + width]
    return np.stack([xs + 0.5, ys + 0.5], axis=-1).astype(np.float64)


def warp_to_aligned(photo: np.ndarray, to_aligned: np.ndarray, resolution: int) -> np.ndarray:
    """The aligned crop [R, R, 3] of `photo` under `to_aligned`, area-prefiltered when it shrinks.

    Beyond the photo's border the crop is filled by reflection and faded towards a blurred, then flat
    (median) colour with the distance from the border, as in the FFHQ dataset's recipe."""
    from scipy.ndimage import gaussian_filter

    scale = float(np.sqrt(abs(np.linalg.det(to_aligned[:, :2]))))  # crop pixels per photo pixel
    shrink = int(np.floor(1.0 / scale)) if scale < 1 else 1
    matrix = to_aligned
    if shrink > 1:  # integer box-filter reduction first, so bilinear sampling does not alias
        small = Image.fromarray(photo).reduce(shrink)
        photo = np.asarray(small)
        matrix = to_aligned @ np.diag([shrink, shrink, 1.0])
    points = apply_affine(invert_affine(matrix), _pixel_centres(resolution, resolution).reshape(-1, 2))
    crop = sample(photo, points).reshape(resolution, resolution, 3)
    h, w = photo.shape[:2]
    outside = np.maximum.reduce(
        [-points[:, 0], points[:, 0] - w, -points[:, 1], points[:, 1] - h, np.zeros(len(points))]
    )
    if outside.max() > 0:
        size = resolution / float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))  # crop side in photo pixels
        fade = (outside / (0.3 * size)).reshape(resolution, resolution, 1)
        blurred = gaussian_filter(crop, sigma=(0.02 * resolution, 0.02 * resolution, 0))
        crop = crop + (blurred - crop) * np.clip(fade * 3, 0, 1)
        crop = crop + (np.median(crop, axis=(0, 1)) - crop) * np.clip(fade, 0, 1)
    return np.clip(np.round(crop), 0, 255).astype(np.uint8)


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
) -> np.ndarray:
    """The photo with the aligned image (e.g. a swap) [R, R, 3] warped back into the face's place.

    The blend weight is a feathered `face_mask` times the optional `mask` [R, R] in crop coordinates
    (e.g. 0 over an occluder); pixels where the weight is 0 (everything outside the warped crop) are
    returned unchanged."""
    r = aligned.shape[0]
    if aligned.shape[:2] != face.image.shape[:2]:
        raise ImageError(f"paste-back: aligned image is {aligned.shape[1]}×{r}, the face crop {face.resolution}²")
    weight = face_mask(r, kind=kind, feather=feather, landmarks=face.aligned_landmarks if kind == "face" else None)
    if mask is not None:
        if mask.shape != (r, r):
            raise ImageError(f"paste-back mask: expected shape {(r, r)}, got {mask.shape}")
        weight = weight * np.clip(mask.astype(np.float32), 0, 1)
    h, w = photo.shape[:2]
    from_aligned = invert_affine(face.to_aligned)
    corners = apply_affine(from_aligned, np.array([[0, 0], [0, r], [r, r], [r, 0]], dtype=np.float64))
    x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int) - 1, 0, [w, h])
    x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 1, 0, [w, h])
    out = photo.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    points = apply_affine(face.to_aligned, _pixel_centres(x1 - x0, y1 - y0, x0, y0).reshape(-1, 2))
    points = points.reshape(y1 - y0, x1 - x0, 2)
    alpha = sample(weight, points, outside="zero")[..., None].clip(0, 1)
    warped = sample(aligned, points, outside="zero")
    region = photo[y0:y1, x0:x1].astype(np.float32)
    blended = np.clip(np.round(region + (warped - region) * alpha), 0, 255).astype(np.uint8)
    out[y0:y1, x0:x1] = np.where(alpha > 0, blended, photo[y0:y1, x0:x1])
    return out


class PivotCache:
    """Inversion pivots on disk, keyed by image hash and what produced them (generator and projection
    settings), so that repeated swaps of the same photo skip projection. One `.safetensors` file per
    image: the W+ pivot, the camera angles of a camera-aware generator, optimised noise buffers."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def key(self, image: np.ndarray, *context: Any) -> str:
        """Cache key of an aligned image under the given context (e.g. generator fingerprint, config)."""
        h = hashlib.sha256(image_hash(image).encode())
        for item in context:
            h.update(repr(item).encode())
        return h.hexdigest()[:32]

    def get(self, key: str) -> dict[str, torch.Tensor] | None:
        path = self.folder / f"{key}.safetensors"
        if not path.is_file():
            return None
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception:  # a damaged entry is a miss, it is rewritten after inversion
            return None

    def put(self, key: str, tensors: dict[str, torch.Tensor], metadata: dict[str, Any] | None = None) -> Path:
        """Store `tensors` atomically (temporary file in the same folder, then rename)."""
        from safetensors.torch import save_file

        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{key}.safetensors"
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp),
                  metadata={"info": json.dumps(metadata or {})})  # fmt: skip
        os.replace(tmp, path)
        return path


def generator_fingerprint(generator: torch.nn.Module) -> str:
    """A short hash of a generator's weights (shapes and leading values of every tensor)."""
    h = hashlib.sha256(type(generator).__name__.encode())
    for name, value in generator.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(value.shape)).encode())
        h.update(value.detach().flatten()[:16].float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]
