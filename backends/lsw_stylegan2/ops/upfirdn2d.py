"""upfirdn2d: upsample by inserting zeros, pad (or crop), convolve with a 2D FIR filter, downsample.

Filters are float32 tensors made by `setup_filter` ([1, 3, 3, 1] → its normalised outer product).
`upfirdn2d_reference` is the specification; for CUDA tensors an autograd function runs the compiled
kernel, and its gradient is the adjoint upfirdn2d (`upfirdn2d_adjoint_params`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from lsw_stylegan2.ops import cuda_ops, select

Padding = int | Sequence[int]


def setup_filter(taps: Sequence[float] | torch.Tensor, *, normalize: bool = True) -> torch.Tensor:
    """1-D taps → normalised 2-D filter [k, k] (outer product); a 2-D input is only normalised."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    if f.ndim == 1:
        f = torch.outer(f, f)
    if f.ndim != 2 or f.numel() == 0:
        raise ValueError(f"filter: expected 1-D taps or a 2-D filter, got shape {list(f.shape)}")
    return f / f.sum() if normalize else f


def _pads(padding: Padding) -> tuple[int, int, int, int]:
    """→ (x0, x1, y0, y1) from an int, [x, y] or [x0, x1, y0, y1]."""
    if isinstance(padding, int):
        return padding, padding, padding, padding
    p = [int(v) for v in padding]
    if len(p) == 2:
        return p[0], p[0], p[1], p[1]
    if len(p) == 4:
        return p[0], p[1], p[2], p[3]
    raise ValueError(f"padding: expected an int, [x, y] or [x0, x1, y0, y1], got {padding!r}")


def upfirdn2d_reference(
    x: torch.Tensor,
    f: torch.Tensor,
    *,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
) -> torch.Tensor:
    """Pure-torch specification. x [N, C, H, W]; f [fh, fw] float32; `gain` scales the output
    (`up**2` keeps the DC level when upsampling); the filter is convolved (flipped) unless
    `flip_filter`, in which case it is correlated."""
    n, c, h, w = x.shape
    px0, px1, py0, py1 = _pads(padding)
    if up > 1:  # insert up-1 zeros after every sample
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    f = (f * gain).to(x.dtype)
    if not flip_filter:
        f = f.flip([0, 1])  # conv2d correlates; flipping makes it a true convolution
    weight = f[None, None].expand(c, 1, *f.shape)
    x = F.conv2d(x, weight, groups=c)
    return x[:, :, ::down, ::down]


def upfirdn2d_adjoint_params(
    in_shape: Sequence[int],
    out_shape: Sequence[int],
    f_shape: Sequence[int],
    up: int,
    down: int,
    pads: tuple[int, int, int, int],
    flip_filter: bool,
) -> tuple[int, int, tuple[int, int, int, int], bool]:
    """(up, down, padding, flip_filter) of the upfirdn2d that computes the gradient with respect to
    the input, given the gradient of the output: the same filter flipped, with up and down swapped."""
    px0, px1, py0, py1 = pads
    fh, fw = f_shape
    ih, iw = in_shape[-2:]
    oh, ow = out_shape[-2:]
    adj = (
        fw - px0 - 1,
        iw * up - ow * down + px0 - up + 1,
        fh - py0 - 1,
        ih * up - oh * down + py0 - up + 1,
    )
    return down, up, adj, not flip_filter


class _Upfirdn2dCuda(torch.autograd.Function):
    """`upfirdn2d_reference` by the CUDA kernel; its gradient is the adjoint upfirdn2d, itself by this
    function (so it is differentiable again)."""

    @staticmethod
    def forward(ctx, x, f, up, down, pads, flip_filter, gain):
        fk = (f * gain).to(device=x.device, dtype=torch.float32)
        if not flip_filter:  # the kernel correlates
            fk = fk.flip([0, 1])
        ctx.args = (f, up, down, pads, flip_filter, gain, x.shape)
        px0, px1, py0, py1 = pads
        return cuda_ops.upfirdn2d_kernel(x.contiguous(), fk.contiguous(), up, down, px0, px1, py0, py1)

    @staticmethod
    def backward(ctx, dy):
        f, up, down, pads, flip_filter, gain, in_shape = ctx.args
        a_up, a_down, a_pads, a_flip = upfirdn2d_adjoint_params(
            in_shape, dy.shape, f.shape, up, down, pads, flip_filter
        )
        dx = _Upfirdn2dCuda.apply(dy, f, a_up, a_down, a_pads, a_flip, gain)
        return dx, None, None, None, None, None, None


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor,
    *,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
    impl: str | None = None,
) -> torch.Tensor:
    """`upfirdn2d_reference`, computed by the CUDA kernel for CUDA tensors."""
    if select.use_cuda(x, impl):
        return _Upfirdn2dCuda.apply(x, f, up, down, _pads(padding), flip_filter, gain)
    return upfirdn2d_reference(x, f, up=up, down=down, padding=padding, flip_filter=flip_filter, gain=gain)


def upsample2d(x: torch.Tensor, f: torch.Tensor, *, up: int = 2, impl: str | None = None) -> torch.Tensor:
    """Upsample by `up` with the FIR filter `f`, keeping the DC level: output is `up` times larger."""
    fh, fw = f.shape
    pads = [(fw + up - 1) // 2, (fw - up) // 2, (fh + up - 1) // 2, (fh - up) // 2]
    return upfirdn2d(x, f, up=up, padding=pads, gain=up * up, impl=impl)
