"""Images in and out: photos read safely (EXIF orientation, grayscale, alpha, corrupt or oversized
files), RGB uint8 arrays ↔ the generators' [-1, 1] tensors, and result files (PNG grids, multiview
strips, GIFs), written atomically."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from lsw_core.errors import ImageError
from lsw_core.formats.artifacts import atomic_write

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
    `ImageError` for a missing, corrupt or truncated file, a folder, or one of more than MAX_PHOTO_PIXELS."""
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image file")
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


#: Image files are written in the format their suffix names; any other suffix is refused before any work.
IMAGE_WRITERS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF",
                 ".bmp": "BMP"}  # fmt: skip
IMAGE_OUTPUT_SUFFIXES = tuple(IMAGE_WRITERS)


def image_format(path: str | os.PathLike) -> str:
    """The PIL format an image file named `path` is written in (from its suffix), else `ImageError`."""
    suffix = Path(path).suffix.lower()
    if suffix not in IMAGE_WRITERS:
        found = f"the suffix {suffix!r}" if suffix else "no suffix"
        raise ImageError(f"{path}: {found} is not an image format lsw writes; expected {', '.join(IMAGE_WRITERS)}")
    return IMAGE_WRITERS[suffix]


def write_pil(image: Image.Image, path: str | os.PathLike) -> None:
    """Write a PIL image atomically in the format its suffix names."""
    fmt = image_format(path)
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    atomic_write(path, lambda tmp: image.save(tmp, format=fmt, **options))


def save_photo(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write RGB uint8 [H, W, 3] atomically, in the format its suffix names, creating the folder."""
    write_pil(Image.fromarray(image), path)


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


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def load_image(path: str | os.PathLike, resolution: int | None = None) -> torch.Tensor:
    """Read an image file as [1, 3, H, W] in [-1, 1] (upright, RGB; see `load_photo`),
    resized to `resolution`² if given."""
    pixels = load_photo(path, min_size=1)
    if resolution is not None and pixels.shape[:2] != (resolution, resolution):
        pixels = np.asarray(Image.fromarray(pixels).resize((resolution, resolution), Image.Resampling.LANCZOS))
    return to_tensor(pixels)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[B, 3, H, W] in [-1, 1] → uint8 array [B, H, W, 3]."""
    x = (images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5
    return x.round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def save_image(image: torch.Tensor, path: str | os.PathLike) -> None:
    """Save [3, H, W] or [1, 3, H, W] in [-1, 1] as an image file (atomically)."""
    if image.ndim == 3:
        image = image.unsqueeze(0)
    write_pil(Image.fromarray(to_uint8(image)[0]), path)


def make_grid(images: torch.Tensor, ncols: int, pad: int = 2, pad_value: float = 1.0) -> torch.Tensor:
    """Tile [N, 3, H, W] into one [3, H', W'] image, `ncols` per row, row-major."""
    n, c, h, w = images.shape
    nrows = -(-n // ncols)
    grid = torch.full((c, nrows * (h + pad) + pad, ncols * (w + pad) + pad), pad_value, dtype=images.dtype)
    for i in range(n):
        r, col = divmod(i, ncols)
        grid[:, pad + r * (h + pad) : pad + r * (h + pad) + h, pad + col * (w + pad) : pad + col * (w + pad) + w] = (
            images[i]
        )
    return grid


def swap_grid(sources: torch.Tensor, targets: torch.Tensor, swaps: torch.Tensor, labels: bool = False) -> torch.Tensor:
    """The paper's Figure 1 layout: sources along the top, targets down the left, and the swap of
    source j onto target i in cell (i, j). `swaps` is [len(targets), len(sources), 3, H, W]. With
    `labels`, margins name the source columns and target rows, and the corner says what the cells are."""
    ns, nt = sources.shape[0], targets.shape[0]
    blank = torch.ones_like(sources[:1])
    cells = [blank, sources]
    for i in range(nt):
        cells += [targets[i : i + 1], swaps[i]]
    grid = make_grid(torch.cat(cells), ncols=ns + 1)
    if not labels:
        return grid
    return label_grid(
        grid, sources.shape[-2:], rows=["", *(f"target {i + 1}" for i in range(nt))],
        cols=["", *(f"source {j + 1}" for j in range(ns))], corner="swaps:\nsource j\nonto\ntarget i",
    )  # fmt: skip


def label_grid(
    grid: torch.Tensor,
    cell: Sequence[int],
    rows: Sequence[str] = (),
    cols: Sequence[str] = (),
    corner: str = "",
    pad: int = 2,
) -> torch.Tensor:
    """A grid from `make_grid` (cells of `cell` = (H, W) pixels, `pad` apart) with the text `rows`
    in a white margin left of each row, `cols` in one above each column, and `corner` inside the
    first cell (PIL's default font, black)."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def size(text: str) -> tuple[int, int]:
        left, top, right, bottom = measure.multiline_textbbox((0, 0), text, font=font)
        return right - left, bottom - top

    h, w = int(cell[0]), int(cell[1])
    margin_x = max((size(t)[0] for t in rows if t), default=-8) + 8
    margin_y = max((size(t)[1] for t in cols if t), default=-8) + 8
    pixels = from_tensor(grid)
    canvas = Image.new("RGB", (pixels.shape[1] + margin_x, pixels.shape[0] + margin_y), (255, 255, 255))
    canvas.paste(Image.fromarray(pixels), (margin_x, margin_y))
    draw = ImageDraw.Draw(canvas)
    for r, text in enumerate(rows):
        tw, th = size(text)
        draw.multiline_text((margin_x - tw - 4, margin_y + pad + r * (h + pad) + (h - th) // 2), text, (0, 0, 0), font)
    for c, text in enumerate(cols):
        tw, th = size(text)
        draw.multiline_text((margin_x + pad + c * (w + pad) + (w - tw) // 2, margin_y - th - 4), text, (0, 0, 0), font)
    if corner:
        draw.multiline_text((margin_x + pad + 4, margin_y + pad + 4), corner, (0, 0, 0), font)
    return to_tensor(np.asarray(canvas))[0]


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def save_gif(frames: torch.Tensor, path: str | os.PathLike, duration_ms: int = 120) -> None:
    """Save [N, 3, H, W] in [-1, 1] as a looping GIF that plays forward then back."""
    pil = [Image.fromarray(a) for a in to_uint8(frames)]
    sequence = pil + pil[-2:0:-1]
    atomic_write(
        path,
        lambda tmp: sequence[0].save(
            tmp, format="GIF", save_all=True, append_images=sequence[1:], duration=duration_ms, loop=0
        ),
    )


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files in `folder`, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def stack_rows(rows: Sequence[torch.Tensor], pad: int = 2, labels: Sequence[str] = ()) -> torch.Tensor:
    """Tile several equally long rows [N, 3, H, W] into one grid image, each row named by
    `labels` in a left margin when given."""
    grid = make_grid(torch.cat(list(rows)), ncols=rows[0].shape[0], pad=pad)
    return label_grid(grid, rows[0].shape[-2:], rows=labels, pad=pad) if labels else grid
