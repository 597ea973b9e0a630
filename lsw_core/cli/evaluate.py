"""`lsw eval`: measure a trained mixer on held-out latent pairs, or a folder of real-photo
(source, target, swap) triples."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lsw_core.cli.options import (
    checkpoint_option,
    component_choice_options,
    component_options,
    device_option,
    generator_options_option,
    open_mixer,
    option_paths,
    parse_options,
    refuse_idle,
)
from lsw_core.devices import resolve_device
from lsw_core.errors import LswError
from lsw_core.evaluation.judged import judge_mixer, trained_networks
from lsw_core.evaluation.latent_pairs import evaluate_mixer
from lsw_core.evaluation.photo_triples import evaluate_triples, find_triples, markdown_table
from lsw_core.formats.artifacts import write_json, write_text
from lsw_core.images import IMAGE_SUFFIXES
from lsw_core.mixing.mixer import read_mixer_config
from lsw_core.mixing.swapper import group_rows
from lsw_core.outputs import check_output, input_files
from lsw_core.plugins import load_identity_embedder, load_judge, load_shape_model

EVAL_EMBEDDER = "dlib-resnet"  # differs from the training embedder and needs no user checkpoint
EVAL_SHAPE_MODEL = "deep3d"
TRAINING_EMBEDDER = "smoothswap"  # the paper's L_id embedder


@click.command("eval")
@click.option("--mixer", "mixer_dir", type=click.Path(file_okay=False), help="A trained mixer folder.")
@click.option(
    "--triples",
    "triples_dir",
    type=click.Path(file_okay=False),
    help="Instead of --mixer: a folder of real-photo (source, target, swap) triples "
    "(source/, target/, swap/ with matching names, or one subfolder per triple).",
)
@checkpoint_option
@generator_options_option
@click.option(
    "--pairs",
    type=click.IntRange(min=2),
    default=200,
    show_default=True,
    help="Number of held-out (source, target) pairs.",
)
@click.option("--seed", type=int, default=20_231_125, show_default=True, help="Seed of the held-out pairs.")
@component_choice_options(
    embedder_help="Identity embedder (when the generator has no ground truth).",
    shape_model_help="Shape model (when the generator has no ground truth).",
)
@click.option(
    "--training-embedder",
    metavar="NAME",
    default=TRAINING_EMBEDDER,
    show_default=True,
    help="With --triples: the embedder the swaps were trained with; --embedder must differ from it.",
)
@click.option("--table", type=click.Path(dir_okay=False), help="With --triples: markdown table path [DIR/metrics.md].")
@click.option("--groups", help="With --mixer: use the swapped code only on these layer groups (comma-separated).")
@click.option(
    "--judge",
    "judge_names",
    multiple=True,
    metavar="NAME",
    help="With --mixer: also judge the swaps with this judge (see `lsw backends`), e.g. sface, dlib; repeatable.",
)
@click.option("--judge-option", "judge_pairs", multiple=True, metavar="NAME:KEY=VALUE", help="A judge's option.")
@device_option
@click.option("--out", "-o", type=click.Path(dir_okay=False), help="Also write the JSON here.")
@click.option("--overwrite", is_flag=True, help="Replace --out and the markdown table if they exist.")
@click.pass_context
def evaluate(
    ctx,
    mixer_dir,
    triples_dir,
    checkpoint,
    generator_pairs,
    pairs,
    seed,
    embedder,
    embedder_checkpoint,
    shape_model,
    shape_model_checkpoint,
    embedder_pairs,
    shape_pairs,
    training_embedder,
    table,
    groups,
    judge_names,
    judge_pairs,
    device,
    out,
    overwrite,
):
    """Evaluate a mixer on held-out random latent pairs; print JSON.

    Reports id_retrieval (nearest source among all sources is its own source), expression_error and
    pose_error_deg (swap vs target), n_pairs, and the same for the baselines "return the target" and
    "return the source". The synthetic world measures these exactly from its ground truth; other
    generators need --embedder (use a different one from the one trained with), and --shape-model for
    the pose and expression errors; with an embedder alone, identity is measured (id_retrieval and
    closer_to_source, the fraction of swaps nearer their source than their target).

    With --judge NAME (repeatable), the swaps of --pairs held-out pairs are also judged by networks
    the mixer may not have trained with: for each judge, the fraction closer to the source than to
    the target, pose and expression errors against the target, and the same for interpolation at the
    swap's own pixel distance; each judge says whether the mixer trained with its identity network
    (`independent`) and with a shape model taught from its landmarks (`pose_expression_independent`).

    \b
    Examples:
      lsw eval --mixer runs/synth
      lsw eval --mixer runs/dcgan --judge sface --judge dlib --pairs 100
      lsw eval --mixer runs/dcgan_pose --judge sface --judge dlib --judge facemesh --pairs 100
      lsw eval --triples swaps/ --embedder dlib-resnet --shape-model deep3d --shape-model-option bfm=BFM.mat

    With --triples DIR, measures real-photo swaps as in the FaceForensics++ protocol: ID retrieval
    among all original faces, expression and pose errors against the target (defaults: --embedder
    dlib-resnet, --shape-model deep3d), prints JSON and writes a markdown table.
    """
    if (mixer_dir is None) == (triples_dir is None):
        raise click.UsageError("pass exactly one of --mixer and --triples")
    triples = triples_dir is not None
    rules = [(name, not triples, "without --triples") for name in ("table", "training_embedder")]
    rules += [
        (name, triples, "with --triples")
        for name in ("checkpoint", "generator_pairs", "pairs", "seed", "groups", "judge_names", "judge_pairs")
    ]
    refuse_idle(ctx, rules)
    photos = [p for p in Path(triples_dir).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES] if triples else []
    inputs = input_files(mixer_dir, *photos, checkpoint, embedder_checkpoint, shape_model_checkpoint,
                         *option_paths(generator_pairs), *option_paths(embedder_pairs), *option_paths(shape_pairs))  # fmt: skip
    if out is not None:
        check_output(out, inputs=inputs, overwrite=overwrite, suffixes=(".json",), what="--out")
    if triples:
        table = table or str(Path(triples_dir) / "metrics.md")
        check_output(table, inputs=inputs, overwrite=overwrite, suffixes=(".md",), what="--table")
    judge_options = _judge_options(judge_names, judge_pairs)
    device = resolve_device(device)
    if triples_dir is not None:
        _evaluate_triples(
            triples_dir,
            embedder or EVAL_EMBEDDER,
            component_options(embedder_checkpoint, embedder_pairs),
            shape_model or EVAL_SHAPE_MODEL,
            component_options(shape_model_checkpoint, shape_pairs),
            training_embedder,
            table,
            device,
            out,
        )
        return
    swapper = open_mixer(mixer_dir, **component_options(checkpoint, generator_pairs)).to(device)
    group_list = [g.strip() for g in groups.split(",")] if groups else None
    if group_list:
        group_rows(swapper.generator, group_list)
    judges = {name: load_judge(name, **judge_options[name]) for name in judge_names}
    if not swapper.generator.has_ground_truth and embedder is None:
        if not judges:
            raise LswError(
                "this generator has no ground truth: pass --judge NAME, or --embedder (and --shape-model for pose "
                "and expression)"
            )
        result = _judged(swapper, judges, mixer_dir, pairs, seed, group_list)
        if out:
            write_json(out, result)
        click.echo(json.dumps(result, indent=2))
        return
    E = load_identity_embedder(embedder, **component_options(embedder_checkpoint, embedder_pairs)) if embedder else None
    S = load_shape_model(shape_model, **component_options(shape_model_checkpoint, shape_pairs)) if shape_model else None
    E, S = (m.to(device) if m is not None else None for m in (E, S))
    result = evaluate_mixer(swapper, pairs=pairs, seed=seed, embedder=E, shape_model=S, groups=group_list)
    if judges:
        result["judged"] = _judged(swapper, judges, mixer_dir, pairs, seed, group_list)
    text = json.dumps(result, indent=2)
    if out:
        write_json(out, result)
    click.echo(text)


def _evaluate_triples(
    folder, embedder, embedder_options, shape_model, shape_options, training_embedder, table, device, out
) -> None:
    if embedder == training_embedder:
        raise click.UsageError(
            f"--embedder {embedder} is the embedder the swaps were trained with; evaluate with another one "
            f"(default {EVAL_EMBEDDER}), or name the actual training embedder with --training-embedder"
        )
    find_triples(folder)  # a wrong folder fails before any model loads
    E = load_identity_embedder(embedder, **embedder_options)
    S = load_shape_model(shape_model, **shape_options)
    result = evaluate_triples(folder, E, S, device=device)
    result.update(embedder=embedder, shape_model=shape_model, training_embedder=training_embedder)
    write_text(table, markdown_table(result))
    if out:
        write_json(out, result)
    click.echo(json.dumps(result, indent=2))


def _judge_options(names: tuple[str, ...], pairs: tuple[str, ...]) -> dict[str, dict]:
    """`--judge-option NAME:KEY=VALUE` → {name: {key: value}} for the judges named."""
    by_name: dict[str, list[str]] = {name: [] for name in names}
    for pair in pairs:
        name, sep, rest = pair.partition(":")
        if not sep or name not in by_name:
            raise LswError(
                f"--judge-option {pair!r}: expected NAME:KEY=VALUE for one of the --judge names {list(names)}"
            )
        by_name[name].append(rest)
    return {name: parse_options(tuple(rest)) for name, rest in by_name.items()}


def _judged(swapper, judges, mixer_dir, pairs, seed, groups) -> dict:
    trained = trained_networks(read_mixer_config(mixer_dir))
    for judge in judges.values():
        if hasattr(judge, "to"):
            judge.to(swapper.device)
    return judge_mixer(swapper, judges, pairs=pairs, seed=seed, groups=groups, trained_with=trained)
