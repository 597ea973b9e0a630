"""Photo inputs of `lsw swap`: photos or aligned crops, single pairs or folders, with progress bars and
the pivot cache."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import attrs
import click

from lsw_core.camera import Camera
from lsw_core.cli.options import FiniteFloat, setting_type, settings_from, settings_options
from lsw_core.errors import ImageError, LswError
from lsw_core.images import IMAGE_OUTPUT_SUFFIXES, IMAGE_SUFFIXES, list_images, save_gif, save_image, stack_rows
from lsw_core.interfaces import Inverter
from lsw_core.inversion.cache import PivotCache, default_cache_folder
from lsw_core.mixing.latents import save_latents as save_latents_file
from lsw_core.mixing.mixer import read_mixer_config
from lsw_core.outputs import check_no_matches, check_output, check_outputs
from lsw_core.photo.paste import OCCLUSION_THRESHOLD, PasteConfig
from lsw_core.photo.record import record_path, save_swap_record
from lsw_core.photo.swapper import (
    PhotoSwapper,
    aligned_path,
    check_pairs,
    face_path,
    write_group_result,
    write_result,
)
from lsw_core.plugins import load_aligner, load_identity_embedder


def is_image_input(spec: str) -> bool:
    """An existing image file or folder (not `seed:` and not a `.npy` of codes)."""
    path = Path(spec)
    if spec.startswith("seed:") or path.suffix == ".npy":
        return False
    return path.is_dir() or (path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)


class FaceIndex(click.ParamType):
    """A face number (0 = largest) or `all`."""

    name = "INDEX|all"

    def convert(self, value, param, ctx):
        if value == "all" or isinstance(value, int):
            return value
        try:
            index = int(value)
        except ValueError:
            index = -1
        if index < 0:
            self.fail(f"expected a face number (0 = the largest) or 'all', got {value!r}", param, ctx)
        return index


def photo_options(command):
    """The options of `lsw swap` that apply to photo and aligned-crop inputs."""
    options = [
        click.option("--aligned/--photos", "aligned", default=None,
                     help="Inputs are aligned crops / photos to detect and align (default: square images of the "
                          "generator's resolution are crops, others photos)."),
        click.option("--source-face", type=int, help="Which face of the source photo (0 = largest, the default)."),
        click.option("--target-face", type=FaceIndex(),
                     help="Which face of the target photo (0 = largest, the default), or `all`: every face, one "
                          "after another."),
        click.option("--reference-face", type=click.Path(dir_okay=False),
                     help="Swap only the target face most like this photo's largest face in identity embedding."),
        click.option("--reference-threshold", type=FiniteFloat(-1, 1),
                     help="Swap every face at least this similar (cosine) to the reference [default: only the most "
                          "similar face]; the scale is the embedder's own."),
        click.option("--embedder", metavar="NAME",
                     help="Identity embedder for --reference-face (default: the one the mixer was trained with)."),
        click.option("--aligner", default="dlib-ffhq", show_default=True, help="Face aligner for photos."),
        settings_options(PasteConfig),
        click.option("--occlusion-mask", is_flag=True,
                     help="Keep the target's pixels where its own reconstruction misses it (hands, microphones)."),
        click.option("--occlusion-threshold", type=setting_type(PasteConfig, "occlusion"),
                     default=OCCLUSION_THRESHOLD, show_default=True,
                     help="With --occlusion-mask: error, in medians of the target's own, from which a pixel counts "
                          "as occluded."),
        click.option("--cache-dir", type=click.Path(file_okay=False), help="Pivot cache folder [default: $LSW_CACHE/pivots, $XDG_CACHE_HOME/lsw/pivots or ~/.cache/lsw/pivots]."),
        click.option("--no-cache", is_flag=True, help="Invert every image again instead of reusing cached pivots."),
        click.option("--cache-tuned", is_flag=True,
                     help="Also cache each pair's tuned generator (as large as its weights) to skip PTI tuning next time."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def paste_config(options: dict[str, Any]) -> PasteConfig:
    """The paste-back settings of `lsw swap`'s options (taken out of `options`), checked."""
    config = settings_from(PasteConfig, options)
    threshold = options.pop("occlusion_threshold")
    return attrs.evolve(config, occlusion=threshold) if options.pop("occlusion_mask") else config


@attrs.frozen(kw_only=True)
class FaceChoice:
    """Which faces of `lsw swap`'s photos are swapped: `aligned` (inputs are crops / photos / either),
    the source's and target's face numbers (0 = largest; the target's also "all"), or the target faces
    like a `reference_face` (all at least `reference_threshold` similar under `embedder`, else the most
    similar)."""

    aligned: bool | None = None
    source_face: int | None = None
    target_face: int | str | None = None
    reference_face: str | None = None
    reference_threshold: float | None = None
    embedder: str | None = None

    @property
    def several(self) -> bool:
        return self.target_face == "all" or self.reference_face is not None


def face_choice(options: dict[str, Any]) -> FaceChoice:
    """The face choice of `lsw swap`'s options (taken out of `options`)."""
    return FaceChoice(**{f.name: options.pop(f.name) for f in attrs.fields(FaceChoice)})


def inversion_parts(options: dict[str, Any], aligned: bool | None, inverter: Inverter) -> dict[str, Any]:
    """The parts a photo or clip swap inverts with, from `lsw swap`'s options (taken out of
    `options`): the inverter, the aligner, the pivot cache and whether it keeps tuned generators."""
    aligner, cache_dir = options.pop("aligner"), options.pop("cache_dir")
    cache = None
    if not options.pop("no_cache"):
        if cache_dir is not None:  # named by the user: a folder that cannot be written is an error
            check_output(cache_dir, folder=True, what="--cache-dir")
        folder = cache_dir or default_cache_folder()  # from the environment: unwritable → a warning, no cache
        cache = PivotCache(folder) if folder is not None else None
    return {"inverter": inverter, "aligner": optional_aligner(aligner, aligned), "cache": cache,
            "cache_tuned": options.pop("cache_tuned")}  # fmt: skip


def optional_aligner(name: str, aligned: bool | None):
    """The aligner `name`, unless the inputs are aligned crops; None when it is not installed and the
    inputs may still turn out to be crops."""
    if aligned is True:
        return None
    try:
        return load_aligner(name)
    except LswError:
        if aligned is False:
            raise
        return None


class StepBar:
    """A tqdm bar per optimisation stage (projection, tuning), fed by the inverters' progress callback."""

    def __init__(self, enabled: bool | None) -> None:
        self.enabled = enabled
        self.bar = None
        self.total = None

    def __call__(self, step: int, total: int, info: dict) -> None:
        from tqdm.auto import tqdm

        if self.bar is None or step == 0 or total != self.total:
            self.close()
            self.bar = tqdm(
                total=total,
                leave=False,
                desc="invert",
                unit="step",
                disable=None if self.enabled is None else not self.enabled,
            )
            self.total = total
        self.bar.update(1)
        self.bar.set_postfix(psnr=f"{info.get('psnr', 0):.1f}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run_photo_swap(
    photos: PhotoSwapper, source: str, target: str, out: str, faces: FaceChoice, *, groups: list[str] | None,
    strength: float = 1.0, cameras: Camera | None = None, save_latents: bool = False, mixer_dir: str | None = None,
) -> None:  # fmt: skip
    """Swap photos (or aligned crops): one pair → OUT (+ OUT_aligned beside it for a photo target);
    a folder on either side → one result per pair in the folder OUT. With `cameras`, also
    OUT_views.png (source, target and swap rows across the views) and OUT_views.gif. With
    `save_latents`, OUT.npy and the record `lsw edit` renders edits with (OUT.swap.safetensors).
    With several faces chosen (`target_face="all"` or a `reference_face`), several faces of each
    target photo are swapped: OUT, and OUT_face{i}_aligned beside it for each."""
    from tqdm.auto import tqdm

    if faces.reference_face is not None and faces.target_face not in (None, "all"):
        raise LswError("--reference-face picks the target faces itself: leave out --target-face")
    if faces.several and (save_latents or cameras is not None):
        raise LswError("--save-latents and --views swap one face: use --target-face N, not all or --reference-face")

    src_path, tgt_path = Path(source), Path(target)
    sources = list_images(src_path) if src_path.is_dir() else [src_path]
    targets = list_images(tgt_path) if tgt_path.is_dir() else [tgt_path]
    pairs = check_pairs(sources, targets)
    batch = src_path.is_dir() or tgt_path.is_dir()
    prepare = functools.lru_cache(maxsize=None)(
        lambda path, face: photos.prepare(path, aligned=faces.aligned, face_index=face)
    )
    reference = identity = None
    if faces.reference_face is not None:  # a reference without a face fails here, before any inversion
        reference = photos.prepare(faces.reference_face, aligned=faces.aligned)
        identity = reference_embedder(faces.embedder, mixer_dir).to(photos.swapper.device)
    out = Path(out)
    steps = StepBar(None)
    written = []
    for s, t in tqdm(pairs, desc="swap", unit="pair", disable=None if len(pairs) > 1 else True):
        path = out / f"{s.stem}__{t.stem}.png" if batch else out
        if faces.several:
            written += swap_faces(photos, prepare(s, faces.source_face), t, path, reference, identity,
                                  faces.reference_threshold, groups=groups, strength=strength, progress=steps)  # fmt: skip
            continue
        result = photos.swap(
            prepare(s, faces.source_face), prepare(t, faces.target_face), groups=groups, strength=strength,
            cameras=cameras, progress=steps,
        )  # fmt: skip
        steps.close()
        written += write_result(result, path)
        if result.views is not None:
            views = views_path(path)
            save_image(stack_rows(list(result.views)), views)
            save_gif(result.views[-1], views.with_suffix(".gif"))
            written += [views, views.with_suffix(".gif")]
        if save_latents:
            save_latents_file(path.with_suffix(".npy"), result.ws)
            record = save_swap_record(record_path(path.with_suffix(".npy")), result, photos.generator,
                                      paste=photos.paste)  # fmt: skip
            written += [path.with_suffix(".npy"), record]
        hits = sum(result.cache_hits)
        psnr = result.metrics.get("psnr")
        quality = f", reconstruction PSNR {min(psnr):.1f} dB" if psnr else ""
        click.echo(
            f"{s.name} → {t.name}: {result.seconds['total']:.1f} s ({hits}/2 pivots from cache{quality})", err=True
        )
    click.echo(
        f"wrote {written[0]}" if len(written) == 1 else f"wrote {len(written)} files to {out if batch else out.parent}"
    )


def views_path(path: Path) -> Path:
    """Where a photo swap written to `path` puts its views strip (and, with .gif, the GIF)."""
    return path.with_name(f"{path.stem}_views{path.suffix}")


def check_photo_outputs(
    source: str, target: str, out: str, faces: FaceChoice, *, views: int | None, save_latents: bool,
    inputs: dict, overwrite: bool,
) -> None:  # fmt: skip
    """Check every file a photo swap will write (`lsw_core.outputs.check_output`) before any work:
    OUT (or, with a folder input, one file per pair in the folder OUT), OUT_aligned beside a photo
    target's result, OUT_views.png/.gif with --views, OUT.npy and OUT.swap.safetensors with
    --save-latents, and for several faces no OUT_face*_aligned already there."""
    src_path, tgt_path = Path(source), Path(target)
    batch = src_path.is_dir() or tgt_path.is_dir()
    out_path = Path(out)
    if batch:
        if out_path.suffix:
            raise LswError(f"-o {out_path}: with a folder input, OUT is a folder (one result per pair)")
        check_output(out_path, folder=True, what="-o")
    else:
        check_latents_name(out_path, save_latents)
        check_output(out_path, inputs=inputs, overwrite=overwrite, suffixes=IMAGE_OUTPUT_SUFFIXES, what="-o")
    sources = list_images(src_path) if src_path.is_dir() else [src_path]
    targets = list_images(tgt_path) if tgt_path.is_dir() else [tgt_path]
    files: list[Path] = []
    for s, t in check_pairs(sources, targets):
        path = out_path / f"{s.stem}__{t.stem}.png" if batch else out_path
        files.append(path)
        if faces.several:
            check_no_matches(path.parent, face_path(path, "*").name, overwrite=overwrite, inputs=inputs)
            continue
        if faces.aligned is not True:  # a photo target (or one that may turn out to be a photo)
            files.append(aligned_path(path))
        if views is not None:
            files += [views_path(path), views_path(path).with_suffix(".gif")]
        if save_latents:
            files += [path.with_suffix(".npy"), record_path(path.with_suffix(".npy"))]
    check_outputs(files if batch else files[1:], inputs=inputs, overwrite=overwrite)


def check_latents_name(out: Path, save_latents: bool) -> None:
    """`.npy` is for codes: an image OUT named so is refused, with or without --save-latents."""
    if out.suffix.lower() == ".npy":
        also = "" if save_latents else "; to keep the codes, add --save-latents"
        raise LswError(
            f"-o {out}: OUT is the image; --save-latents writes the W+ codes beside it as OUT.npy "
            f"(e.g. -o {out.with_suffix('.png')} --save-latents writes {out.with_suffix('.npy')}){also}"
        )


def reference_embedder(name: str | None, mixer_dir: str | None):
    """The identity embedder named, else the one the mixer was trained with (and its options)."""
    options = {}
    if name is None and mixer_dir is not None:
        config = read_mixer_config(mixer_dir)
        name = (config.get("components") or {}).get("embedder")
        options = config.get("training", {}).get("embedder_options", {})
    if name is None:
        raise LswError("--reference-face: the mixer names no identity embedder; pass --embedder NAME")
    return load_identity_embedder(name, **options).eval()


def swap_faces(photo_swapper, source, target: Path, path: Path, reference, identity, threshold, **swap) -> list[Path]:
    """Swap the source onto the target photo's faces (those like `reference` if given); the files written."""
    faces = photo_swapper.prepare_all(target)
    if not faces:
        raise ImageError(f"{target}: no face found")
    result = photo_swapper.swap_faces(source, faces, reference=reference, embedder=identity, threshold=threshold,
                                      **swap)  # fmt: skip
    swap["progress"].close()
    if not result.faces:
        best = float(result.similarity.max())
        raise ImageError(f"{target}: no face matches the reference (best similarity {best:.2f} < {threshold})")
    similar = "" if result.similarity is None else f" (similarity {', '.join(f'{x:.2f}' for x in result.similarity)})"
    click.echo(
        f"{Path(source.name).name} → {target.name}: swapped face(s) {result.faces} of {len(faces)}{similar}", err=True
    )
    return write_group_result(result, path)
