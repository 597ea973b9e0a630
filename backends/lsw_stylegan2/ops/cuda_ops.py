"""The CUDA kernels (cuda/stylegan2_ops.cu), compiled with ninja on first use, behind autograd
functions. Only imported for CUDA tensors; `ops.select` decides."""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from torch.autograd.function import once_differentiable

from lsw_stylegan2.ops.upfirdn2d import upfirdn2d_adjoint_params

SOURCE = Path(__file__).with_name("cuda") / "stylegan2_ops.cu"


@functools.cache
def extension():
    """Build (or reuse the cached build of) the extension; needs a CUDA toolkit and ninja."""
    from torch.utils.cpp_extension import load

    return load(name="lsw_stylegan2_ops", sources=[str(SOURCE)], extra_cuda_cflags=["-O3"], verbose=False)


_EMPTY = torch.empty(0)


class _BiasAct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, b, dim, act, alpha, gain, clamp):
        x = x.contiguous()
        b = b.contiguous() if b is not None else _EMPTY.to(x.device, x.dtype)
        ctx.save_for_backward(x, b)
        ctx.args = (dim, act, alpha, gain, clamp)
        return extension().bias_act(x, b, _EMPTY.to(x.device, x.dtype), dim, act, alpha, gain, clamp)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        x, b = ctx.saved_tensors
        dim = ctx.args[0]
        dx = extension().bias_act(x, b, dy.contiguous(), *ctx.args)
        db = None
        if b.numel() and ctx.needs_input_grad[1]:
            db = dx.sum([i for i in range(dx.ndim) if i != dim])
        return dx, db, None, None, None, None, None


def bias_act_cuda(x, b, dim, act, alpha, gain, clamp):
    return _BiasAct.apply(x, b, dim, act, alpha, gain, clamp)


class _Upfirdn2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, f, up, down, pads, flip_filter, gain):
        fk = (f * gain).to(device=x.device, dtype=torch.float32)
        if not flip_filter:  # the kernel correlates
            fk = fk.flip([0, 1])
        ctx.args = (f, up, down, pads, flip_filter, gain, x.shape)
        px0, px1, py0, py1 = pads
        return extension().upfirdn2d(x.contiguous(), fk.contiguous(), up, down, px0, px1, py0, py1)

    @staticmethod
    def backward(ctx, dy):
        f, up, down, pads, flip_filter, gain, in_shape = ctx.args
        a_up, a_down, a_pads, a_flip = upfirdn2d_adjoint_params(
            in_shape, dy.shape, f.shape, up, down, pads, flip_filter
        )
        dx = upfirdn2d_cuda(dy, f, a_up, a_down, a_pads, a_flip, gain)
        return dx, None, None, None, None, None, None


def upfirdn2d_cuda(x, f, up, down, pads, flip_filter, gain):
    return _Upfirdn2d.apply(x, f, up, down, tuple(pads), flip_filter, gain)
