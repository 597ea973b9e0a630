"""Registration of the synthetic world's identity embedder ("synthface-id"), 3DMM regressor
("synthface-3dmm"), the judge made of both ("synthface") and the `lsw synthface fit` command that
trains them."""

from __future__ import annotations

import shlex

import attrs
import click

from lsw_core.plugins import hookimpl

# Distinct function names (hooks named by `specname`), so that `from ... import *` in the package's
# plugin module cannot clash with its own hook implementations.
__all__ = ["register_synthface_id", "register_synthface_3dmm", "register_synthface_judge", "register_synthface_fit"]


@hookimpl(specname="register_identity_embedders")
def register_synthface_id(register):
    from lsw_synthface.nets import build_embedder

    register(
        "synthface-id",
        build_embedder,
        description="identity embedder of the synthetic face world (small CNN, shipped weights)",
    )


@hookimpl(specname="register_shape_models")
def register_synthface_3dmm(register):
    from lsw_synthface.nets import build_shape_model

    register(
        "synthface-3dmm",
        build_shape_model,
        description="3DMM-coefficient regressor of the synthetic face world (small CNN, shipped weights)",
    )


def _judge():
    from lsw_core.evaluation.judged import ComponentJudge
    from lsw_synthface.nets import build_embedder, build_shape_model

    return ComponentJudge(build_embedder(), build_shape_model(), network="synthface-id + synthface-3dmm",
                          same_as=("synthface-id",))  # fmt: skip


@hookimpl(specname="register_judges")
def register_synthface_judge(register):
    register("synthface", _judge, description="the synthetic world's identity embedder and 3DMM regressor")


@click.command("fit")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    default="synthface-nets",
    show_default=True,
    help="Folder to write embedder.safetensors, regressor.safetensors and fit.json into.",
)
@click.option(
    "--minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Wall-time cap in minutes [default: 15].",
)
@click.option("--seed", type=int, default=None, help="Random seed of the fit [default: 0].")
@click.option("--steps", type=int, default=None, help="Training steps of both networks [default: 2200].")
@click.option(
    "--pool-faces",
    type=int,
    default=None,
    help="Faces in the pool of renders the networks learn from [default: 1024].",
)
@click.option(
    "--eval-identities",
    type=int,
    default=None,
    help="Identities in the retrieval test on fresh renders written to fit.json [default: 100].",
)
@click.option(
    "--eval-faces",
    type=int,
    default=None,
    help="Faces in the landmark test on fresh renders written to fit.json [default: 256].",
)
@click.option("--threads", type=int, default=None, help="CPU threads [default: 2].")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def fit_command(out, minutes, seed, steps, pool_faces, eval_identities, eval_faces, threads, quiet):
    """Train the synthetic world's identity embedder and 3DMM regressor from scratch on fresh
    renders (CPU, seeded). The shipped weights are this command's output with default settings."""
    from lsw_synthface.fit import FitConfig, fit

    given = {
        "minutes": minutes,
        "seed": seed,
        "steps": steps,
        "pool_faces": pool_faces,
        "eval_identities": eval_identities,
        "eval_faces": eval_faces,
        "threads": threads,
    }
    config = attrs.evolve(FitConfig(), **{k: v for k, v in given.items() if v is not None})
    args = ["--out", out] + [f"--{k.replace('_', '-')}={v}" for k, v in given.items() if v is not None]
    command = "lsw synthface fit " + shlex.join(args)
    report = fit(config, out, quiet=quiet, command=command)
    m = report["metrics"]
    click.echo(
        f"wrote {out}: identity retrieval {m['identity_retrieval_128px']:.3f} (128 px), "
        f"landmark error {m['landmark_error_128px']:.4f} of the image size, "
        f"{report['train_seconds'] / 60:.1f} min"
        + (" (stopped by the time cap)" if report["stopped_by_time_cap"] else "")
    )


@hookimpl(specname="register_commands")
def register_synthface_fit(cli):
    group = cli.commands.get("synthface")
    if not isinstance(group, click.Group):
        group = click.Group("synthface", help="The embedded synthetic face world.")
        cli.add_command(group)
    group.add_command(fit_command)
