"""Photos in and out: reading photos (EXIF orientation, grayscale, alpha, corrupt files), writing
them, and converting between RGB uint8 arrays and the generators' [-1, 1] tensors."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

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
