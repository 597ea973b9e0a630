"""Swapping faces in photos: align (photos) or take as is (aligned crops), project source and target
with pivots from the cache where known, refine the pair (PTI: tune one generator copy on both), mix
the pivots with the latent `Swapper`, synthesise with the refined generator and paste the aligned
swap back into the target photo.

The stages stay separate so that a video can slot in: `prepare` aligns once, `pivots` projects
(cached per image under the inverter's own `cache_key`), `refine` tunes per pair, and `paste_back`
takes an occluder mask. `swap_faces` swaps several faces of one photo (all, chosen ones, or those
matching a reference identity) one after another.
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

from lsw_core.artifacts import fingerprint
from lsw_core.camera import Camera
from lsw_core.errors import ImageError, LswError
from lsw_core.interfaces import Aligner, Generator, IdentityEmbedder, Inversion, Inverter
from lsw_core.inversion.pti import apply_delta, parameter_delta
from lsw_core.photo.blend import BLENDS, COLOR_MATCHES, is_grayscale, occlusion_mask, to_grayscale
from lsw_core.photo.cache import PivotCache
from lsw_core.photo.geometry import AlignedFace
from lsw_core.photo.group import faces_to_swap, identity_similarity
from lsw_core.photo.io import from_tensor, load_photo, save_photo, to_tensor
from lsw_core.photo.paste import paste_back
from lsw_core.plugins import load_inverter
from lsw_core.swapper import Swapper
from lsw_core.validators import check, number


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
    the swapped W+ code [1, num_ws, w_dim]; the generator it was synthesised with (refined on the
    pair), the target's camera and synthesis arguments, and the prepared target (for paste-back of
    edits); with `cameras`, the source, target and swap rendered from each: [3, V, 3, R, R]."""

    aligned: np.ndarray
    pasted: np.ndarray | None
    metrics: dict[str, Any]
    cache_hits: tuple[bool, bool]
    seconds: dict[str, float]
    ws: torch.Tensor | None = None
    generator: Generator | None = None
    camera: Camera | None = None
    synthesis_kwargs: dict[str, Any] = attrs.field(factory=dict)
    target: PreparedFace | None = None
    views: torch.Tensor | None = None


@attrs.define
class GroupSwapResult:
    """Several faces of one photo swapped one after another: the photo with all of them pasted back,
    which faces were swapped (0 = largest), each one's `PhotoSwapResult`, and with a reference, every
    detected face's identity similarity to it."""

    pasted: np.ndarray
    faces: list[int]
    results: list[PhotoSwapResult]
    similarity: np.ndarray | None = None


class PhotoSwapper:
    """Photo-level face swapping around a `Swapper` (the mixer bound to its generator).

    `inverter`: any `Inverter` (PTI with the authors' schedule when None): its `project` stage is
    cached per image, its `refine` stage runs per pair. `aligner`: an `Aligner` (e.g.
    `load_aligner("dlib-ffhq")`), needed for photos that are not aligned crops. `cache`: a
    `PivotCache` or None. `cache_tuned`: also cache each pair's refined generator, as its weight
    difference from the original (as large as the generator's weights: ~120 MB per pair for
    StyleGAN2 at 1024 px), so a repeated pair skips tuning.

    Paste-back: `paste` ("crop" or "face") and `feather` shape the mask; `color_match` ("none",
    "lab", "histogram") matches the swap's colours to the target's face first; `blend` ("feather"
    or "multiband") mixes along the mask; `occlusion` (a multiple of the median reconstruction
    error, e.g. 3; None for off) keeps the target's pixels where its own inversion misses it by
    more (an occluding hand or microphone). A grayscale target gives a grayscale swap.
    """

    def __init__(
        self,
        swapper: Swapper,
        inverter: Inverter | None = None,
        *,
        aligner: Aligner | None = None,
        cache: PivotCache | None = None,
        paste: str = "crop",
        feather: float = 0.1,
        blend: str = "feather",
        color_match: str = "none",
        occlusion: float | None = None,
        cache_tuned: bool = False,
    ) -> None:
        if blend not in BLENDS:
            raise LswError(f"blend: expected one of {', '.join(BLENDS)}, got {blend!r}")
        if color_match not in COLOR_MATCHES:
            raise LswError(f"colour match: expected one of {', '.join(COLOR_MATCHES)}, got {color_match!r}")
        if occlusion is not None:
            check("occlusion threshold", occlusion, number(gt=0))
        self.swapper = swapper
        self.inverter = inverter if inverter is not None else load_inverter("pti")
        self.aligner = aligner
        self.cache = cache
        self.paste = paste
        self.feather = feather
        self.blend = blend
        self.color_match = color_match
        self.occlusion = occlusion
        self.cache_tuned = cache_tuned
        self._fingerprint: str | None = None

    @property
    def generator(self) -> Generator:
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
        try:
            face = self.aligner.align(photo, r, face_index=face_index)
        except ImageError as exc:
            raise ImageError(f"{name}: {exc}") from None
        return PreparedFace(crop=face.image, photo=photo, face=face, name=name)

    def prepare_all(self, image: str | os.PathLike | np.ndarray) -> list[PreparedFace]:
        """Every face of a photo, aligned (largest first; an empty list for none)."""
        name = str(image) if not isinstance(image, np.ndarray) else "image"
        photo = load_photo(image) if not isinstance(image, np.ndarray) else image
        if self.aligner is None:
            raise LswError(f"{name}: finding the faces of a photo needs an aligner (e.g. dlib-ffhq)")
        faces = self.aligner.align_all(photo, self.generator.resolution)
        return [PreparedFace(crop=f.image, photo=photo, face=f, name=f"{name} face {f.face_index}") for f in faces]

    # --- inversion -------------------------------------------------------------------------------

    def _key(self, crop: np.ndarray, stage: str = "project") -> str | None:
        context = self.inverter.cache_key(self.generator, stage) if self.cache is not None else None
        if context is None:
            return None
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.generator)
        return self.cache.key(crop, self.generator.backend_name, self._fingerprint, *context)

    def pivots(self, crops: Sequence[np.ndarray], progress: Any = None) -> tuple[Inversion, list[bool]]:
        """The inverter's per-image projection of the crops, batched, with cached ones read instead;
        and which came from the cache."""
        G = self.generator
        images = torch.cat([to_tensor(c, G.device) for c in crops])
        keys = [self._key(c) for c in crops]
        entries = [self.cache.get(k) if k is not None else None for k in keys]
        todo = [i for i, entry in enumerate(entries) if entry is None]
        generator, metrics = G, {}
        if todo:
            fresh = self.inverter.project(G, images[todo], progress=progress)
            generator, metrics = fresh.generator, fresh.metrics
            psnr = metrics.get("psnr", [None] * len(todo))
            for j, i in enumerate(todo):
                entries[i] = _cache_entry(fresh, j)
                if keys[i] is not None:
                    self.cache.put(keys[i], entries[i], {"psnr": psnr[j]})
        pivots = _from_cache_entries(entries, G, generator, metrics)
        return pivots, [i not in todo for i in range(len(crops))]

    def refine(
        self, pivots: Inversion, crops: Sequence[np.ndarray], keys: Sequence[str | None] = (), progress: Any = None
    ) -> Inversion:
        """The inverter's joint stage on the pivots of `crops` (e.g. PTI tuning one generator copy on
        a source and a target), with the refined generator from the cache when `cache_tuned`."""
        if not self.inverter.refines:
            return pivots
        pair_key = None
        context = self.inverter.cache_key(self.generator, "refine") if self.cache_tuned else None
        if self.cache is not None and context is not None and keys and all(k is not None for k in keys):
            pair_key = self.cache.key(np.concatenate(list(crops)), "tuned", *keys, *context)
            stored = self.cache.get(pair_key)
            if stored is not None:
                delta = {k[len("delta.") :]: v for k, v in stored.items() if k.startswith("delta.")}
                return attrs.evolve(pivots, generator=apply_delta(self.generator, delta), metrics={"tuning": "cached"})
        images = torch.cat([to_tensor(c, pivots.ws.device) for c in crops])
        inversion = self.inverter.refine(self.generator, pivots, images, progress=progress)
        if pair_key is not None:
            delta = parameter_delta(self.generator, inversion.generator)
            self.cache.put(
                pair_key, {f"delta.{k}": v for k, v in delta.items()}, {"psnr": inversion.metrics.get("psnr")}
            )
        return inversion

    def invert(self, source: PreparedFace, target: PreparedFace, progress: Any = None) -> tuple[Inversion, list[bool]]:
        """Invert source and target together: their pivots (cached or projected), then the refined pair."""
        crops = [source.crop, target.crop]
        pivots, hits = self.pivots(crops, progress)
        keys = [self._key(c) for c in crops]
        return self.refine(pivots, crops, keys, progress), hits

    # --- the swap -------------------------------------------------------------------------------

    def paste_into(
        self, photo: np.ndarray, aligned: np.ndarray, face: AlignedFace, mask: np.ndarray | None = None
    ) -> np.ndarray:
        """The photo with the aligned swap pasted back into `face`'s place, blended as configured
        (a video's frames)."""
        return paste_back(photo, aligned, face, mask=mask, kind=self.paste, feather=self.feather, blend=self.blend,
                          color_match=self.color_match)  # fmt: skip

    def swap(
        self,
        source: str | os.PathLike | np.ndarray | PreparedFace,
        target: str | os.PathLike | np.ndarray | PreparedFace,
        *,
        aligned: bool | None = None,
        source_face: int | None = None,
        target_face: int | None = None,
        groups: Sequence[str] | None = None,
        strength: float = 1.0,
        mask: np.ndarray | None = None,
        cameras: Camera | None = None,
        progress: Any = None,
    ) -> PhotoSwapResult:
        """Swap the identity of `source` onto `target` (photos, aligned crops, or prepared faces).

        Returns the aligned swap and, for a target photo, the photo with the swap pasted back (same
        size as the photo); `mask` [R, R] in crop coordinates limits the paste (e.g. occluders).
        `strength` in [0, 1] goes that far from the target's pivot to the swap (0: the target's
        reconstruction). `cameras` (camera-aware generators) also renders source, target and swap
        from each view."""
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
        result = self.swapper.swap_inversion(inversion, 1, groups=groups, strength=strength)
        ws, aligned_swap = result.ws, from_tensor(result.images)
        if is_grayscale(tgt.crop):
            aligned_swap = to_grayscale(aligned_swap)
        camera = inversion.camera[[1]] if isinstance(inversion.camera, Camera) else None
        target_kwargs = {k: v[1:2] if torch.is_tensor(v) else v for k, v in inversion.synthesis_kwargs.items()}
        pasted = None
        if tgt.face is not None:
            if self.occlusion is not None:
                with torch.no_grad():
                    own = inversion.generator.synthesis(inversion.ws[1:2], camera=camera, noise_mode="const",
                                                        **target_kwargs)  # fmt: skip
                kept = occlusion_mask(tgt.crop, from_tensor(own), self.occlusion)
                mask = kept if mask is None else kept * mask
            pasted = paste_back(tgt.photo, aligned_swap, tgt.face, mask=mask, kind=self.paste, feather=self.feather,
                                blend=self.blend, color_match=self.color_match)  # fmt: skip
        views = None
        if cameras is not None:
            kwargs = inversion.synthesis_kwargs
            pair = {k: v[:2] if torch.is_tensor(v) else v for k, v in kwargs.items()}
            target_kwargs = {k: v[1:2] if torch.is_tensor(v) else v for k, v in kwargs.items()}
            pivots = self.swapper.render(inversion.ws, cameras, inversion.generator, **pair)
            swapped = self.swapper.render(ws, cameras, inversion.generator, **target_kwargs)
            views = torch.cat([pivots, swapped]).cpu()
        t3 = time.perf_counter()
        return PhotoSwapResult(
            aligned=aligned_swap, pasted=pasted, metrics=inversion.metrics, cache_hits=tuple(hits),
            seconds={"align": t1 - t0, "invert": t2 - t1, "swap": t3 - t2, "total": t3 - t0},
            ws=ws.cpu(), generator=inversion.generator, camera=camera, synthesis_kwargs=target_kwargs, target=tgt,
            views=views,
        )  # fmt: skip

    def swap_faces(
        self,
        source: str | os.PathLike | np.ndarray | PreparedFace,
        target: str | os.PathLike | np.ndarray | Sequence[PreparedFace],
        *,
        faces: Sequence[int] | None = None,
        reference: str | os.PathLike | np.ndarray | PreparedFace | None = None,
        embedder: IdentityEmbedder | None = None,
        threshold: float | None = None,
        source_face: int | None = None,
        groups: Sequence[str] | None = None,
        strength: float = 1.0,
        progress: Any = None,
    ) -> GroupSwapResult:
        """Swap `source` onto several faces of the target photo (or its `prepare_all` faces), one
        after another into the same photo: the faces numbered in `faces` (None: every face), of
        those with a `reference` face (a photo's largest face or a prepared one) only the ones whose
        identity under `embedder` is at least `threshold` similar (cosine) to it, or without a
        threshold the most similar one."""
        src = source if isinstance(source, PreparedFace) else self.prepare(source, face_index=source_face)
        found = (
            list(target) if isinstance(target, Sequence) and not isinstance(target, str) else self.prepare_all(target)
        )
        if not found:
            raise ImageError(f"{target if isinstance(target, (str, os.PathLike)) else 'the target'}: no face found")
        similarity = None
        if reference is not None:
            if embedder is None:
                raise LswError("swapping the faces that match a reference needs an identity embedder")
            ref = reference if isinstance(reference, PreparedFace) else self.prepare(reference)
            similarity = identity_similarity(embedder, [f.crop for f in found], ref.crop)
        chosen = faces_to_swap(len(found), faces, similarity, threshold)
        pasted, results = found[0].photo, []
        for i in chosen:
            face = attrs.evolve(found[i], photo=pasted)
            results.append(self.swap(src, face, groups=groups, strength=strength, progress=progress))
            pasted = results[-1].pasted
        return GroupSwapResult(pasted=pasted, faces=chosen, results=results, similarity=similarity)


def _cache_entry(inversion: Inversion, j: int) -> dict[str, torch.Tensor]:
    """The tensors of image `j` of an inversion: its W+ pivot, camera and synthesis arguments."""
    entry = {"ws": inversion.ws[j : j + 1]}
    cam = inversion.camera
    if isinstance(cam, Camera):
        entry["camera"] = torch.stack([cam.azimuth[j], cam.polar[j], cam.fov[j], cam.radius[j]])[None]
    for name, value in inversion.synthesis_kwargs.items():
        entry[f"synthesis.{name}"] = value[j : j + 1]
    return {k: v.detach().cpu() for k, v in entry.items()}


def _from_cache_entries(
    entries: Sequence[dict[str, torch.Tensor]], original: Generator, generator: Generator, metrics: dict[str, Any]
) -> Inversion:
    device = original.device
    ws = torch.cat([e["ws"] for e in entries]).to(device)
    camera = None
    if original.camera is not None and all("camera" in e for e in entries):
        cam = torch.cat([e["camera"] for e in entries]).to(device)
        camera = Camera(cam[:, 0], cam[:, 1], cam[:, 2], cam[:, 3])
    names = [k for k in entries[0] if k.startswith("synthesis.")]
    kwargs = {k[len("synthesis.") :]: torch.cat([e[k] for e in entries]).to(device) for k in names}
    return Inversion(ws=ws, generator=generator, camera=camera, synthesis_kwargs=kwargs, metrics=metrics)


def write_result(result: PhotoSwapResult, out: str | os.PathLike) -> list[Path]:
    """Write a swap: OUT is the pasted-back photo and OUT_aligned the aligned swap beside it; for an
    aligned-crop target OUT is the aligned swap. Returns the files written."""

    out = Path(out)
    if result.pasted is None:
        save_photo(out, result.aligned)
        return [out]
    aligned_path = out.with_name(f"{out.stem}_aligned{out.suffix}")
    save_photo(out, result.pasted)
    save_photo(aligned_path, result.aligned)
    return [out, aligned_path]


def write_group_result(result: GroupSwapResult, out: str | os.PathLike) -> list[Path]:
    """Write a group swap: OUT is the photo with every swapped face pasted back, OUT_face{i}_aligned
    the aligned swap of face i beside it. Returns the files written."""
    out = Path(out)
    save_photo(out, result.pasted)
    written = [out]
    for i, face in zip(result.faces, result.results):
        written.append(out.with_name(f"{out.stem}_face{i}_aligned{out.suffix}"))
        save_photo(written[-1], face.aligned)
    return written


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
