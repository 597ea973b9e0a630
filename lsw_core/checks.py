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


def check_latents(name: str, ws: torch.Tensor, num_ws: int, w_dim: int) -> torch.Tensor:
    """W+ codes are finite float tensors [B, num_ws, w_dim]; returned as float32 (float64 codes, as
    numpy writes them, are converted)."""
    _check_codes(name, "W+ codes", ws, [None, num_ws, w_dim])
    return check_finite_float(name, ws)


def check_z(name: str, z: torch.Tensor, z_dim: int) -> torch.Tensor:
    """Latents z are finite float tensors [B, z_dim]; returned as float32."""
    _check_codes(name, "latents z", z, [None, z_dim])
    return check_finite_float(name, z)


def _check_codes(name: str, what: str, codes: torch.Tensor, shape: Sequence[int | None]) -> None:
    if not isinstance(codes, torch.Tensor):
        raise ShapeError(f"{name}: expected {what} as a torch.Tensor {_fmt(shape)}, got {type(codes).__name__}")
    if codes.ndim != len(shape) or any(e is not None and e != s for e, s in zip(shape, codes.shape)):
        raise ShapeError(f"{name}: expected {what} of shape {_fmt(shape)}, got {list(codes.shape)}")


def check_finite_float(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """Refuse integer, boolean or complex tensors and NaN/inf entries; a non-empty float32 result."""
    if not tensor.is_floating_point():
        raise ShapeError(f"{name}: expected float values, got dtype {str(tensor.dtype).removeprefix('torch.')}")
    if tensor.shape[0] == 0:
        raise ShapeError(f"{name}: expected at least one code, got an empty batch {list(tensor.shape)}")
    tensor = tensor.float()
    bad = int((~torch.isfinite(tensor)).sum())
    if bad:
        raise ShapeError(f"{name}: expected finite values, found {bad} NaN/inf of {tensor.numel()}")
    return tensor
