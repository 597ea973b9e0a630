"""Images in and out: files ↔ tensors in [-1, 1], PNG grids, multiview strips and GIFs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from lsw_core.artifacts import atomic_write
from lsw_core.photo.io import from_tensor, load_photo, to_tensor

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def load_image(path: str | os.PathLike, resolution: int | None = None) -> torch.Tensor:
    """Read an image file as [1, 3, H, W] in [-1, 1] (upright, RGB; see `lsw_core.photo.load_photo`),
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
    pil = Image.fromarray(to_uint8(image)[0])
    suffix = Path(path).suffix.lower()
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG"}.get(suffix, "PNG")
    atomic_write(path, lambda tmp: pil.save(tmp, format=fmt))


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
