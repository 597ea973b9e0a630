"""MobileStyleGAN (Belousov 2021, arXiv 2104.04767) as its FFHQ export computes it, in lsw-core's own
code: StyleGAN2's mapping network, then a synthesis network of modulated depthwise-separable
convolutions that upsamples by an inverse Haar wavelet transform and ends in a wavelet image.

Each modulated layer takes its own W+ row. Demodulation in this model does not depend on the style
(the original divides by a norm taken with a fixed per-channel vector in place of the style), so it is
a constant per output channel, kept folded into the convolution weight (`weight_demod`). Parameter
names are the original project's wherever the tensor is the same one."""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor

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


def _at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """bf16/fp16 results (autocast) as float32; float32 and float64 as they are."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


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


def upsample_haar(x: torch.Tensor, coeffs: tuple[torch.Tensor, ...], *, inplace: bool = False) -> torch.Tensor:
    """`inverse_haar(x · s)` channels-last: x [B, 4C, H, W] in the band layout of `inverse_haar`,
    `coeffs` the four bands' factors [B, C] each (the style times the transform's 1/2) → [B, C, 2H, 2W]
    channels-last, by the Haar butterfly. `inplace` writes the four output phases into one buffer
    (no autograd)."""
    b, c4, h, w = x.shape
    c = c4 // 4
    xh = x.permute(0, 2, 3, 1)  # [B, H, W, 4C], a view of a channels-last x
    ll, detail = xh[..., :c], xh[..., c:].unflatten(-1, (c, 3))
    k0, k1, k2, k3 = (k[:, None, None, :].to(x.dtype) for k in coeffs)
    low = ll * k0
    top, bottom = torch.addcmul(low, detail[..., 0], k1), torch.addcmul(low, detail[..., 0], k1, value=-1)
    high = detail[..., 1] * k2
    plus, minus = torch.addcmul(high, detail[..., 2], k3), torch.addcmul(high, detail[..., 2], k3, value=-1)
    if inplace:
        u = x.new_empty(b, h, 2, w, 2, c)  # y[2i + p, 2j + q] at u[:, i, p, j, q]
        torch.add(top, plus, out=u[:, :, 0, :, 0])
        torch.sub(top, plus, out=u[:, :, 0, :, 1])
        torch.add(bottom, minus, out=u[:, :, 1, :, 0])
        torch.sub(bottom, minus, out=u[:, :, 1, :, 1])
    else:
        rows = [torch.stack([top + plus, top - plus], dim=3), torch.stack([bottom + minus, bottom - minus], dim=3)]
        u = torch.stack(rows, dim=2)
    return u.reshape(b, 2 * h, 2 * w, c).permute(0, 3, 1, 2)


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

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """x [B, C_in, H, W] and the style s [B, C_in] (gain included) → [B, C_out, H, W]."""
        x = x * s[:, :, None, None].to(x.dtype)
        if self.depthwise:
            x = F.conv2d(x, self.weight_dw.to(x.dtype), padding=1, groups=self.in_channels)
            return F.conv2d(x, self.weight_demod.to(x.dtype))
        return F.conv2d(x, self.weight_demod.to(x.dtype), padding=1)

    def pointwise(self, s: torch.Tensor) -> torch.Tensor:
        """The pointwise weight [C_in, C_out] for `x @ W`; with one style (batch 1) s is folded in,
        which it may be since a per-channel factor passes through the depthwise convolution."""
        weight = self.weight_demod.view(self.out_channels, self.in_channels).t()
        return weight * s[0][:, None] if s.shape[0] == 1 else weight


class NoiseInput(nn.Module):
    """Per-pixel noise added after a convolution: `const` (the one the model was exported with, already
    scaled) or `strength` × fresh N(0, 1) noise."""

    def __init__(self, resolution: int) -> None:
        super().__init__()
        self.resolution = resolution
        self.register_buffer("const", torch.zeros(1, 1, resolution, resolution))
        self.register_buffer("strength", torch.zeros([]))

    def draw(self, batch: int, noise_mode: str, device: torch.device) -> torch.Tensor | None:
        """The noise [1 or B, 1, R, R] of `noise_mode`, or None for "none"."""
        if noise_mode == "const":
            return self.const
        if noise_mode == "random":
            return torch.randn(batch, 1, self.resolution, self.resolution, device=device) * self.strength
        return None


class StyledConv(nn.Module):
    """Modulated convolution → noise → bias → leaky ReLU 0.2 (no gain)."""

    def __init__(self, *, in_channels: int, out_channels: int, w_dim: int, resolution: int, depthwise: bool) -> None:
        super().__init__()
        self.resolution = resolution
        self.conv = ModulatedConv(in_channels=in_channels, out_channels=out_channels, w_dim=w_dim, depthwise=depthwise)
        self.noise = NoiseInput(resolution)
        self.bias = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str) -> torch.Tensor:
        s = self.conv.modulation(w) * self.conv.scale
        return self.apply_style(x, s, self.noise.draw(x.shape[0], noise_mode, x.device))

    def apply_style(self, x: torch.Tensor, s: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        x = self.conv(x, s)
        if noise is not None:
            x = x + noise.to(x.dtype)
        return F.leaky_relu(x + self.bias.to(x.dtype), LRELU_SLOPE)

    def run(
        self, x: torch.Tensor, lo: int, hi: int, weight: torch.Tensor, s: torch.Tensor, noise: torch.Tensor | None,
        rows: tuple[int, int], *, inplace: bool, out: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """The depthwise-separable layer on a band of rows, channels-last: x [B, C_in, r, W] → rows
        lo…hi of the result [B, C_out, hi - lo, W] (image rows `rows`, for the noise). `weight` is
        `conv.pointwise(s)`. In place, the bias and noise are written first (into `out`, a
        channels-last [1, C_out, hi - lo, W], when given) and the product added to them."""
        d = F.conv2d(x, self.conv.weight_dw.to(x.dtype), padding=1, groups=x.shape[1])[:, :, lo:hi]
        if s.shape[0] > 1:  # the style is not folded into the weight (see `ModulatedConv.pointwise`)
            scale = s[:, :, None, None].to(d.dtype)
            d = d.mul_(scale) if inplace else d * scale
        b, c, r, w = d.shape
        x2, weight = d.permute(0, 2, 3, 1).reshape(b * r * w, c), weight.to(d.dtype)
        bias = self.bias.view(1, 1, -1).to(d.dtype)
        n = None if noise is None else noise[:, :, rows[0] : rows[1]].reshape(-1, r * w, 1).to(d.dtype)
        if not inplace:
            start = bias[0] if n is None else (n + bias).expand(b, -1, -1).reshape(b * r * w, -1)
            y = F.leaky_relu(torch.addmm(start, x2, weight), LRELU_SLOPE)
            return y.view(b, r, w, -1).permute(0, 3, 1, 2)
        y = d.new_empty(b, r, w, bias.shape[2]) if out is None else out.permute(0, 2, 3, 1)
        y3 = y.view(b, r * w, -1)
        if n is None:
            y3.copy_(bias.expand_as(y3))
        else:
            torch.add(n.expand(b, -1, -1), bias, out=y3)
        F.leaky_relu_(y3.view(b * r * w, -1).addmm_(x2, weight), LRELU_SLOPE)
        return y.permute(0, 3, 1, 2)


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

    def run(self, x: torch.Tensor, s: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Channels-last x [B, C, r, W] and the style s [B, C] (gain included) → the image rows it makes,
        [B, 3, 2r, 2W] (written into `out` when given): the style and the 1/2 of the inverse Haar
        transform folded into the 1×1 weight and bias, then the Haar butterfly."""
        b, c, r, w = x.shape
        weight = (0.5 * self.conv.weight.view(1, IMG_CHANNELS, c) * s[:, None, :]).to(x.dtype)
        x3 = x.permute(0, 2, 3, 1).reshape(b, r * w, c).transpose(1, 2)
        bands = torch.baddbmm(0.5 * self.bias.view(1, IMG_CHANNELS, 1).to(x.dtype), weight, x3).view(b, 4, 3, r, w)
        ll, detail = bands[:, 0], bands[:, 1:].view(b, 3, 3, r, w)  # channel 3 + 3c + k: detail band k of colour c
        top, bottom = ll + detail[:, :, 0], ll - detail[:, :, 0]
        plus, minus = detail[:, :, 1] + detail[:, :, 2], detail[:, :, 1] - detail[:, :, 2]
        if out is None:
            rows = [
                torch.stack([top + plus, top - plus], dim=-1),
                torch.stack([bottom + minus, bottom - minus], dim=-1),
            ]
            return torch.stack(rows, dim=3).reshape(b, 3, 2 * r, 2 * w)
        y = out.view(b, 3, r, 2, w, 2)  # y[2i + p, 2j + q] at y[:, :, i, p, j, q]
        torch.add(top, plus, out=y[:, :, :, 0, :, 0])
        torch.sub(top, plus, out=y[:, :, :, 0, :, 1])
        torch.add(bottom, minus, out=y[:, :, :, 1, :, 0])
        torch.sub(bottom, minus, out=y[:, :, :, 1, :, 1])
        return out


class SynthesisBlock(nn.Module):
    """Wavelet upsampling (C_in → C_in/4 channels at twice the resolution), then two modulated
    depthwise-separable convolutions; the last block also makes the wavelet image. One W+ row per
    modulated layer: up, conv1, conv2 (, to_img)."""

    def __init__(self, *, in_channels: int, out_channels: int, w_dim: int, resolution: int, last: bool) -> None:
        super().__init__()
        self.resolution, self.in_channels, self.out_channels = resolution, in_channels, out_channels
        self.up = WaveletUpsample(in_channels=in_channels, w_dim=w_dim)
        common = dict(w_dim=w_dim, resolution=resolution, depthwise=True)
        self.conv1 = StyledConv(in_channels=in_channels // 4, out_channels=out_channels, **common)
        self.conv2 = StyledConv(in_channels=out_channels, out_channels=out_channels, **common)
        if last:
            self.to_img = ToImage(in_channels=out_channels, w_dim=w_dim)
        self.num_ws = 4 if last else 3

    def reference(self, x: torch.Tensor, ws: torch.Tensor, noise_mode: str) -> torch.Tensor:
        """The block as the export computes it, one operation after another (the specification)."""
        x = self.up(x, ws[:, 0])
        x = self.conv1(x, ws[:, 1], noise_mode)
        x = self.conv2(x, ws[:, 2], noise_mode)
        return self.to_img(x, ws[:, 3]) if self.num_ws == 4 else x

    def forward(
        self, x: torch.Tensor, styles: list[torch.Tensor], noise1: torch.Tensor | None, noise2: torch.Tensor | None,
        tile_rows: int, inplace: bool, band_pool: BandPool | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """The same computation, faster: x [B, C_in, H/2, H/2] (channels-last) and the block's styles
        (A(w) times gain, [B, C] each; see `SynthesisNetwork.styles`) → [B, C_out, H, H] channels-last, or
        the image [B, 3, 2H, 2H] for the last block. Runs in bands of `tile_rows` output rows (with the
        rows the 3×3 convolutions need around them), so that intermediates stay small; on the workers
        of `band_pool` when given (in place only)."""
        s_up, s1, s2 = styles[:3]
        H, c = self.resolution, self.in_channels // 4
        # The up layer's style, 1/2 of the inverse Haar transform: per band k and channel c.
        coeffs = (0.5 * s_up[:, :c], *(0.5 * s_up[:, c:].unflatten(1, (c, 3))).unbind(2))
        pw1, pw2 = self.conv1.conv.pointwise(s1), self.conv2.conv.pointwise(s2)
        b, last = x.shape[0], self.num_ws == 4
        out = None  # in place, the block's result is written band by band (one image: its layout allows)
        if inplace and last:
            out = x.new_empty(b, 3, 2 * H, 2 * H)
        elif inplace and b == 1:
            out = torch.empty(
                b, self.out_channels, H, H, dtype=x.dtype, device=x.device, memory_format=torch.channels_last
            )

        def band(r0: int) -> torch.Tensor:
            r1 = min(r0 + tile_rows, H)
            a1, b1 = max(r0 - 1, 0), min(r1 + 1, H)  # conv1 rows that conv2's 3×3 kernel reads
            a0, b0 = max(a1 - 1, 0), min(b1 + 1, H)  # upsampled rows that conv1 reads
            a0, b0 = a0 - a0 % 2, b0 + b0 % 2
            u = upsample_haar(x[:, :, a0 // 2 : b0 // 2], coeffs, inplace=inplace)
            y = self.conv1.run(u, a1 - a0, b1 - a0, pw1, s1, noise1, (a1, b1), inplace=inplace)
            into = out[:, :, r0:r1] if out is not None and not last else None
            y = self.conv2.run(y, r0 - a1, r1 - a1, pw2, s2, noise2, (r0, r1), inplace=inplace, out=into)
            if last:
                y = self.to_img.run(y, styles[3], None if out is None else out[:, :, 2 * r0 : 2 * r1])
            return y

        starts = range(0, H, tile_rows)
        tiles = band_pool.map(band, starts) if band_pool is not None else [band(r0) for r0 in starts]
        if out is not None:
            return out
        return torch.cat(tiles, dim=2) if len(tiles) > 1 else tiles[0]


class BandPool:
    """Worker threads that each run whole bands of rows on one intra-op thread, taking the next band
    when done. On a CPU shared with other work, an operation split over threads waits for every
    thread at its end, and a thread the system has parked stalls each of the forward's ~1000
    operations; bands on a queue go to whichever worker is running. Without gradients only."""

    _pools: dict[int, ThreadPoolExecutor] = {}
    _lock = threading.Lock()

    def __init__(self, threads: int) -> None:
        with self._lock:
            if threads not in self._pools:
                main = torch.get_num_threads()
                pool = ThreadPoolExecutor(threads, thread_name_prefix="lsw-bands")
                ready = threading.Barrier(threads)

                def start() -> None:  # every worker: one intra-op thread of its own
                    torch.set_num_threads(1)
                    ready.wait()

                for future in [pool.submit(start) for _ in range(threads)]:
                    future.result()
                torch.set_num_threads(main)  # the setting new threads start from; this thread keeps its own
                self._pools[threads] = pool
        self.pool = self._pools[threads]

    def map(self, fn, items) -> list[torch.Tensor]:
        def run(item):
            with torch.no_grad():
                return fn(item)

        return list(self.pool.map(run, items))


class SynthesisNetwork(nn.Module):
    """W+ [B, num_ws, w_dim] → image [B, 3, R, R], R = 8 · 2^len(blocks): a constant 4² input, a modulated
    3×3 convolution, one block per `channels[1:]` and an inverse Haar transform of the wavelet image.

    `forward` runs channels-last, folds styles into weights where the batch allows, and on the CPU
    without gradients works in bands of rows with in-place operations; `forward(reference=True)`
    computes the same one module after another, as the export does."""

    #: Bytes of the largest intermediate of one band of rows, on the CPU without gradients.
    TILE_BYTES = 4 << 20

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

    def modulated(self) -> list[nn.Module]:
        """The modulated layers in W+ row order."""
        layers = [self.conv1.conv]
        for block in self.layers:
            layers += [block.up, block.conv1.conv, block.conv2.conv] + (
                [block.to_img.conv] if block.num_ws == 4 else []
            )
        return layers

    def styles(self, ws: torch.Tensor) -> list[torch.Tensor]:
        """Each modulated layer's style [B, C]: A(w) of its W+ row, times the layer's gain."""
        return [layer.modulation(ws[:, i]) * getattr(layer, "scale", 1.0) for i, layer in enumerate(self.modulated())]

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", *, reference: bool = False) -> torch.Tensor:
        check_shape("ws", ws, [None, self.num_ws, self.w_dim])
        if reference:
            return self.reference(ws, noise_mode)
        needs_grad = torch.is_grad_enabled() and (ws.requires_grad or any(p.requires_grad for p in self.parameters()))
        autocast = torch.is_autocast_enabled(ws.device.type)
        inplace = not needs_grad and not autocast
        styles = self.styles(ws)
        noises = [layer.noise.draw(ws.shape[0], noise_mode, ws.device) for layer in self.styled_convs()]
        x = self.input.input.expand(ws.shape[0], -1, -1, -1)
        x = self.conv1.apply_style(x, styles[0], noises[0]).contiguous(memory_format=torch.channels_last)
        row, conv = 1, 1
        threads = torch.get_num_threads()
        for block in self.layers:
            block_styles, (n1, n2) = styles[row : row + block.num_ws], noises[conv : conv + 2]
            tile_rows, pool = block.resolution, None
            if inplace and ws.device.type == "cpu":
                tile_rows = self._tile_rows(block, x)
                if threads > 1 and block.resolution >= 2 * threads * tile_rows:  # enough bands to share
                    pool = BandPool(threads)
            if self.checkpoint_blocks and needs_grad:
                x = torch.utils.checkpoint.checkpoint(
                    block, x, block_styles, n1, n2, tile_rows, inplace, use_reentrant=False
                )
            else:
                x = block(x, block_styles, n1, n2, tile_rows, inplace, pool)
            row, conv = row + block.num_ws, conv + 2
        return _at_least_float32(x)

    def styled_convs(self) -> list[StyledConv]:
        return [self.conv1] + [conv for block in self.layers for conv in (block.conv1, block.conv2)]

    def _tile_rows(self, block: SynthesisBlock, x: torch.Tensor) -> int:
        """Rows per band: the largest intermediate of a band within `TILE_BYTES`."""
        row_bytes = x.shape[0] * block.resolution * max(block.in_channels // 4, block.out_channels) * x.element_size()
        rows = max(2, self.TILE_BYTES // row_bytes)
        return min(block.resolution, rows - rows % 2)

    def reference(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """The synthesis as the export computes it, one module after another (the specification)."""
        x = self.input.input.expand(ws.shape[0], -1, -1, -1)
        x = self.conv1(x, ws[:, 0], noise_mode)
        row = 1
        for block in self.layers:
            x = block.reference(x, ws[:, row : row + block.num_ws], noise_mode)
            row += block.num_ws
        return _at_least_float32(inverse_haar(x))
