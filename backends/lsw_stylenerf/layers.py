"""StyleGAN2-style layers as StyleNeRF uses them: equalised fully connected and 1×1 layers, the
mapping network, style-modulated point layers of the NeRF MLPs, and the `nn_cat` upsampling
synthesis layers and blocks of the 2D upsampler.

Parameter and buffer names follow the reference implementation, so its state dicts load as they are.
Layers accept point sets [B, N, C] (NeRF) or feature maps [B, C, H, W] (upsampler) where noted.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lsw_stylenerf.ops import bias_act, filter2d, fir_filter, modulated_conv1x1, modulated_matmul, upsample2d


def _modulated(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool) -> torch.Tensor:
    if x.ndim == 3:
        return modulated_matmul(x, weight, styles, demodulate)
    return modulated_conv1x1(x, weight, styles, demodulate)


def _channel_dim(x: torch.Tensor) -> int:
    return -1 if x.ndim == 3 else 1


class FullyConnectedLayer(nn.Module):
    """Equalised-learning-rate linear layer: weight · lr_multiplier/√in, bias · lr_multiplier."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ):
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = self.bias * self.bias_gain
        if self.activation == "linear":
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, self.activation)


class Conv1x1Layer(nn.Module):
    """Equalised 1×1 convolution with bias and activation (the reference's `Conv2dLayer`, kernel 1)."""

    def __init__(self, in_channels: int, out_channels: int, *, activation: str = "linear"):
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("resample_filter", fir_filter())
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight[:, :, 0, 0] * self.weight_gain
        if x.ndim == 3:
            x = x.matmul(w.t())
        else:
            x = torch.einsum("b i h w, o i -> b o h w", x, w)
        return bias_act(x, self.bias, self.activation, dim=_channel_dim(x))


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


class MappingNetwork(nn.Module):
    """z → w: normalise z to the sphere, then `num_layers` leaky-ReLU FC layers with lr multiplier 0.01;
    `w_avg` is the tracked mean of w that truncation pulls towards."""

    def __init__(
        self,
        *,
        z_dim: int,
        w_dim: int,
        num_layers: int = 8,
        layer_features: int | None = None,
        lr_multiplier: float = 0.01,
        activation: str = "lrelu",
    ):
        super().__init__()
        self.num_layers = num_layers
        feats = [z_dim] + [layer_features or w_dim] * (num_layers - 1) + [w_dim]
        for i in range(num_layers):
            setattr(
                self,
                f"fc{i}",
                FullyConnectedLayer(feats[i], feats[i + 1], activation=activation, lr_multiplier=lr_multiplier),
            )
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = normalize_2nd_moment(z.to(torch.float32))
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        return x


class Style2Layer(nn.Module):
    """One hidden layer of a NeRF MLP. With a style (`w_dim > 0`): modulated, demodulated 1×1 layer,
    bias and leaky ReLU; without (`w_dim == 0`, latent-code input): plain linear + ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        *,
        activation: str = "lrelu",
        magnitude_ema_beta: float = -1,
    ):
        super().__init__()
        self.w_dim = w_dim
        self.activation = activation
        self.register_buffer("resample_filter", fir_filter())
        if w_dim > 0:
            self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
            self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
            self.bias = nn.Parameter(torch.zeros([out_channels]))
        else:
            self.weight = nn.Parameter(torch.empty(out_channels, in_channels))
            self.bias = nn.Parameter(torch.empty(out_channels))
            nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
            nn.init.uniform_(self.bias, -1 / math.sqrt(in_channels), 1 / math.sqrt(in_channels))
        self.magnitude_ema_beta = magnitude_ema_beta
        if magnitude_ema_beta > 0:
            self.register_buffer("w_avg", torch.ones([]))

    def forward(self, x: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, N, in] points (w [B, w_dim] per sample) → [B, N, out]."""
        if self.magnitude_ema_beta > 0:
            x = x * self.w_avg.rsqrt()
        if self.w_dim > 0:
            x = modulated_matmul(x, self.weight[:, :, 0, 0], self.affine(w), demodulate=True)
            return bias_act(x, self.bias, self.activation, dim=-1)
        return F.relu(F.linear(x, self.weight, self.bias))


class ToRGBLayer(nn.Module):
    """Output layer without demodulation: style-modulated 1×1 (styles scaled by 1/√in) + bias,
    clamped to ±`conv_clamp`; without a style (`w_dim == 0`) a plain linear layer."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int = 0, *, conv_clamp: float | None = None):
        super().__init__()
        self.w_dim = w_dim
        self.conv_clamp = conv_clamp
        if w_dim > 0:
            self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
            self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
            self.bias = nn.Parameter(torch.zeros([out_channels]))
            self.weight_gain = 1 / math.sqrt(in_channels)
        else:
            self.weight = nn.Parameter(torch.empty(out_channels, in_channels))
            self.bias = nn.Parameter(torch.empty(out_channels))
            nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
            nn.init.uniform_(self.bias, -1 / math.sqrt(in_channels), 1 / math.sqrt(in_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        if self.w_dim > 0:
            styles = self.affine(w) * self.weight_gain
            x = _modulated(x, self.weight[:, :, 0, 0], styles, demodulate=False)
            return bias_act(x, self.bias, "linear", clamp=self.conv_clamp, dim=_channel_dim(x))
        if x.ndim == 3:
            return F.linear(x, self.weight, self.bias)
        return torch.einsum("b i h w, o i -> b o h w", x, self.weight) + self.bias[None, :, None, None]


def nn_cat_neighbours(x: torch.Tensor) -> torch.Tensor:
    """The `nn_cat` sub-pixel guess: each output pixel of the ×2 grid is the mean of the two input
    neighbours on its side (left+up, up+right, left+down, right+down; zero outside the image)."""
    xp = F.pad(x, [1, 1, 1, 1])
    left, up = xp[..., 1:-1, :-2], xp[..., :-2, 1:-1]
    down, right = xp[..., 2:, 1:-1], xp[..., 1:-1, 2:]
    quads = torch.stack([left + up, up + right, left + down, right + down], 2) / 2  # [B, C, 4, H, W]
    return F.pixel_shuffle(quads.flatten(1, 2), 2)


class SynthesisLayer(nn.Module):
    """Modulated 1×1 convolution of the upsampler (kernel size 1, no noise in the FFHQ model); with
    `up=2` it upsamples by `nn_cat`: nearest ×2 plus a learned 1×1 adapter on [nearest, neighbour
    means], then the [1,3,3,1] low-pass filter. Input magnitude is normalised by a tracked EMA."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        *,
        up: int = 1,
        activation: str = "lrelu",
        conv_clamp: float | None = None,
        magnitude_ema_beta: float = -1,
    ):
        super().__init__()
        self.up = up
        self.activation = activation
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", fir_filter())
        if up == 2:
            self.adapter = nn.Sequential(
                Conv1x1Layer(out_channels * 2, out_channels // 4, activation=activation),
                Conv1x1Layer(out_channels // 4, out_channels, activation="linear"),
            )
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.magnitude_ema_beta = magnitude_ema_beta
        if magnitude_ema_beta > 0:
            self.register_buffer("w_avg", torch.ones([]))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.magnitude_ema_beta > 0:
            x = x * self.w_avg.rsqrt()
        x = modulated_conv1x1(x, self.weight[:, :, 0, 0], self.affine(w), demodulate=True)
        if self.up == 2:
            near = F.interpolate(x, scale_factor=2, mode="nearest")
            x = near + self.adapter(torch.cat([near, nn_cat_neighbours(x)], 1))
            x = filter2d(x, self.resample_filter)
        return bias_act(x, self.bias, self.activation, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One upsampler resolution ('skip' architecture): conv0 (×2 nn_cat), conv1, and a ToRGB whose
    output is added to the FIR-upsampled image of the previous resolution. Takes num_conv + 1 ws rows."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        *,
        img_channels: int = 3,
        conv_clamp: float | None = None,
        magnitude_ema_beta: float = -1,
        activation: str = "lrelu",
    ):
        super().__init__()
        self.register_buffer("resample_filter", fir_filter())
        kw = dict(conv_clamp=conv_clamp, magnitude_ema_beta=magnitude_ema_beta, activation=activation)
        self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, up=2, **kw)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, **kw)
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.num_conv, self.num_torgb = 2, 1

    def forward(self, x: torch.Tensor, img: torch.Tensor, ws: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, C, H, W], img [B, 3, H, W], ws [B, 3, w_dim] → (x, img) at 2H × 2W."""
        x = self.conv0(x, ws[:, 0])
        x = self.conv1(x, ws[:, 1])
        img = upsample2d(img, self.resample_filter)
        return x, img + self.torgb(x, ws[:, 2])
