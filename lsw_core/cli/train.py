"""`lsw train`: train a latent mixer."""

from __future__ import annotations

import click

from lsw_core.cli.options import (
    checkpoint_option,
    component_options,
    default,
    generator_option,
    generator_options_option,
)
from lsw_core.errors import LswError
from lsw_core.trainer import MixerTrainer, TrainConfig


def _d(name: str):
    return default(TrainConfig, name)


@click.command()
@generator_option
@checkpoint_option
@generator_options_option
@click.option("--embedder", metavar="NAME", help="Identity embedder for L_id (default: the generator's).")
@click.option("--embedder-checkpoint", metavar="PATH", help="Weights of the identity embedder.")
@click.option("--shape-model", metavar="NAME", help="3DMM shape model for L_shape (default: the generator's).")
@click.option("--shape-model-checkpoint", metavar="PATH", help="Weights of the shape model.")
@click.option("--embedder-option", "embedder_pairs", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@click.option(
    "--shape-model-option", "shape_pairs", multiple=True, metavar="KEY=VALUE", help="Repeatable, e.g. bfm=PATH."
)
@click.option(
    "--space",
    type=click.Choice(["w+", "w", "z"]),
    default=_d("space"),
    show_default=True,
    help="Latent space the mixer works in.",
)
@click.option(
    "--lambda",
    "lambda_lp",
    type=float,
    default=_d("lambda_lp"),
    show_default=True,
    help="λ, weight of the latent penalty L_lp.",
)
@click.option(
    "--mu", "mu_shape", type=float, default=_d("mu_shape"), show_default=True, help="μ, weight of the shape loss."
)
@click.option(
    "--same-pair-prob",
    type=float,
    default=_d("same_pair_prob"),
    show_default=True,
    help="Probability that a target equals its source.",
)
@click.option(
    "--psi",
    "truncation_psi",
    type=float,
    default=_d("truncation_psi"),
    show_default=True,
    help="Truncation ψ of sampled latents.",
)
@click.option(
    "--cutoff",
    "truncation_cutoff",
    type=int,
    default=_d("truncation_cutoff"),
    show_default=True,
    help="Truncate only the first N rows.",
)
@click.option("--batch-size", type=int, default=_d("batch_size"), show_default=True)
@click.option("--steps", type=int, default=_d("steps"), show_default=True)
@click.option("--lr", type=float, default=_d("lr"), show_default=True, help="AdamW learning rate.")
@click.option("--minutes", "max_minutes", type=float, default=None, help="Stop (and checkpoint) after this much time.")
@click.option("--seed", type=int, default=_d("seed"), show_default=True)
@click.option("--device", default=_d("device"), show_default=True, help="cpu, cuda, cuda:1, ...")
@click.option("--log-every", type=int, default=_d("log_every"), show_default=True)
@click.option(
    "--sample-every", type=int, default=_d("sample_every"), show_default=True, help="Write a sample grid every N steps."
)
@click.option("--checkpoint-every", type=int, default=_d("checkpoint_every"), show_default=True)
@click.option("--out", "-o", type=click.Path(file_okay=False), help="Output folder (the mixer folder).")
@click.option("--resume", type=click.Path(file_okay=False, exists=True), help="Continue the run in this folder.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def train(**kw) -> None:
    """Train a latent mixer on a frozen generator (paper: L = L_id + λ·L_lp + μ·L_shape).

    Only the mixer learns; latent pairs are sampled at random, so no dataset is needed. The output
    folder holds the mixer (config.json + mixer.safetensors), the resume state, log.jsonl and
    samples/*.png. Interrupted runs continue with `--resume DIR`.

    \b
    Examples:
      lsw train --generator synthface --generator-option resolution=96 --lr 5e-4 --minutes 5 --out runs/synth
      lsw train --generator stylegan2 --checkpoint ffhq.pkl --embedder smoothswap \\
          --embedder-checkpoint id.ckpt --shape-model deep3d --out runs/ffhq --device cuda
      lsw train --resume runs/ffhq
    """
    progress = not kw.pop("quiet")
    if kw["resume"]:
        overrides = {"steps": kw["steps"]} if kw["steps"] != _d("steps") else {}
        if kw["max_minutes"] is not None:
            overrides["max_minutes"] = kw["max_minutes"]
        out = MixerTrainer.resume(kw["resume"], progress=progress, **overrides).train()
    else:
        if not kw["generator"] or not kw["out"]:
            raise LswError("lsw train needs --generator NAME and --out DIR (or --resume DIR)")
        config = TrainConfig(
            generator=kw["generator"],
            generator_options=component_options(kw["checkpoint"], kw["generator_pairs"]),
            embedder=kw["embedder"],
            embedder_options=component_options(kw["embedder_checkpoint"], kw["embedder_pairs"]),
            shape_model=kw["shape_model"],
            shape_model_options=component_options(kw["shape_model_checkpoint"], kw["shape_pairs"]),
            **{
                k: kw[k]
                for k in (
                    "space",
                    "lambda_lp",
                    "mu_shape",
                    "same_pair_prob",
                    "truncation_psi",
                    "truncation_cutoff",
                    "batch_size",
                    "steps",
                    "lr",
                    "max_minutes",
                    "seed",
                    "device",
                    "log_every",
                    "sample_every",
                    "checkpoint_every",
                )
            },
        )
        out = MixerTrainer(config, kw["out"], progress=progress).train()
    click.echo(f"mixer written to {out}")
