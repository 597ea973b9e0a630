"""`lsw train`: train a latent mixer."""

from __future__ import annotations

import math
from pathlib import Path

import click
from click.core import ParameterSource

from lsw_core.cli.options import (
    checkpoint_option,
    component_choice_options,
    component_options,
    device_option,
    flag,
    generator_option,
    generator_options_option,
    quiet_option,
    refuse_idle,
    setting_option,
    setting_type,
    steps_batch_seed_options,
)
from lsw_core.errors import LswError
from lsw_core.mixing.mixer import MIXER_KINDS
from lsw_core.training.config import GENERATOR_DEFAULT, TrainConfig
from lsw_core.training.identity_loss import IDENTITY_LOSSES
from lsw_core.training.recipes import RECIPES, recipe
from lsw_core.training.trainer import MixerTrainer


def _cutoff(value: str | None) -> int | str | None:
    if value is None:
        return GENERATOR_DEFAULT
    if value == "all":
        return None
    try:
        return int(value)
    except ValueError:
        raise LswError(f"--cutoff: expected a number of rows or 'all', got {value!r}") from None


class NameWeight(click.ParamType):
    """NAME=WEIGHT → (name, weight), the weight a finite number >= 0."""

    name = "NAME=WEIGHT"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        name, sep, weight = value.partition("=")
        try:
            number = float(weight)
        except ValueError:
            number = math.nan
        if not sep or not name or not math.isfinite(number) or number < 0:
            self.fail(f"expected NAME=WEIGHT with a finite weight >= 0, got {value!r}", param, ctx)
        return name, number


@click.command()
@generator_option()
@checkpoint_option
@generator_options_option
@component_choice_options(
    embedder_help="Identity embedder for L_id (default: the generator's).",
    shape_model_help="3DMM shape model for L_shape (default: the generator's).",
)
@click.option(
    "--recipe",
    type=click.Choice(list(RECIPES)),
    help="Start from a measured set of settings (options given override it); real-embedder: for dlib, ArcFace.",
)
@setting_option(TrainConfig, "--space", type=click.Choice(["w+", "w", "z"]), help="Latent space the mixer works in.")
@setting_option(TrainConfig, "--lambda", "lambda_lp", type=float, help="λ, weight of the latent penalty L_lp.")
@setting_option(TrainConfig, "--mu", "mu_shape", type=float, help="μ, weight of the shape loss.")
@setting_option(TrainConfig, "--same-pair-prob", type=float, help="Probability that a target equals its source.")
@click.option(
    "--psi",
    "truncation_psi",
    type=setting_type(TrainConfig, "truncation_psi"),
    default=None,
    help="Truncation ψ of sampled latents [default: the generator's].",
)
@click.option(
    "--cutoff",
    "truncation_cutoff",
    metavar="N|all",
    default=None,
    help="Truncate only the first N rows, or all [default: the generator's].",
)
@setting_option(
    TrainConfig,
    "--mixer-depth",
    type=int,
    help="Fully connected layers per mixer row (paper: 5; its ablation: 2, 3, 7).",
)
@setting_option(TrainConfig, "--residual-coefficient", type=float, help="c in l_swap = F(l_s, l_t) + c·l_t.")
@setting_option(
    TrainConfig,
    "--identity-loss",
    type=click.Choice(IDENTITY_LOSSES),
    help="paper: L_id on the swap as is; augmented: averaged over random views (crop, shift, flip, blur, colour).",
)
@setting_option(TrainConfig, "--id-views", type=int, help="Random views per pair.")
@setting_option(
    TrainConfig,
    "--id-resolution",
    type=int,
    help="Downsample the images to this longer side (antialiased) before L_id and L_contrast [default: as rendered].",
)
@click.option(
    "--extra-embedder",
    "extra_embedders",
    multiple=True,
    type=NameWeight(),
    help="A further identity embedder added to L_id with this weight. Repeatable.",
)
@click.option(
    "--lambda-relative",
    is_flag=True,
    help="Read λ relative to the measured loss scales: λ·L_id(target as swap)/L_lp(source as swap).",
)
@click.option(
    "--mu-relative",
    is_flag=True,
    help="Read μ relative to the measured loss scales: μ·L_id(target as swap)/L_shape(source as swap).",
)
@setting_option(
    TrainConfig, "--calibration-batches", type=int, help="Batches the loss scales are measured on before training."
)
@setting_option(
    TrainConfig,
    "--keep-weight",
    type=float,
    help="κ, weight of L_keep: the swap's pixel distance to the target (relative with --lambda-relative).",
)
@setting_option(
    TrainConfig, "--keep-centre", type=float, help="Weight of L_keep at the image centre (the face), 1 at the borders."
)
@setting_option(
    TrainConfig,
    "--keep-power",
    type=float,
    help="L_keep = mean of (pixel distance)^P: 1 charges each pixel alike, 2 each further pixel more.",
)
@setting_option(
    TrainConfig,
    "--ema-decay",
    type=float,
    help="Keep a moving average of the mixer weights with this decay (e.g. 0.995) and save it; 0: off.",
)
@setting_option(
    TrainConfig,
    "--contrast-weight",
    type=float,
    help="ν, weight of L_contrast: a hinge on pairs whose swap is not yet nearer the source than the target.",
)
@setting_option(
    TrainConfig,
    "--contrast-margin",
    type=float,
    help="How much nearer the source, as a fraction of the source–target distance, L_contrast asks for.",
)
@setting_option(
    TrainConfig,
    "--mixer-kind",
    type=click.Choice(MIXER_KINDS),
    help="paper: the paper's residual MLP; gated: l_t + (l_s − l_t)·G + MLP, G starting at --gate-init.",
)
@setting_option(TrainConfig, "--gate-init", type=float)
@steps_batch_seed_options(TrainConfig)
@setting_option(TrainConfig, "--lr", type=float, help="AdamW learning rate.")
@click.option(
    "--minutes",
    "max_minutes",
    type=setting_type(TrainConfig, "max_minutes"),
    default=None,
    help="Stop (and checkpoint) after this much time.",
)
@setting_option(
    TrainConfig, "--noise-mode", type=click.Choice(["random", "const", "none"]), help="Synthesis noise while training."
)
@device_option
@setting_option(
    TrainConfig,
    "--precision",
    type=click.Choice(["fp32", "bf16"]),
    help="bf16: the frozen networks run under bf16 autocast; the mixer and its optimizer stay fp32.",
)
@setting_option(
    TrainConfig,
    "--micro-batch",
    type=int,
    help="Process the batch in chunks of N pairs, accumulating gradients (same step, less memory).",
)
@click.option(
    "--activation-checkpointing",
    is_flag=True,
    help="Recompute synthesis activations in the backward pass instead of storing them (less memory).",
)
@setting_option(TrainConfig, "--log-every", type=int)
@setting_option(TrainConfig, "--sample-every", type=int, help="Write a sample grid every N steps.")
@setting_option(TrainConfig, "--checkpoint-every", type=int)
@click.option("--out", "-o", type=click.Path(file_okay=False), help="Output folder (the mixer folder).")
@click.option("--overwrite", is_flag=True, help="Start over in --out, removing the earlier run's files.")
@click.option("--resume", type=click.Path(file_okay=False, exists=True), help="Continue the run in this folder.")
@quiet_option
@click.pass_context
def train(ctx: click.Context, **kw) -> None:
    """Train a latent mixer on a frozen generator (paper: L = L_id + λ·L_lp + μ·L_shape).

    Only the mixer learns; latent pairs are sampled at random, so no dataset is needed. The output
    folder holds the mixer (config.json + mixer.safetensors), the resume state, log.jsonl and
    samples/*.png; a folder that is not empty is refused unless --overwrite is given. Interrupted
    runs continue with `--resume DIR`, which takes new --steps, --minutes, --device and intervals;
    other settings cannot change on resume.

    Several GPUs (or processes): `torchrun --standalone --nproc-per-node N -m lsw_core train ...`
    splits the batch over N processes; the result equals one process with the same batch.

    \b
    Examples:
      lsw train --generator synthface --generator-option resolution=96 --lr 5e-4 --minutes 5 --out runs/synth
      lsw train --generator stylegan2 --checkpoint ffhq.pkl --embedder smoothswap \\
          --embedder-checkpoint id.ckpt --shape-model deep3d --out runs/ffhq --precision bf16 --micro-batch 16
      lsw train --generator dcgan-faces --embedder dlib-resnet --recipe real-embedder --mu 0 \\
          --steps 2400 --out runs/dcgan
      lsw train --resume runs/ffhq --steps 300000
    """
    progress = not kw.pop("quiet")
    given = {name for name in kw if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT}
    settings = _settings(kw, given)
    if kw["resume"]:
        if kw["overwrite"]:
            raise LswError("--overwrite starts over and --resume continues: give one of them")
        if kw["out"] and Path(kw["out"]).resolve() != Path(kw["resume"]).resolve():
            raise LswError(f"--resume continues the run in {kw['resume']}; drop --out {kw['out']}")
        if kw["recipe"]:
            raise LswError("--recipe sets how a run trains, which cannot change on --resume: drop it")
        flags = {name: _flag(ctx, name) for name in settings}
        trainer = MixerTrainer.resume(kw["resume"], progress=progress, flags=flags, **settings)
    else:
        if not kw["generator"] or not kw["out"]:
            raise LswError("lsw train needs --generator NAME and --out DIR (or --resume DIR)")
        chosen = recipe(kw["recipe"]) if kw["recipe"] else {}
        merged = {**_settings(kw, set(kw)), **chosen, **settings}
        for name in _COMPONENT_OPTIONS:  # options typed join the recipe's (a checkpoint must not drop crop=ffhq)
            if name in chosen and name in settings:
                merged[name] = {**chosen[name], **settings[name]}
        config = TrainConfig(**merged)
        idle = config.idle().items()
        refuse_idle(ctx, [(name, True, f"without {flag(ctx, s)} {value}") for name, (s, value) in idle])
        existing = "overwrite" if kw["overwrite"] else "refuse"
        trainer = MixerTrainer(config, kw["out"], progress=progress, existing=existing)
    out = trainer.train()
    if trainer.ranks.is_main:
        click.echo(f"mixer written to {out}")


# Options that are a TrainConfig setting of the same name, and those that make a component's options.
_SETTINGS = (
    "generator", "embedder", "shape_model", "space", "lambda_lp", "mu_shape", "same_pair_prob", "truncation_psi",
    "truncation_cutoff", "mixer_depth", "residual_coefficient", "batch_size", "steps", "lr", "max_minutes", "seed",
    "noise_mode", "device", "precision", "micro_batch", "activation_checkpointing", "log_every", "sample_every",
    "checkpoint_every", "identity_loss", "id_views", "id_resolution", "lambda_relative", "mixer_kind", "gate_init",
    "mu_relative",
    "extra_embedders", "calibration_batches", "keep_weight", "keep_centre", "keep_power", "contrast_weight",
    "contrast_margin", "ema_decay",
)  # fmt: skip
_CONVERTERS = {"truncation_cutoff": lambda v: _cutoff(v), "extra_embedders": lambda v: dict(v)}
_COMPONENT_OPTIONS = {
    "generator_options": ("checkpoint", "generator_pairs"),
    "embedder_options": ("embedder_checkpoint", "embedder_pairs"),
    "shape_model_options": ("shape_model_checkpoint", "shape_pairs"),
}


def _settings(kw: dict, given: set[str]) -> dict:
    """TrainConfig settings from the options named in `given`."""
    settings = {name: _CONVERTERS.get(name, lambda v: v)(kw[name]) for name in _SETTINGS if name in given}
    for name, (checkpoint, pairs) in _COMPONENT_OPTIONS.items():
        if checkpoint in given or pairs in given:
            settings[name] = component_options(kw[checkpoint], kw[pairs])
    return settings


def _flag(ctx: click.Context, setting: str) -> str:
    """How the user typed the option(s) behind a TrainConfig setting, e.g. "--lambda"."""
    names = _COMPONENT_OPTIONS.get(setting, (setting,))
    return "/".join(p.opts[0] for p in ctx.command.params if p.name in names)
