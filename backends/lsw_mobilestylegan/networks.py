"""MobileStyleGAN (Belousov 2021, arXiv 2104.04767) as its FFHQ export computes it, in lsw-core's own
code: StyleGAN2's mapping network, then a synthesis network of modulated depthwise-separable
convolutions that upsamples by an inverse Haar wavelet transform and ends in a wavelet image.

Each modulated layer takes its own W+ row. Demodulation in this model does not depend on the style
(the original divides by a norm taken with a fixed per-channel vector in place of the style), so it is
a constant per output channel, kept folded into the convolution weight (`weight_demod`). Parameter
names are the original project's wherever the tensor is the same one."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn

from lsw_core.checks import check_shape

#: The inverse Haar (db1) transform of one output pixel block: y[2i+p, 2j+q] = Σ_k IDWT[2p+q, k]·band_k[i, j],
#: the bands being (LL, then the three detail bands in the order the channels hold them).
IDWT_MATRIX = 0.5 * torch.tensor(
    [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, -1.0, -1.0], [1.0, -1.0, 1.0, -1.0], [1.0, -1.0, -1.0, 1.0]]
)
#: Channels of the wavelet image: an RGB low band and three RGB detail bands.
IMG_CHANNELS = 12
LRELU_SLOPE = 0.2


def inverse_haar(x: torch.Tensor) -> torch.Tensor:
    """Wavelet bands [B, 4C, H, W] → image [B, C, 2H, 2W]. Channels 0…C-1 are the LL band; channel
    C + 3c + k is detail band k of channel c (the layout `pytorch_wavelets.DWTInverse` reads)."""
    b, c4, h, w = x.shape
    c = c4 // 4
    bands = torch.cat([x[:, :c].unsqueeze(2), x[:, c:].reshape(b, c, 3, h, w)], dim=2)
    y = torch.einsum("pk,bckhw->bcphw", IDWT_MATRIX.to(x.device, x.dtype), bands)
    return F.pixel_shuffle(y.reshape(b, c4, h, w), 2)


class MappingNetwork(nn.Module):
    """z → w: normalise z to unit second moment, then `num_layers` fully connected layers with leaky
    ReLU 0.2 and gain √2 (StyleGAN2's; the learning-rate multipliers are folded into the weights)."""

    def __init__(self, *, z_dim: int, w_dim: int, num_layers: int) -> None:
        super().__init__()
        self.z_dim, self.w_dim, self.num_layers = z_dim, w_dim, num_layers
        for i in range(num_layers):
            setattr(self, f"fc{i}", nn.Linear(z_dim if i == 0 else w_dim, w_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
        for i in range(self.num_layers):
            x = F.leaky_relu(getattr(self, f"fc{i}")(x), LRELU_SLOPE) * math.sqrt(2)
        return x


class ModulatedConv(nn.Module):
    """Scale the input channels by the style s = A(w)/√(fan-in), then a 3×3 convolution, or (depthwise)
    a 3×3 depthwise convolution and a 1×1 pointwise one; demodulation folded into `weight_demod`."""

    def __init__(self, *, in_channels: int, out_channels: int, w_dim: int, depthwise: bool) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.depthwise = in_channels, out_channels, depthwise
        self.modulation = nn.Linear(w_dim, in_channels)
        if depthwise:
            self.weight_dw = nn.Parameter(torch.randn(in_channels, 1, 3, 3))
            self.weight_demod = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1) / math.sqrt(in_channels))
        else:
            self.weight_demod = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3) / math.sqrt(in_channels * 9))
        self.scale = 1 / math.sqrt(in_channels * 9)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.modulation(w) * self.scale
        x = x * s[:, :, None, None].to(x.dtype)
        if self.depthwise:
            x = F.conv2d(x, self.weight_dw.to(x.dtype), padding=1, groups=self.in_channels)
            return F.conv2d(x, self.weight_demod.to(x.dtype))
        return F.conv2d(x, self.weight_demod.to(x.dtype), padding=1)


class NoiseInput(nn.Module):
    """Per-pixel noise added after a convolution: `const` (the one the model was exported with, already
    scaled) or `strength` × fresh N(0, 1) noise."""

    def __init__(self, resolution: int) -> None:
        super().__init__()
        self.resolution = resolution
        self.register_buffer("const", torch.zeros(1, 1, resolution, resolution))
        self.register_buffer("strength", torch.zeros([]))

    def forward(self, x: torch.Tensor, noise_mode: str) -> torch.Tensor:
        if noise_mode == "const":
            return x + self.const.to(x.dtype)
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
            return x + noise * self.strength.to(x.dtype)
        return x


class StyledConv(nn.Module):
    """Modulated convolution → noise → bias → leaky ReLU 0.2 (no gain)."""

    def __init__(self, *, in_channels: int, out_channels: int, w_dim: int, resolution: int, depthwise: bool) -> None:
        super().__init__()
        self.resolution = resolution
        self.conv = ModulatedConv(in_channels=in_channels, out_channels=out_channels, w_dim=w_dim, depthwise=depthwise)
        self.noise = NoiseInput(resolution)
        self.bias = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str) -> torch.Tensor:
        x = self.noise(self.conv(x, w), noise_mode)
        return F.leaky_relu(x + self.bias.to(x.dtype), LRELU_SLOPE)


class WaveletUpsample(nn.Module):
    """Scale the channels by A(w) (no fan-in gain), read them as four wavelet bands of C/4 channels and
    take the inverse Haar transform: [B, C, H, W] → [B, C/4, 2H, 2W]."""

    def __init__(self, *, in_channels: int, w_dim: int) -> None:
        super().__init__()
        self.modulation = nn.Linear(w_dim, in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return inverse_haar(x * self.modulation(w)[:, :, None, None].to(x.dtype))


class ToWaveletImage(nn.Module):
    """Modulated 1×1 convolution (no demodulation) → 12 channels: the wavelet bands of an RGB image."""

    def __init__(self, *, in_channels: int, w_dim: int) -> None:
        super().__init__()
        self.modulation = nn.Linear(w_dim, in_channels)
        self.weight = nn.Parameter(torch.randn(IMG_CHANNELS, in_channels, 1, 1))
        self.scale = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.modulation(w) * self.scale
        return F.conv2d(x * s[:, :, None, None].to(x.dtype), self.weight.to(x.dtype))


class ConstantInput(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, 4, 4))


class ToImage(nn.Module):
    def __init__(self, *, in_channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ToWaveletImage(in_channels=in_channels, w_dim=w_dim)
        self.bias = nn.Parameter(torch.zeros(1, IMG_CHANNELS, 1, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias.to(x.dtype)


class SynthesisBlock(nn.Module):
    """Wavelet upsampling (C_in → C_in/4 channels at twice the resolution), then two modulated
    depthwise-separable convolutions; the last block also makes the wavelet image. One W+ row per
    modulated layer: up, conv1, conv2 (, to_img)."""

    def __init__(self, *, in_channels: int, out_channels: int, w_dim: int, resolution: int, last: bool) -> None:
        super().__init__()
        self.resolution = resolution
        self.up = WaveletUpsample(in_channels=in_channels, w_dim=w_dim)
        common = dict(w_dim=w_dim, resolution=resolution, depthwise=True)
        self.conv1 = StyledConv(in_channels=in_channels // 4, out_channels=out_channels, **common)
        self.conv2 = StyledConv(in_channels=out_channels, out_channels=out_channels, **common)
        if last:
            self.to_img = ToImage(in_channels=out_channels, w_dim=w_dim)
        self.num_ws = 4 if last else 3

    def forward(self, x: torch.Tensor, ws: torch.Tensor, noise_mode: str) -> torch.Tensor:
        x = self.up(x, ws[:, 0])
        x = self.conv1(x, ws[:, 1], noise_mode)
        x = self.conv2(x, ws[:, 2], noise_mode)
        if self.num_ws == 4:
            x = self.to_img(x, ws[:, 3])
        return x


class SynthesisNetwork(nn.Module):
    """W+ [B, num_ws, w_dim] → image [B, 3, R, R], R = 8 · 2^len(blocks): a constant 4² input, a modulated
    3×3 convolution, one block per `channels[1:]` and an inverse Haar transform of the wavelet image."""

    def __init__(self, *, w_dim: int, channels: list[int]) -> None:
        super().__init__()
        self.w_dim, self.channels = w_dim, list(channels)
        self.input = ConstantInput(channels[0])
        self.conv1 = StyledConv(
            in_channels=channels[0], out_channels=channels[0], w_dim=w_dim, resolution=4, depthwise=False
        )
        self.layers = nn.ModuleList(
            SynthesisBlock(
                in_channels=c_in, out_channels=c_out, w_dim=w_dim, resolution=8 * 2**i, last=i == len(channels) - 2
            )
            for i, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:]))
        )
        self.num_ws = 1 + sum(block.num_ws for block in self.layers)
        self.img_resolution = 2 * self.layers[-1].resolution
        #: Recompute each block's activations in the backward pass instead of storing them.
        self.checkpoint_blocks = False

    def row_resolutions(self) -> list[int]:
        """The resolution each W+ row's layer works at (the up row: the resolution it makes)."""
        return [4] + [block.resolution for block in self.layers for _ in range(block.num_ws)]

    def forward(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        check_shape("ws", ws, [None, self.num_ws, self.w_dim])
        x = self.input.input.expand(ws.shape[0], -1, -1, -1)
        x = self.conv1(x, ws[:, 0], noise_mode)
        row = 1
        for block in self.layers:
            block_ws = ws[:, row : row + block.num_ws]
            if self.checkpoint_blocks and torch.is_grad_enabled():
                x = torch.utils.checkpoint.checkpoint(block, x, block_ws, noise_mode, use_reentrant=False)
            else:
                x = block(x, block_ws, noise_mode)
            row += block.num_ws
        return inverse_haar(x).float()
