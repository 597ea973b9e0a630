"""Plugin registration for lsw_fid: the `lsw fid` command."""

from __future__ import annotations

import json

import click

from lsw_core.plugins import hookimpl


@click.command("fid")
@click.option("--mixer", "mixer_dir", required=True, type=click.Path(file_okay=False), help="A mixer folder.")
@click.option(
    "--inception",
    required=True,
    type=click.Path(dir_okay=False),
    help="FID Inception-v3 weights (pt_inception-2015-12-05-6726825d.pth, as pytorch-fid uses).",
)
@click.option("--pairs", type=click.IntRange(min=2), default=1000, show_default=True, help="Held-out pairs.")
@click.option("--seed", type=int, default=20_231_125, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=25, show_default=True)
@click.option("--checkpoint", metavar="PATH", help="The generator's weights, if the mixer folder does not name them.")
def fid(mixer_dir, inception, pairs, seed, batch_size, checkpoint):
    """FID of the swaps against their targets (and of the sources against the targets, for scale),
    on held-out pairs sampled from the mixer's generator. Prints JSON.

    FID is only as meaningful as the Inception weights: bring the standard file; with any other
    weights of that layout the number is not comparable to published FIDs.

    \b
    Example:
      lsw fid --mixer runs/ffhq --inception pt_inception-2015-12-05-6726825d.pth --pairs 10000
    """
    from lsw_core.mixing.swapper import Swapper
    from lsw_fid.inception import load_fid_inception
    from lsw_fid.measure import swap_fid

    net = load_fid_inception(inception)  # checked before anything long starts
    options = {"checkpoint": checkpoint} if checkpoint else {}
    swapper = Swapper.from_folder(mixer_dir, **options)
    click.echo(json.dumps(swap_fid(swapper, net, pairs=pairs, seed=seed, batch_size=batch_size)))


@hookimpl
def register_commands(cli):
    cli.add_command(fid)
