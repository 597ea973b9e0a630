"""The reconstruction loss of inversion: pixel MSE plus a perceptual distance, and the helpers the
optimisers share (generator noise buffers, their regulariser, learning-rate ramps)."""

from __future__ import annotations

import math
import os
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def resolve_perceptual(
    perceptual: str | nn.Module | None,
    checkpoint: str | os.PathLike | None = None,
    backbone: str | os.PathLike | None = None,
) -> nn.Module | None:
    """A perceptual distance module from a registered name ("lpips-vgg", "pixel-ssim", ...) or as given."""
    if perceptual is None or isinstance(perceptual, nn.Module):
        return perceptual
    from lsw_core.plugins import load

    options: dict[str, Any] = {"checkpoint": checkpoint}
    if backbone is not None:
        options["backbone"] = backbone
    return load("perceptual_loss", perceptual, **options)


class ReconstructionLoss(nn.Module):
    """Per-image loss [B] = pixel_weight·MSE + perceptual_weight·d(x, y), the perceptual distance taken
    on images area-downsampled to at most `resolution` (PTI compares at 256²)."""

    def __init__(
        self, perceptual: nn.Module | None, *, pixel_weight: float, perceptual_weight: float, resolution: int
    ) -> None:
        super().__init__()
        self.perceptual = perceptual
        self.pixel_weight = pixel_weight
        self.perceptual_weight = perceptual_weight if perceptual is not None else 0.0
        self.resolution = resolution

    def _down(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] > self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="area")
        return x

    def forward(self, synth: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        loss = synth.new_zeros(synth.shape[0])
        if self.pixel_weight:
            loss = loss + self.pixel_weight * (synth - images).square().flatten(1).mean(dim=1)
        if self.perceptual_weight:
            loss = loss + self.perceptual_weight * self.perceptual(self._down(synth), self._down(images)).reshape(-1)
        return loss


def noise_buffers(generator: nn.Module) -> dict[str, torch.Tensor]:
    """The per-layer constant noise inputs of a StyleGAN-like generator (buffers named `*noise_const`)."""
    return {name: buf for name, buf in generator.named_buffers() if name.endswith("noise_const")}


def noise_regularisation(buffers: list[torch.Tensor]) -> torch.Tensor:
    """Penalise spatial autocorrelation of the noise maps at every scale down to 8², so that the
    optimiser cannot hide image content in them (StyleGAN2 projector)."""
    total = torch.zeros(())
    for buf in buffers:
        x = buf.reshape(1, 1, *buf.shape[-2:])
        total = total.to(x.device)
        while True:
            total = total + (x * x.roll(1, dims=3)).mean().square() + (x * x.roll(1, dims=2)).mean().square()
            if x.shape[2] <= 8:
                break
            x = F.avg_pool2d(x, kernel_size=2)
    return total


def ramped_lr(base_lr: float, t: float, rampup: float, rampdown: float) -> float:
    """Learning rate at progress t ∈ [0, 1]: linear warm-up over `rampup`, cosine decay over the last `rampdown`."""
    ramp = 1.0
    if rampdown > 0:
        ramp = min(1.0, (1.0 - t) / rampdown)
        ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    if rampup > 0:
        ramp = ramp * min(1.0, t / rampup)
    return base_lr * ramp


class frozen:
    """Context manager: a module's parameters stop requiring grad, restored on exit."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.flags: list[tuple[nn.Parameter, bool]] = []

    def __enter__(self) -> nn.Module:
        self.flags = [(p, p.requires_grad) for p in self.module.parameters()]
        for p, _ in self.flags:
            p.requires_grad_(False)
        return self.module

    def __exit__(self, *exc: object) -> None:
        for p, flag in self.flags:
            p.requires_grad_(flag)
