"""The Photo page's actions: the faces of a photo, and a swap of two photos (or seeds) through
`PhotoSwapper` — one chosen face, every face, or the faces like a reference — with the pasted photo,
the aligned swap, a source | target | swap strip and the inversion's PSNR."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np
import torch

from lsw_core.errors import ImageError, LswError
from lsw_core.images import from_tensor, image_hash, load_photo
from lsw_core.photo.faces import PreparedFace, prepare_all_faces
from lsw_core.photo.paste import PasteConfig
from lsw_core.photo.record import SwapRecord
from lsw_core.photo.swapper import PhotoSwapper, PhotoSwapResult
from lsw_core.ui.inputs import Side, Upload
from lsw_core.ui.loaded import LoadedMixer, ModelCache
from lsw_core.ui.work import Report, Results, inversion_progress, labelled_row, no_report, prepare


@attrs.frozen(kw_only=True)
class PhotoOptions:
    """How a photo swap runs: strength, layer groups (None: all), inversion schedule, whether inputs
    are aligned crops (None: decide by size), the target face (a number, 0 = largest, or "all"), a
    reference face (swap the target faces like it: the most similar, or all at least `threshold`
    similar), and the paste-back settings."""

    strength: float = 1.0
    groups: Sequence[str] | None = None
    schedule: str = "fast"
    aligned: bool | None = None
    target_face: int | str | None = None
    reference: Upload | None = None
    threshold: float | None = None
    paste: PasteConfig = PasteConfig()


@attrs.define
class PhotoOutcome:
    """The files of a photo swap (the pasted photo is None for an aligned-crop or seed target), the
    reconstruction PSNR of source and target (None for two seeds: no inversion), the faces swapped,
    and what editing the swap needs (its W+ code and rendering context)."""

    pasted: Path | None
    aligned: Path
    strip: Path
    psnr: list[float | None] | None
    faces: list[int]
    ws: torch.Tensor
    record: SwapRecord

    def line(self) -> str:
        if self.psnr is None:
            quality = "two seeds: swapped in latent space, no inversion"
        else:
            quality = "inversion PSNR " + ", ".join(
                f"{who} {'n/a' if p is None else f'{p:.1f} dB'}" for who, p in zip(("source", "target"), self.psnr)
            )
        faces = f"; face(s) {', '.join(map(str, self.faces))} swapped" if self.faces else ""
        return quality + faces


def detect_faces(cache: ModelCache, loaded: LoadedMixer, photo: Upload, results: Results) -> list[tuple[Path, str]]:
    """Every face of the photo as an aligned crop (largest first), each with its caption; an aligned
    crop of the generator's resolution is one face as it is."""
    resolution = loaded.swapper.generator.resolution
    image = load_photo(photo.path)
    if image.shape[0] == image.shape[1] == resolution:
        return [(results.photo("face0", image), "face 0 (an aligned crop)")]
    aligner = cache.aligner()
    if aligner is None:
        raise LswError("finding the faces of a photo needs the dlib-ffhq aligner: pip install 'lsw-core[faces]'")
    faces = prepare_all_faces(image, resolution, aligner)
    if not faces:
        raise ImageError(f"{photo.name}: no face found")
    return [
        (results.photo(f"face{i}", face.crop), f"face {i}{' (largest)' if i == 0 else ''}")
        for i, face in enumerate(faces)
    ]


def swap_photo(
    cache: ModelCache, loaded: LoadedMixer, source: Side, target: Side, options: PhotoOptions, results: Results,
    report: Report = no_report,
) -> PhotoOutcome:  # fmt: skip
    """Swap `source` onto `target`: two seeds in latent space (`Swapper.mix_z`), anything with a
    photo through `PhotoSwapper` with the session's pivot cache."""
    if source.seed is not None and target.seed is not None:
        if options.target_face not in (None, 0) or options.reference is not None:
            raise LswError("the target face and reference face choices are for target photos")
        return _swap_seeds(loaded, source.seed, target.seed, options, results)
    swapper = loaded.swapper
    photos = PhotoSwapper(
        swapper, cache.inverter(options.schedule, swapper.generator.backend_name), aligner=cache.aligner(),
        cache=results.pivots(), cache_tuned=True, paste=options.paste,
    )  # fmt: skip
    src = prepare(source, swapper, photos.aligner, aligned=options.aligned)
    progress = inversion_progress(report)
    several = options.target_face == "all" or options.reference is not None
    if several:
        if target.photo is None:
            raise LswError("every face / a reference face: the target must be a photo")
        faces = photos.prepare_all(target.photo.path)
        if not faces:
            raise ImageError(f"{target.name}: no face found")
        reference = embedder = None
        if options.reference is not None:
            reference = photos.prepare(options.reference.path, aligned=options.aligned)
            embedder = cache.embedder(loaded.entry)
        group = photos.swap_faces(
            src, faces, reference=reference, embedder=embedder, threshold=options.threshold, groups=options.groups,
            strength=options.strength, progress=progress,
        )  # fmt: skip
        if not group.faces:
            best = float(group.similarity.max())
            raise ImageError(
                f"{target.name}: no face matches the reference (best similarity {best:.2f} < {options.threshold})"
            )
        result, pasted, chosen = group.results[0], group.pasted, group.faces
    else:
        tgt = prepare(target, swapper, photos.aligner, aligned=options.aligned, face_index=options.target_face)
        result = photos.swap(src, tgt, groups=options.groups, strength=options.strength, progress=progress)
        pasted, chosen = result.pasted, []
    report(1.0, "writing the results")
    psnr = _psnr(result, [src.crop, result.target.crop], results.memo(), options.schedule)
    strip = labelled_row([src.crop, result.target.crop, result.aligned], ["source", "target", "swap"])
    return PhotoOutcome(
        pasted=results.photo("pasted", pasted) if pasted is not None else None,
        aligned=results.photo("aligned", result.aligned), strip=results.image("strip", strip), psnr=psnr,
        faces=chosen, ws=result.ws, record=_record(result, options.paste),
    )  # fmt: skip


def _swap_seeds(loaded: LoadedMixer, source: int, target: int, options: PhotoOptions, results: Results) -> PhotoOutcome:
    swapper = loaded.swapper
    z = swapper.latents_from_seeds([source, target])
    ws = swapper.mix_z(z[:1], z[1:], options.groups, strength=options.strength)
    images = swapper.render(torch.cat([swapper.wplus_from_z(z), ws])).cpu()
    crops = [from_tensor(image) for image in images]
    strip = labelled_row(crops, ["source", "target", "swap"])
    record = SwapRecord(swapper.generator, None, {}, None, None)
    return PhotoOutcome(
        pasted=None, aligned=results.photo("aligned", crops[2]), strip=results.image("strip", strip), psnr=None,
        faces=[], ws=ws.cpu(), record=record,
    )  # fmt: skip


def _record(result: PhotoSwapResult, paste: PasteConfig) -> SwapRecord:
    """What rendering an edit of the swap needs: the refined generator, the target's view, its photo."""
    target: PreparedFace = result.target
    return SwapRecord(result.generator, result.camera, result.synthesis_kwargs, target.photo, target.face, paste)


def _psnr(result: PhotoSwapResult, crops: list[np.ndarray], memo: dict, schedule: str) -> list[float | None]:
    """Source and target reconstruction PSNR: as measured now, or, for a pivot the session's cache
    gave back, as measured when it was made."""
    measured = list(result.metrics.get("psnr") or [])
    fresh = [i for i, hit in enumerate(result.cache_hits) if not hit]
    out: list[float | None] = []
    for i, crop in enumerate(crops):
        key = ("psnr", schedule, image_hash(crop))
        if len(measured) == len(crops):
            memo[key] = float(measured[i])
        elif i in fresh and len(measured) == len(fresh):
            memo[key] = float(measured[fresh.index(i)])
        out.append(memo.get(key))
    return out
