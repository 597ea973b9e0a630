"""Video targets of `lsw swap`: a source image onto the tracked face of every frame of a clip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from lsw_core.cli.swap_photos import StepBar, default_cache_dir, optional_aligner
from lsw_core.errors import LswError
from lsw_core.interfaces import Inverter
from lsw_core.photo import PhotoSwapper, PivotCache
from lsw_core.photo.video import VideoSwapper
from lsw_core.photo.video_io import check_codec, is_video_input, probe_video
from lsw_core.swapper import Swapper


def video_options(command):
    """The options of `lsw swap` that apply to a video target."""
    options = [
        click.option("--start", type=click.FloatRange(min=0), default=0.0, help="Video: begin at this second."),
        click.option("--end", type=click.FloatRange(min=0), help="Video: stop before this second."),
        click.option("--max-frames", type=click.IntRange(min=1), help="Video: swap at most this many frames."),
        click.option("--smooth", type=click.IntRange(min=1), default=9, show_default=True,
                     help="Video: frames over which latents and face alignment are averaged (1: off)."),
        click.option("--tune-frames", type=click.IntRange(min=0), default=4, show_default=True,
                     help="Video: frames the generator is tuned on, with the source, once per clip."),
        click.option("--codec", help="Video: encoder of OUT [default: libx264 where available, else mpeg4]."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def check_video_swap(source: str, target: str, out: str, codec: str | None, start: float, end: float | None) -> None:
    """Everything about a video swap's inputs that can be refused before any model loads."""
    if Path(source).is_dir():
        raise LswError(f"{source}: a video swap takes one source image, not a folder")
    if not is_video_input(out):
        raise LswError(f"-o {out}: a video target writes a video file (e.g. OUT.mp4)")
    if end is not None and end <= start:
        raise LswError(f"--end {end}: must come after --start {start}")
    if codec is not None:
        check_codec(codec)
    probe_video(target)


def run_video_swap(
    swapper: Swapper, source: str, target: str, out: str, inverter: Inverter, *, groups: list[str] | None,
    aligned: bool | None, source_face: int | None, target_face: int | None, aligner: str, paste: str, feather: float,
    cache_dir: str | None, no_cache: bool, cache_tuned: bool, start: float, end: float | None,
    max_frames: int | None, smooth: int, tune_frames: int, codec: str | None, strength: float = 1.0,
    blend: str = "feather", color_match: str = "none", reference_face: str | None = None, **unused: Any,
) -> None:  # fmt: skip
    """Swap SOURCE onto every frame of the clip TARGET → OUT (same frames, rate, size and audio).
    `unused`: the photo options that have no meaning for a clip (refused when set)."""
    if target_face == "all" or reference_face is not None or unused.get("occlusion_mask"):
        raise LswError(
            "videos swap one tracked face: --target-face all, --reference-face and --occlusion-mask are for photos"
        )
    align = optional_aligner(aligner, aligned)
    cache = None if no_cache else PivotCache(cache_dir or default_cache_dir())
    photo_swapper = PhotoSwapper(swapper, inverter, aligner=align, cache=cache, paste=paste, feather=feather,
                                 blend=blend, color_match=color_match)  # fmt: skip
    video = VideoSwapper(photo_swapper, smooth=smooth, tune_frames=tune_frames)
    source_crop = photo_swapper.prepare(source, aligned=aligned, face_index=source_face)
    steps = StepBar(False)
    summary = video.swap_clip(
        source_crop, target, out, start=start, end=end, max_frames=max_frames, codec=codec, aligned=aligned,
        target_face=target_face, steps=steps, groups=groups, strength=strength,
    )  # fmt: skip
    click.echo(summary.line(), err=True)
    click.echo(f"wrote {out}")
