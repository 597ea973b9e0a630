"""`lsw eval`: measure a trained mixer."""

from __future__ import annotations

import json

import click

from lsw_core.cli.options import checkpoint_option, component_options, generator_options_option
from lsw_core.mixer_eval import evaluate_mixer
from lsw_core.plugins import load_generator, load_identity_embedder, load_shape_model
from lsw_core.swapper import Swapper


@click.command("eval")
@click.option("--mixer", "mixer_dir", required=True, type=click.Path(file_okay=False), help="A trained mixer folder.")
@checkpoint_option
@generator_options_option
@click.option("--pairs", type=int, default=200, show_default=True, help="Number of held-out (source, target) pairs.")
@click.option("--seed", type=int, default=20_231_125, show_default=True, help="Seed of the held-out pairs.")
@click.option("--embedder", metavar="NAME", help="Identity embedder (when the generator has no ground truth).")
@click.option("--embedder-checkpoint", metavar="PATH")
@click.option("--shape-model", metavar="NAME", help="Shape model (when the generator has no ground truth).")
@click.option("--shape-model-checkpoint", metavar="PATH")
@click.option("--out", "-o", type=click.Path(dir_okay=False), help="Also write the JSON here.")
def evaluate(
    mixer_dir,
    checkpoint,
    generator_pairs,
    pairs,
    seed,
    embedder,
    embedder_checkpoint,
    shape_model,
    shape_model_checkpoint,
    out,
):
    """Evaluate a mixer on held-out random latent pairs; print JSON.

    Reports id_retrieval (nearest source among all sources is its own source), expression_error and
    pose_error_deg (swap vs target), n_pairs, and the same for the baselines "return the target" and
    "return the source". The synthetic world measures these exactly from its ground truth; other
    generators need --embedder and --shape-model (use a different embedder from the one trained with).
    """
    options = component_options(checkpoint, generator_pairs)
    generator = None
    if options:
        from lsw_core.checkpoint import read_config

        generator = load_generator(read_config(mixer_dir)["backend"], **options)
    swapper = Swapper.from_folder(mixer_dir, generator=generator)
    E = load_identity_embedder(embedder, **component_options(embedder_checkpoint, ())) if embedder else None
    S = load_shape_model(shape_model, **component_options(shape_model_checkpoint, ())) if shape_model else None
    if not hasattr(swapper.generator, "ground_truth") and (E is None or S is None):
        raise click.UsageError("this generator has no ground truth: pass --embedder and --shape-model")
    result = evaluate_mixer(swapper, pairs=pairs, seed=seed, embedder=E, shape_model=S)
    text = json.dumps(result, indent=2)
    if out:
        from lsw_core.checkpoint import write_json

        write_json(out, result)
    click.echo(text)
