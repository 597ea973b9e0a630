"""`lsw landmarks train`: teach a landmark net (the `dlib-landmarks` shape model) on one generator."""

from __future__ import annotations

import json

import click

from lsw_core.cli.options import (
    checkpoint_option,
    component_options,
    generator_option,
    generator_options_option,
    quiet_option,
    setting_option,
    steps_batch_seed_options,
)
from lsw_faces.landmark_config import LandmarkNetConfig


@click.group()
def landmarks() -> None:
    """Landmark nets: a differentiable shape model (L_shape) for generators without a 3DMM."""


@landmarks.command()
@generator_option(required=True)
@checkpoint_option
@generator_options_option
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="Net file to write (.safetensors).")
@steps_batch_seed_options(LandmarkNetConfig)
@setting_option(
    LandmarkNetConfig, "--samples", type=int, help="Generator samples dlib labels (those it places are kept)."
)
@setting_option(LandmarkNetConfig, "--validation", type=int, help="Labelled samples held out to measure the net.")
@setting_option(
    LandmarkNetConfig, "--size", type=int, help="Side in pixels the net reads images at (a multiple of 16)."
)
@setting_option(LandmarkNetConfig, "--psi-min", type=float, help="Samples use a truncation ψ drawn from [PSI_MIN, 1].")
@click.option("--threads", type=int, help="CPU threads (torch.set_num_threads).")
@quiet_option
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
def train(generator, checkpoint, generator_pairs, out, steps, batch_size, seed, samples, validation, size, psi_min,
          threads, quiet, overwrite):  # fmt: skip
    """Label the generator's samples with dlib's 68 landmarks, head pose and expression, and fit a small
    CNN to them: a shape model whose landmarks carry gradients, so `lsw train --shape-model
    dlib-landmarks --shape-model-checkpoint FILE` can ask swaps to keep the target's pose and
    expression (L_shape). The file records which generator weights it was taught on. Labelling runs
    dlib once per sample (about 10 ms each on a 64-px face); training runs on the CPU.

    \b
    Examples:
      lsw landmarks train -g dcgan-faces -o dcgan-landmarks.safetensors
      lsw train -g dcgan-faces --recipe real-embedder-landmarks \\
          --shape-model-checkpoint dcgan-landmarks.safetensors --out runs/dcgan
    """
    import torch
    from tqdm.auto import tqdm

    from lsw_core.cli.options import option_paths
    from lsw_core.errors import LswError
    from lsw_core.outputs import check_output, input_files
    from lsw_core.plugins import load_generator

    try:
        from lsw_faces.judges import FaceLandmarks
        from lsw_faces.landmark_net import save_landmark_net, train_landmark_net
    except ImportError as exc:
        raise LswError(f"lsw landmarks train needs dlib and scipy ({exc}): pip install 'lsw-core[faces]'") from None

    config = LandmarkNetConfig(samples=samples, validation=validation, steps=steps, batch_size=batch_size,
                               psi_min=psi_min, size=size, seed=seed)  # fmt: skip
    check_output(out, inputs=input_files(checkpoint, *option_paths(generator_pairs)), overwrite=overwrite,
                 suffixes=(".safetensors",), what="-o")  # fmt: skip
    if threads:
        torch.set_num_threads(threads)
    G = load_generator(generator, **component_options(checkpoint, generator_pairs)).eval()
    bars: dict[str, tqdm] = {}
    stages = {"label": (samples, "labelling samples", "img"), "train": (steps, "training", "step")}

    def progress(stage: str, n: int) -> None:
        if stage not in bars:  # a new stage: close the last bar
            for bar in bars.values():
                bar.close()
            total, desc, unit = stages[stage]
            bars[stage] = tqdm(total=total, desc=desc, unit=unit, disable=quiet)
        bars[stage].update(n)

    net, metrics = train_landmark_net(G, config, FaceLandmarks(), progress)
    for bar in bars.values():
        bar.close()
    save_landmark_net(out, net, metrics)
    summary = {k: metrics[k] for k in ("landmark_error_px", "pose_error_deg", "expression_error_std", "labelled")}
    click.echo(f"wrote {out}: held-out errors {json.dumps(summary)}")
