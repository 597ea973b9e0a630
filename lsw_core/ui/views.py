"""The Multiview and Layers-and-edits pages' actions, on the pivots of a source and a target (seeds'
W+ codes, or photos inverted through the session's pivot cache): the swap from a sweep of cameras
and from any one camera; the swap restricted to each layer group (the paper's Figure 10); and the
swapped code moved along an edit direction (GANSpace components of the generator, or the
InterFaceGAN boundaries in the mixer folder's `directions/`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np
import torch

from lsw_core.camera import Camera
from lsw_core.errors import LswError
from lsw_core.images import from_tensor, save_gif, stack_rows
from lsw_core.interfaces import Inversion
from lsw_core.mixing.editing import apply_direction, load_direction
from lsw_core.mixing.swapper import group_rows
from lsw_core.photo.record import SwapRecord
from lsw_core.photo.swapper import PhotoSwapper
from lsw_core.ui.inputs import Side
from lsw_core.ui.loaded import LoadedMixer, ModelCache
from lsw_core.ui.work import Report, Results, inversion_progress, labelled_row, no_report, prepare

DIRECTIONS_FOLDER = "directions"
EDIT_STRIP = (-3.0, -1.5, 0.0, 1.5, 3.0)


@attrs.define
class Pair:
    """A source and a target ready to mix: their pivots (an `Inversion` of two) and aligned crops."""

    inversion: Inversion
    crops: list[np.ndarray]


@attrs.define
class SwapState:
    """A swap kept for re-rendering: its W+ code [1, num_ws, w_dim] and how it renders (the generator
    it was synthesised with, the target's camera and synthesis arguments)."""

    ws: torch.Tensor
    record: SwapRecord


def pair(
    cache: ModelCache, loaded: LoadedMixer, source: Side, target: Side, *, schedule: str, aligned: bool | None,
    results: Results, report: Report = no_report,
) -> Pair:  # fmt: skip
    """The pivots of two seeds (exact), or of photos (or a photo and a seed) inverted together."""
    swapper = loaded.swapper
    if source.seed is not None and target.seed is not None:
        ws = swapper.wplus_from_z(swapper.latents_from_seeds([source.seed, target.seed]))
        crops = [from_tensor(image) for image in swapper.render(ws)]
        return Pair(Inversion(ws=ws, generator=swapper.generator), crops)
    photos = PhotoSwapper(
        swapper, cache.inverter(schedule, swapper.generator.backend_name), aligner=cache.aligner(),
        cache=results.pivots(), cache_tuned=True,
    )  # fmt: skip
    crops = [prepare(side, swapper, photos.aligner, aligned=aligned).crop for side in (source, target)]
    inversion, _ = photos.inversion.invert(crops, inversion_progress(report))
    return Pair(inversion, crops)


def _state(ws: torch.Tensor, inversion: Inversion) -> SwapState:
    target = inversion[1]
    camera = target.camera if isinstance(target.camera, Camera) else None
    return SwapState(ws.detach(), SwapRecord(inversion.generator, camera, target.synthesis_kwargs, None, None))


# --- multiview -------------------------------------------------------------------------------------


@attrs.define
class Multiview:
    views: list[tuple[Path, str]]
    strip: Path
    gif: Path
    state: SwapState


def check_camera(loaded: LoadedMixer) -> Camera:
    if not loaded.camera_aware:
        G = loaded.swapper.generator
        raise LswError(
            f"multiview needs a camera-aware mixer (e.g. synthface3d, StyleNeRF); {loaded.entry.folder.name} is "
            f"for {G.backend_name!r}, which is 2D"
        )
    return loaded.swapper.generator.camera


def multiview(loaded: LoadedMixer, pivots: Pair, *, views: int, strength: float, results: Results) -> Multiview:
    """Source, target and swap from `views` cameras across the prior's yaw range: one image of the
    swap per camera, the three rows as a strip and the swap as a GIF."""
    spec = check_camera(loaded)
    swapper, inversion = loaded.swapper, pivots.inversion
    cameras = spec.yaw_sweep(views)
    swap = swapper.swap_inversion(inversion, 1, strength=strength, cameras=cameras)
    both = swapper.render(inversion.ws, cameras, inversion.generator, **inversion.synthesis_kwargs)
    rows = [both[0].cpu(), both[1].cpu(), swap.images[0].cpu()]
    strip = results.image("views", stack_rows(rows, labels=["source", "target", "swap"]))
    gif = results.path("views", ".gif")
    save_gif(rows[2], gif)
    files = [
        (results.photo(f"view{v}", from_tensor(rows[2][v])), f"yaw {float(cameras.azimuth[v]):+.0f}°")
        for v in range(len(cameras))
    ]
    return Multiview(files, strip, results.keep(gif), _state(swap.ws, inversion))


def render_view(loaded: LoadedMixer, state: SwapState, *, yaw: float, pitch: float, results: Results) -> Path:
    """The kept swap from one camera: `yaw` degrees of azimuth, `pitch` degrees above the horizon."""
    spec = check_camera(loaded)
    camera = Camera.make(yaw, 90.0 - pitch, spec.fov, spec.radius)
    record = state.record
    image = loaded.swapper.render(state.ws, camera, record.generator, **record.synthesis_kwargs)
    return results.photo("view", from_tensor(image[0, 0]))


# --- layer groups and edits ------------------------------------------------------------------------


def layer_groups(loaded: LoadedMixer) -> list[str]:
    """The generator's layer groups that have rows."""
    return [name for name, rows in loaded.swapper.generator.layer_groups.items() if len(rows)]


def layers(
    loaded: LoadedMixer, pivots: Pair, *, groups: Sequence[str] | None, strength: float, results: Results
) -> tuple[Path, Path, SwapState]:
    """The swap on the chosen layer groups (None: all), and the Figure-10 strip: source, target, the
    swap on each layer group alone, and on all of them."""
    swapper, inversion = loaded.swapper, pivots.inversion
    columns = [[name] for name in layer_groups(loaded)] + [None]
    images = [from_tensor(swapper.swap_inversion(inversion, 1, groups=g, strength=strength).images) for g in columns]
    labels = ["source", "target", *(f"{g[0]} only" for g in columns[:-1]), "all groups"]
    figure = results.image("layers", labelled_row([*pivots.crops, *images], labels))
    chosen = swapper.swap_inversion(inversion, 1, groups=list(groups) if groups else None, strength=strength)
    return results.photo("layers-swap", from_tensor(chosen.images)), figure, _state(chosen.ws, inversion)


def edit_directions(loaded: LoadedMixer, components: int) -> list[tuple[str, str]]:
    """(label, value) of the directions offered: GANSpace components, then the folder's `.npy` files."""
    found = [(f"GANSpace component {k}", f"ganspace:{k}") for k in range(components)]
    folder = loaded.entry.folder / DIRECTIONS_FOLDER
    if folder.is_dir():
        found += [(f"{p.stem} ({DIRECTIONS_FOLDER}/{p.name})", f"file:{p.name}") for p in sorted(folder.glob("*.npy"))]
    return found


def _direction(cache: ModelCache, loaded: LoadedMixer, value: str) -> tuple[torch.Tensor, float]:
    """A direction [w_dim] and the size of one step along it (a GANSpace component's standard deviation)."""
    kind, _, name = (value or "").partition(":")
    if kind == "ganspace" and name.isdigit():
        components, stddev = cache.ganspace(loaded)
        k = int(name)
        if k >= len(components):
            raise LswError(f"direction {value!r}: there are {len(components)} GANSpace components")
        return components[k], float(stddev[k])
    offered = {v for _, v in edit_directions(loaded, 0)}
    if kind == "file" and value in offered:
        folder = loaded.entry.folder / DIRECTIONS_FOLDER
        return load_direction(str(folder / name), loaded.swapper.generator.w_dim), 1.0
    raise LswError(f"direction {value!r}: not one this mixer offers")


def edit(
    cache: ModelCache, loaded: LoadedMixer, state: SwapState, *, direction: str, amount: float,
    groups: Sequence[str] | None, results: Results,
) -> tuple[Path, Path]:  # fmt: skip
    """The kept swap moved `amount` steps along `direction` on `groups` (None: every row), rendered as
    the swap was; and a strip of it at −3 … +3 steps."""
    vector, scale = _direction(cache, loaded, direction)
    rows = group_rows(loaded.swapper.generator, list(groups)) if groups else None
    record = state.record
    ws = state.ws.to(record.generator.w_avg.device)

    def render(steps: float) -> np.ndarray:
        return record.render(apply_direction(ws, vector, steps * scale, rows))

    strip = labelled_row([render(a) for a in EDIT_STRIP], [f"{a:+g}" for a in EDIT_STRIP])
    return results.photo("edit", render(amount)), results.image("edits", strip)
