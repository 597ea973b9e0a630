"""The inverters registered as plugins: "w" and "wplus" (projection) and "pti" (W projection, then
pivotal tuning of one generator copy on all images together)."""

from __future__ import annotations

from typing import Any

import attrs
import torch
from torch import nn

from lsw_core.errors import LswError
from lsw_core.formats.artifacts import fingerprint
from lsw_core.interfaces import Generator, Inversion, Inverter
from lsw_core.inversion.encoder import resolve_encoder
from lsw_core.inversion.loss import resolve_perceptual
from lsw_core.inversion.projector import Progress, project
from lsw_core.inversion.pti import tune
from lsw_core.inversion.schedule import ProjectionConfig, TuningConfig, authors_schedule, fast_schedule


def _split_options(cls: type, prefix: str, options: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in attrs.fields(cls)}
    picked = {}
    for key in list(options):
        name = key[len(prefix) :] if key.startswith(prefix) else None
        if name in names:
            picked[name] = options.pop(key)
    return picked


def _component_key(perceptual: nn.Module | None, encoder: nn.Module | None) -> tuple[str, ...]:
    """What identifies the perceptual loss (its class) and the latent encoder (its weights)."""
    return (type(perceptual).__name__, *([fingerprint(encoder)] if encoder is not None else []))


class ProjectionInverter(Inverter):
    """Projection into W (`space="w"`) or W+ (`space="wplus"`) with a pixel + perceptual loss, from
    a latent encoder's guess when `config.init` is "encoder". Nothing to refine."""

    warm_starts = True

    def __init__(
        self, config: ProjectionConfig, perceptual: nn.Module | None, progress: Progress | None = None,
        encoder: nn.Module | None = None,
    ) -> None:  # fmt: skip
        self.config = config
        self.perceptual = perceptual
        self.progress = progress
        self.encoder = encoder

    def cache_key(self, generator: Generator, stage: str = "project") -> tuple:
        return (type(self).__name__, self.config, *_component_key(self.perceptual, self.encoder))

    def _project(
        self, generator: Generator, images: torch.Tensor, *, progress: Progress | None, start: Inversion | None = None
    ) -> Inversion:
        return project(generator, images, self.config, self.perceptual, progress or self.progress, self.encoder, start)


class PTIInverter(Inverter):
    """PTI: project every image to a W pivot, then tune one copy of the generator on all pivots at once
    (`refine`)."""

    refines = True
    warm_starts = True

    def __init__(
        self,
        projection: ProjectionConfig,
        tuning: TuningConfig,
        perceptual: nn.Module | None,
        progress: Progress | None = None,
        encoder: nn.Module | None = None,
    ) -> None:
        if projection.space != "w":
            raise LswError(
                f"pti: pivots live in W (as LatentSwap's mixer expects), got projection space {projection.space!r}"
            )
        self.projection = projection
        self.tuning = tuning
        self.perceptual = perceptual
        self.progress = progress
        self.encoder = encoder

    def cache_key(self, generator: Generator, stage: str = "project") -> tuple:
        if stage == "refine":
            return (self.tuning,)
        return (type(self).__name__, self.projection, *_component_key(self.perceptual, self.encoder))

    def _project(
        self, generator: Generator, images: torch.Tensor, *, progress: Progress | None, start: Inversion | None = None
    ) -> Inversion:
        return project(
            generator, images, self.projection, self.perceptual, progress or self.progress, self.encoder, start
        )

    def _refine(
        self, generator: Generator, pivots: Inversion, images: torch.Tensor, *, progress: Progress | None
    ) -> Inversion:
        return tune(generator, pivots, images, self.tuning, self.perceptual, progress or self.progress)


def _perceptual(options: dict[str, Any]) -> nn.Module | None:
    return resolve_perceptual(
        options.pop("perceptual", "lpips-vgg"),
        options.pop("perceptual_checkpoint", None),
        options.pop("perceptual_backbone", None),
    )


def _reject_unknown(name: str, options: dict[str, Any]) -> None:
    if options:
        raise LswError(f"inverter {name!r}: unknown options {sorted(options)}")


def make_projector(space: str, **options: Any) -> ProjectionInverter:
    """Factory of "w"/"wplus": options are `ProjectionConfig` fields, `perceptual` (a registered
    perceptual loss name, default "lpips-vgg", or a module), `perceptual_checkpoint`, `perceptual_backbone`,
    `encoder` (a latent encoder file, registered name or module: projection starts from its guess)."""
    perceptual = _perceptual(options)
    progress = options.pop("progress", None)
    encoder = resolve_encoder(options.pop("encoder", None))
    fields = _split_options(ProjectionConfig, "", options)
    if encoder is not None:
        fields.setdefault("init", "encoder")
    config = ProjectionConfig(**{**fields, "space": space})
    _reject_unknown(space, options)
    return ProjectionInverter(config, perceptual, progress, encoder)


def make_pti(schedule: str = "authors", **options: Any) -> PTIInverter:
    """Factory of "pti": `schedule` "authors" (450 + 350 steps) or "fast"; override fields with
    `projection_<field>` / `tuning_<field>` (e.g. `projection_steps=200`, `tuning_lr=1e-3`). With
    `encoder` (a latent encoder file, registered name or module) projection starts from its guess,
    and the fast schedule takes 30 projection steps instead of 50."""
    if schedule not in ("authors", "fast"):
        raise LswError(f"pti schedule: expected 'authors' or 'fast', got {schedule!r}")
    perceptual = _perceptual(options)
    progress = options.pop("progress", None)
    encoder = resolve_encoder(options.pop("encoder", None))
    projection, tuning = fast_schedule(encoder=encoder is not None) if schedule == "fast" else authors_schedule()
    if encoder is not None:
        projection = attrs.evolve(projection, init="encoder")
    projection = attrs.evolve(projection, **_split_options(ProjectionConfig, "projection_", options))
    tuning = attrs.evolve(tuning, **_split_options(TuningConfig, "tuning_", options))
    _reject_unknown("pti", options)
    return PTIInverter(projection, tuning, perceptual, progress, encoder)
