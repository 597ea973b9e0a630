"""`lsw convert`: any checkpoint a backend can read → the lsw folder format; the LatentSwap authors'
Lightning checkpoint → a mixer folder with its generator and embedder."""

from __future__ import annotations

from pathlib import Path

import click

from lsw_core.cli.options import generator_option, generator_options_option, option_paths, parse_options
from lsw_core.errors import LswError
from lsw_core.formats.artifacts import CONFIG_NAME
from lsw_core.formats.generator_folder import WEIGHTS_NAME as GENERATOR_WEIGHTS
from lsw_core.formats.generator_folder import save_generator
from lsw_core.mixing.mixer import WEIGHTS_NAME as MIXER_WEIGHTS
from lsw_core.outputs import check_output, check_outputs, input_files
from lsw_core.plugins import load_generator

#: The files `lsw convert` writes into DST: a generator folder, or the authors' model as a mixer folder
#: with its generator folder and embedder weights (`lsw_core.convert.latentswap`).
GENERATOR_FILES = (CONFIG_NAME, GENERATOR_WEIGHTS)
LATENTSWAP_FILES = (CONFIG_NAME, MIXER_WEIGHTS, f"generator/{CONFIG_NAME}", f"generator/{GENERATOR_WEIGHTS}",
                    "smoothswap.pth")  # fmt: skip


@click.command()
@click.argument("src", type=click.Path(exists=True))
@click.argument("dst", type=click.Path(file_okay=False))
@generator_option(help="Backend that reads SRC (e.g. stylegan2).")
@click.option(
    "--from",
    "source_format",
    type=click.Choice(["latentswap"]),
    help="SRC is the LatentSwap authors' Lightning checkpoint of their whole model.",
)
@click.option(
    "--space",
    type=click.Choice(["z", "w"]),
    help="With --from latentswap: the latent space of a one-row mixer whose file does not record it.",
)
@generator_options_option
@click.option("--overwrite", is_flag=True, help="Replace the files of an earlier conversion in DST.")
def convert(src, dst, generator, source_format, space, generator_pairs, overwrite):
    """Convert a generator checkpoint SRC (e.g. an NVIDIA pickle) to a folder DST with config.json and
    model.safetensors, which loads without unpickling anything.

    With --from latentswap, SRC is the authors' released model (latentswap.ckpt): DST becomes a mixer
    folder (config.json + mixer.safetensors) with the StyleGAN2 generator in DST/generator and the
    Smooth-Swap embedder in DST/smoothswap.pth, ready for `lsw swap --mixer DST`.

    \b
    Examples:
      lsw convert ffhq.pkl ffhq_lsw/ --generator stylegan2
      lsw convert latentswap.ckpt latentswap/ --from latentswap
    """
    check_output(dst, folder=True)
    inputs = input_files(src, *option_paths(generator_pairs))
    names = LATENTSWAP_FILES if source_format == "latentswap" else GENERATOR_FILES
    check_outputs([Path(dst) / name for name in names], inputs=inputs, overwrite=overwrite)
    if source_format == "latentswap":
        if generator or generator_pairs:
            raise LswError("--from latentswap reads the generator from SRC itself: drop --generator/--generator-option")
        from lsw_core.convert.latentswap import convert_latentswap

        config = convert_latentswap(src, dst, space=space)
        parts = ", ".join(
            name
            for name, key in (("generator", "generator_checkpoint"), ("embedder", "embedder_checkpoint"))
            if key in config
        )
        click.echo(
            f"wrote {dst} ({config['latent_space'].upper()} mixer, {config['num_rows']}x{config['w_dim']}, "
            f"residual coefficient {config['residual_coefficient']:g}{', with ' + parts if parts else ''})"
        )
        return
    if space:
        raise LswError("--space applies only with --from latentswap")
    if not generator:
        raise LswError("lsw convert needs --generator NAME (the backend that reads SRC), or --from latentswap")
    G = load_generator(generator, checkpoint=src, **parse_options(generator_pairs))
    save_generator(G, dst)
    click.echo(f"wrote {dst} ({generator}, {G.latent_layout} latents, {G.resolution} px)")
