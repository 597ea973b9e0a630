"""The CUDA kernels (cuda/stylegan2_ops.cu), compiled with ninja on first use, as raw functions. The
autograd functions that call them sit beside each op's reference (`bias_act`, `upfirdn2d`); `select`
decides when they run."""

from __future__ import annotations

import functools
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("cuda") / "stylegan2_ops.cu"


@functools.cache
def extension():
    """Build (or reuse the cached build of) the extension; needs a CUDA toolkit and ninja."""
    from torch.utils.cpp_extension import load

    return load(name="lsw_stylegan2_ops", sources=[str(SOURCE)], extra_cuda_cflags=["-O3"], verbose=False)


def bias_act_kernel(
    x: torch.Tensor, b: torch.Tensor, dy: torch.Tensor, dim: int, act: int, alpha: float, gain: float, clamp: float
) -> torch.Tensor:
    """clamp(act(x + b) · gain, ±clamp) for contiguous CUDA `x`, or its gradient with respect to x
    given the output gradient `dy`. Empty `b` means no bias, empty `dy` the forward pass, `act` an
    `Activation.cuda_index`, negative `clamp` no clamping."""
    return extension().bias_act(x, b, dy, dim, act, alpha, gain, clamp)


def upfirdn2d_kernel(
    x: torch.Tensor, f: torch.Tensor, up: int, down: int, px0: int, px1: int, py0: int, py1: int
) -> torch.Tensor:
    """Upsample contiguous CUDA `x` [N, C, H, W] by zero insertion, pad (negative: crop), correlate
    with the contiguous float32 CUDA filter `f` [fh, fw], keep every `down`-th sample."""
    return extension().upfirdn2d(x, f, up, down, px0, px1, py0, py1)
