"""Video in and out with PyAV (`lsw-core[video]`): probing a clip, decoding its frames as RGB arrays
within a time range, each with its time, and writing frames at those times with the clip's audio
packets remuxed, to a temporary file beside the output that is renamed over it only once complete.

Reading is tolerant and honest: the clip is the first video stream that is not a cover picture (or
the one asked for), frames larger than photos may be are refused from the header, a packet that
does not decode is skipped, and what is missing (undecodable frames, a truncated end) is described
by `ClipFrames.missing` so that the caller can say it. Writing checks first, on a frame or two in
memory, that the encoder, the container and the clip's audio go together (`choose_codec`)."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from lsw_core.errors import ImageError, LswError
from lsw_core.images import MAX_PHOTO_PIXELS
from lsw_core.outputs import new_temporary, publish, remove_stale_temporaries

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
#: The FFmpeg muxer of each suffix (as FFmpeg guesses it from a file name).
MUXERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi", ".webm": "webm", ".m4v": "ipod"}
#: Encoders tried, in this order, for a default and for the list of what works.
ENCODERS = ("libx264", "mpeg4", "libvpx-vp9", "libvpx", "libx265", "libsvtav1", "libaom-av1", "ffv1", "mjpeg", "png",
            "gif")  # fmt: skip
#: The largest time-base denominator every encoder takes (MPEG-4 part 2's limit).
MAX_TIME_BASE = 65535


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
    """What a clip declares: size, average frame rate, frame count (0 when the container does not
    say), duration in seconds (0 when unknown), the video codec, whether it has an audio stream, the
    index of its video stream in the file and that stream's time base."""

    width: int
    height: int
    fps: Fraction
    frames: int
    duration: float
    codec: str
    has_audio: bool
    stream: int = 0
    time_base: Fraction | None = None


def _is_cover(stream: Any) -> bool:
    return bool(int(stream.disposition) & int(_av().stream.Disposition.attached_pic))


def _video_stream(container: Any, path: Path, index: int | None) -> Any:
    """The clip's video stream: stream `index` of the file, else the first that is not a cover picture."""
    videos = [s for s in container.streams if s.type == "video"]
    if index is None:
        moving = [s for s in videos if not _is_cover(s)]
        if not moving:
            raise ImageError(f"{path}: has no video stream" + (" (only a cover picture)" if videos else ""))
        return moving[0]
    if not 0 <= index < len(container.streams) or container.streams[index].type != "video":
        listed = ", ".join(f"{s.index}{' (cover picture)' if _is_cover(s) else ''}" for s in videos) or "none"
        raise ImageError(f"{path}: stream {index} is not a video stream (its video streams: {listed})")
    return container.streams[index]


def probe_video(path: str | os.PathLike, stream: int | None = None) -> VideoInfo:
    """The clip's `VideoInfo` from its header and first frame: raises `ImageError` for a missing
    file, a folder, one that is not a video, has no video stream (or not `stream`), frames of more
    than MAX_PHOTO_PIXELS (refused from the header, before decoding), or a codec that cannot be
    decoded."""
    av = _av()
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not a video file")
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    try:
        with av.open(str(path)) as container:
            video = _video_stream(container, path, stream)
            if video.codec_context is None:
                raise ImageError(f"{path}: cannot decode its video codec")
            _check_size(path, video.codec_context.width, video.codec_context.height)
            first = next(container.decode(video))  # a header alone can lie: the first frame must decode
            _check_size(path, first.width, first.height)
            fps = video.average_rate or video.guessed_rate or Fraction(25)
            if video.duration:
                duration = float(video.duration * video.time_base)
            else:
                duration = container.duration / 1e6 if container.duration else 0.0
            return VideoInfo(
                width=first.width, height=first.height, fps=Fraction(fps), frames=int(video.frames or 0),
                duration=duration, codec=video.codec_context.name, has_audio=bool(container.streams.audio),
                stream=video.index, time_base=video.time_base,
            )  # fmt: skip
    except StopIteration:
        raise ImageError(f"{path}: the video has no frames") from None
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise ImageError(f"{path}: not a readable video ({exc})") from None


def _check_size(path: Path, width: int, height: int) -> None:
    if width * height > MAX_PHOTO_PIXELS:
        raise ImageError(
            f"{path}: refused: frames of {width}×{height} pixels are more than {MAX_PHOTO_PIXELS // 10**6} megapixels"
        )


def check_range(path: str | os.PathLike, info: VideoInfo, start: float, end: float | None) -> None:
    """Raise `LswError` unless `start` (seconds) comes before `end` and before the clip's end."""
    if end is not None and end <= start:
        raise LswError(f"--end {end}: must come after --start {start}")
    if info.duration and start >= info.duration:
        raise LswError(f"--start {start}: past the end of {path}, which lasts {info.duration:.2f} s")


class ClipFrames:
    """The frames of a clip's video stream from `start` up to (not including) `end` seconds, at most
    `max_frames`, as RGB uint8 [H, W, 3]: calling it decodes them again (a swap reads a clip once per
    pass), packet by packet on one thread, so that every pass yields the same frames. A packet that
    does not decode is skipped; after a complete pass, `times` holds each frame's time (seconds on
    the clip's clock) and `missing` says what could not be read."""

    def __init__(
        self, path: str | os.PathLike, info: VideoInfo, *, start: float = 0.0, end: float | None = None,
        max_frames: int | None = None,
    ) -> None:  # fmt: skip
        self.path, self.info = Path(path), info
        self.start, self.end, self.max_frames = start, end, max_frames
        self.times: list[float] | None = None
        self.undecodable: list[float] = []
        self.decoded = 0  # frames decoded in a whole pass, the ones before `start` included
        self.to_the_end = False  # whether the complete pass read up to the end of the file

    def __call__(self) -> Iterator[np.ndarray]:
        av = _av()
        info, times, bad = self.info, [], []
        decoded, previous, finished = 0, None, True
        step = 1 / float(info.fps)
        with av.open(str(self.path)) as container:
            stream = container.streams[info.stream]
            packets = container.demux(stream)
            while True:
                try:
                    packet = next(packets)
                except StopIteration:
                    break
                except av.FFmpegError:  # the file cannot be read past here: what is left is missing
                    break
                try:
                    frames = stream.decode(packet)
                except av.FFmpegError:
                    if not packet.size:  # the decoder's flush at the end: no frame of its own
                        continue
                    t = _packet_time(packet)
                    if t is None or (t >= self.start - 1e-6 and (self.end is None or t < self.end - 1e-6)):
                        bad.append(t if t is not None else 0.0 if previous is None else previous + step)
                    continue
                for frame in frames:
                    decoded += 1
                    t = float(frame.time) if frame.time is not None else 0.0 if previous is None else previous + step
                    previous = t
                    if t < self.start - 1e-6:
                        continue
                    if (self.end is not None and t >= self.end - 1e-6) or (
                        self.max_frames is not None and len(times) >= self.max_frames
                    ):
                        finished = False
                        break
                    if (frame.width, frame.height) != (info.width, info.height):
                        raise ImageError(
                            f"{self.path}: the frame at {t:.2f} s is {frame.width}×{frame.height}, the clip's first "
                            f"{info.width}×{info.height}: clips that change size are not supported"
                        )
                    times.append(t)
                    yield frame.to_ndarray(format="rgb24")
                if not finished:
                    break
        self._complete(times, bad, decoded, finished)

    def _complete(self, times: list[float], bad: list[float], decoded: int, to_the_end: bool) -> None:
        if self.times is not None and times != self.times:
            raise ImageError(f"{self.path}: decoded differently on a second pass ({len(times)} frames, not "
                             f"{len(self.times)}): the file may be changing")  # fmt: skip
        self.times, self.undecodable, self.decoded, self.to_the_end = times, bad, decoded, to_the_end

    @property
    def missing(self) -> str | None:
        """What of the range could not be read, in words (None when nothing is known to be missing)."""
        if self.times is None:
            return None
        parts = []
        if self.undecodable:
            shown = ", ".join(f"{t:.2f} s" for t in self.undecodable[:5]) + (", …" if len(self.undecodable) > 5 else "")
            parts.append(f"{len(self.undecodable)} frame(s) could not be decoded (at {shown})")
        tail = self._missing_tail()
        if tail:
            parts.append(tail)
        return " and ".join(parts) or None

    def _missing_tail(self) -> str | None:
        """Frames after the last one read that the clip's header declares (a truncated file)."""
        info = self.info
        if not self.to_the_end or not info.duration:
            return None
        last = self.times[-1] if self.times else self.start
        stop = info.duration if self.end is None else min(info.duration, self.end)
        declared = info.frames
        if last + 1.5 / float(info.fps) >= stop or (declared and self.decoded + len(self.undecodable) >= declared):
            return None
        count = f" and {declared} frames" if declared else ""
        return (
            f"the frames after {last:.2f} s are missing (the clip declares {info.duration:.2f} s{count}; "
            f"{self.decoded} read)"
        )


def _packet_time(packet: Any) -> float | None:
    stamp = packet.pts if packet.pts is not None else packet.dts
    return float(stamp * packet.time_base) if stamp is not None and packet.time_base else None


def read_frames(
    path: str | os.PathLike, *, start: float = 0.0, end: float | None = None, max_frames: int | None = None,
    stream: int | None = None,
) -> Iterator[np.ndarray]:  # fmt: skip
    """The clip's frames as RGB uint8 [H, W, 3], from `start` seconds up to (not including) `end`,
    at most `max_frames` (see `ClipFrames`, which also gives their times)."""
    return ClipFrames(path, probe_video(path, stream), start=start, end=end, max_frames=max_frames)()


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


def pixel_format(codec: str, width: int, height: int) -> str:
    """The pixel format `codec` encodes frames of this size in: 4:2:0 when the size is even and the
    encoder takes it, else 4:4:4 or RGB where it takes those, else the encoder's first format."""
    formats = [f.name for f in (_av().Codec(codec, "w").video_formats or [])]
    even = width % 2 == 0 and height % 2 == 0
    for name in (["yuv420p"] if even else []) + ["yuv444p", "rgb24", "yuv420p"]:
        if name in formats:
            return name
    return formats[0] if formats else "yuv420p"


def encoder_time_base(time_base: Fraction | None, fps: Fraction) -> Fraction:
    """The time base frames are stamped in: the clip's own where every encoder takes it, else 1/60000 s."""
    if time_base is None:
        return 1 / Fraction(fps)
    return Fraction(time_base) if Fraction(time_base).denominator <= MAX_TIME_BASE else Fraction(1, 60000)


def _add_video_stream(container: Any, codec: str, info: VideoInfo) -> Any:
    stream = container.add_stream(codec, rate=info.fps)
    stream.width, stream.height = info.width, info.height
    stream.pix_fmt = pixel_format(stream.codec_context.name, info.width, info.height)
    stream.codec_context.time_base = encoder_time_base(info.time_base, info.fps)
    if stream.codec_context.name in ("libx264", "h264"):
        stream.options = {"crf": "18", "preset": "veryfast"}
    return stream


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Encoders that print their banners themselves (x265, SVT-AV1) are silenced while being tried."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _try_encoder(codec: str, suffix: str, info: VideoInfo, audio: Any = None) -> str | None:
    """Why `codec` cannot write two frames of `info`'s size (with `audio`, a stream to copy) into a
    `suffix` file, or None when it can: tried in memory."""
    av = _av()
    try:
        with _quiet_stderr(), av.open(io.BytesIO(), "w", format=MUXERS[suffix]) as container:
            stream = _add_video_stream(container, codec, info)
            if audio is not None:
                container.add_stream_from_template(audio)
            frame = av.VideoFrame.from_ndarray(np.zeros((info.height, info.width, 3), np.uint8), format="rgb24")
            step = max(round(1 / (float(info.fps) * stream.codec_context.time_base)), 1)
            for i in range(2):
                frame.pts = i * step
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    except PermissionError:
        return "the encoder cannot start on this machine (it may need a GPU or a driver)"
    except (av.FFmpegError, ValueError, OSError) as exc:
        return str(exc)
    return None


def choose_codec(out: str | os.PathLike, info: VideoInfo, codec: str | None = None, audio_from: str | None = None
                 ) -> str:  # fmt: skip
    """The encoder that writes OUT: `codec`, or the first of ENCODERS this FFmpeg has that can, after
    checking on two frames in memory that it can encode frames of the clip's size into OUT's
    container along with the clip's audio (from `audio_from`). Raises `LswError` saying why not and
    listing what would work."""
    av = _av()
    suffix = Path(out).suffix.lower()
    if suffix not in MUXERS:
        raise LswError(f"-o {out}: a video is written as one of {', '.join(VIDEO_SUFFIXES)}")
    size = f"{info.width}×{info.height}"
    if codec is not None:
        check_codec(codec)
    candidates = [codec] if codec is not None else [c for c in ENCODERS if c in av.codecs_available]
    with contextlib.ExitStack() as stack:
        audio = None
        if audio_from is not None:
            source = stack.enter_context(av.open(str(audio_from)))
            audio = source.streams.audio[0] if source.streams.audio else None
        for name in candidates:
            why = _try_encoder(name, suffix, info, audio)
            if why is None:
                return name
            if audio is not None and _try_encoder(name, suffix, info) is None:
                carry = [s for s in MUXERS if _try_encoder(name, s, info, audio) is None]
                raise LswError(f"-o {out}: a {suffix} file cannot carry the clip's {audio.codec_context.name} audio"
                               f" with {name} video; {', '.join(carry) or 'no container here'} can")  # fmt: skip
    if codec is None:
        raise LswError(f"-o {out}: no encoder here can write {size} video into {suffix}: try .mp4 or .mkv")
    works = [c for c in ENCODERS if c in av.codecs_available and c != codec and _try_encoder(c, suffix, info) is None]
    alternatives = f"these can: {', '.join(works)}" if works else f"no encoder here can write {suffix}"
    raise LswError(f"--codec {codec} cannot write {size} video into {suffix} ({why}); {alternatives}")


class VideoWriter:
    """Frames → OUT at `info`'s size, written to a temporary file in OUT's folder and renamed over OUT
    by `close()`; `discard()` (or leaving the `with` block by an exception) removes it. Each frame is
    stamped with the time `write` is given (its time in the clip, less `start`), else one frame of
    `info.fps` after the previous one. With `audio_from`, the audio packets of that clip between
    `start` and `end` seconds are remuxed unchanged (shifted by `start` like the frames)."""

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
        stream = _add_video_stream(self._container, codec or default_codec(), info)
        self._stream = stream
        self._time_base = stream.codec_context.time_base
        self._step = max(round(1 / (float(info.fps) * self._time_base)), 1)
        self._pts: int | None = None
        self._audio_source = audio_from
        self._audio_in = self._audio_out = None
        if audio_from is not None:
            self._audio_in = av.open(str(audio_from))
            if self._audio_in.streams.audio:
                self._audio_out = self._container.add_stream_from_template(self._audio_in.streams.audio[0])

    def write(self, frame: np.ndarray, time: float | None = None) -> None:
        """Encode `frame` (RGB uint8 [H, W, 3]) at `time` seconds of the clip (None: the next frame)."""
        av = _av()
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        after = -1 if self._pts is None else self._pts
        if time is None:
            pts = 0 if self._pts is None else self._pts + self._step
        else:
            pts = round((time - self._range[0]) / self._time_base)
        self._pts = video_frame.pts = max(pts, after + 1)  # strictly increasing, as muxers require
        video_frame.time_base = self._time_base
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
