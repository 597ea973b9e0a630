"""Video in and out with PyAV (`lsw-core[video]`): probing a clip, decoding its frames as RGB arrays
within a time range, and writing frames at the clip's rate and size with its audio packets remuxed,
to a temporary file beside the output that is renamed over it only once complete."""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from lsw_core.errors import ImageError, LswError
from lsw_core.outputs import new_temporary, publish, remove_stale_temporaries

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")


def _av() -> Any:
    try:
        import av
    except ImportError:
        raise LswError("video needs PyAV: pip install 'lsw-core[video]'") from None
    return av


def is_video_input(spec: str) -> bool:
    """A path with a video file's suffix (whether it decodes is `probe_video`'s question)."""
    return Path(spec).suffix.lower() in VIDEO_SUFFIXES


@attrs.frozen
class VideoInfo:
    """What a clip declares: size, frame rate, frame count (0 when the container does not say),
    duration in seconds, the video codec and whether it has an audio stream."""

    width: int
    height: int
    fps: Fraction
    frames: int
    duration: float
    codec: str
    has_audio: bool


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """The clip's `VideoInfo` from its header and first frame: raises `ImageError` for a missing
    file, one that is not a video, has no video stream, or whose codec cannot be decoded."""
    av = _av()
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ImageError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            if stream.codec_context is None:
                raise ImageError(f"{path}: cannot decode its video codec")
            next(container.decode(stream))  # a header alone can lie: the first frame must decode
            fps = stream.average_rate or stream.guessed_rate or Fraction(25)
            duration = float(stream.duration * stream.time_base) if stream.duration else 0.0
            return VideoInfo(
                width=stream.codec_context.width, height=stream.codec_context.height, fps=Fraction(fps),
                frames=int(stream.frames or 0), duration=duration, codec=stream.codec_context.name,
                has_audio=bool(container.streams.audio),
            )  # fmt: skip
    except StopIteration:
        raise ImageError(f"{path}: the video has no frames") from None
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise ImageError(f"{path}: not a readable video ({exc})") from None


def read_frames(
    path: str | os.PathLike, *, start: float = 0.0, end: float | None = None, max_frames: int | None = None
) -> Iterator[np.ndarray]:
    """The clip's frames as RGB uint8 [H, W, 3], from `start` seconds up to (not including) `end`,
    at most `max_frames`."""
    av = _av()
    count = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            t = float(frame.time) if frame.time is not None else 0.0
            if t < start - 1e-6:
                continue
            if (end is not None and t >= end - 1e-6) or (max_frames is not None and count >= max_frames):
                break
            count += 1
            yield frame.to_ndarray(format="rgb24")


def check_codec(name: str) -> None:
    """Raise `LswError` unless FFmpeg (as PyAV ships it) can encode video with codec `name`."""
    av = _av()
    try:
        codec = av.Codec(name, "w")
    except (av.FFmpegError, ValueError):
        raise LswError(f"--codec {name!r}: not a video encoder this FFmpeg has (e.g. libx264, mpeg4)") from None
    if codec.type != "video":
        raise LswError(f"--codec {name!r}: a {codec.type} codec, not a video one")


def default_codec() -> str:
    """H.264 where the FFmpeg build has an encoder for it, else MPEG-4 part 2."""
    return "libx264" if "libx264" in _av().codecs_available else "mpeg4"


class VideoWriter:
    """Frames → OUT at `info`'s rate and size, written to a temporary file in OUT's folder and renamed
    over OUT by `close()`; `discard()` (or leaving the `with` block by an exception) removes it.
    With `audio_from`, the audio packets of that clip between `start` and `end` seconds are remuxed
    unchanged (shifted to begin at 0)."""

    def __init__(
        self, out: str | os.PathLike, info: VideoInfo, *, codec: str | None = None, audio_from: str | None = None,
        start: float = 0.0, end: float | None = None,
    ) -> None:  # fmt: skip
        av = _av()
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.out.parent)  # left by a killed run into the same folder
        self.tmp = new_temporary(self.out, self.out.suffix or ".mp4")  # the container is told by the suffix
        self.frames = 0
        self._range = (start, end)
        self._container = self._audio_in = self._audio_out = None
        try:
            self._open(av, info, codec, audio_from)
        except BaseException:
            self.discard()
            raise

    def _open(self, av: Any, info: VideoInfo, codec: str | None, audio_from: str | None) -> None:
        self._container = av.open(str(self.tmp), "w")
        stream = self._container.add_stream(codec or default_codec(), rate=info.fps)
        stream.width, stream.height = info.width, info.height
        stream.pix_fmt = "yuv420p" if info.width % 2 == 0 and info.height % 2 == 0 else "yuv444p"
        if stream.codec_context.name in ("libx264", "h264"):
            stream.options = {"crf": "18", "preset": "veryfast"}
        self._stream = stream
        self._audio_source = audio_from
        self._audio_in = self._audio_out = None
        if audio_from is not None:
            self._audio_in = av.open(str(audio_from))
            if self._audio_in.streams.audio:
                self._audio_out = self._container.add_stream_from_template(self._audio_in.streams.audio[0])

    def write(self, frame: np.ndarray) -> None:
        av = _av()
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)
        self.frames += 1

    def _remux_audio(self) -> None:
        source = self._audio_in.streams.audio[0]
        start, end = self._range
        offset = int(round(start / source.time_base)) if source.time_base else 0
        for packet in self._audio_in.demux(source):
            if packet.dts is None or packet.pts is None:
                continue
            t = float(packet.pts * source.time_base)
            if t < start - 1e-6 or (end is not None and t >= end - 1e-6):
                continue
            packet.pts -= offset
            packet.dts -= offset
            packet.stream = self._audio_out
            self._container.mux(packet)

    def close(self) -> Path:
        """Flush the encoder, remux the audio and rename the finished file over OUT."""
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            if self._audio_out is not None:
                self._remux_audio()
        except BaseException:
            self.discard()
            raise
        self._close_containers()
        publish(self.tmp, self.out)  # the umask's mode, as any new file
        return self.out

    def discard(self) -> None:
        self._close_containers()
        self.tmp.unlink(missing_ok=True)

    def _close_containers(self) -> None:
        for container in (self._container, self._audio_in):
            if container is not None:
                try:
                    container.close()
                except Exception:  # noqa: BLE001 - closing a half-written file may fail; it is removed anyway
                    pass
        self._container = self._audio_in = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or self._container is not None:
            self.discard()
