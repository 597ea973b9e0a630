"""Training settings (`TrainConfig`, the paper's defaults) and the ones a mixer folder records."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs

from lsw_core.errors import CheckpointError, LswError, SettingError
from lsw_core.formats.artifacts import CONFIG_NAME
from lsw_core.interfaces import NOISE_MODES
from lsw_core.mixing import latents
from lsw_core.mixing.mixer import DEFAULT_DEPTH, MIXER_KINDS, check_depth, read_mixer_config
from lsw_core.training.identity_loss import IDENTITY_LOSSES
from lsw_core.training.precision import PRECISIONS
from lsw_core.validators import choice, flag, integer, number, optional, options, pair, text, weights

#: Settings `resume` may change: they alter neither the model nor the data it is trained on.
RESUMABLE = ("steps", "max_minutes", "device", "log_every", "sample_every", "checkpoint_every")
#: A setting taken from the generator's `training_defaults`.
GENERATOR_DEFAULT = "generator"


def _cutoff_or_default(instance, attribute, value):
    if value != GENERATOR_DEFAULT:
        integer(ge=0)(instance, attribute, value)


@attrs.frozen(kw_only=True)
class TrainConfig:
    """Training settings. Defaults are the paper's (λ = 100, μ = 0.1, AdamW lr 1e-4, batch 64,
    200 k steps) and the authors' code's (same-pair probability 0.2, ψ = 0.5 on the first 8 rows,
    clipping 1.0); the paper's text gives 1/8 for the same-pair probability."""

    generator: str = attrs.field(validator=text())
    generator_options: dict[str, Any] = attrs.field(factory=dict, validator=options())
    embedder: str | None = attrs.field(default=None, validator=optional(text()))
    embedder_options: dict[str, Any] = attrs.field(factory=dict, validator=options())
    shape_model: str | None = attrs.field(default=None, validator=optional(text()))
    shape_model_options: dict[str, Any] = attrs.field(factory=dict, validator=options())
    space: str = attrs.field(default="w+", validator=lambda i, a, v: latents.check_space(v))
    lambda_lp: float = attrs.field(default=100.0, validator=number(ge=0))
    mu_shape: float = attrs.field(default=0.1, validator=number(ge=0))
    same_pair_prob: float = attrs.field(default=0.2, validator=number(ge=0, le=1))
    #: None: the generator's `training_defaults` (StyleGAN2: the authors' ψ = 0.5 on 8 rows).
    truncation_psi: float | None = attrs.field(default=None, validator=optional(number()))
    #: Rows truncated (None: all); GENERATOR_DEFAULT: the generator's `training_defaults`.
    truncation_cutoff: int | str | None = attrs.field(default=GENERATOR_DEFAULT, validator=optional(_cutoff_or_default))
    residual_coefficient: float = attrs.field(default=1.0, validator=number())
    mixer_depth: int = attrs.field(default=DEFAULT_DEPTH, validator=lambda i, a, v: check_depth(v))
    #: "paper": L_id on the clean swap, exactly the paper's; "augmented": `RobustIdentityLoss`.
    identity_loss: str = attrs.field(default="paper", validator=choice(*IDENTITY_LOSSES))
    #: Random views per pair for the augmented identity loss.
    id_views: int = attrs.field(default=2, validator=integer(gt=0))
    #: Longer side in pixels the images are downsampled to (antialiased) before L_id and L_contrast read
    #: them (None: as rendered): a 1024-px generator's views and embedder crops then cost a 256-px one's.
    id_resolution: int | None = attrs.field(default=None, validator=optional(integer(gt=0)))
    #: Further identity embedders (plugin name → weight) added to L_id; the main one weighs 1.
    extra_embedders: dict[str, float] = attrs.field(factory=dict, validator=weights())
    #: λ is relative to the measured loss scales: λ_eff = λ · scale(L_id) / scale(L_lp), where
    #: scale(L_id) is L_id of the target as the swap and scale(L_lp) is L_lp of the source as the swap.
    lambda_relative: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    #: μ is relative to the measured loss scales: μ_eff = μ · scale(L_id) / scale(L_shape, source), where
    #: scale(L_shape, source) is L_shape of the source as the swap (what taking the source's pose and
    #: expression would cost). For shape models without a paper-given scale (a landmark net).
    mu_relative: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    calibration_batches: int = attrs.field(default=2, validator=integer(gt=0))
    #: κ, weight of L_keep: the pixel distance of the swap to the target (not in the paper; 0: off).
    #: With `lambda_relative`, read against the scales like λ: κ · scale(L_id) / scale(L_keep), where
    #: scale(L_keep) is L_keep of the source as the swap.
    keep_weight: float = attrs.field(default=0.0, validator=number(ge=0))
    #: Weight of L_keep's pixels at the image centre (the face), 1 at the borders.
    keep_centre: float = attrs.field(default=1.0, validator=number(ge=0, le=1))
    #: L_keep is the mean over pairs of (pixel distance)^keep_power: 1 charges each pixel the same,
    #: 2 each further pixel more (see `losses.keep_loss`).
    keep_power: float = attrs.field(default=1.0, validator=number(ge=1))
    #: ν, weight of L_contrast (not in the paper; 0: off), in L_id's units: a hinge that is zero once the
    #: swap is nearer the source than the target by `contrast_margin` of their distance (see
    #: `losses.contrast_loss`), measured in the same views and embedders as L_id.
    contrast_weight: float = attrs.field(default=0.0, validator=number(ge=0))
    contrast_margin: float = attrs.field(default=0.25, validator=number(ge=0))
    #: "paper" (`LatentMixer`) or "gated" (`GatedLatentMixer`, starting at l_t + gate_init·(l_s − l_t)).
    mixer_kind: str = attrs.field(default="paper", validator=choice(*MIXER_KINDS))
    gate_init: float = attrs.field(default=0.5, validator=number())
    batch_size: int = attrs.field(default=64, validator=integer(gt=0))
    steps: int = attrs.field(default=200_000, validator=integer(gt=0))
    lr: float = attrs.field(default=1e-4, validator=number(gt=0))
    betas: tuple[float, float] = attrs.field(
        default=(0.9, 0.999),
        converter=lambda v: tuple(v) if isinstance(v, list) else v,
        validator=pair(number(ge=0, lt=1)),
    )
    weight_decay: float = attrs.field(default=0.01, validator=number(ge=0))
    #: Decay of an exponential moving average of the mixer weights (not in the paper; 0: off): after
    #: each step ema ← decay·ema + (1 − decay)·weights, from the initial weights. When on, the mixer
    #: folder and the samples hold the average (`MixerTrainer.swap_mixer`), and a checkpoint both.
    ema_decay: float = attrs.field(default=0.0, validator=number(ge=0, lt=1))
    grad_clip: float | None = attrs.field(default=1.0, validator=optional(number(gt=0)))
    noise_mode: str = attrs.field(default="random", validator=choice(*NOISE_MODES))
    seed: int = attrs.field(default=0, validator=integer(ge=0, lt=2**64))
    #: auto (CUDA when available), cpu, cuda, cuda:N, mps; resolved when the trainer starts.
    device: str = attrs.field(default="auto", validator=text())
    precision: str = attrs.field(default="fp32", validator=choice(*PRECISIONS))
    #: Pairs per forward/backward pass (gradients accumulate over the batch); None: the whole batch.
    micro_batch: int | None = attrs.field(default=None, validator=optional(integer(gt=0)))
    #: Recompute the synthesis activations in the backward pass instead of storing them (generators
    #: with `set_activation_checkpointing`).
    activation_checkpointing: bool = attrs.field(default=False, validator=flag())
    log_every: int = attrs.field(default=10, validator=integer(gt=0))
    sample_every: int = attrs.field(default=1000, validator=integer(gt=0))
    checkpoint_every: int = attrs.field(default=1000, validator=integer(gt=0))
    max_minutes: float | None = attrs.field(default=None, validator=optional(number(gt=0)))

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    def idle(self) -> dict[str, tuple[str, str]]:
        """The settings that have no effect on this run: name → (the setting that would give it one,
        and the value it would need), e.g. "gate_init" → ("mixer_kind", "gated")."""
        rules = {
            "gate_init": (self.mixer_kind != "gated", "mixer_kind", "gated"),
            "id_views": (self.identity_loss != "augmented", "identity_loss", "augmented"),
            "contrast_margin": (not self.contrast_weight, "contrast_weight", "> 0"),
            "keep_centre": (not self.keep_weight, "keep_weight", "> 0"),
            "keep_power": (not self.keep_weight, "keep_weight", "> 0"),
            "mu_relative": (not self.mu_shape, "mu_shape", "> 0"),
        }
        return {name: (setting, value) for name, (idle, setting, value) in rules.items() if idle}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {a.name for a in attrs.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingError(f"{', '.join(unknown)}: unknown training setting; known: {', '.join(sorted(known))}")
        missing = [a.name for a in attrs.fields(cls) if a.default is attrs.NOTHING and a.name not in data]
        if missing:
            raise SettingError(f"{missing[0]}: missing (a required training setting)")
        return cls(**data)


def recorded_training(config: dict[str, Any], folder: str | os.PathLike) -> TrainConfig | None:
    """The settings a mixer folder's `config` records of its training (None when it records none);
    a damaged one is a `CheckpointError` naming the field ("config.json: training.lr: ...")."""
    training = config.get("training")
    if training is None:
        return None
    try:
        return TrainConfig.from_dict(training)
    except LswError as exc:
        raise CheckpointError(f"{Path(folder) / CONFIG_NAME}: training.{exc}") from None


def saved_training(folder: str | os.PathLike) -> TrainConfig:
    """The training settings recorded in a run folder's `config.json`."""
    training = recorded_training(read_mixer_config(folder), folder)
    if training is None:
        raise CheckpointError(f"{Path(folder) / CONFIG_NAME}: no 'training' settings, so there is no run to resume")
    return training
