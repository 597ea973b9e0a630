"""Swapping faces in photos: align (photos) or take as is (aligned crops), invert source and target
(pivots from the cache where known, then refined together: PTI tunes one generator copy on both),
mix the pivots with the latent `Swapper`, synthesise with the refined generator and paste the
aligned swap back into the target photo. `swap_faces` swaps several faces of one photo (all, chosen
ones, or those matching a reference identity) one after another. Clips go through the same stages
in `lsw_core.photo.video`.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from lsw_core.camera import Camera
from lsw_core.errors import ImageError, LswError
from lsw_core.images import from_tensor, save_photo
from lsw_core.interfaces import Aligner, Generator, IdentityEmbedder, Inverter
from lsw_core.inversion.cache import CachedInverter, PivotCache
from lsw_core.mixing.swapper import Swapper
from lsw_core.photo.blend import is_grayscale, occlusion_mask, to_grayscale
from lsw_core.photo.faces import Photo, PreparedFace, prepare_all_faces, prepare_face
from lsw_core.photo.group import faces_to_swap, identity_similarity
from lsw_core.photo.paste import PasteConfig, paste_back
from lsw_core.plugins import load_inverter


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

    `inverter`: any `Inverter` (PTI with the authors' schedule when None), run through a
    `CachedInverter` on `cache` (a `PivotCache` or None): pivots are cached per image, and with
    `cache_tuned` each pair's refined generator too (as large as the generator's weights), so a
    repeated pair skips tuning. `aligner`: an `Aligner` (e.g. `load_aligner("dlib-ffhq")`), needed for
    photos that are not aligned crops. `paste`: how the swap goes back into the photo (`PasteConfig`).
    A grayscale target gives a grayscale swap.
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
    ) -> None:
        self.swapper = swapper
        self.inversion = CachedInverter(
            inverter if inverter is not None else load_inverter("pti"), swapper.generator, cache,
            cache_tuned=cache_tuned,
        )  # fmt: skip
        self.aligner = aligner
        self.paste = paste

    @property
    def generator(self) -> Generator:
        return self.swapper.generator

    def prepare(self, image: Photo, *, aligned: bool | None = None, face_index: int | None = None) -> PreparedFace:
        """One input as an aligned crop of the generator's resolution (see `prepare_face`)."""
        return prepare_face(image, self.generator.resolution, self.aligner, aligned=aligned, face_index=face_index)

    def prepare_all(self, image: Photo) -> list[PreparedFace]:
        """Every face of a photo, aligned (largest first; an empty list for none)."""
        return prepare_all_faces(image, self.generator.resolution, self.aligner)

    def swap(
        self,
        source: Photo | PreparedFace,
        target: Photo | PreparedFace,
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
        src = source if isinstance(source, PreparedFace) else self.prepare(source, aligned=aligned,
                                                                           face_index=source_face)  # fmt: skip
        tgt = target if isinstance(target, PreparedFace) else self.prepare(target, aligned=aligned,
                                                                           face_index=target_face)  # fmt: skip
        t1 = time.perf_counter()
        inversion, hits = self.inversion.invert([src.crop, tgt.crop], progress)
        t2 = time.perf_counter()
        result = self.swapper.swap_inversion(inversion, 1, groups=groups, strength=strength)
        ws, aligned_swap = result.ws, from_tensor(result.images)
        if is_grayscale(tgt.crop):
            aligned_swap = to_grayscale(aligned_swap)
        own = inversion[1]  # the target's pivot, camera and synthesis arguments
        pasted = None
        if tgt.face is not None:
            if self.paste.occlusion is not None:
                with torch.no_grad():
                    reconstruction = own.generator.synthesis(own.ws, camera=own.camera, noise_mode="const",
                                                             **own.synthesis_kwargs)  # fmt: skip
                kept = occlusion_mask(tgt.crop, from_tensor(reconstruction), self.paste.occlusion)
                mask = kept if mask is None else kept * mask
            pasted = paste_back(tgt.photo, aligned_swap, tgt.face, mask=mask, config=self.paste)
        views = None
        if cameras is not None:
            pair = inversion[:2]
            pivots = self.swapper.render(pair.ws, cameras, inversion.generator, **pair.synthesis_kwargs)
            swapped = self.swapper.render(ws, cameras, inversion.generator, **own.synthesis_kwargs)
            views = torch.cat([pivots, swapped]).cpu()
        t3 = time.perf_counter()
        return PhotoSwapResult(
            aligned=aligned_swap, pasted=pasted, metrics=inversion.metrics, cache_hits=tuple(hits),
            seconds={"align": t1 - t0, "invert": t2 - t1, "swap": t3 - t2, "total": t3 - t0},
            ws=ws.cpu(), generator=inversion.generator, camera=own.camera if isinstance(own.camera, Camera) else None,
            synthesis_kwargs=own.synthesis_kwargs, target=tgt, views=views,
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


def write_result(result: PhotoSwapResult, out: str | os.PathLike) -> list[Path]:
    """Write a swap: OUT is the pasted-back photo and OUT_aligned the aligned swap beside it; for an
    aligned-crop target OUT is the aligned swap. Returns the files written."""

    out = Path(out)
    if result.pasted is None:
        save_photo(out, result.aligned)
        return [out]
    save_photo(out, result.pasted)
    save_photo(aligned_path(out), result.aligned)
    return [out, aligned_path(out)]


def aligned_path(out: str | os.PathLike) -> Path:
    """Where the aligned swap of a photo swap written to OUT goes: OUT_aligned (same suffix)."""
    out = Path(out)
    return out.with_name(f"{out.stem}_aligned{out.suffix}")


def face_path(out: str | os.PathLike, face: int | str) -> Path:
    """Where a group swap writes the aligned swap of face `face` ("*": the glob of all of them)."""
    out = Path(out)
    stem = out.stem if face != "*" else glob.escape(out.stem)
    return out.with_name(f"{stem}_face{face}_aligned{out.suffix}")


def write_group_result(result: GroupSwapResult, out: str | os.PathLike) -> list[Path]:
    """Write a group swap: OUT is the photo with every swapped face pasted back, OUT_face{i}_aligned
    the aligned swap of face i beside it. Returns the files written."""
    out = Path(out)
    save_photo(out, result.pasted)
    written = [out]
    for i, face in zip(result.faces, result.results):
        written.append(face_path(out, i))
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
