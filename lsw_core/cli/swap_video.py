"""Video targets of `lsw swap`: a source image onto the tracked face of every frame of a clip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from lsw_core.cli import one_line
from lsw_core.cli.options import FiniteFloat
from lsw_core.cli.swap_photos import FaceChoice, StepBar
from lsw_core.errors import LswError
from lsw_core.images import probe_photo
from lsw_core.mixing.latents import save_latents as save_latents_file
from lsw_core.mixing.swapper import Swapper
from lsw_core.photo.faces import prepare_face
from lsw_core.photo.paste import PasteConfig
from lsw_core.photo.video import VideoSwapper
from lsw_core.photo.video_io import check_range, choose_codec, is_video_input, probe_video

#: The options of `lsw swap` that only a clip TARGET uses.
VIDEO_OPTIONS = ("start", "end", "max_frames", "smooth", "tune_frames", "codec", "stream")


def video_options(command):
    """The options of `lsw swap` that apply to a video target."""
    options = [
        click.option("--start", type=FiniteFloat(min=0), default=0.0, help="Video: begin at this second."),
        click.option("--end", type=FiniteFloat(min=0), help="Video: stop before this second."),
        click.option("--max-frames", type=click.IntRange(min=1), help="Video: swap at most this many frames."),
        click.option("--smooth", type=click.IntRange(min=1), default=9, show_default=True,
                     help="Video: frames over which latents and face alignment are averaged (1: off)."),
        click.option("--tune-frames", type=click.IntRange(min=0), default=4, show_default=True,
                     help="Video: frames the generator is tuned on, with the source, once per clip (at most the "
                          "frames with the face)."),
        click.option("--codec", help="Video: encoder of OUT [default: the first of libx264, mpeg4, libvpx-vp9, ... "
                                     "that can write OUT's container]."),
        click.option("--stream", type=click.IntRange(min=0), metavar="N",
                     help="Video: the file's stream N (as ffprobe numbers them) [default: the first video stream "
                          "that is not a cover picture]."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def check_video_swap(
    source: str, target: str, out: str, codec: str | None, start: float, end: float | None, stream: int | None,
    source_kind: str, save_latents: bool,
) -> None:  # fmt: skip
    """Everything about a video swap's inputs that can be refused before any model loads: the source
    (one photo or crop), OUT (a video file; what `lsw swap` writes is checked there), the clip, its range,
    and the encoder, container and audio together."""
    if source_kind != "images" or Path(source).is_dir():
        what = "a folder" if Path(source).is_dir() else source
        raise LswError(f"{source}: a video swap takes one source photo or aligned crop, not {what}")
    if not is_video_input(out):
        raise LswError(f"-o {out}: a video target writes a video file (e.g. OUT.mp4)")
    info = probe_video(target, stream)
    check_range(target, info, start, end)
    choose_codec(out, info, codec, audio_from=target if info.has_audio else None)
    probe_photo(source)


def run_video_swap(
    swapper: Swapper, source: str, target: str, out: str, parts: dict[str, Any], paste: PasteConfig,
    faces: FaceChoice, *, groups: list[str] | None, strength: float = 1.0, start: float, end: float | None,
    max_frames: int | None, smooth: int, tune_frames: int, codec: str | None, stream: int | None = None,
    save_latents: bool = False,
) -> None:  # fmt: skip
    """Swap SOURCE onto every frame of the clip TARGET → OUT (same frames at the same times, size and
    audio), inverting with `parts` (`inversion_parts`) and pasting back as `paste` says; with
    `save_latents`, the swapped frames' W+ codes → OUT.npy. Frames that could not be read are named
    in a `warning:` line."""
    if faces.several or paste.occlusion is not None:
        raise LswError(
            "videos swap one tracked face: --target-face all, --reference-face and --occlusion-mask are for photos"
        )
    video = VideoSwapper(swapper, **parts, paste=paste, smooth=smooth, tune_frames=tune_frames)
    source_crop = prepare_face(source, swapper.generator.resolution, video.aligner, aligned=faces.aligned,
                               face_index=faces.source_face)  # fmt: skip
    summary = video.swap_clip(
        source_crop, target, out, start=start, end=end, max_frames=max_frames, codec=codec, stream=stream,
        aligned=faces.aligned, target_face=faces.target_face, steps=StepBar(False), groups=groups, strength=strength,
    )  # fmt: skip
    click.echo(summary.line(), err=True)
    if summary.missing:
        line = f"{target}: {summary.missing}; {out} has the {summary.frames} frames read, each at its own time"
        click.echo(f"warning: {one_line(line)}", err=True)
    written = [out]
    if save_latents:
        codes = Path(out).with_suffix(".npy")
        save_latents_file(codes, summary.ws)
        written.append(str(codes))
        if summary.copied:
            click.echo(f"{codes}: the W+ codes of the {summary.swapped} swapped frames, in order (frames "
                       f"{_numbers(summary.swapped_frames)} of {summary.frames})", err=True)  # fmt: skip
    click.echo(f"wrote {' and '.join(written)}")


def _numbers(frames: list[int]) -> str:
    """Frame numbers as ranges: 0-4, 7, 9-12."""
    runs: list[list[int]] = []
    for i in frames:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)
