"""Settings of the inverters. Defaults equal the authors' PTI schedule (450 W-projection steps at
lr 5e-3, then 350 generator-tuning steps at lr 3e-4, pixel + perceptual loss); `fast_schedule()`
is the shorter one measured in `bench/swap_latency.py`."""

from __future__ import annotations

import attrs

from lsw_core.validators import choice, flag, integer, number, optional


@attrs.frozen
class ProjectionConfig:
    """Optimising a latent (W: one w per image copied to every row; W+: one w per row) against images.

    `init` is "mean" (start from the mean of `w_avg_samples` mapped latents, as PTI does with
    10 000), "w_avg" (start from the generator's own `w_avg`, tracked while it was trained; the
    sampled mean when it was never tracked, as in random weights), "search" (start from the best
    of `init_candidates` mapped random latents) or "encoder" (start from a `LatentEncoder`'s guess,
    given to the projector). The latent is explored with Gaussian noise of
    `initial_noise_factor`·σ_w fading out over the first `noise_ramp_length` of the run, and the
    learning rate ramps up over `lr_rampup_length` and down (cosine) over the last
    `lr_rampdown_length`.
    Generator noise buffers (`*noise_const`) are optimised too, regularised with weight `noise_weight`.
    Camera-aware generators also optimise azimuth and polar angle (degrees, lr `camera_lr`).
    Stops early once every image's PSNR reaches `early_stop_psnr` (None: never). Projection from
    given pivots (a video frame from the previous frame's) runs `warm_steps` steps instead, at
    `warm_lr` (None: `lr`), with `warm_pull`·‖w − w_start‖² added to the loss: Adam's first steps
    move every coordinate by about the learning rate, also along directions the image does not
    show but a mixer reads, and frame after frame that wander flickers in the swap (measured in
    `bench/video_swap.py`).
    """

    steps: int = attrs.field(default=450, validator=integer(ge=0))
    warm_steps: int = attrs.field(default=5, validator=integer(ge=0))
    warm_lr: float | None = attrs.field(default=1e-3, validator=optional(number(gt=0)))
    warm_pull: float = attrs.field(default=1.0, validator=number(ge=0))
    lr: float = attrs.field(default=5e-3, validator=number(gt=0))
    space: str = attrs.field(default="w", validator=choice("w", "wplus"))
    pixel_weight: float = attrs.field(default=1.0, validator=number(ge=0))
    perceptual_weight: float = attrs.field(default=1.0, validator=number(ge=0))
    noise_weight: float = attrs.field(default=1e5, validator=number(ge=0))
    initial_noise_factor: float = attrs.field(default=0.05, validator=number(ge=0))
    noise_ramp_length: float = attrs.field(default=0.75, validator=number(gt=0, le=1))
    lr_rampup_length: float = attrs.field(default=0.05, validator=number(ge=0, le=1))
    lr_rampdown_length: float = attrs.field(default=0.25, validator=number(ge=0, le=1))
    w_avg_samples: int = attrs.field(default=10000, validator=integer(gt=1))
    init: str = attrs.field(default="mean", validator=choice("mean", "w_avg", "search", "encoder"))
    init_candidates: int = attrs.field(default=64, validator=integer(gt=0))
    camera_lr: float = attrs.field(default=0.5, validator=number(ge=0))
    perceptual_resolution: int = attrs.field(default=256, validator=integer(gt=0))
    early_stop_psnr: float | None = attrs.field(default=None, validator=optional(number(gt=0)))
    mixed_precision: bool = attrs.field(default=False, validator=flag())
    seed: int = attrs.field(default=0, validator=integer(ge=0, lt=2**64))


@attrs.frozen
class TuningConfig:
    """Pivotal tuning: Adam on a copy of the generator's weights so that it reproduces the images at
    their fixed pivots. Optional locality regularisation (PTI): latents `locality_alpha` away from each
    pivot towards a random mapped latent must keep the original generator's output (weight
    `locality_weight` on pixel + perceptual distance). Stops early once every image's PSNR reaches
    `early_stop_psnr` (None: never)."""

    steps: int = attrs.field(default=350, validator=integer(ge=0))
    lr: float = attrs.field(default=3e-4, validator=number(gt=0))
    pixel_weight: float = attrs.field(default=1.0, validator=number(ge=0))
    perceptual_weight: float = attrs.field(default=1.0, validator=number(ge=0))
    locality_weight: float = attrs.field(default=0.0, validator=number(ge=0))
    locality_alpha: float = attrs.field(default=30.0, validator=number(gt=0))
    perceptual_resolution: int = attrs.field(default=256, validator=integer(gt=0))
    early_stop_psnr: float | None = attrs.field(default=None, validator=optional(number(gt=0)))
    mixed_precision: bool = attrs.field(default=False, validator=flag())
    seed: int = attrs.field(default=0, validator=integer(ge=0, lt=2**64))


def authors_schedule() -> tuple[ProjectionConfig, TuningConfig]:
    """The authors' PTI schedule: 450 projection steps at lr 5e-3, 350 tuning steps at lr 3e-4."""
    return ProjectionConfig(), TuningConfig()


def fast_schedule(encoder: bool = False) -> tuple[ProjectionConfig, TuningConfig]:
    """50 projection steps from the generator's own tracked `w_avg` (no re-estimation from samples),
    or with `encoder` 30 steps from a `LatentEncoder`'s guess, at lr 1e-2 without warm-up or
    exploration noise, early stopping once every image reaches 40 dB; up to 100 tuning steps at
    lr 1e-3, early stopping at 32 dB; mixed precision (bf16 autocast) on GPU, and on CPUs with
    native bf16 for generators that declare it pays there (`Generator.cpu_bf16`)."""
    return (
        ProjectionConfig(steps=30 if encoder else 50, lr=1e-2, init="encoder" if encoder else "w_avg",
                         initial_noise_factor=0.0, lr_rampup_length=0.0, early_stop_psnr=40.0, mixed_precision=True),
        TuningConfig(steps=100, lr=1e-3, early_stop_psnr=32.0, mixed_precision=True),
    )  # fmt: skip
