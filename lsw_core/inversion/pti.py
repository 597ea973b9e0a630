"""Pivotal tuning (Roich et al. 2021) as LatentSwap uses it: W pivots for all images, then one copy of
the generator tuned on all of them together, so a swap of two pivots renders with the same weights."""

from __future__ import annotations

import copy
import time

import torch
from torch import nn

from lsw_core.interfaces import Generator, Inversion
from lsw_core.inversion.loss import ReconstructionLoss, noise_buffers
from lsw_core.inversion.projector import Progress, _autocast, mixed_precision_enabled
from lsw_core.inversion.quality import psnr, reconstruction_metrics
from lsw_core.inversion.schedule import TuningConfig


def tune(
    generator: Generator,
    pivots: Inversion,
    images: torch.Tensor,
    config: TuningConfig,
    perceptual: nn.Module | None,
    progress: Progress | None = None,
) -> Inversion:
    """Tune a copy of `generator` so that it reproduces `images` at the fixed `pivots.ws` (and cameras).

    `generator` is the frozen original; `pivots.generator` (the projector's, which may hold optimised
    noise) is the one copied and tuned. Returns the pivots with the tuned generator and its metrics.
    """
    start = time.perf_counter()
    device = images.device
    images = images.float()
    tuned = copy.deepcopy(pivots.generator)
    tuned.train(False)
    for buf in noise_buffers(tuned).values():
        buf.requires_grad_(False)
    for p in tuned.parameters():
        p.requires_grad_(True)
    loss_fn = ReconstructionLoss(
        perceptual, pixel_weight=config.pixel_weight, perceptual_weight=config.perceptual_weight,
        resolution=config.perceptual_resolution,
    )  # fmt: skip
    weights = list(tuned.parameters())
    # A generator defined entirely by fixed buffers (the synthetic world) has nothing to tune.
    opt = torch.optim.Adam(weights, lr=config.lr, betas=(0.9, 0.999)) if weights else None
    ws = pivots.ws.detach()
    rng = torch.Generator().manual_seed(config.seed)
    original = pivots.generator
    steps_run = 0
    mixed = mixed_precision_enabled(tuned, device, config.mixed_precision)
    for step in range(config.steps if opt is not None else 0):
        with _autocast(device, mixed):
            synth = tuned.synthesis(ws, camera=pivots.camera, noise_mode="const", **pivots.synthesis_kwargs).float()
        per_image = loss_fn(synth, images)
        loss = per_image.sum()
        if config.locality_weight > 0:
            loss = loss + config.locality_weight * _locality(original, tuned, pivots, loss_fn, config, rng)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        steps_run = step + 1
        current = psnr(synth.detach(), images)
        if progress is not None:
            progress(step, config.steps, {"loss": float(per_image.detach().mean()), "psnr": float(current.min())})
        if config.early_stop_psnr is not None and bool((current >= config.early_stop_psnr).all()):
            break
    for p in tuned.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        synth = tuned.synthesis(ws, camera=pivots.camera, noise_mode="const", **pivots.synthesis_kwargs)
    metrics = {f"projection_{k}": v for k, v in pivots.metrics.items()}
    metrics.update(reconstruction_metrics(synth, images))
    metrics.update(steps=steps_run, seconds=time.perf_counter() - start)
    if opt is None:
        metrics["tuning"] = "skipped: the generator has no parameters"
    return Inversion(
        ws=ws, generator=tuned, camera=pivots.camera, synthesis_kwargs=dict(pivots.synthesis_kwargs), metrics=metrics
    )


def _locality(
    original: Generator,
    tuned: Generator,
    pivots: Inversion,
    loss_fn: ReconstructionLoss,
    config: TuningConfig,
    rng: torch.Generator,
) -> torch.Tensor:
    """PTI's locality regulariser: at a latent `locality_alpha` from each pivot towards a random mapped
    latent, the tuned generator must keep the original's output."""
    device = pivots.ws.device
    z = torch.randn(pivots.ws.shape[0], original.z_dim, generator=rng).to(device)
    with torch.no_grad():
        w_rand = original.mapping(z)
    direction = w_rand - pivots.ws
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    ws = pivots.ws + config.locality_alpha * direction
    with torch.no_grad():
        reference = original.synthesis(ws, camera=pivots.camera, noise_mode="const", **pivots.synthesis_kwargs)
    return loss_fn(
        tuned.synthesis(ws, camera=pivots.camera, noise_mode="const", **pivots.synthesis_kwargs), reference
    ).sum()


def _tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers, including non-persistent ones such as StyleGAN2's `noise_const`."""
    return {**dict(module.named_buffers()), **dict(module.named_parameters())}


def parameter_delta(original: nn.Module, tuned: nn.Module) -> dict[str, torch.Tensor]:
    """The tuned generator as differences from the original: name → (tuned − original), for the
    parameters and buffers (e.g. optimised noise) that changed."""
    before = _tensors(original)
    delta = {}
    for name, value in _tensors(tuned).items():
        if name in before and value.is_floating_point() and not torch.equal(value, before[name]):
            delta[name] = (value - before[name]).detach().cpu()
    return delta


def apply_delta(original: Generator, delta: dict[str, torch.Tensor]) -> Generator:
    """A copy of `original` with `delta` (from `parameter_delta`) added."""
    tuned = copy.deepcopy(original)
    tensors = _tensors(tuned)
    with torch.no_grad():
        for name, d in delta.items():
            tensors[name].add_(d.to(tensors[name].device, tensors[name].dtype))
    return tuned
