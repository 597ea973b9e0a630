"""`MobileStyleGANGenerator`: MobileStyleGAN behind lsw-core's `Generator` interface, W+ with one row per
modulated layer, and its `w_avg` estimated the same way on every CPU."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch

from lsw_core.errors import CheckpointError
from lsw_core.formats.bounds import MAX_DEPTH, MAX_RESOLUTION, MAX_WIDTH, check_count, check_int
from lsw_core.interfaces import Generator, TrainingDefaults, layer_groups_from_resolutions
from lsw_mobilestylegan.networks import IMG_CHANNELS, MappingNetwork, SynthesisNetwork

#: The FFHQ model's widths: the 4² input and conv1, then one entry per block, 8² … 512².
FFHQ_CHANNELS = (512, 512, 512, 512, 512, 256, 128, 64)
#: w_avg is the mean of this many mapped z ~ N(0, I), drawn from `torch.Generator().manual_seed(W_AVG_SEED)`.
W_AVG_SAMPLES = 10_000
W_AVG_SEED = 0
_W_AVG_CHUNK = 1_000
MAX_BLOCKS = int(math.log2(MAX_RESOLUTION)) - 3


def validate_init_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    """Checked, normalised constructor arguments; `CheckpointError` naming the setting otherwise."""
    known = {"z_dim", "w_dim", "mapping_layers", "channels", "w_avg_samples", "w_avg_seed"}
    if not isinstance(kw, dict) or set(kw) - known:
        found = sorted(set(kw) - known) if isinstance(kw, dict) else type(kw).__name__
        raise CheckpointError(f"init_kwargs: expected MobileStyleGAN arguments {sorted(known)}, found {found}")
    out = {
        "z_dim": check_int("init_kwargs.z_dim", kw.get("z_dim", 512), 1, MAX_WIDTH),
        "w_dim": check_int("init_kwargs.w_dim", kw.get("w_dim", 512), 1, MAX_WIDTH),
        "mapping_layers": check_int("init_kwargs.mapping_layers", kw.get("mapping_layers", 8), 1, MAX_DEPTH),
        "w_avg_samples": check_int("init_kwargs.w_avg_samples", kw.get("w_avg_samples", W_AVG_SAMPLES), 1, 1_000_000),
        "w_avg_seed": check_int("init_kwargs.w_avg_seed", kw.get("w_avg_seed", W_AVG_SEED), 0, 2**63 - 1),
    }
    channels = kw.get("channels", list(FFHQ_CHANNELS))
    if not isinstance(channels, (list, tuple)) or not 2 <= len(channels) <= MAX_BLOCKS + 1:
        raise CheckpointError(
            f"init_kwargs.channels: expected a list of 2 to {MAX_BLOCKS + 1} widths (input, then one per block), found {channels!r}"
        )
    out["channels"] = [check_int(f"init_kwargs.channels[{i}]", c, 4, MAX_WIDTH) for i, c in enumerate(channels)]
    for i, c in enumerate(out["channels"][:-1]):
        if c % 4:
            raise CheckpointError(
                f"init_kwargs.channels[{i}]: expected a multiple of 4 (it is split into 4 wavelet bands), found {c}"
            )
    check_count(parameter_count(out), what="MobileStyleGAN generator")
    return out


def parameter_count(kw: dict[str, Any]) -> int:
    """Parameters and buffers of the generator `kw` describes, by formula (before building it)."""
    z, w, channels = kw["z_dim"], kw["w_dim"], kw["channels"]
    count = z * w + w + (kw["mapping_layers"] - 1) * (w * w + w) + w  # mapping, w_avg
    c0 = channels[0]
    count += c0 * 16 + (w + 1) * c0 + c0 * c0 * 9 + c0 + 16 + 1  # input, conv1
    res = 8
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        count += (w + 1) * c_in  # up
        for a, b in ((c_in // 4, c_out), (c_out, c_out)):
            count += (w + 1) * a + a * 9 + a * b + b + res * res + 1
        res *= 2
    return count + (w + 1) * channels[-1] + IMG_CHANNELS * channels[-1] + IMG_CHANNELS  # to_img


class MobileStyleGANGenerator(Generator):
    """MobileStyleGAN: z → StyleGAN2's mapping → w; W+ [B, num_ws, w_dim] → image. Rows in the order
    the layers run: conv1 (4²), then per block up, conv1, conv2, and the last block's to_img."""

    camera = None
    #: The authors' sampling, ψ = 0.5 on the rows up to 32² (StyleGAN2's first 8 rows are 4² to 32²;
    #: here those resolutions are the first 10 rows); trained with dlib's face recogniser.
    training_defaults = TrainingDefaults(truncation_psi=0.5, truncation_cutoff=10, embedder="dlib-resnet")
    #: Inversion under bf16 autocast on a CPU with native bf16: a projection step at 1024 px (batch 2,
    #: forward and backward) takes 0.43 of its float32 time on AVX-512 BF16 (bench/photo_1024.py).
    cpu_bf16 = True

    def __init__(
        self,
        *,
        z_dim: int = 512,
        w_dim: int = 512,
        mapping_layers: int = 8,
        channels: list[int] | tuple[int, ...] = FFHQ_CHANNELS,
        w_avg_samples: int = W_AVG_SAMPLES,
        w_avg_seed: int = W_AVG_SEED,
    ) -> None:
        super().__init__()
        kw = validate_init_kwargs(dict(z_dim=z_dim, w_dim=w_dim, mapping_layers=mapping_layers, channels=list(channels),
                                       w_avg_samples=w_avg_samples, w_avg_seed=w_avg_seed))  # fmt: skip
        self.init_kwargs = kw
        self.z_dim, self.w_dim = kw["z_dim"], kw["w_dim"]
        self.mapping_net = MappingNetwork(z_dim=self.z_dim, w_dim=self.w_dim, num_layers=kw["mapping_layers"])
        self.synthesis_net = SynthesisNetwork(w_dim=self.w_dim, channels=kw["channels"])
        self.num_ws = self.synthesis_net.num_ws
        self.resolution = self.synthesis_net.img_resolution
        self.register_buffer("w_avg", torch.zeros(self.w_dim))

    @property
    def layer_groups(self) -> dict[str, range]:
        return layer_groups_from_resolutions(self.synthesis_net.row_resolutions())

    def set_activation_checkpointing(self, enabled: bool) -> None:
        """Recompute each synthesis block in the backward pass instead of storing its activations."""
        self.synthesis_net.checkpoint_blocks = bool(enabled)

    def update_w_avg(self) -> None:
        """Set `w_avg` to `estimate_w_avg` of the mapping network with this generator's settings."""
        samples, seed = self.init_kwargs["w_avg_samples"], self.init_kwargs["w_avg_seed"]
        self.w_avg.copy_(estimate_w_avg(self.mapping_net, samples=samples, seed=seed).to(self.w_avg.device))

    def _mapping(self, z: torch.Tensor, *, truncation_psi: float, truncation_cutoff: int | None) -> torch.Tensor:
        w = self.mapping_net(z.to(self.w_avg.dtype))
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            rows = slice(None) if truncation_cutoff is None else slice(0, truncation_cutoff)
            ws[:, rows] = self.w_avg.lerp(ws[:, rows], truncation_psi)
        return ws

    def _synthesis(self, ws: torch.Tensor, *, camera: Any, noise_mode: str) -> torch.Tensor:
        return self.synthesis_net(ws, noise_mode=noise_mode)


@torch.no_grad()
def estimate_w_avg(mapping: MappingNetwork, *, samples: int = W_AVG_SAMPLES, seed: int = W_AVG_SEED) -> torch.Tensor:
    """The mean of `mapping(z)` over `samples` z ~ N(0, I) [w_dim], the same to the bit on every CPU.

    z is drawn in float64 from `torch.Generator().manual_seed(seed)` (torch's float64 normal sampler
    is the same code on every CPU; its float32 one has an AVX2 variant). The mapping runs in float64
    on one thread, in chunks of 1000, and the mapped rows are summed one by one in float64, so the
    order of every addition is fixed and what differs between BLAS kernels stays near 1e-16, far
    below the single rounding to float32 at the end."""
    with _one_thread():
        gen = torch.Generator().manual_seed(seed)
        layers = [(getattr(mapping, f"fc{i}").weight.detach().cpu().double(), getattr(mapping, f"fc{i}").bias.detach().cpu().double())
                  for i in range(mapping.num_layers)]  # fmt: skip
        total = torch.zeros(mapping.w_dim, dtype=torch.float64)
        for start in range(0, samples, _W_AVG_CHUNK):
            z = torch.randn(min(_W_AVG_CHUNK, samples - start), mapping.z_dim, generator=gen, dtype=torch.float64)
            x = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
            for weight, bias in layers:
                x = torch.nn.functional.leaky_relu(x @ weight.T + bias, 0.2) * math.sqrt(2)
            for row in x:
                total += row
        return (total / samples).to(torch.float32)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
