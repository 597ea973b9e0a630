"""Settings of the inverters. Defaults equal the authors' PTI schedule (450 W-projection steps at
lr 5e-3, then 350 generator-tuning steps at lr 3e-4, pixel + perceptual loss); `fast_schedule()`
is the shorter one measured in `bench/swap_latency.py`."""

from __future__ import annotations

import attrs
from attrs import validators as v


@attrs.frozen
class ProjectionConfig:
    """Optimising a latent (W: one w per image copied to every row; W+: one w per row) against images.

    `init` is "mean" (start from w_avg, as the authors) or "search" (start from the best of
    `init_candidates` mapped random latents; with `restarts` > 1, the best that many are each
    optimised for `restart_steps` in one batch and the winner is continued). The latent is explored with Gaussian noise of
    `initial_noise_factor`·σ_w fading out over the first `noise_ramp_length` of the run, and the
    learning rate ramps up over `lr_rampup_length` and down (cosine) over the last `lr_rampdown_length`.
    Generator noise buffers (`*noise_const`) are optimised too, regularised with weight `noise_weight`.
    Camera-aware generators also optimise azimuth and polar angle (degrees, lr `camera_lr`).
    Stops early once every image's PSNR reaches `early_stop_psnr` (None: never).
    """

    steps: int = attrs.field(default=450, validator=v.ge(0))
    lr: float = attrs.field(default=5e-3, validator=v.gt(0))
    space: str = attrs.field(default="w", validator=v.in_(("w", "wplus")))
    pixel_weight: float = attrs.field(default=1.0, validator=v.ge(0))
    perceptual_weight: float = attrs.field(default=1.0, validator=v.ge(0))
    noise_weight: float = attrs.field(default=1e5, validator=v.ge(0))
    initial_noise_factor: float = attrs.field(default=0.05, validator=v.ge(0))
    noise_ramp_length: float = attrs.field(default=0.75, validator=v.gt(0))
    lr_rampup_length: float = attrs.field(default=0.05, validator=v.ge(0))
    lr_rampdown_length: float = attrs.field(default=0.25, validator=v.ge(0))
    w_avg_samples: int = attrs.field(default=2000, validator=v.gt(1))
    init: str = attrs.field(default="mean", validator=v.in_(("mean", "search")))
    init_candidates: int = attrs.field(default=64, validator=v.gt(0))
    restarts: int = attrs.field(default=1, validator=v.gt(0))
    restart_steps: int = attrs.field(default=30, validator=v.gt(0))
    camera_lr: float = attrs.field(default=0.5, validator=v.ge(0))
    perceptual_resolution: int = attrs.field(default=256, validator=v.gt(0))
    early_stop_psnr: float | None = None
    mixed_precision: bool = False
    seed: int = 0


@attrs.frozen
class TuningConfig:
    """Pivotal tuning: Adam on a copy of the generator's weights so that it reproduces the images at
    their fixed pivots. Optional locality regularisation (PTI): latents `locality_alpha` away from each
    pivot towards a random mapped latent must keep the original generator's output (weight
    `locality_weight` on pixel + perceptual distance). Stops early once every image's PSNR reaches
    `early_stop_psnr` (None: never)."""

    steps: int = attrs.field(default=350, validator=v.ge(0))
    lr: float = attrs.field(default=3e-4, validator=v.gt(0))
    pixel_weight: float = attrs.field(default=1.0, validator=v.ge(0))
    perceptual_weight: float = attrs.field(default=1.0, validator=v.ge(0))
    locality_weight: float = attrs.field(default=0.0, validator=v.ge(0))
    locality_alpha: float = attrs.field(default=30.0, validator=v.gt(0))
    perceptual_resolution: int = attrs.field(default=256, validator=v.gt(0))
    early_stop_psnr: float | None = None
    mixed_precision: bool = False
    seed: int = 0


def authors_schedule() -> tuple[ProjectionConfig, TuningConfig]:
    """The authors' PTI schedule: 450 projection steps at lr 5e-3, 350 tuning steps at lr 3e-4."""
    return ProjectionConfig(), TuningConfig()


def fast_schedule() -> tuple[ProjectionConfig, TuningConfig]:
    """Searched initialisation (best of 32 mapped samples), fewer steps at a higher learning rate
    without exploration noise, mixed precision on GPU, early stopping at 32 dB."""
    return (
        ProjectionConfig(steps=40, lr=2e-2, init="search", init_candidates=32, initial_noise_factor=0.0, w_avg_samples=500,
                         early_stop_psnr=32.0, mixed_precision=True),
        TuningConfig(steps=100, lr=1e-3, early_stop_psnr=32.0, mixed_precision=True),
    )  # fmt: skip
