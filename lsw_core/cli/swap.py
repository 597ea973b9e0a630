"""`lsw swap`: swap faces with a trained mixer."""

from __future__ import annotations

from pathlib import Path

import click
import torch

from lsw_core.cli.options import (
    FiniteFloat,
    checkpoint_option,
    component_options,
    device_option,
    generator_option,
    generator_options_option,
    open_mixer,
    option_paths,
    parse_options,
    refuse_idle,
)
from lsw_core.cli.swap_photos import (
    check_latents_name,
    check_photo_outputs,
    face_choice,
    inversion_parts,
    is_image_input,
    paste_config,
    photo_options,
    run_photo_swap,
)
from lsw_core.cli.swap_video import VIDEO_OPTIONS, check_video_swap, run_video_swap, video_options
from lsw_core.devices import resolve_device
from lsw_core.errors import LswError
from lsw_core.images import IMAGE_OUTPUT_SUFFIXES, list_images, probe_photo, save_gif, save_image, stack_rows, swap_grid
from lsw_core.mixing.latents import LATENT_SUFFIXES, parse_seeds, read_latents
from lsw_core.mixing.latents import save_latents as save_latents_file
from lsw_core.mixing.swapper import Swapper, group_rows
from lsw_core.outputs import check_output, check_outputs, input_files
from lsw_core.photo.swapper import PhotoSwapper
from lsw_core.photo.video_io import VIDEO_SUFFIXES, is_video_input
from lsw_core.plugins import load_inverter


def parse_input(spec: str, swapper: Swapper) -> tuple[str, torch.Tensor]:
    """`seed:1,2,3` → ("z", z); `codes.npy` or `.pt` → ("ws", W+). (Images go to the photo swapper.)"""
    if spec.startswith("seed:"):
        return "z", swapper.latents_from_seeds(parse_seeds(spec))
    return "ws", read_latents(spec, swapper.generator.num_ws, swapper.generator.w_dim)


INPUTS = "seed:N, a .npy of W+ codes, a photo, a folder of photos or (as TARGET) a clip"


def input_kind(spec: str) -> str:
    """What a SOURCE or TARGET names: "seed", "latents", "images" (a photo or a folder of them) or
    "video"; a path that does not exist, or that is none of these, is an `LswError` saying so."""
    if spec.startswith("seed:"):
        parse_seeds(spec)  # a malformed spec fails before anything loads
        return "seed"
    path = Path(spec)
    if is_video_input(spec):
        return "video"  # a missing clip, or a folder named like one, is `probe_video`'s to say
    if not path.exists():
        raise LswError(f"{spec}: no such file or folder (expected {INPUTS})")
    if path.is_dir():
        return "images"
    if path.suffix in LATENT_SUFFIXES:
        return "latents"
    if is_image_input(spec):
        return "images"
    raise LswError(f"{spec}: expected {INPUTS}")


def idle_options(ctx: click.Context, kinds: tuple[str, str], photo: dict) -> list[tuple[str, bool, str]]:
    """The rules under which an option of `lsw swap` has no effect (see `refuse_idle`), for SOURCE and
    TARGET of `kinds`."""
    video = kinds[1] == "video"
    images = video or "images" in kinds
    rules = [
        ("reference_threshold", photo["reference_face"] is None, "without --reference-face"),
        ("embedder", photo["reference_face"] is None, "without --reference-face (it embeds the reference)"),
        ("occlusion_threshold", not photo["occlusion_mask"], "without --occlusion-mask"),
        ("cache_dir", photo["no_cache"], "with --no-cache"),
        ("cache_tuned", photo["no_cache"], "with --no-cache"),
        ("aligner", photo["aligned"] is True, "with --aligned (aligned crops are not aligned again)"),
        ("views", video, "on a clip (it renders views of photo and seed swaps)"),
    ]
    rules += [(name, not video, "without a clip as TARGET") for name in VIDEO_OPTIONS]
    photo_only = ("inverter", "inverter_pairs", *photo)
    return rules + [
        (name, not images, "on seed: or latents inputs (it is for photos and clips)") for name in photo_only
    ]


@click.command()
@click.argument("source")
@click.argument("target")
@click.option("--mixer", "mixer_dir", required=True, type=click.Path(file_okay=False), help="A trained mixer folder.")
@generator_option(help="Generator backend (default: the one the mixer was trained on).")
@checkpoint_option
@generator_options_option
@click.option(
    "--out",
    "-o",
    default="swap.png",
    show_default=True,
    type=click.Path(),  # a folder for folder inputs: `check_output` says which each case takes
    help="Output PNG (for a video target a video, e.g. out.mp4).",
)
@click.option(
    "--groups", help="Use the swapped code only on these layer groups (comma-separated: coarse,middle,fine1,fine2)."
)
@click.option(
    "--strength",
    type=FiniteFloat(0, 1),
    default=1.0,
    show_default=True,
    help="How far from the target's latent to the swap: l_t + α (l_swap − l_t); 0 renders the target.",
)
@click.option(
    "--views",
    type=click.IntRange(min=1),
    help="Camera-aware generators: render N views (a strip PNG and a GIF beside it; for photos OUT_views.png).",
)
@click.option("--inverter", default="pti", show_default=True, help="Inverter for image inputs (see `lsw backends`).")
@click.option(
    "--inverter-option", "inverter_pairs", multiple=True, metavar="KEY=VALUE", help="Inverter option, repeatable."
)
@click.option(
    "--save-latents",
    is_flag=True,
    help="Also write the swapped W+ codes to OUT.npy (for photos also OUT.swap.safetensors, what `lsw edit` "
    "needs to render edits with the tuned generator and paste them back: as large as the tuned weights).",
)
@click.option("--overwrite", is_flag=True, help="Replace OUT (and the files written beside it) if they exist.")
@device_option
@photo_options
@video_options
@click.pass_context
def swap(
    ctx,
    source,
    target,
    mixer_dir,
    generator,
    checkpoint,
    generator_pairs,
    out,
    groups,
    strength,
    views,
    inverter,
    inverter_pairs,
    save_latents,
    overwrite,
    device,
    start,
    end,
    max_frames,
    smooth,
    tune_frames,
    codec,
    stream,
    **photo,
):
    """Swap the identity of SOURCE onto TARGET.

    SOURCE and TARGET are each `seed:N[,M,...]` (random latents), a .npy file of W+ codes
    [B, num_ws, w_dim], or a photo / aligned face crop / folder of them (inverted with --inverter
    first). Several sources × targets give a grid (sources on top, targets on the left).

    For a target photo, OUT is the photo with the swap pasted back and OUT_aligned.png the aligned
    swap beside it. With a folder on either side OUT is a folder: one source onto every target, every
    source onto one target, or two folders paired in name order. Pivots are cached by image hash,
    so swapping the same photo again skips its projection. `--inverter-option schedule=fast` inverts
    in about a tenth of the default PTI schedule's time; adding `--inverter-option encoder=FILE` (from
    `lsw encoder train`, or a registered name such as `synthface`) starts projection from a learned
    guess and needs fewer steps still.

    A video TARGET (.mp4, .mov, .mkv, ...) gives a video OUT with the same frames, frame rate, size
    and audio: the largest face (or --target-face) is tracked, each frame projected from the previous
    one, the generator tuned once per clip (--tune-frames) and latents smoothed (--smooth); frames
    without the face are copied through. --start/--end/--max-frames limit the work. Each frame keeps
    its time (variable frame rates stay as they are); the clip is the file's first video stream that
    is not a cover picture, or --stream N. With --save-latents, OUT.npy holds the swapped frames' codes.

    \b
    Examples:
      lsw swap seed:1,2,3 seed:10,11 --mixer runs/synth -o grid.png
      lsw swap seed:1 seed:2 --mixer runs/synth3d --views 5 -o strip.png
      lsw swap src.png tgt.png --mixer runs/ffhq --checkpoint ffhq.pkl -o swap.png
      lsw swap me.jpg group_photos/ --target-face 1 --mixer runs/ffhq --checkpoint ffhq.pkl -o out/
      lsw swap a.png b.png --mixer runs/synth --inverter-option schedule=fast --inverter-option encoder=synthface
      lsw swap me.jpg clip.mp4 --mixer runs/ffhq --checkpoint ffhq.pkl --inverter-option schedule=fast -o out.mp4
      lsw swap me.jpg clip.mp4 --mixer runs/ffhq --checkpoint ffhq.pkl --start 10 --end 20 -o part.mp4
      lsw swap me.jpg party.jpg --target-face all --strength 0.7 --color-match lab --mixer runs/ffhq -o out.png
      lsw swap me.jpg party.jpg --reference-face friend.jpg --blend multiband --occlusion-mask --mixer runs/ffhq
    """
    kinds = input_kind(source), input_kind(target)
    refuse_idle(ctx, idle_options(ctx, kinds, photo))
    paste, faces = paste_config(photo), face_choice(photo)
    inputs = input_files(source, target, mixer_dir, checkpoint, faces.reference_face,
                         *option_paths(generator_pairs), *option_paths(inverter_pairs))  # fmt: skip
    video = kinds[1] == "video"
    if kinds[0] == "video":
        raise LswError(f"{source}: a clip is swapped as the TARGET (lsw swap PHOTO CLIP -o OUT.mp4)")
    if video:
        check_video_swap(source, target, out, codec, start, end, stream, kinds[0], save_latents)
        check_output(out, inputs=inputs, overwrite=overwrite, suffixes=VIDEO_SUFFIXES, what="-o")
        if save_latents:
            check_output(Path(out).with_suffix(".npy"), inputs=inputs, overwrite=overwrite)
    elif "images" in kinds:
        if set(kinds) != {"images"}:
            raise LswError("image inputs swap pairwise: give images (or folders of them) for both")
        check_photo_outputs(source, target, out, faces, views=views, save_latents=save_latents, inputs=inputs,
                            overwrite=overwrite)  # fmt: skip
        for spec in (source, target):  # damaged or oversized images fail before anything loads
            for path in list_images(spec) if Path(spec).is_dir() else [Path(spec)]:
                probe_photo(path)
    else:
        check_latents_name(Path(out), save_latents)
        check_output(out, inputs=inputs, overwrite=overwrite, suffixes=IMAGE_OUTPUT_SUFFIXES, what="-o")
        if save_latents:
            check_output(Path(out).with_suffix(".npy"), inputs=inputs, overwrite=overwrite)
    generator_options, inverter_options = component_options(checkpoint, generator_pairs), parse_options(inverter_pairs)
    device = resolve_device(device)
    swapper = open_mixer(mixer_dir, backend=generator, **generator_options)
    swapper = swapper.to(device)
    group_list = [g.strip() for g in groups.split(",")] if groups else None
    if group_list:
        group_rows(swapper.generator, group_list)
    cameras = None
    if views is not None:
        if swapper.generator.camera is None:
            raise LswError(f"--views needs a camera-aware generator; {swapper.generator.backend_name!r} is 2D")
        cameras = swapper.generator.camera.yaw_sweep(views)
    if video:
        parts = inversion_parts(photo, faces.aligned, load_inverter(inverter, **inverter_options))
        run_video_swap(swapper, source, target, out, parts, paste, faces, groups=group_list, strength=strength,
                       start=start, end=end, max_frames=max_frames, smooth=smooth, tune_frames=tune_frames,
                       codec=codec, stream=stream, save_latents=save_latents)  # fmt: skip
        return
    if "images" in kinds:
        parts = inversion_parts(photo, faces.aligned, load_inverter(inverter, **inverter_options))
        photos = PhotoSwapper(swapper, **parts, paste=paste)
        run_photo_swap(photos, source, target, out, faces, groups=group_list, strength=strength, cameras=cameras,
                       save_latents=save_latents, mixer_dir=mixer_dir)  # fmt: skip
        return
    (kind_s, src), (kind_t, tgt) = parse_input(source, swapper), parse_input(target, swapper)  # seeds or codes
    out = Path(out)
    if kind_s == kind_t == "z":
        zs, zt = src.repeat(len(tgt), 1), tgt.repeat_interleave(len(src), 0)
        ws = swapper.mix_z(zs, zt, group_list, strength=strength)
        ws_s, ws_t = swapper.wplus_from_z(src), swapper.wplus_from_z(tgt)
    else:
        ws_s = swapper.wplus_from_z(src) if kind_s == "z" else src
        ws_t = swapper.wplus_from_z(tgt) if kind_t == "z" else tgt
        ws = swapper.mix(
            ws_s.repeat(len(ws_t), 1, 1), ws_t.repeat_interleave(len(ws_s), 0), group_list, strength=strength
        )
    n = ws.shape[0]
    strips = [out if n == 1 else out.with_name(f"{out.stem}_{i:03d}{out.suffix}") for i in range(n)]
    if cameras is not None:  # the strips and GIFs: known now that the inputs are read, before rendering
        check_outputs([p for path in strips for p in (path, path.with_suffix(".gif")) if p != out], inputs=inputs,
                      overwrite=overwrite)  # fmt: skip
    images = swapper.render(ws, cameras).cpu()
    src_img, tgt_img = swapper.render(ws_s, cameras).cpu(), swapper.render(ws_t, cameras).cpu()

    if cameras is not None:
        # One strip per pair: source, target and swap rows across the views; the swap as a GIF.
        for i, path in enumerate(strips):
            s_i, t_i = i % len(src_img), i // len(src_img)
            save_image(stack_rows([src_img[s_i], tgt_img[t_i], images[i]]), path)
            save_gif(images[i], path.with_suffix(".gif"))
        click.echo(f"wrote {n} strip(s) of {views} views and GIF(s) to {out.parent}")
    else:
        save_image(
            images[0]
            if len(images) == 1
            else swap_grid(src_img, tgt_img, images.view(len(tgt_img), len(src_img), *images.shape[1:])),
            out,
        )
        click.echo(f"wrote {out}")
    if save_latents:
        save_latents_file(out.with_suffix(".npy"), ws)
