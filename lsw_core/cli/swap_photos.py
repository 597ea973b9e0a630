"""Photo inputs of `lsw swap`: photos or aligned crops, single pairs or folders, with progress bars and
the pivot cache."""

from __future__ import annotations

import functools
from pathlib import Path

import click
import numpy as np

from lsw_core.camera import Camera
from lsw_core.errors import LswError
from lsw_core.imageio import IMAGE_SUFFIXES, list_images, save_gif, save_image, stack_rows
from lsw_core.interfaces import Inverter
from lsw_core.photo import PhotoSwapper, PivotCache, check_pairs, write_result
from lsw_core.photo.record import record_path, save_swap_record
from lsw_core.plugins import load_aligner
from lsw_core.swapper import Swapper


def default_cache_dir() -> Path:
    """`$LSW_CACHE/pivots`, else `~/.cache/lsw/pivots`."""
    import os

    root = os.environ.get("LSW_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "lsw")
    return Path(root) / "pivots"


def is_image_input(spec: str) -> bool:
    """An existing image file or folder (not `seed:` and not a `.npy` of codes)."""
    path = Path(spec)
    if spec.startswith("seed:") or path.suffix == ".npy":
        return False
    return path.is_dir() or (path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)


def photo_options(command):
    """The options of `lsw swap` that apply to photo and aligned-crop inputs."""
    options = [
        click.option("--aligned/--photos", "aligned", default=None,
                     help="Inputs are aligned crops / photos to detect and align (default: square images of the "
                          "generator's resolution are crops, others photos)."),
        click.option("--source-face", type=int, help="Which face of the source photo (0 = largest, the default)."),
        click.option("--target-face", type=int, help="Which face of the target photo (0 = largest, the default)."),
        click.option("--aligner", default="dlib-ffhq", show_default=True, help="Face aligner for photos."),
        click.option("--paste", type=click.Choice(["crop", "face"]), default="crop", show_default=True,
                     help="Paste back the whole aligned crop, or only the face (landmark hull)."),
        click.option("--feather", type=float, default=0.1, show_default=True,
                     help="Width of the paste-back seam blend, as a fraction of the crop."),
        click.option("--cache-dir", type=click.Path(file_okay=False), help="Pivot cache folder [default: ~/.cache/lsw/pivots]."),
        click.option("--no-cache", is_flag=True, help="Invert every image again instead of reusing cached pivots."),
        click.option("--cache-tuned", is_flag=True,
                     help="Also cache each pair's tuned generator (as large as its weights) to skip PTI tuning next time."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


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
    swapper: Swapper, source: str, target: str, out: str, inverter: Inverter, *, groups: list[str] | None,
    aligned: bool | None, source_face: int | None, target_face: int | None, aligner: str, paste: str, feather: float,
    cache_dir: str | None, no_cache: bool, cache_tuned: bool = False, save_latents: bool = False,
    cameras: Camera | None = None,
) -> None:  # fmt: skip
    """Swap photos (or aligned crops): one pair → OUT (+ OUT_aligned beside it for a photo target);
    a folder on either side → one result per pair in the folder OUT. With `cameras`, also
    OUT_views.png (source, target and swap rows across the views) and OUT_views.gif. With
    `save_latents`, OUT.npy and the record `lsw edit` renders edits with (OUT.swap.safetensors)."""
    from tqdm.auto import tqdm

    src_path, tgt_path = Path(source), Path(target)
    sources = list_images(src_path) if src_path.is_dir() else [src_path]
    targets = list_images(tgt_path) if tgt_path.is_dir() else [tgt_path]
    pairs = check_pairs(sources, targets)
    batch = src_path.is_dir() or tgt_path.is_dir()
    align = optional_aligner(aligner, aligned)
    cache = None if no_cache else PivotCache(cache_dir or default_cache_dir())
    photo_swapper = PhotoSwapper(
        swapper, inverter, aligner=align, cache=cache, paste=paste, feather=feather, cache_tuned=cache_tuned
    )
    prepare = functools.lru_cache(maxsize=None)(
        lambda path, face: photo_swapper.prepare(path, aligned=aligned, face_index=face)
    )
    out = Path(out)
    if batch and out.suffix:
        raise LswError(f"-o {out}: with a folder input, OUT is a folder (one result per pair)")
    steps = StepBar(None)
    written = []
    for s, t in tqdm(pairs, desc="swap", unit="pair", disable=None if len(pairs) > 1 else True):
        result = photo_swapper.swap(
            prepare(s, source_face), prepare(t, target_face), groups=groups, cameras=cameras, progress=steps
        )
        steps.close()
        path = out / f"{s.stem}__{t.stem}.png" if batch else out
        written += write_result(result, path)
        if result.views is not None:
            views = path.with_name(f"{path.stem}_views{path.suffix}")
            save_image(stack_rows(list(result.views)), views)
            save_gif(result.views[-1], views.with_suffix(".gif"))
            written += [views, views.with_suffix(".gif")]
        if save_latents:
            np.save(path.with_suffix(".npy"), result.ws.cpu().numpy())
            written += [path.with_suffix(".npy"), save_swap_record(record_path(path.with_suffix(".npy")), result,
                                                                   swapper.generator, paste=paste, feather=feather)]  # fmt: skip
        hits = sum(result.cache_hits)
        psnr = result.metrics.get("psnr")
        quality = f", reconstruction PSNR {min(psnr):.1f} dB" if psnr else ""
        click.echo(
            f"{s.name} → {t.name}: {result.seconds['total']:.1f} s ({hits}/2 pivots from cache{quality})", err=True
        )
    click.echo(
        f"wrote {written[0]}" if len(written) == 1 else f"wrote {len(written)} files to {out if batch else out.parent}"
    )
