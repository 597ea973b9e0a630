"""Video targets of `lsw swap`: a source image onto the tracked face of every frame of a clip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from lsw_core.cli.swap_photos import FaceChoice, StepBar
from lsw_core.errors import LswError
from lsw_core.mixing.swapper import Swapper
from lsw_core.photo.faces import prepare_face
from lsw_core.photo.paste import PasteConfig
from lsw_core.photo.video import VideoSwapper
from lsw_core.photo.video_io import check_codec, is_video_input, probe_video


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
    swapper: Swapper, source: str, target: str, out: str, parts: dict[str, Any], paste: PasteConfig,
    faces: FaceChoice, *, groups: list[str] | None, strength: float = 1.0, start: float, end: float | None,
    max_frames: int | None, smooth: int, tune_frames: int, codec: str | None,
) -> None:  # fmt: skip
    """Swap SOURCE onto every frame of the clip TARGET → OUT (same frames, rate, size and audio),
    inverting with `parts` (`inversion_parts`) and pasting back as `paste` says."""
    if faces.several or paste.occlusion is not None:
        raise LswError(
            "videos swap one tracked face: --target-face all, --reference-face and --occlusion-mask are for photos"
        )
    video = VideoSwapper(swapper, **parts, paste=paste, smooth=smooth, tune_frames=tune_frames)
    source_crop = prepare_face(source, swapper.generator.resolution, video.aligner, aligned=faces.aligned,
                               face_index=faces.source_face)  # fmt: skip
    summary = video.swap_clip(
        source_crop, target, out, start=start, end=end, max_frames=max_frames, codec=codec, aligned=faces.aligned,
        target_face=faces.target_face, steps=StepBar(False), groups=groups, strength=strength,
    )  # fmt: skip
    click.echo(summary.line(), err=True)
    click.echo(f"wrote {out}")
