"""`lsw encoder train`: train the latent encoder that starts W projection for one generator."""

from __future__ import annotations

import click

from lsw_core.cli.options import (
    checkpoint_option,
    component_options,
    default,
    device_option,
    generator_option,
    generator_options_option,
    quiet_option,
    setting_option,
    setting_type,
    steps_batch_seed_options,
)
from lsw_core.inversion.encoder import EncoderConfig


@click.group()
def encoder() -> None:
    """Latent encoders: a learned start for W projection (fewer steps per swap)."""


@encoder.command()
@generator_option(required=True)
@checkpoint_option
@generator_options_option
@click.option(
    "--out", "-o", required=True, type=click.Path(dir_okay=False), help="Encoder file to write (.safetensors)."
)
@steps_batch_seed_options(EncoderConfig)
@setting_option(EncoderConfig, "--pool-size", type=int, help="Generator samples rendered to learn from.")
@click.option("--resolution", type=click.Choice(["16", "32", "64", "128", "256"]),
              default=str(default(EncoderConfig, "resolution")), show_default=True,
              help="Input resolution of the encoder (images are resized to it).")  # fmt: skip
@setting_option(EncoderConfig, "--psi-min", type=float, help="Samples use a truncation ψ drawn from [PSI_MIN, 1].")
@click.option(
    "--minutes",
    type=setting_type(EncoderConfig, "minutes"),
    help="Cap on the training time (after rendering), in minutes.",
)
@device_option
@click.option("--threads", type=int, help="CPU threads (torch.set_num_threads).")
@quiet_option
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
def train(generator, checkpoint, generator_pairs, out, steps, pool_size, resolution, batch_size, psi_min, minutes,
          seed, device, threads, quiet, overwrite):  # fmt: skip
    """Train an encoder that maps an image to the w that rendered it, on the generator's own samples.

    Pass it to the projector with `--inverter-option encoder=FILE` (`lsw swap`): W projection then
    starts from its guess, and the fast PTI schedule takes 30 projection steps instead of 50. The
    file records which generator weights it belongs to; using it with others is an error. The
    rendered samples are held in memory (24 000 at 64 px: 1.2 GB). A 1024-px generator renders them
    one at a time, and rendering dominates: MobileStyleGAN takes about 0.33 s of CPU per sample, so
    size --pool-size to the time you have (1500: 8 CPU minutes); --minutes caps only the training.

    \b
    Examples:
      lsw encoder train -g synthface -o synthface-encoder.safetensors
      lsw encoder train -g stylegan2 --checkpoint ffhq.pkl -o ffhq-encoder.safetensors
      lsw encoder train -g mobilestylegan --pool-size 1500 --minutes 15 --threads 1 -o msg-encoder.safetensors
      lsw swap src.jpg tgt.jpg --mixer runs/ffhq --checkpoint ffhq.pkl -o out.jpg \\
          --inverter-option schedule=fast --inverter-option encoder=ffhq-encoder.safetensors
    """
    import math

    import torch
    from tqdm.auto import tqdm

    from lsw_core.cli.options import option_paths
    from lsw_core.devices import resolve_device
    from lsw_core.errors import LswError
    from lsw_core.inversion.encoder import save_encoder, train_encoder
    from lsw_core.outputs import check_output, input_files
    from lsw_core.plugins import load_generator

    inputs = input_files(checkpoint, *option_paths(generator_pairs))
    check_output(out, inputs=inputs, overwrite=overwrite, suffixes=(".safetensors",), what="-o")
    if threads:
        torch.set_num_threads(threads)
    device = resolve_device(device)
    config = EncoderConfig(steps=steps, pool_size=pool_size, resolution=int(resolution), batch_size=batch_size,
                           psi_min=psi_min, minutes=minutes, seed=seed)  # fmt: skip
    G = load_generator(generator, **component_options(checkpoint, generator_pairs)).to(device).eval()
    bar = None

    def progress(stage: str, i: int, total: int) -> None:
        nonlocal bar
        if i == 0:  # a new stage: rendering, then training
            if bar is not None:
                bar.close()
            render = stage == "render"
            bar = tqdm(total=total, desc="rendering samples" if render else "training",
                       unit="batch" if render else "step", disable=quiet)  # fmt: skip
        bar.update(1)

    model, metrics = train_encoder(G, config, progress)
    if bar is not None:
        bar.close()
    if not math.isfinite(metrics["validation_error"]):
        raise LswError(
            f"the encoder diverged: its held-out w error is {metrics['validation_error']} after {metrics['steps']} "
            f"steps (e.g. a --batch-size above --pool-size {pool_size}, or too few samples); nothing was written"
        )
    save_encoder(out, model, metrics)
    click.echo(
        f"wrote {out}: held-out w error {metrics['validation_error']:.3f} (standardised; 1.0 = always guessing "
        f"the mean), {metrics['steps']} steps, {metrics['train_seconds'] / 60:.1f} min training"
    )
