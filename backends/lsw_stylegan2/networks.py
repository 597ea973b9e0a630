"""The StyleGAN2 generator (Karras et al. 2020) in NVIDIA stylegan2-ada-pytorch's layout: the same
module tree, parameter names and numerics, so that its checkpoints load with `load_state_dict`.

z → MappingNetwork (lr-multiplied FC layers, w_avg truncation) → W+ [B, num_ws, w_dim] →
SynthesisNetwork (one SynthesisBlock per resolution 4² … R²: modulated/demodulated 3×3 convolutions
with per-layer noise, FIR [1,3,3,1] up-sampling, and an output architecture 'skip' (summed ToRGB
outputs), 'orig' (ToRGB at the last block only) or 'resnet' (residual blocks)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn

from lsw_core.checks import check_shape
from lsw_stylegan2.ops import ACTIVATIONS, bias_act, setup_filter, upfirdn2d, upsample2d

ARCHITECTURES = ("orig", "skip", "resnet")


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    *,
    noise: torch.Tensor | None = None,
    up: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    fused: bool = True,
) -> torch.Tensor:
    """Convolve x [B, I, H, W] with weight [O, I, k, k] scaled per sample by styles [B, I], then
    (demodulate) normalise each output channel to unit expected magnitude; add `noise`.
    `up=2` is a transposed convolution followed by the FIR filter. `fused` folds the styles into a
    per-sample weight (one grouped convolution), else scales activations (same result)."""
    batch = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    if x.dtype == torch.float16 and demodulate:  # keep fp16 products in range; cancelled by demodulation
        weight = weight * (1 / math.sqrt(in_ch * kh * kw) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
    w = weight.unsqueeze(0) * styles.reshape(batch, 1, in_ch, 1, 1) if (demodulate or fused) else None  # [B,O,I,k,k]
    dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt() if demodulate else None  # [B, O]
    if fused:
        if dcoefs is not None:
            w = w * dcoefs.reshape(batch, out_ch, 1, 1, 1)
        x = x.reshape(1, batch * in_ch, *x.shape[2:])
        x = _conv(x, w.reshape(batch * out_ch, in_ch, kh, kw).to(x.dtype), up, padding, resample_filter, groups=batch)
        x = x.reshape(batch, out_ch, *x.shape[2:])
        return x if noise is None else x + noise.to(x.dtype)
    x = x * styles.to(x.dtype).reshape(batch, in_ch, 1, 1)
    x = _conv(x, weight.to(x.dtype), up, padding, resample_filter, groups=1)
    if dcoefs is not None:
        x = x * dcoefs.to(x.dtype).reshape(batch, out_ch, 1, 1)
    return x if noise is None else x + noise.to(x.dtype)


def _conv(x: torch.Tensor, w: torch.Tensor, up: int, padding: int, f: torch.Tensor | None, groups: int) -> torch.Tensor:
    """Correlation with w (groups of [O/g, I/g, k, k]); for up > 1 a stride-`up` transposed
    convolution then the FIR filter f, padded so the output is exactly `up` times the input."""
    if up == 1:
        return F.conv2d(x, w, padding=padding, groups=groups)
    oc, icg, kh, kw = w.shape
    # conv_transpose2d wants [I, O/g, k, k]; the reference applies the weight unflipped here.
    wt = w.reshape(groups, oc // groups, icg, kh, kw).transpose(1, 2).reshape(groups * icg, oc // groups, kh, kw)
    x = F.conv_transpose2d(x, wt, stride=up, groups=groups)
    fh, fw = f.shape
    px0 = padding + (fw + up - 1) // 2 - (kw - 1)
    px1 = padding + (fw - up) // 2 - (kw - up)
    py0 = padding + (fh + up - 1) // 2 - (kh - 1)
    py1 = padding + (fh - up) // 2 - (kh - up)
    return upfirdn2d(x, f, padding=[px0, px1, py0, py1], gain=up * up)


class FullyConnectedLayer(nn.Module):
    """y = act(x · (weight · gain)ᵀ + bias · lr_multiplier), gain = lr_multiplier / √in; the
    weight is stored divided by lr_multiplier (equalised learning rate)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = None if self.bias is None else self.bias.to(x.dtype) * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)


class MappingNetwork(nn.Module):
    """z → normalised → `num_layers` FC layers (lr multiplier 0.01) → w, broadcast to `num_ws`
    rows; truncation lerps rows towards the tracked average `w_avg`."""

    def __init__(
        self,
        *,
        z_dim: int,
        w_dim: int,
        num_ws: int,
        num_layers: int = 8,
        layer_features: int | None = None,
        activation: str = "lrelu",
        lr_multiplier: float = 0.01,
    ) -> None:
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws, self.num_layers = z_dim, w_dim, num_ws, num_layers
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim] + [layer_features] * (num_layers - 1) + [w_dim]
        for i in range(num_layers):
            fc = FullyConnectedLayer(features[i], features[i + 1], activation=activation, lr_multiplier=lr_multiplier)
            setattr(self, f"fc{i}", fc)
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(
        self, z: torch.Tensor, truncation_psi: float = 1.0, truncation_cutoff: int | None = None
    ) -> torch.Tensor:
        x = normalize_2nd_moment(z.to(torch.float32))
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            rows = self.num_ws if truncation_cutoff is None else truncation_cutoff
            truncated = self.w_avg.lerp(x[:, :rows], truncation_psi)
            x = torch.cat([truncated, x[:, rows:]], dim=1)
        return x


class SynthesisLayer(nn.Module):
    """Modulated 3×3 convolution (optionally up-sampling ×2), + noise · noise_strength, + bias,
    leaky ReLU with gain √2, clamp to ±conv_clamp."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        w_dim: int,
        resolution: int,
        kernel_size: int = 3,
        up: int = 1,
        use_noise: bool = True,
        activation: str = "lrelu",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.resolution, self.up, self.use_noise = resolution, up, use_noise
        self.activation, self.conv_clamp, self.padding = activation, conv_clamp, kernel_size // 2
        self.act_gain = ACTIVATIONS[activation].gain
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        if use_noise:
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def forward(
        self, x: torch.Tensor, w: torch.Tensor, *, noise_mode: str = "random", fused: bool = True, gain: float = 1.0
    ) -> torch.Tensor:
        styles = self.affine(w)
        noise = None
        if self.use_noise and noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            noise=noise,
            up=self.up,
            padding=self.padding,
            resample_filter=self.resample_filter,
            fused=fused,
        )
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, self.bias.to(x.dtype), act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class ToRGBLayer(nn.Module):
    """Modulated (not demodulated) 1×1 convolution to image channels, + bias, clamp."""

    def __init__(
        self, in_channels: int, out_channels: int, *, w_dim: int, kernel_size: int = 1, conv_clamp: float | None = None
    ) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor, w: torch.Tensor, *, fused: bool = True) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused=fused)
        return bias_act(x, self.bias.to(x.dtype), clamp=self.conv_clamp)


class Conv2dLayer(nn.Module):
    """Plain equalised-lr convolution, optionally up-sampling ×2 (the resnet blocks' skip path)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.activation, self.up, self.conv_clamp, self.padding = activation, up, conv_clamp, kernel_size // 2
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.act_gain = ACTIVATIONS[activation].gain
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        if self.weight.shape[-1] == 1 and self.up > 1:  # 1×1: convolve at low resolution, then up-sample
            x = upsample2d(F.conv2d(x, w), self.resample_filter, up=self.up)
        else:
            x = _conv(x, w, self.up, self.padding, self.resample_filter, groups=1)
        b = None if self.bias is None else self.bias.to(x.dtype)
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, b, act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class SynthesisBlock(nn.Module):
    """One resolution: (learned 4×4 constant | up-sampling conv0) → conv1 → ToRGB, with the image
    path up-sampled and summed ('skip'), or a residual 1×1 skip ('resnet'), or plain ('orig')."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        w_dim: int,
        resolution: int,
        img_channels: int,
        is_last: bool,
        architecture: str = "skip",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        use_fp16: bool = False,
        **layer_kwargs,
    ) -> None:
        super().__init__()
        self.in_channels, self.w_dim, self.resolution = in_channels, w_dim, resolution
        self.img_channels, self.is_last = img_channels, is_last
        self.architecture, self.use_fp16 = architecture, use_fp16
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.num_conv = 1 if in_channels == 0 else 2
        self.num_torgb = 1 if (is_last or architecture == "skip") else 0
        common = dict(w_dim=w_dim, resolution=resolution, conv_clamp=conv_clamp, **layer_kwargs)
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, up=2, resample_filter=resample_filter, **common)
        self.conv1 = SynthesisLayer(out_channels, out_channels, **common)
        if self.num_torgb:
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim=w_dim, conv_clamp=conv_clamp)
        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(
                in_channels, out_channels, kernel_size=1, bias=False, up=2, resample_filter=resample_filter
            )

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        ws: torch.Tensor,
        *,
        force_fp32: bool = True,
        noise_mode: str = "random",
        fused: bool | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        dtype = torch.float16 if self.use_fp16 and not force_fp32 else torch.float32
        if fused is None:
            # The grouped convolution is faster for inference. When gradients flow into the styles or
            # the weights, scaling the activations instead has the cheaper backward: it skips the
            # per-sample weight gradients (forward + backward of a 1024 px image at batch 2: 302 vs
            # 599 GFLOP), though it keeps more for the backward (3228 vs 2238 MiB per image; activation
            # checkpointing: 127 MiB), bench/stylegan2_flops.py.
            needs_grad = torch.is_grad_enabled() and (ws.requires_grad or self.conv1.weight.requires_grad)
            fused = (not self.training) and not needs_grad and (dtype == torch.float32 or ws.shape[0] == 1)
        w_iter = iter(ws.unbind(dim=1))
        kw = dict(noise_mode=noise_mode, fused=fused)
        if self.in_channels == 0:
            x = self.const.to(dtype).unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = self.conv1(x, next(w_iter), **kw)
        elif self.architecture == "resnet":
            x = x.to(dtype)
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, next(w_iter), **kw)
            x = y + self.conv1(x, next(w_iter), gain=math.sqrt(0.5), **kw)
        else:
            x = x.to(dtype)
            x = self.conv0(x, next(w_iter), **kw)
            x = self.conv1(x, next(w_iter), **kw)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.num_torgb:
            y = self.torgb(x, next(w_iter), fused=fused).to(torch.float32)
            img = y if img is None else img + y
        return x, img


class SynthesisNetwork(nn.Module):
    """W+ → image: blocks b4 … b{R}, channels min(channel_base / res, channel_max), fp16 for the
    `num_fp16_res` highest resolutions (unless forced to fp32)."""

    def __init__(
        self,
        *,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 0,
        **block_kwargs,
    ) -> None:
        super().__init__()
        log2 = int(math.log2(img_resolution))
        if img_resolution < 4 or 2**log2 != img_resolution:
            raise ValueError(f"img_resolution: expected a power of two >= 4, got {img_resolution}")
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(
                channels[res // 2] if res > 4 else 0,
                channels[res],
                w_dim=w_dim,
                resolution=res,
                img_channels=img_channels,
                is_last=res == img_resolution,
                use_fp16=res >= fp16_resolution,
                **block_kwargs,
            )
            self.num_ws += block.num_conv + (block.num_torgb if res == img_resolution else 0)
            setattr(self, f"b{res}", block)
        #: Recompute each block's activations in the backward pass instead of storing them.
        self.checkpoint_blocks = False

    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def row_resolutions(self) -> list[int]:
        """The resolution of the first block each W+ row drives (rows are shared between a block's
        ToRGB and the next block's first convolution)."""
        rows: list[int | None] = [None] * self.num_ws
        w_idx = 0
        for block in self.blocks():
            for i in range(block.num_conv + block.num_torgb):
                if rows[w_idx + i] is None:
                    rows[w_idx + i] = block.resolution
            w_idx += block.num_conv
        return [int(r) for r in rows]

    def forward(
        self, ws: torch.Tensor, *, force_fp32: bool = True, noise_mode: str = "random", fused: bool | None = None
    ) -> torch.Tensor:
        check_shape("ws", ws, [None, self.num_ws, self.w_dim])
        ws = ws.to(torch.float32)
        x = img = None
        w_idx = 0
        for block in self.blocks():
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            kw = dict(force_fp32=force_fp32, noise_mode=noise_mode, fused=fused)
            if self.checkpoint_blocks and torch.is_grad_enabled():
                # The RNG state is replayed, so the recomputed random noise is the one drawn forward.
                x, img = torch.utils.checkpoint.checkpoint(block, x, img, block_ws, use_reentrant=False, **kw)
            else:
                x, img = block(x, img, block_ws, **kw)
            w_idx += block.num_conv
        return img
