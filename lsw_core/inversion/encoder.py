"""A learned start for W projection: a small CNN that maps an image to the w that rendered it,
trained on the generator's own samples (the encoder-then-optimise scheme of In-Domain GAN
Inversion, Zhu et al. 2020). Projection from its guess needs fewer steps than from `w_avg`, and
lands in a better basin more often (`bench/swap_latency.py`).

The encoder is tied to the generator weights it was trained on: it records the backend name and
the generator's fingerprint (`trained_for`, kept in its file), and projecting with it on another
generator is an error.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from typing import Any

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from lsw_core.errors import CheckpointError, LswError
from lsw_core.formats.artifacts import fingerprint, load_checked, read_info, read_tensors, save_weights
from lsw_core.formats.bounds import MAX_WIDTH, check_int, check_resolution, check_size
from lsw_core.interfaces import Generator, LatentEncoder
from lsw_core.inversion.loss import ramped_lr
from lsw_core.validators import choice, integer, number, optional

FORMAT = "lsw-latent-encoder"
STATISTICS = ("image_mean", "image_std", "w_mean", "w_std")


@attrs.frozen
class EncoderConfig:
    """Training an encoder: `pool_size` generator samples (truncation ψ drawn uniformly from
    [`psi_min`, 1] per chunk of 50, random cameras from the prior for camera-aware generators) are
    rendered once at the encoder's input `resolution` and then drawn in batches of `batch_size` for
    `steps` Adam steps (lr `lr`, cosine decay), or until `minutes` of wall time have passed. The last
    `validation` samples (default: a tenth of the pool, at most 1000) are held out."""

    resolution: int = attrs.field(default=64, validator=choice(16, 32, 64, 128, 256))
    channels: int = attrs.field(default=32, validator=integer(gt=0))
    max_channels: int = attrs.field(default=128, validator=integer(gt=0))
    hidden: int = attrs.field(default=256, validator=integer(gt=0))
    pool_size: int = attrs.field(default=24000, validator=integer(gt=1))
    validation: int | None = attrs.field(default=None, validator=optional(integer(gt=0)))
    steps: int = attrs.field(default=2000, validator=integer(ge=0))
    batch_size: int = attrs.field(default=64, validator=integer(gt=0))
    lr: float = attrs.field(default=1e-3, validator=number(gt=0))
    psi_min: float = attrs.field(default=0.4, validator=number(ge=0, le=1))
    minutes: float | None = attrs.field(default=None, validator=optional(number(gt=0)))
    seed: int = attrs.field(default=0, validator=integer(ge=0, lt=2**64))

    def __attrs_post_init__(self) -> None:
        if self.held_out >= self.pool_size:
            raise LswError(f"encoder: validation ({self.validation}) must be smaller than pool_size ({self.pool_size})")

    @property
    def held_out(self) -> int:
        return self.validation if self.validation is not None else max(1, min(1000, self.pool_size // 10))


def resize(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """Images to the encoder's input size: area-averaged down, bilinear up."""
    size = images.shape[-1]
    if size == resolution:
        return images
    return F.interpolate(images, size=(resolution, resolution), mode="area" if size > resolution else "bilinear")


class ConvLatentEncoder(LatentEncoder):
    """Image [B, 3, R, R] in [-1, 1] → w [B, w_dim]. The image is area-resized to `resolution`,
    standardised by the training samples' mean image and spread (buffers), halved by stride-2 conv
    blocks down to 4×4 (`channels` doubling up to `max_channels`), and a two-layer head predicts w
    standardised per dimension by the training samples' mean and spread (buffers)."""

    def __init__(self, *, w_dim: int, resolution: int = 64, channels: int = 32, max_channels: int = 128,
                 hidden: int = 256) -> None:  # fmt: skip
        super().__init__()
        self.w_dim, self.resolution = w_dim, resolution
        self.channels, self.max_channels, self.hidden = channels, max_channels, hidden
        layers: list[nn.Module] = []
        c_in, c_out, size = 3, channels, resolution
        while size > 4:
            layers += [
                nn.Conv2d(c_in, c_out, 3, 2, 1),
                nn.LeakyReLU(0.2),
                nn.Conv2d(c_out, c_out, 3, 1, 1),
                nn.LeakyReLU(0.2),
            ]
            c_in, c_out, size = c_out, min(2 * c_out, max_channels), size // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(c_in * 16, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, w_dim)
        )
        self.register_buffer("image_mean", torch.zeros(3, resolution, resolution))
        self.register_buffer("image_std", torch.ones(()))
        self.register_buffer("w_mean", torch.zeros(w_dim))
        self.register_buffer("w_std", torch.ones(w_dim))
        self.trained_for: tuple[str, str] | None = None

    def config(self) -> dict[str, int]:
        return {"w_dim": self.w_dim, "resolution": self.resolution, "channels": self.channels,
                "max_channels": self.max_channels, "hidden": self.hidden}  # fmt: skip

    def standardised(self, images: torch.Tensor) -> torch.Tensor:
        """The head's output: w standardised by `w_mean` / `w_std` (what training regresses)."""
        return self.head(self.features((resize(images, self.resolution) - self.image_mean) / self.image_std))

    def _encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.w_mean + self.w_std * self.standardised(images.to(self.w_mean.dtype))


#: Generator pixels rendered at once while making the pool (one 1024² image, 64 at 128²): the
#: intermediates of a 1024-px generator at batch 50 would take gigabytes.
RENDER_PIXELS = 2**20


def render_batch(resolution: int) -> int:
    """How many samples of a generator of `resolution` are rendered at once (at most a chunk of 50)."""
    return max(1, min(50, RENDER_PIXELS // (resolution * resolution)))


def _render_pool(
    generator: Generator, config: EncoderConfig, progress: Callable[[str, int, int], None] | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """`pool_size` (image at the encoder resolution [N, 3, r, r], w [N, w_dim]) on the CPU (float32:
    pool_size·3·r²·4 bytes, 1.2 GB for the defaults). Latents are drawn in chunks of 50 (one ψ per
    chunk) and rendered `render_batch` at a time, so the pool does not depend on the generator's size."""
    device = generator.device
    rng = torch.Generator().manual_seed(config.seed)
    images, ws = [], []
    chunks = math.ceil(config.pool_size / 50)
    step = render_batch(generator.resolution)
    with torch.no_grad():
        for i in range(chunks):
            n = min(50, config.pool_size - 50 * i)
            z = torch.randn(n, generator.z_dim, generator=rng).to(device)
            psi = config.psi_min + (1.0 - config.psi_min) * float(torch.rand((), generator=rng))
            w = generator.mapping(z, truncation_psi=psi)
            camera = generator.camera.sample(n, generator=rng).to(device) if generator.camera is not None else None
            for j in range(0, n, step):
                part = camera[j : j + step] if camera is not None else None
                x = generator.synthesis(w[j : j + step], camera=part, noise_mode="const").float()
                images.append(resize(x, config.resolution).cpu())
            ws.append(w[:, 0].float().cpu())
            if progress is not None:
                progress("render", i, chunks)
    return torch.cat(images), torch.cat(ws)


def train_encoder(
    generator: Generator,
    config: EncoderConfig = EncoderConfig(),
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[ConvLatentEncoder, dict[str, Any]]:
    """Train a `ConvLatentEncoder` for `generator` on its own samples. Returns it (in eval mode, on the
    generator's device) and metrics: the held-out standardised w error (1.0 = no better than always
    guessing the mean), the steps run and the seconds spent rendering and training."""
    start = time.perf_counter()
    device = generator.device
    generator = generator.eval()
    images, ws = _render_pool(generator, config, progress)
    rendered = time.perf_counter()
    train_images, val_images = images[: -config.held_out], images[-config.held_out :]
    train_ws, val_ws = ws[: -config.held_out], ws[-config.held_out :]
    torch.manual_seed(config.seed)  # the initial weights
    encoder = ConvLatentEncoder(w_dim=generator.w_dim, resolution=config.resolution, channels=config.channels,
                            max_channels=config.max_channels, hidden=config.hidden)  # fmt: skip
    encoder.trained_for = (generator.backend_name, fingerprint(generator))
    encoder.image_mean.copy_(train_images.mean(dim=0))
    encoder.image_std.copy_((train_images - encoder.image_mean).std().clamp_min(1e-6))
    encoder.w_mean.copy_(train_ws.mean(dim=0))
    encoder.w_std.copy_(train_ws.std(dim=0).clamp_min(1e-6))
    encoder = encoder.to(device).train()
    opt = torch.optim.Adam(encoder.parameters(), lr=config.lr)
    rng = torch.Generator().manual_seed(config.seed + 1)
    target = (train_ws - encoder.w_mean.cpu()) / encoder.w_std.cpu()
    steps_run = 0
    for step in range(config.steps):
        if config.minutes is not None and time.perf_counter() - rendered > 60 * config.minutes:
            break
        for group in opt.param_groups:
            group["lr"] = ramped_lr(config.lr, step / config.steps, rampup=0.0, rampdown=1.0)  # cosine decay
        idx = torch.randint(0, len(train_ws), (config.batch_size,), generator=rng)
        x = train_images[idx].to(device)
        loss = (encoder.standardised(x) - target[idx].to(device)).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        steps_run = step + 1
        if progress is not None:
            progress("train", step, config.steps)
    encoder.eval().requires_grad_(False)
    metrics = {
        "validation_error": round(_standardised_error(encoder, val_images, val_ws), 4),
        "steps": steps_run,
        "render_seconds": round(rendered - start, 1),
        "train_seconds": round(time.perf_counter() - rendered, 1),
        "config": attrs.asdict(config),
    }
    return encoder, metrics


def _standardised_error(encoder: ConvLatentEncoder, images: torch.Tensor, ws: torch.Tensor) -> float:
    """Mean squared error of the standardised w on held-out samples."""
    device = encoder.w_mean.device
    with torch.no_grad():
        errors = [
            ((encoder(x.to(device)).cpu() - w) / encoder.w_std.cpu()).square().mean(dim=1)
            for x, w in zip(images.split(256), ws.split(256))
        ]
    return float(torch.cat(errors).mean())


def save_encoder(path: str | os.PathLike, encoder: ConvLatentEncoder, metrics: dict | None = None) -> None:
    """Write the encoder's weights (half precision) to a weights file (`lsw_core.formats.artifacts`) with its
    architecture, the generator it belongs to (`trained_for`) and `metrics`."""
    if encoder.trained_for is None:
        raise LswError("save_encoder: the encoder does not say which generator it was trained for")
    # weights in half precision; the standardisation buffers stay float32 (tiny images vary little)
    tensors = {k: (t.float() if k in STATISTICS else t.half()) for k, t in encoder.state_dict().items()}
    save_weights(path, tensors, format=FORMAT, config=encoder.config(), backend=encoder.trained_for[0],
                 generator_fingerprint=encoder.trained_for[1], metrics=metrics or {})  # fmt: skip


def _legacy_metadata(meta: dict[str, str]) -> dict[str, Any]:
    """Encoder files written before the common weights-file format: the architecture and metrics as
    JSON strings, backend and fingerprint as plain strings, each its own metadata entry."""
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"not a latent encoder file (format {meta.get('format')!r}, expected {FORMAT!r})")
    try:
        return {"config": json.loads(meta["config"]), "backend": meta["backend"],
                "generator_fingerprint": meta["generator_fingerprint"], "metrics": json.loads(meta.get("metrics", "{}"))}  # fmt: skip
    except (KeyError, ValueError):
        return {}


def read_encoder_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The architecture, generator (`backend`, `generator_fingerprint`) and metrics of an encoder
    file; a clear error when it is not one."""
    meta = read_info(path, FORMAT, what="a latent encoder file", legacy=_legacy_metadata)
    expected = {"w_dim", "resolution", "channels", "max_channels", "hidden"}
    config = meta.get("config")
    ok = (
        isinstance(config, dict)
        and set(config) == expected
        and all(isinstance(v, int) and 0 < v <= 65536 for v in config.values())
        and isinstance(meta.get("backend"), str)
        and isinstance(meta.get("generator_fingerprint"), str)
        and isinstance(meta.get("metrics", {}), dict)
    )
    if not ok:
        raise CheckpointError(
            f"{path}: damaged latent encoder metadata: expected an architecture with {sorted(expected)} "
            "(positive integers), the generator's backend name and its weights fingerprint"
        )
    return {"metrics": {}, **meta}


def load_encoder(path: str | os.PathLike) -> ConvLatentEncoder:
    """Load an encoder file (on the CPU, in eval mode)."""
    meta = read_encoder_metadata(path)
    config = meta["config"]
    check_resolution("encoder resolution", config["resolution"], source=str(path))
    for name in ("w_dim", "channels", "max_channels", "hidden"):
        check_int(f"encoder {name}", config[name], 1, MAX_WIDTH, source=str(path))
    check_size(lambda: ConvLatentEncoder(**config), what="latent encoder", source=str(path))
    encoder = ConvLatentEncoder(**config)
    encoder.trained_for = (meta["backend"], meta["generator_fingerprint"])
    load_checked(encoder, read_tensors(path, "latent encoder weights"), source=str(path),
                 what="the recorded encoder architecture", convert=lambda t: t.float())  # fmt: skip
    return encoder.eval().requires_grad_(False)


def resolve_encoder(encoder: str | os.PathLike | nn.Module | None) -> nn.Module | None:
    """An encoder module from a file path, a registered name (e.g. "synthface"), or as given."""
    if encoder is None or isinstance(encoder, nn.Module):
        return encoder
    if os.path.exists(encoder):
        return load_encoder(encoder)
    from lsw_core.plugins import load

    return load("latent_encoder", str(encoder))
