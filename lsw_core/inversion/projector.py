"""Optimisation-based projection of images into a generator's W or W+ space (StyleGAN2 projector,
as used by PTI for its pivots), generic over any `Generator`, batched over images."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import attrs
import torch
from torch import nn

from lsw_core.camera import Camera
from lsw_core.errors import LswError
from lsw_core.interfaces import Generator, Inversion
from lsw_core.inversion.loss import ReconstructionLoss, frozen, noise_buffers, noise_regularisation, ramped_lr
from lsw_core.inversion.quality import psnr, reconstruction_metrics
from lsw_core.inversion.schedule import ProjectionConfig

Progress = Callable[[int, int, dict], None]


def w_statistics(generator: Generator, samples: int, seed: int = 0) -> tuple[torch.Tensor, float]:
    """Mean w [w_dim] and its spread σ_w (root mean squared distance to the mean) from `samples` mapped z."""
    device = generator.device
    z = torch.randn(samples, generator.z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    with torch.no_grad():
        w = generator.mapping(z)[:, 0]
    w_avg = w.mean(dim=0)
    return w_avg, float((w - w_avg).square().sum(dim=1).mean().sqrt())


def cpu_bf16_supported() -> bool:
    """Whether this CPU computes in bf16 natively (AVX-512 BF16 or AMX tiles) rather than emulating it."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):  # a torch without these queries
        return False


def mixed_precision_enabled(generator: Generator, device: torch.device, requested: bool) -> bool:
    """Whether an inversion asking for mixed precision gets bf16 autocast: on CUDA, and on a CPU with
    native bf16 for a generator that says it pays there (`Generator.cpu_bf16`)."""
    if not requested:
        return False
    return device.type == "cuda" or (device.type == "cpu" and generator.cpu_bf16 and cpu_bf16_supported())


def _autocast(device: torch.device, enabled: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


def _camera(generator: Generator, angles: torch.Tensor | None) -> Camera | None:
    """Cameras from optimised (azimuth, polar) angles [B, 2], clamped to the generator's prior."""
    spec = generator.camera
    if spec is None or angles is None:
        return None
    az = angles[:, 0].clamp(*spec.azimuth_range)
    po = angles[:, 1].clamp(*spec.polar_range)
    fov = torch.full_like(az, spec.fov)
    return Camera(az, po, fov, torch.full_like(az, spec.radius))


def _search_init(
    generator: Generator, images: torch.Tensor, loss_fn: ReconstructionLoss, config: ProjectionConfig
) -> torch.Tensor:
    """For each image, the mapped random w (of `init_candidates`) whose synthesis is closest to it: [B, w_dim]."""
    device = images.device
    z = torch.randn(
        config.init_candidates, generator.z_dim, generator=torch.Generator().manual_seed(config.seed + 1)
    ).to(device)
    losses = []
    with torch.no_grad(), _autocast(device, mixed_precision_enabled(generator, device, config.mixed_precision)):
        w = generator.mapping(z)[:, 0].float()
        for chunk in w.split(16):
            synth = generator.synthesis(chunk[:, None].expand(-1, generator.num_ws, -1), noise_mode="const").float()
            losses.append(torch.stack([loss_fn(synth, img[None].expand_as(synth)) for img in images], dim=1))
    return w[torch.cat(losses).argmin(dim=0)]


def project(
    generator: Generator,
    images: torch.Tensor,
    config: ProjectionConfig,
    perceptual: nn.Module | None,
    progress: Progress | None = None,
    encoder: nn.Module | None = None,
    start: Inversion | None = None,
) -> Inversion:
    """Find latents whose synthesis reproduces `images` [B, 3, R, R] in [-1, 1].

    `encoder` (a `LatentEncoder` trained for this generator) gives the start when `config.init` is
    "encoder". `start` (e.g. the previous video frame's pivots) replaces `config.init`: projection
    starts from its latents, cameras and the noise buffers its generator holds, and runs
    `config.warm_steps` steps without exploration noise or learning-rate warm-up.

    Returns an `Inversion` whose `ws` are W+ codes (W: one w copied to every row), `generator` the
    input generator, or a copy holding the optimised noise buffers when it has any, `camera` the
    fitted cameras of a camera-aware generator, and `metrics` PSNR/SSIM, steps and seconds.
    """
    began = time.perf_counter()
    device = images.device
    images = images.float()
    batch = images.shape[0]
    loss_fn = ReconstructionLoss(
        perceptual, pixel_weight=config.pixel_weight, perceptual_weight=config.perceptual_weight,
        resolution=config.perceptual_resolution,
    )  # fmt: skip
    if config.init == "encoder":
        if encoder is None:
            raise LswError(
                "projection init 'encoder' needs a latent encoder for this generator "
                "(`lsw encoder train`, or a registered one: see `lsw backends`)"
            )
        encoder.check_generator(generator)
    if start is not None:
        config = attrs.evolve(
            config,
            steps=config.warm_steps,
            lr=config.warm_lr or config.lr,
            initial_noise_factor=0.0,
            lr_rampup_length=0.0,
        )
        generator = start.generator
    torch.manual_seed(config.seed)
    if noise_buffers(generator):
        generator = copy.deepcopy(generator)
    with frozen(generator):
        # The sampled mean: asked for, or standing in for a w_avg that was never tracked (all
        # zeros: random weights).
        sampled_mean = start is None and (
            config.init == "mean" or (config.init == "w_avg" and not generator.w_avg.detach().any())
        )
        w_std = 0.0
        if sampled_mean or config.initial_noise_factor > 0:
            w_avg, w_std = w_statistics(generator, config.w_avg_samples, config.seed)
        if start is not None:
            w_start = start.ws[:, 0].float() if config.space == "w" else start.ws.float()
        elif config.init == "search":
            w_start = _search_init(generator, images, loss_fn, config)
        elif config.init == "encoder":
            with torch.no_grad():
                w_start = encoder.to(device)(images).float()
        elif sampled_mean:
            w_start = w_avg[None].expand(batch, -1)
        else:
            w_start = generator.w_avg.detach().float()[None].expand(batch, -1)
        if config.space == "w" or w_start.ndim == 3:
            w_opt = w_start.detach().clone()
        else:
            w_opt = w_start[:, None].repeat(1, generator.num_ws, 1)
        w_opt.requires_grad_(True)
        params: list[dict] = [{"params": [w_opt], "lr": config.lr, "base_lr": config.lr}]
        noise = list(noise_buffers(generator).values())
        for buf in noise:
            if start is None:
                buf.copy_(torch.randn_like(buf))
            buf.requires_grad_(True)
        if noise:
            params.append({"params": noise, "lr": config.lr, "base_lr": config.lr})
        angles = None
        if generator.camera is not None:
            default = generator.camera.default
            angles = torch.stack([default.azimuth, default.polar], dim=1).repeat(batch, 1).to(device)
            if start is not None and start.camera is not None:
                angles = torch.stack([start.camera.azimuth, start.camera.polar], dim=1).float().to(device)
            angles.requires_grad_(True)
            params.append({"params": [angles], "lr": config.camera_lr, "base_lr": config.camera_lr})
        opt = torch.optim.Adam(params, betas=(0.9, 0.999))

        mixed = mixed_precision_enabled(generator, device, config.mixed_precision)

        def synthesise(w: torch.Tensor) -> torch.Tensor:
            ws = w[:, None].expand(-1, generator.num_ws, -1) if config.space == "w" else w
            with _autocast(device, mixed):
                return generator.synthesis(ws, camera=_camera(generator, angles), noise_mode="const").float()

        steps_run = 0
        for step in range(config.steps):
            t = step / max(config.steps, 1)
            for group in opt.param_groups:
                group["lr"] = ramped_lr(group["base_lr"], t, config.lr_rampup_length, config.lr_rampdown_length)
            sigma = w_std * config.initial_noise_factor * max(0.0, 1.0 - t / config.noise_ramp_length) ** 2
            synth = synthesise(w_opt + torch.randn_like(w_opt) * sigma)
            per_image = loss_fn(synth, images)
            loss = per_image.sum()
            if start is not None and config.warm_pull > 0:
                loss = loss + config.warm_pull * (w_opt - w_start).square().sum()
            if noise:
                loss = loss + config.noise_weight * noise_regularisation(noise)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps_run = step + 1
            with torch.no_grad():
                for buf in noise:  # keep the noise maps at zero mean, unit variance
                    buf.sub_(buf.mean()).div_(buf.square().mean().sqrt())
                current = psnr(synth.detach(), images)
            if progress is not None:
                progress(step, config.steps, {"loss": float(per_image.detach().mean()), "psnr": float(current.min())})
            if config.early_stop_psnr is not None and bool((current >= config.early_stop_psnr).all()):
                break
        for buf in noise:
            buf.requires_grad_(False)
        with torch.no_grad():
            w_final = w_opt.detach()
            synth = synthesise(w_final)
            ws = w_final[:, None].repeat(1, generator.num_ws, 1) if config.space == "w" else w_final.clone()
            camera = _camera(generator, angles.detach() if angles is not None else None)
    metrics = reconstruction_metrics(synth, images)
    metrics.update(steps=steps_run, seconds=time.perf_counter() - began)
    return Inversion(ws=ws, generator=generator, camera=camera, metrics=metrics)
