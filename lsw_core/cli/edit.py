"""`lsw edit`: move swapped latents along an editing direction."""

from __future__ import annotations

import math
from pathlib import Path

import click
import torch

from lsw_core.cli.options import (
    checkpoint_option,
    component_options,
    device_option,
    generator_option,
    generator_options_option,
    option_paths,
)
from lsw_core.devices import resolve_device
from lsw_core.errors import LswError
from lsw_core.images import IMAGE_OUTPUT_SUFFIXES, save_gif, save_image, stack_rows, to_tensor
from lsw_core.mixing.editing import apply_direction, ganspace_components, load_direction
from lsw_core.mixing.latents import check_npy_header, read_latents
from lsw_core.mixing.swapper import group_rows
from lsw_core.outputs import check_output, input_files
from lsw_core.photo.record import load_swap_record, record_path
from lsw_core.plugins import load_generator


@click.command()
@click.argument("latents", type=click.Path(exists=True, dir_okay=False))
@generator_option(help="Generator backend of the latents.", required=True)
@checkpoint_option
@generator_options_option
@click.option("--direction", metavar="FILE.npy", help="An InterFaceGAN boundary [1, w_dim] or [w_dim].")
@click.option(
    "--ganspace",
    "component",
    type=click.IntRange(min=0),
    metavar="K",
    help="Use the K-th GANSpace principal component.",
)
@click.option("--strengths", default="-3,-1.5,0,1.5,3", show_default=True, help="Comma-separated steps along it.")
@click.option("--groups", help="Edit only these layer groups (comma-separated), e.g. coarse for pose.")
@click.option("--out", "-o", default="edit.png", show_default=True, type=click.Path(dir_okay=False))
@click.option("--overwrite", is_flag=True, help="Replace OUT (and its GIF) if they exist.")
@device_option
def edit(latents, generator, checkpoint, generator_pairs, direction, component, strengths, groups, out, overwrite,
         device):  # fmt: skip
    """Edit W+ LATENTS (.npy [B, num_ws, w_dim], e.g. from `lsw swap --save-latents`) along an
    InterFaceGAN direction or a GANSpace component; writes one row per latent (and a GIF for one).

    The latents of a photo swap (with LATENTS.swap.safetensors beside them, written by `lsw swap
    --save-latents`) are rendered with the generator tuned on the swapped pair, at the target's
    view, and pasted back into the target photo.

    \b
    Examples:
      lsw swap seed:1 seed:2 --mixer runs/synth -o s.png --save-latents
      lsw edit s.npy --generator synthface --ganspace 0 --groups coarse -o pose.png
      lsw edit s.npy --generator stylegan2 --checkpoint ffhq.pkl --direction smile.npy
    """
    if (direction is None) == (component is None):
        raise LswError("give exactly one of --direction FILE.npy or --ganspace K")
    values = _parse_strengths(strengths)
    inputs = input_files(latents, record_path(latents), direction, checkpoint, *option_paths(generator_pairs))
    check_output(out, inputs=inputs, overwrite=overwrite, suffixes=IMAGE_OUTPUT_SUFFIXES, what="-o")
    if _codes(latents) in (None, 1):  # one code (or not known before reading a .pt): a GIF beside OUT
        check_output(Path(out).with_suffix(".gif"), inputs=inputs, overwrite=overwrite)
    device = resolve_device(device)
    G = load_generator(generator, **component_options(checkpoint, generator_pairs)).to(device).eval()
    ws = read_latents(latents, G.num_ws, G.w_dim).to(device)
    if component is not None and component >= G.w_dim:
        raise LswError(f"--ganspace {component}: this generator has {G.w_dim} components (0 to {G.w_dim - 1})")
    if direction is not None:
        vector, scale = load_direction(direction, G.w_dim), 1.0
    else:
        _, components, stddev = ganspace_components(G, num_components=component + 1)
        vector, scale = components[component], stddev[component].item()
    rows = None
    if groups:
        rows = group_rows(G, [g.strip() for g in groups.split(",")])
    record = record_path(latents)
    if record.is_file():
        if len(ws) != 1:
            raise LswError(f"{latents}: a photo swap record is for one swapped code, the file has {len(ws)}")
        swap = load_swap_record(record, G)
        frames = torch.cat([to_tensor(swap.render(apply_direction(ws, vector, v * scale, rows))) for v in values])[None]
    else:
        with torch.no_grad():
            frames = torch.stack(
                [G.synthesis(apply_direction(ws, vector, v * scale, rows), noise_mode="const") for v in values], dim=1
            ).cpu()
    out = Path(out)
    save_image(stack_rows(list(frames)), out)
    if len(ws) == 1:
        save_gif(frames[0], out.with_suffix(".gif"))
    click.echo(f"wrote {out}")


def _codes(latents: str) -> int | None:
    """How many codes a latents file holds, from a .npy header (None for other files)."""
    if Path(latents).suffix != ".npy":
        return None
    shape, _ = check_npy_header(latents)
    return shape[0] if len(shape) == 3 else 1


def _parse_strengths(text: str) -> list[float]:
    try:
        values = [float(s) for s in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) for v in values):
        raise LswError(f"--strengths {text!r}: expected comma-separated finite numbers, e.g. -3,-1.5,0,1.5,3")
    return values
