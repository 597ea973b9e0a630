"""`lsw convert`: any checkpoint a backend can read → the lsw folder format."""

from __future__ import annotations

import click

from lsw_core.cli.options import generator_options_option, parse_options
from lsw_core.generator_io import save_generator
from lsw_core.outputs import check_output
from lsw_core.plugins import load_generator


@click.command()
@click.argument("src", type=click.Path(exists=True))
@click.argument("dst", type=click.Path(file_okay=False))
@click.option("--generator", "-g", required=True, metavar="NAME", help="Backend that reads SRC (e.g. stylegan2).")
@generator_options_option
def convert(src, dst, generator, generator_pairs):
    """Convert a generator checkpoint SRC (e.g. an NVIDIA pickle) to a folder DST with config.json and
    model.safetensors, which loads without unpickling anything."""
    check_output(dst, folder=True)
    G = load_generator(generator, checkpoint=src, **parse_options(generator_pairs))
    save_generator(G, dst)
    click.echo(f"wrote {dst} ({generator}, {G.latent_layout} latents, {G.resolution} px)")
