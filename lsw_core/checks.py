"""Validation of tensors where they enter the library."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lsw_core.errors import ShapeError


def check_shape(name: str, tensor: torch.Tensor, shape: Sequence[int | None]) -> torch.Tensor:
    """Raise `ShapeError` unless `tensor` has `shape` (`None` matches any size)."""
    if not isinstance(tensor, torch.Tensor):
        raise ShapeError(f"{name}: expected a torch.Tensor of shape {_fmt(shape)}, got {type(tensor).__name__}")
    ok = tensor.ndim == len(shape) and all(e is None or e == s for e, s in zip(shape, tensor.shape))
    if not ok:
        raise ShapeError(f"{name}: expected shape {_fmt(shape)}, got {list(tensor.shape)}")
    return tensor


def check_images(name: str, images: torch.Tensor, resolution: int | None = None) -> torch.Tensor:
    """Images are [B, 3, H, W] float tensors in [-1, 1]."""
    check_shape(name, images, [None, 3, resolution, resolution])
    if not images.is_floating_point():
        raise ShapeError(f"{name}: expected a float tensor in [-1, 1], got dtype {images.dtype}")
    return images


def _fmt(shape: Sequence[int | None]) -> str:
    return (
        "["
        + ", ".join("B" if i == 0 and e is None else ("*" if e is None else str(e)) for i, e in enumerate(shape))
        + "]"
    )
