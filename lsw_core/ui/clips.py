"""The Video page's actions: the faces of a clip's first frame, and a clip swap through
`VideoSwapper.swap_clip` (same frames, timing, size and audio), with progress in frames per second
and time left for each of its passes."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import attrs
import numpy as np

from lsw_core.errors import ImageError
from lsw_core.photo.paste import PasteConfig
from lsw_core.photo.video import VideoSwapper, VideoSwapSummary, expected_frames
from lsw_core.photo.video_io import VideoInfo, read_frames
from lsw_core.ui.inputs import Side, Upload
from lsw_core.ui.loaded import LoadedMixer, ModelCache
from lsw_core.ui.work import Report, Results, no_report, prepare


@attrs.frozen(kw_only=True)
class ClipOptions:
    """What part of the clip (`start`, `end` seconds, at most `max_frames`), which face (number on the
    first frame, 0 = largest), strength, layer groups, inversion schedule, whether frames are aligned
    crops (None: decide from the first frame), paste-back, smoothing window and tuning frames."""

    start: float = 0.0
    end: float | None = None
    max_frames: int | None = None
    target_face: int | None = None
    strength: float = 1.0
    groups: Sequence[str] | None = None
    schedule: str = "fast"
    aligned: bool | None = None
    paste: PasteConfig = PasteConfig()
    smooth: int = 9
    tune_frames: int = 4


def first_frame(clip: Upload, start: float, results: Results) -> Path:
    """The first frame of the chosen range, as a PNG in the session's folder."""
    frame = next(iter(read_frames(clip.path, start=start, max_frames=1)), None)
    if frame is None:
        raise ImageError(f"{clip.name}: no frames from {start} s on")
    return results.photo("first-frame", frame)


#: The clip swap's passes over the frames, and the share of the work each is counted as in the
#: progress bar (projection, an optimisation per frame, is most of it).
PASSES = {"tracking": 0.1, "projecting": 0.65, "rendering": 0.25}


class PassProgress:
    """Reports the frames the swap reads, pass by pass (tracking, projecting, rendering; before them,
    when the kind of frame is decided from the first one, a look at it), with frames per second and
    the time left in the pass."""

    def __init__(self, total: int | None, report: Report, *, looks_first: bool) -> None:
        self.total = total
        self.report = report
        self.calls = -1 if looks_first else 0

    def wrap(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        index, self.calls = self.calls, self.calls + 1
        if index < 0:  # the look at the first frame
            yield from frames
            return
        names = list(PASSES)
        name = names[min(index, len(names) - 1)]
        done = sum(PASSES[n] for n in names[:index])
        began = time.monotonic()
        for n, frame in enumerate(frames):
            yield frame
            elapsed = time.monotonic() - began
            fps = (n + 1) / elapsed if elapsed > 0 else 0.0
            if self.total:
                left = (self.total - n - 1) / fps if fps > 0 else 0.0
                fraction = done + PASSES[name] * (n + 1) / self.total
                self.report(min(fraction, 1.0), f"{name} (pass {index + 1} of {len(names)}): frame {n + 1} of "
                            f"{self.total}, {fps:.1f} frames/s, about {left:.0f} s left in this pass")  # fmt: skip
            else:
                self.report(None, f"{name}: frame {n + 1}, {fps:.1f} frames/s")


def swap_clip(
    cache: ModelCache, loaded: LoadedMixer, source: Side, clip: Upload, info: VideoInfo, options: ClipOptions,
    results: Results, report: Report = no_report,
) -> tuple[Path, VideoSwapSummary]:  # fmt: skip
    """Swap `source` onto the tracked face of the clip's frames in the chosen range; the swapped clip
    (the clip's rate and size, its audio remuxed) in the session's folder, and what the swap did."""
    swapper = loaded.swapper
    video = VideoSwapper(
        swapper, cache.inverter(options.schedule, swapper.generator.backend_name), aligner=cache.aligner(),
        cache=results.pivots(), paste=options.paste, smooth=options.smooth, tune_frames=options.tune_frames,
    )  # fmt: skip
    src = prepare(source, swapper, video.aligner, aligned=None)
    total = expected_frames(info, options.start, options.end, options.max_frames)
    passes = PassProgress(total, report, looks_first=options.aligned is None)
    out = results.path("swap", ".mp4")
    summary = video.swap_clip(
        src, clip.path, out, start=options.start, end=options.end, max_frames=options.max_frames, watch=passes.wrap,
        aligned=options.aligned, target_face=options.target_face, progress=False, groups=options.groups,
        strength=options.strength,
    )  # fmt: skip
    return results.keep(out), summary
