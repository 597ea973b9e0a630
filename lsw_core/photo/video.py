"""Swapping a face through a clip with the photo swapper's stages, in three passes over the frames:

1. track: the chosen face (the largest, or face `target_face` of the first frame with faces) is
   aligned in every frame, each frame's detection searched near the previous frame's face; the
   alignment transforms are smoothed over time. Clips of aligned crops (square frames at the
   generator's resolution, or any frames with `aligned=True`, resized like photos) skip this pass.
2. project: each frame's crop is projected starting from the previous frame's pivots (the first
   frame as the inverter projects a photo, e.g. from its latent encoder); the pivots are smoothed
   over time, and the inverter's joint stage (PTI tuning) runs once, on the source and a few frames
   spread over the clip.
3. render: each frame's smoothed pivot is mixed with the source's and synthesised with the tuned
   generator, pasted back with the smoothed transform; frames without the face are copied through.

The source is prepared and projected once (cached like a photo's pivots); inversion goes through the
same `CachedInverter` as photos, so `cache_tuned` also skips tuning on a repeated clip.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
import numpy as np
import torch
from PIL import Image

from lsw_core.camera import Camera
from lsw_core.errors import ImageError, LswError
from lsw_core.geometry import AlignedFace, invert_affine, warp_to_aligned
from lsw_core.images import from_tensor, to_tensor
from lsw_core.interfaces import Aligner, Generator, Inversion, Inverter
from lsw_core.inversion.cache import CachedInverter, PivotCache
from lsw_core.inversion.quality import psnr
from lsw_core.mixing.swapper import Swapper
from lsw_core.photo.faces import Photo, PreparedFace, prepare_face
from lsw_core.photo.paste import PasteConfig, paste_back
from lsw_core.photo.video_io import ClipFrames, VideoWriter, check_range, choose_codec, probe_video
from lsw_core.plugins import load_inverter

Frames = Callable[[], Iterable[np.ndarray]]


@attrs.define
class VideoSwapSummary:
    """What a clip swap did: frames written, of which swapped and copied through (no face), the
    frames the generator was tuned on, the mean and lowest reconstruction PSNR of the swapped
    frames' targets (dB), seconds per pass and in all, the swapped frames' W+ codes
    [swapped, num_ws, w_dim] (on the CPU) and their frame numbers, and for a clip file what of it
    could not be read (see `ClipFrames.missing`; None when nothing is known to be missing)."""

    frames: int
    swapped: int
    copied: int
    tuned_on: list[int]
    psnr_mean: float | None
    psnr_min: float | None
    seconds: dict[str, float]
    ws: torch.Tensor | None = None
    swapped_frames: list[int] = attrs.Factory(list)
    missing: str | None = None

    def line(self) -> str:
        quality = (
            f", target reconstruction PSNR {self.psnr_mean:.1f} dB (min {self.psnr_min:.1f})" if self.swapped else ""
        )
        return (
            f"{self.frames} frames: {self.swapped} swapped, {self.copied} without the face copied through"
            f"{quality}, {self.seconds['total']:.1f} s ({self.seconds['total'] / max(self.frames, 1):.2f} s/frame)"
        )


@attrs.define
class _Track:
    """One frame's face: the smoothed photo → crop map (None for an aligned-crop clip) and landmarks."""

    to_aligned: np.ndarray | None
    landmarks: np.ndarray | None
    photo_size: tuple[int, int] | None


def smooth(values: torch.Tensor, present: Sequence[bool], window: int) -> torch.Tensor:
    """Centred moving average over time of `values` [T, ...] with `window` frames (1: unchanged),
    within each run of consecutive `present` frames (a cut or a frame without the face starts anew)."""
    out = values.clone()
    if window <= 1:
        return out
    half = window // 2
    t, n = 0, len(present)
    while t < n:
        if not present[t]:
            t += 1
            continue
        end = t
        while end < n and present[end]:
            end += 1
        run = values[t:end].double()
        sums = torch.cat([torch.zeros_like(run[:1]), run.cumsum(0)])
        idx = torch.arange(end - t)
        lo, hi = (idx - half).clamp(min=0), (idx + half + 1).clamp(max=end - t)
        shape = (-1,) + (1,) * (run.ndim - 1)
        out[t:end] = ((sums[hi] - sums[lo]) / (hi - lo).reshape(shape)).to(values.dtype)
        t = end
    return out


def _bar(desc: str, total: int | None, enabled: bool | None) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=total or None, desc=desc, unit="frame", leave=False, disable=None if enabled is None else not enabled
    )


class VideoSwapper:
    """Clip-level face swapping around a `Swapper`, with the parts a `PhotoSwapper` takes: an
    `inverter` (PTI when None) run through a `CachedInverter` on `cache`, an `aligner` for frames that
    are not aligned crops, and `paste` (a `PasteConfig`; its occlusion mask is for photos).

    `smooth`: the window (frames, centred) over which latents, cameras and alignment transforms are
    averaged; 1 turns smoothing off. `tune_frames`: how many frames, spread over the clip, the
    generator is tuned on together with the source (PTI's joint stage, once per clip); at most the
    frames with the face. `batch`: frames
    rendered at once. `swap_options` of `swap_frames` are passed on to the latent swapper's
    `swap_inversion` (e.g. `groups`, `strength`).
    """

    def __init__(
        self,
        swapper: Swapper,
        inverter: Inverter | None = None,
        *,
        aligner: Aligner | None = None,
        cache: PivotCache | None = None,
        cache_tuned: bool = False,
        paste: PasteConfig = PasteConfig(),
        smooth: int = 9,
        tune_frames: int = 4,
        batch: int = 8,
    ) -> None:
        if smooth < 1 or tune_frames < 0 or batch < 1:
            raise LswError(f"video swap: smooth ≥ 1, tune_frames ≥ 0, batch ≥ 1; got {smooth}, {tune_frames}, {batch}")
        self.swapper = swapper
        self.inversion = CachedInverter(
            inverter if inverter is not None else load_inverter("pti"), swapper.generator, cache,
            cache_tuned=cache_tuned,
        )  # fmt: skip
        self.aligner = aligner
        self.paste = paste
        self.window = smooth
        self.tune_frames = tune_frames
        self.batch = batch

    @property
    def generator(self) -> Generator:
        return self.swapper.generator

    # --- pass 1 ------------------------------------------------------------------------------------

    def _first(self, frame: np.ndarray, index: int, number: int) -> AlignedFace | None:
        """Face `index` of the first frame with faces (frame `number`): None when it has none, an
        `ImageError` saying how many it has when `index` is out of range."""
        r = self.generator.resolution
        try:
            faces = self.aligner.align_all(frame, r)
        except ImageError:
            return None
        except LswError:  # an aligner that aligns one face at a time: ask it for this one
            try:
                return self.aligner.align(frame, r, face_index=index)
            except ImageError:
                faces = [f for f in [self._detect(frame, None, None)] if f is not None]
                if not faces:
                    return None
                raise ImageError(f"target face {index} is out of range: the first frame with faces (frame {number}) "
                                 f"has fewer than {index + 1}") from None  # fmt: skip
        if faces and index >= len(faces):
            raise ImageError(f"target face {index} is out of range: the first frame with faces (frame {number}) has "
                             f"{len(faces)} (0 = the largest)")  # fmt: skip
        return faces[index] if faces else None

    def _detect(self, frame: np.ndarray, previous: AlignedFace | None, face_index: int | None) -> AlignedFace | None:
        """The tracked face in `frame`: the largest face near the previous frame's (searched in the
        previous box grown to three times its size), else the frame's face `face_index` (largest)."""
        aligner, r = self.aligner, self.generator.resolution
        if previous is not None and previous.box is not None:
            x0, y0, x1, y1 = previous.box
            w, h = x1 - x0, y1 - y0
            left, top = max(int(x0 - w), 0), max(int(y0 - h), 0)
            region = frame[top : int(y1 + h), left : int(x1 + w)]
            if min(region.shape[:2]) >= 32:
                try:
                    face = aligner.align(np.ascontiguousarray(region), r)
                except ImageError:
                    face = None
                if face is not None:
                    return _shifted(face, left, top, frame.shape)
        try:
            return aligner.align(frame, r, face_index=face_index if previous is None else None)
        except ImageError:
            return None

    def track(self, frames: Frames, *, aligned: bool, face_index: int | None, total: int | None, progress: bool | None
              ) -> list[_Track | None]:  # fmt: skip
        """Pass 1: each frame's face (None where there is none), transforms smoothed over time."""
        if aligned:
            return [_Track(None, None, None) for _ in frames()]
        if self.aligner is None:
            raise LswError(
                "video frames that are not aligned crops need an aligner (e.g. dlib-ffhq from `lsw-core[faces]`)"
            )
        faces: list[AlignedFace | None] = []
        previous = None
        with _bar("track", total, progress) as bar:
            for i, frame in enumerate(frames()):
                if previous is None and face_index is not None:
                    face = self._first(frame, face_index, i)
                else:
                    face = self._detect(frame, previous, None)
                previous = face or previous
                faces.append(face)
                bar.update(1)
        present = [f is not None for f in faces]
        if not any(present):
            return [None] * len(faces)
        # Averaging the crop → photo maps averages the crop's corners in the photo.
        maps = torch.tensor(np.stack([invert_affine(f.to_aligned) if f else np.eye(2, 3) for f in faces]))
        smoothed = smooth(maps, present, self.window).numpy()
        return [
            _Track(invert_affine(m), f.landmarks, f.photo_size) if f is not None else None
            for f, m in zip(faces, smoothed)
        ]

    # --- pass 2 ------------------------------------------------------------------------------------

    def _crop(self, frame: np.ndarray, track: _Track) -> np.ndarray:
        r = self.generator.resolution
        if track.to_aligned is None:  # an aligned crop: resized to the resolution, as a photo's is
            return frame if frame.shape[:2] == (r, r) else _resized(frame, r, r)
        return warp_to_aligned(frame, track.to_aligned, r)

    def project(self, frames: Frames, tracks: Sequence[_Track | None], progress: bool | None, steps: Any = None
                ) -> tuple[list[Inversion | None], list[tuple[int, np.ndarray]]]:  # fmt: skip
        """Pass 2: each frame's pivots (on the CPU), each projected from the previous frame's; and
        crops of frames spread evenly over the clip (at least `2·tune_frames` of them, or all)."""
        G = self.generator
        tune = min(self.tune_frames, sum(t is not None for t in tracks))  # at most the frames with the face
        pivots: list[Inversion | None] = []
        kept: list[tuple[int, np.ndarray]] = []
        stride = 1
        previous = None
        with _bar("project", len(tracks), progress) as bar:
            for i, (frame, track) in enumerate(zip(frames(), tracks)):
                if track is None:
                    pivots.append(None)
                    bar.update(1)
                    continue
                crop = self._crop(frame, track)
                previous = self.inversion.project_from(crop, previous, progress=steps)
                pivots.append(attrs.evolve(previous.to("cpu"), generator=G, metrics={}))  # not the projection's copy
                if i % stride == 0:
                    kept.append((i, crop))
                    if len(kept) > max(2 * tune, 1) * 2:  # thin out: keep every other one
                        kept, stride = kept[::2], stride * 2
                bar.update(1)
        return pivots, kept

    def refine(self, source: Inversion, source_crop: np.ndarray, frames: list[tuple[int, np.ndarray]],
               pivots: Sequence[Inversion | None], steps: Any = None) -> tuple[Inversion, list[int]]:  # fmt: skip
        """The inverter's joint stage on the source and `tune_frames` of the kept frames, at their
        smoothed pivots: the generator every frame is rendered with."""
        tune = min(self.tune_frames, len(frames))
        picks = np.unique(np.linspace(0, len(frames) - 1, tune).round().astype(int)) if frames else []
        chosen = [frames[j] for j in picks] if tune else []
        joint = Inversion.cat([source] + [pivots[i] for i, _ in chosen], source.generator)
        crops = [source_crop] + [c for _, c in chosen]
        return self.inversion.refine(joint, crops, progress=steps), [i for i, _ in chosen]

    # --- pass 3 ------------------------------------------------------------------------------------

    def _render(self, source: Inversion, tuned: Inversion, batch: list[tuple[np.ndarray, _Track, Inversion]],
                swap_options: dict[str, Any]) -> tuple[list[np.ndarray], list[float], torch.Tensor]:  # fmt: skip
        G, device, n = tuned.generator, source.ws.device, len(batch)
        targets = Inversion.cat([p for _, _, p in batch], G).to(device)
        pair = Inversion.cat([source[[0] * n], targets], G)
        result = self.swapper.swap_inversion(pair, n, **swap_options)
        crops = [self._crop(frame, track) for frame, track, _ in batch]
        with torch.no_grad():
            recon = G.synthesis(targets.ws, camera=targets.camera, noise_mode="const", **targets.synthesis_kwargs)
            quality = psnr(recon.float(), torch.cat([to_tensor(c, device) for c in crops])).tolist()
        out = []
        for (frame, track, _), crop, image in zip(batch, crops, result.images):
            aligned = from_tensor(image)
            if track.to_aligned is None:  # back to the frame's own size
                out.append(
                    aligned if aligned.shape == frame.shape else _resized(aligned, frame.shape[1], frame.shape[0])
                )
            else:
                face = AlignedFace(crop, track.to_aligned, track.photo_size, landmarks=track.landmarks)
                out.append(paste_back(frame, aligned, face, config=self.paste))
        return out, quality, result.ws.detach().cpu()

    # --- the whole clip ----------------------------------------------------------------------------

    def swap_frames(
        self,
        source: Photo | PreparedFace,
        frames: Frames,
        write: Callable[[np.ndarray], None],
        *,
        total: int | None = None,
        aligned: bool | None = None,
        source_face: int | None = None,
        target_face: int | None = None,
        progress: bool | None = None,
        steps: Any = None,
        **swap_options: Any,
    ) -> VideoSwapSummary:
        """Swap `source`'s identity onto the tracked face of every frame `frames()` yields (called
        once per pass: it must yield the same frames each time), handing each result to `write`.
        `aligned`: True if the frames are aligned crops (resized to the generator's resolution, and
        the swaps back to the frames' size), None to decide from the first frame (square at the
        generator's resolution). `target_face`: the face of the first frame with faces that is
        tracked (0 = the largest). Raises `ImageError` when no frame has the face."""
        t0 = time.perf_counter()
        r = self.generator.resolution
        src = source if isinstance(source, PreparedFace) else prepare_face(source, r, self.aligner,
                                                                           face_index=source_face)  # fmt: skip
        if aligned is None:
            first = next(iter(frames()), None)
            if first is None:
                raise ImageError("the clip has no frames")
            aligned = first.shape[0] == first.shape[1] == r
        tracks = self.track(frames, aligned=aligned, face_index=target_face, total=total, progress=progress)
        present = [t is not None for t in tracks]
        if not tracks:
            raise ImageError("the clip has no frames")
        if not any(present):
            raise ImageError(f"no face in any of the {len(tracks)} frames")
        t1 = time.perf_counter()
        source_pivots, _ = self.inversion.project([src.crop], progress=steps)
        pivots, kept = self.project(frames, tracks, progress, steps)
        pivots = self._smoothed(pivots, present)
        tuned, tuned_on = self.refine(source_pivots, src.crop, kept, pivots, steps)
        source_only = tuned[0]
        t2 = time.perf_counter()
        quality: list[float] = []
        codes: list[torch.Tensor] = []
        batch: list[tuple[np.ndarray, _Track, Inversion]] = []
        with _bar("render", len(tracks), progress) as bar:

            def flush() -> None:
                if not batch:
                    return
                images, q, ws = self._render(source_only, tuned, batch, swap_options)
                quality.extend(q)
                codes.append(ws)
                for image in images:
                    write(image)
                bar.update(len(batch))
                batch.clear()

            for frame, track, pivot in zip(frames(), tracks, pivots):
                if track is None:
                    flush()
                    write(frame)
                    bar.update(1)
                    continue
                batch.append((frame, track, pivot))
                if len(batch) == self.batch:
                    flush()
            flush()
        t3 = time.perf_counter()
        return VideoSwapSummary(
            frames=len(tracks), swapped=sum(present), copied=len(tracks) - sum(present), tuned_on=tuned_on,
            psnr_mean=float(np.mean(quality)), psnr_min=float(np.min(quality)),
            seconds={"track": t1 - t0, "invert": t2 - t1, "render": t3 - t2, "total": t3 - t0},
            ws=torch.cat(codes), swapped_frames=[i for i, p in enumerate(present) if p],
        )  # fmt: skip

    def _smoothed(self, pivots: list[Inversion | None], present: list[bool]) -> list[Inversion | None]:
        """The pivots with latents (and cameras) averaged over the smoothing window."""
        stand_in = next(p for p in pivots if p is not None)
        ws = smooth(torch.cat([(p or stand_in).ws for p in pivots]), present, self.window)
        cams = None
        if stand_in.camera is not None:
            c = [(p or stand_in).camera for p in pivots]
            raw = torch.stack([torch.cat([x.azimuth, x.polar, x.fov, x.radius]) for x in c])
            cams = smooth(raw, present, self.window)
        return [
            attrs.evolve(p, ws=ws[i : i + 1], camera=Camera(*cams[i : i + 1].T) if cams is not None else None)
            if p is not None else None
            for i, p in enumerate(pivots)
        ]  # fmt: skip

    def swap_clip(
        self,
        source: Photo | PreparedFace,
        clip: str | os.PathLike,
        out: str | os.PathLike,
        *,
        start: float = 0.0,
        end: float | None = None,
        max_frames: int | None = None,
        codec: str | None = None,
        stream: int | None = None,
        watch: Callable[[Iterable[np.ndarray]], Iterable[np.ndarray]] | None = None,
        **options: Any,
    ) -> VideoSwapSummary:
        """Swap onto the clip file `clip` (its first video stream that is not a cover picture, or
        stream `stream`; between `start` and `end` seconds, at most `max_frames`) and write OUT at the
        clip's size with its audio, each frame at its own time in the clip (less `start`: variable
        frame rates are kept and the audio stays in sync); OUT appears only once complete. Frames
        that cannot be decoded are left out (the previous frame shows for longer) and named in the
        summary's `missing`. Encoder (`codec`, by default the first that works), container and audio
        are checked together before any work (`choose_codec`). `watch` wraps the frames of each pass over
        the clip (e.g. to report progress). Other options as `swap_frames`."""
        info = probe_video(clip, stream)
        check_range(clip, info, start, end)
        audio = str(clip) if info.has_audio else None
        codec = choose_codec(out, info, codec, audio_from=audio)
        total = expected_frames(info, start, end, max_frames)
        frames = ClipFrames(clip, info, start=start, end=end, max_frames=max_frames)
        if next(iter(frames()), None) is None:
            until = f" to {end} s" if end is not None else ""
            raise ImageError(f"{clip}: no frames from {start} s{until} (the clip lasts {info.duration:.2f} s)"
                             if info.duration else f"{clip}: no frames from {start} s{until}")  # fmt: skip

        with VideoWriter(out, info, codec=codec, audio_from=audio, start=start, end=end) as writer:

            def write(image: np.ndarray) -> None:
                writer.write(image, frames.times[writer.frames])

            passes = frames if watch is None else lambda: watch(frames())
            summary = self.swap_frames(source, passes, write, total=total, **options)
            writer.close()
        return attrs.evolve(summary, missing=frames.missing)


def expected_frames(info: Any, start: float, end: float | None, max_frames: int | None) -> int | None:
    """How many frames the range holds, from the clip's header (None when it does not say)."""
    fps = float(info.fps)
    known = info.frames or (round(info.duration * fps) if info.duration else 0)
    if not known:
        return max_frames
    stop = known if end is None else min(known, int(np.ceil(end * fps - 1e-6)))
    count = max(stop - int(np.ceil(start * fps - 1e-6)), 0)
    return count if max_frames is None else min(count, max_frames)


def _resized(image: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS))


def _shifted(face: AlignedFace, left: int, top: int, shape: tuple[int, ...]) -> AlignedFace:
    """A face aligned in the region at (left, top) of a photo, in the whole photo's coordinates."""
    matrix = face.to_aligned.copy()
    matrix[:, 2] -= matrix[:, :2] @ np.array([left, top], dtype=np.float64)
    box = None if face.box is None else (face.box[0] + left, face.box[1] + top, face.box[2] + left, face.box[3] + top)
    landmarks = None if face.landmarks is None else face.landmarks + np.array([left, top])
    return AlignedFace(
        face.image, matrix, (shape[1], shape[0]), landmarks=landmarks, box=box, face_index=face.face_index
    )
