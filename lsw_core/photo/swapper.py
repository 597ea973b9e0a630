"""Swapping faces in photos: align (photos) or take as is (aligned crops), invert source and target
together with pivots from the cache where known, mix the pivots, synthesise with the tuned generator
and paste the aligned swap back into the target photo.

The pieces stay separate so later work can slot in: `paste_back` takes an occluder mask, and
`PhotoSwapper.prepare` / `pivots` let a video reuse a target's alignment and pivot across frames.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from PIL import Image

from lsw_core.camera import Camera
from lsw_core.errors import ImageError, LswError
from lsw_core.interfaces import Inversion, Inverter
from lsw_core.photo.io import (
    AlignedFace,
    PivotCache,
    from_tensor,
    generator_fingerprint,
    load_photo,
    paste_back,
    to_tensor,
)


@attrs.define
class PreparedFace:
    """An input ready for inversion: the aligned crop [R, R, 3], and for a photo the photo and the
    face's geometry (None for an input that was already an aligned crop)."""

    crop: np.ndarray
    photo: np.ndarray | None = None
    face: AlignedFace | None = None
    name: str = "image"


@attrs.define
class PhotoSwapResult:
    """The aligned swap [R, R, 3]; the target photo with it pasted back (None when the target was an
    aligned crop); the inversion's metrics; which inputs came from the pivot cache; seconds per stage;
    the swapped W+ code [1, num_ws, w_dim]."""

    aligned: np.ndarray
    pasted: np.ndarray | None
    metrics: dict[str, Any]
    cache_hits: tuple[bool, bool]
    seconds: dict[str, float]
    ws: torch.Tensor | None = None


class PhotoSwapper:
    """Photo-level face swapping around a `Swapper` (the mixer bound to its generator).

    `aligner`: a registered aligner (e.g. "dlib-ffhq"), needed for photos that are not aligned crops.
    `inverter`: PTI (pivots cached, tuning per pair) or a projector (whole result cached); any other
    `Inverter` works without the cache. `cache`: a `PivotCache` or None. `cache_tuned`: also cache
    each pair's PTI-tuned generator, as its weight difference from the original (as large as the
    generator's weights: ~120 MB per pair for StyleGAN2 at 1024 px), so a repeated pair skips tuning.
    """

    def __init__(
        self,
        swapper: Any,
        inverter: Inverter,
        *,
        aligner: Any = None,
        cache: PivotCache | None = None,
        paste: str = "crop",
        feather: float = 0.1,
        cache_tuned: bool = False,
    ) -> None:
        self.swapper = swapper
        self.cache_tuned = cache_tuned
        self.inverter = inverter
        self.aligner = aligner
        self.cache = cache
        self.paste = paste
        self.feather = feather
        self._fingerprint: str | None = None
        self._encoder_fingerprint: str | None = None

    @property
    def generator(self):
        return self.swapper.generator

    # --- inputs --------------------------------------------------------------------------------

    def prepare(
        self, image: str | os.PathLike | np.ndarray, *, aligned: bool | None = None, face_index: int | None = None
    ) -> PreparedFace:
        """Load and align one input. `aligned`: True for an aligned crop (resized to the generator's
        resolution), False for a photo (detected and aligned), None to decide: a square image of the
        generator's resolution is taken as a crop, anything else as a photo."""
        name = str(image) if not isinstance(image, np.ndarray) else "image"
        photo = load_photo(image) if not isinstance(image, np.ndarray) else image
        r = self.generator.resolution
        if aligned is None:
            aligned = photo.shape[0] == photo.shape[1] == r
        if aligned:
            crop = (
                photo
                if photo.shape[:2] == (r, r)
                else np.asarray(Image.fromarray(photo).resize((r, r), Image.Resampling.LANCZOS))
            )
            return PreparedFace(crop=crop, name=name)
        if self.aligner is None:
            raise LswError(
                f"{name}: a {photo.shape[1]}×{photo.shape[0]} photo needs an aligner (e.g. dlib-ffhq from `lsw-core[faces]`), or pass an aligned {r}×{r} crop"
            )
        face = self.aligner.align(photo, r, face_index=face_index, name=name)
        return PreparedFace(crop=face.image, photo=photo, face=face, name=name)

    # --- inversion -------------------------------------------------------------------------------

    def _key(self, crop: np.ndarray) -> str:
        if self._fingerprint is None:
            self._fingerprint = generator_fingerprint(self.generator)
        settings = getattr(self.inverter, "projection", None) or getattr(self.inverter, "config", None)
        perceptual = type(getattr(self.inverter, "perceptual", None)).__name__
        encoder = getattr(self.inverter, "encoder", None)
        if encoder is not None and self._encoder_fingerprint is None:
            self._encoder_fingerprint = generator_fingerprint(encoder)
        return self.cache.key(
            crop, self.generator.backend_name, self._fingerprint, type(self.inverter).__name__, settings, perceptual,
            *([self._encoder_fingerprint] if encoder is not None else []),
        )  # fmt: skip

    def pivots(self, crops: Sequence[np.ndarray], progress: Any = None) -> tuple[Inversion, list[bool]]:
        """Projection of the crops (W pivots for PTI), batched, with cached ones read instead."""
        from lsw_core.inversion.inverters import ProjectionInverter, PTIInverter

        G = self.generator
        device = G.w_avg.device
        images = torch.cat([to_tensor(c, device) for c in crops])
        projector = {PTIInverter: "project", ProjectionInverter: "invert"}
        method = next((m for cls, m in projector.items() if isinstance(self.inverter, cls)), None)
        if method is None:
            return self.inverter.invert(G, images), [False] * len(crops)
        keys = [self._key(c) for c in crops] if self.cache is not None else [None] * len(crops)
        cached = [self.cache.get(k) if k is not None else None for k in keys]
        todo = [i for i, c in enumerate(cached) if c is None]
        generator, metrics = G, {}
        if todo:
            run = self.inverter.project if method == "project" else self.inverter.invert
            fresh = run(G, images[todo], progress=progress)
            generator, metrics = fresh.generator, fresh.metrics
            for j, i in enumerate(todo):
                cached[i] = {"ws": fresh.ws[j : j + 1].cpu()}
                if isinstance(fresh.camera, Camera):
                    cam = fresh.camera
                    cached[i]["camera"] = torch.stack([cam.azimuth[j], cam.polar[j], cam.fov[j], cam.radius[j]])[
                        None
                    ].cpu()
                if self.cache is not None:
                    self.cache.put(keys[i], cached[i], {"psnr": metrics.get("psnr", [None] * len(todo))[j]})
        ws = torch.cat([c["ws"] for c in cached]).to(device)
        camera = None
        if G.camera is not None and all("camera" in c for c in cached):
            cam = torch.cat([c["camera"] for c in cached]).to(device)
            camera = Camera(cam[:, 0], cam[:, 1], cam[:, 2], cam[:, 3])
        return Inversion(ws=ws, generator=generator, camera=camera, metrics=metrics), [
            i not in todo for i in range(len(crops))
        ]

    def invert(self, source: PreparedFace, target: PreparedFace, progress: Any = None) -> tuple[Inversion, list[bool]]:
        """Invert source and target together: their pivots (cached or projected), then for PTI one
        generator copy tuned on both."""
        from lsw_core.inversion.inverters import PTIInverter
        from lsw_core.inversion.pti import apply_delta, parameter_delta

        pivots, hits = self.pivots([source.crop, target.crop], progress)
        if not isinstance(self.inverter, PTIInverter):
            return pivots, hits
        pair_key = None
        if self.cache is not None and self.cache_tuned:
            pair_key = self.cache.key(np.concatenate([source.crop, target.crop]), "tuned", self._key(source.crop),
                                      self._key(target.crop), self.inverter.tuning)  # fmt: skip
            stored = self.cache.get(pair_key)
            if stored is not None:
                delta = {k[len("delta.") :]: v for k, v in stored.items() if k.startswith("delta.")}
                return attrs.evolve(
                    pivots, generator=apply_delta(self.generator, delta), metrics={"tuning": "cached"}
                ), hits
        images = torch.cat([to_tensor(c, pivots.ws.device) for c in (source.crop, target.crop)])
        inversion = self.inverter.invert(self.generator, images, pivots=pivots, progress=progress)
        if pair_key is not None:
            delta = parameter_delta(self.generator, inversion.generator)
            self.cache.put(
                pair_key, {f"delta.{k}": v for k, v in delta.items()}, {"psnr": inversion.metrics.get("psnr")}
            )
        return inversion, hits

    # --- the swap -------------------------------------------------------------------------------

    def swap(
        self,
        source: str | os.PathLike | np.ndarray | PreparedFace,
        target: str | os.PathLike | np.ndarray | PreparedFace,
        *,
        aligned: bool | None = None,
        source_face: int | None = None,
        target_face: int | None = None,
        groups: Sequence[str] | None = None,
        mask: np.ndarray | None = None,
        progress: Any = None,
    ) -> PhotoSwapResult:
        """Swap the identity of `source` onto `target` (photos, aligned crops, or prepared faces).

        Returns the aligned swap and, for a target photo, the photo with the swap pasted back (same
        size as the photo); `mask` [R, R] in crop coordinates limits the paste (e.g. occluders)."""
        t0 = time.perf_counter()
        src = (
            source
            if isinstance(source, PreparedFace)
            else self.prepare(source, aligned=aligned, face_index=source_face)
        )
        tgt = (
            target
            if isinstance(target, PreparedFace)
            else self.prepare(target, aligned=aligned, face_index=target_face)
        )
        t1 = time.perf_counter()
        inversion, hits = self.invert(src, tgt, progress)
        t2 = time.perf_counter()
        result = self.swapper.swap_inversion(inversion, 1, groups=groups)
        ws, aligned_swap = result.ws, from_tensor(result.images)
        pasted = None
        if tgt.face is not None:
            pasted = paste_back(tgt.photo, aligned_swap, tgt.face, mask=mask, kind=self.paste, feather=self.feather)
        t3 = time.perf_counter()
        return PhotoSwapResult(
            aligned=aligned_swap, pasted=pasted, metrics=inversion.metrics, cache_hits=tuple(hits),
            seconds={"align": t1 - t0, "invert": t2 - t1, "swap": t3 - t2, "total": t3 - t0},
            ws=ws.cpu(),
        )  # fmt: skip


def write_result(result: PhotoSwapResult, out: str | os.PathLike) -> list[Path]:
    """Write a swap: OUT is the pasted-back photo and OUT_aligned the aligned swap beside it; for an
    aligned-crop target OUT is the aligned swap. Returns the files written."""
    from lsw_core.photo.io import save_photo

    out = Path(out)
    if result.pasted is None:
        save_photo(out, result.aligned)
        return [out]
    aligned_path = out.with_name(f"{out.stem}_aligned{out.suffix}")
    save_photo(out, result.pasted)
    save_photo(aligned_path, result.aligned)
    return [out, aligned_path]


def check_pairs(sources: Sequence[Path], targets: Sequence[Path]) -> list[tuple[Path, Path]]:
    """Batch pairing: one source onto every target, every source onto one target, or two folders
    of equally many images paired in name order."""
    if not sources or not targets:
        raise ImageError(f"no images to swap ({len(sources)} source(s), {len(targets)} target(s))")
    if len(sources) == 1:
        return [(sources[0], t) for t in targets]
    if len(targets) == 1:
        return [(s, targets[0]) for s in sources]
    if len(sources) != len(targets):
        raise ImageError(f"folders pair up in name order: {len(sources)} sources but {len(targets)} targets")
    return list(zip(sources, targets))
