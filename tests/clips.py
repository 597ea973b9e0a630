"""Clips the tests make: frames written with PyAV at a frame rate or at given times, with a tone and a
cover picture when asked."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av", reason="PyAV is in the `test` extra")


def write_clip(path, frames, *, audio: bool = False, times=None, codec="mpeg4", options=None, cover=None,
               fps: Fraction = Fraction(12)) -> Path:  # fmt: skip
    """An mp4 (or any container by `path`'s suffix) of `frames`, at `times` (seconds; default 1/fps
    apart), with a tone as long as the clip (`audio`) and a cover picture (`cover`, an RGB array)."""
    with av.open(str(path), "w", options=options or {}) as container:
        picture = container.add_stream("png", rate=1) if cover is not None else None
        if picture is not None:
            picture.width, picture.height, picture.pix_fmt = cover.shape[1], cover.shape[0], "rgb24"
            picture.disposition = av.stream.Disposition.attached_pic
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "rgb24" if codec == "png" else "yuv420p"
        time_base = Fraction(1, 1000) if times is not None else 1 / fps
        stream.codec_context.time_base = time_base
        sound = container.add_stream("aac", rate=16000, layout="mono") if audio else None
        if picture is not None:
            for packet in [*picture.encode(av.VideoFrame.from_ndarray(cover, format="rgb24")), *picture.encode()]:
                container.mux(packet)
        for i, frame in enumerate(frames):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts = round(times[i] / time_base) if times is not None else i
            video_frame.time_base = time_base
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None:
            seconds = (times[-1] + 0.1) if times is not None else len(frames) / fps
            samples = int(16000 * seconds)
            tone = (0.3 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 16000)).astype(np.float32)[None]
            for i in range(0, samples, 1024):
                chunk = av.AudioFrame.from_ndarray(tone[:, i : i + 1024], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = 16000, i
                for packet in sound.encode(chunk):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return Path(path)
