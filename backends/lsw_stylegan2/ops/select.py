"""Choosing between the CUDA kernels and the pure-torch reference."""

from __future__ import annotations

import os

import torch

IMPLS = ("cuda", "ref")


def use_cuda(x: torch.Tensor, impl: str | None) -> bool:
    """True when the CUDA kernel should compute an op on `x`: `impl="cuda"`, or `impl=None` with `x`
    on a CUDA device and the kernels not disabled by `LSW_STYLEGAN2_OPS=ref`."""
    if impl is not None and impl not in IMPLS:
        raise ValueError(f"impl: expected one of {IMPLS} or None, got {impl!r}")
    if impl == "ref":
        return False
    if impl == "cuda":
        if x.device.type != "cuda":
            raise ValueError(f"impl='cuda' needs a CUDA tensor, got one on {x.device}")
        return True
    if x.dtype == torch.bfloat16:  # the kernels are compiled for float32 and float16 only
        return False
    return x.device.type == "cuda" and os.environ.get("LSW_STYLEGAN2_OPS", "auto") != "ref"
