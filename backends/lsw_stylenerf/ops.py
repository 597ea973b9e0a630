"""Elementary tensor operations of StyleGAN2-style synthesis, in plain torch.

These are the specification-level versions of what StyleNeRF runs (bias + activation with gain
and clamp, FIR filtering and upsampling, modulated 1×1 convolution); every layer of the backend is
built from them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

#: Default gains of the activations, chosen so that the output keeps unit variance.
ACTIVATION_GAINS = {"linear": 1.0, "relu": math.sqrt(2), "lrelu": math.sqrt(2)}


def bias_act(
    x: torch.Tensor,
    bias: torch.Tensor | None,
    act: str = "linear",
    gain: float | None = None,
    clamp: float | None = None,
    dim: int = 1,
) -> torch.Tensor:
    """`clamp(act(x + bias) · gain, ±clamp)`; `bias` is added along `dim`; leaky ReLU slope 0.2."""
    if bias is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        x = x + bias.reshape(shape)
    if act == "lrelu":
        x = F.leaky_relu(x, 0.2)
    elif act == "relu":
        x = F.relu(x)
    elif act != "linear":
        raise ValueError(f"unknown activation {act!r}")
    gain = ACTIVATION_GAINS[act] if gain is None else gain
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


def fir_filter(taps=(1, 3, 3, 1)) -> torch.Tensor:
    """The separable low-pass FIR filter as a normalised 2D kernel (outer product, sum 1)."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def _fir(x: torch.Tensor, f: torch.Tensor, pad: tuple[int, int], gain: float) -> torch.Tensor:
    """Depthwise convolution of `x` with the symmetric 2D kernel `f` after zero padding."""
    channels = x.shape[1]
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    weight = (f * gain).to(x.dtype).flip([0, 1])[None, None].repeat(channels, 1, 1, 1)
    return F.conv2d(x, weight, groups=channels)


def filter2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Filter images with `f` keeping their size (pad fw//2 before, (fw-1)//2 after)."""
    fw = f.shape[-1]
    return _fir(x, f, (fw // 2, (fw - 1) // 2), 1.0)


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """Upsample images ×`up` by zero insertion followed by filtering with `f` (gain up²)."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h, 1, w, 1)
    x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1]).reshape(b, c, h * up, w * up)
    fw = f.shape[-1]
    return _fir(x, f, ((fw + up - 1) // 2, (fw - up) // 2), float(up * up))


def modulated_matmul(
    x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True
) -> torch.Tensor:
    """A modulated 1×1 convolution on point sets: x [B, N, I] · (weight [O, I] scaled per sample by
    styles [B, I], optionally demodulated to unit norm per output) → [B, N, O]."""
    w = weight[None] * styles[:, None, :]  # [B, O, I]
    if demodulate:
        w = w * (w.square().sum(dim=2, keepdim=True) + 1e-8).rsqrt()
    return torch.einsum("b n i, b o i -> b n o", x, w)


def modulated_conv1x1(
    x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True
) -> torch.Tensor:
    """The same modulated 1×1 convolution on feature maps: x [B, I, H, W] → [B, O, H, W]."""
    w = weight[None] * styles[:, None, :]
    if demodulate:
        w = w * (w.square().sum(dim=2, keepdim=True) + 1e-8).rsqrt()
    return torch.einsum("b i h w, b o i -> b o h w", x, w)
