"""Inversion with results cached on disk, keyed by image hash and what produced them, so that
repeated swaps of the same photo skip projection (and, optionally, a repeated pair skips tuning):
`PivotCache` (the files) and `CachedInverter` (an inverter's two stages through it), which photo
and video swaps share."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from lsw_core.camera import Camera
from lsw_core.errors import LswError
from lsw_core.formats.artifacts import fingerprint, read_weights, save_weights
from lsw_core.images import image_hash, to_tensor
from lsw_core.interfaces import Generator, Inversion, Inverter
from lsw_core.inversion.pti import apply_delta, parameter_delta
from lsw_core.outputs import check_output

FORMAT = "lsw-pivot"


def _legacy(metadata: dict[str, str]) -> dict[str, Any]:
    """Entries written before the common weights-file format: metadata `{"info": JSON}` only."""
    return json.loads(metadata["info"])


def default_cache_folder() -> Path | None:
    """Where pivots are cached when no folder is given: `$LSW_CACHE/pivots`, else
    `$XDG_CACHE_HOME/lsw/pivots`, else `$HOME/.cache/lsw/pivots`. None, with one warning, when that
    place cannot be written (a read-only HOME, LSW_CACHE naming a file) or HOME is empty or not an
    absolute path (never `/.cache` at the root of the file system): the swap then runs without a cache."""
    if os.environ.get("LSW_CACHE"):
        root, source = Path(os.environ["LSW_CACHE"]), "LSW_CACHE"
    elif os.path.isabs(os.environ.get("XDG_CACHE_HOME", "")):
        root, source = Path(os.environ["XDG_CACHE_HOME"]) / "lsw", "XDG_CACHE_HOME"
    else:
        home = os.environ["HOME"] if "HOME" in os.environ else os.path.expanduser("~")
        if not os.path.isabs(home):
            warnings.warn(f"HOME is {home!r}, not a folder: pivots are not cached (set LSW_CACHE or --cache-dir)",
                          stacklevel=2)  # fmt: skip
            return None
        root, source = Path(home) / ".cache" / "lsw", "HOME"
    folder = root / "pivots"
    try:
        check_output(folder, folder=True)
    except LswError as exc:
        warnings.warn(f"pivot cache from {source}: {exc}; pivots are not cached", stacklevel=2)
        return None
    return folder


class PivotCache:
    """Inversion results on disk: one weights file (`lsw_core.formats.artifacts`) per key, e.g. the W+ pivot
    and camera of an image, or the weight difference of a generator tuned on a pair."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def key(self, image: np.ndarray, *context: Any) -> str:
        """Cache key of an aligned image under the given context (e.g. generator fingerprint, settings)."""
        h = hashlib.sha256(image_hash(image).encode())
        for item in context:
            h.update(repr(item).encode())
        return h.hexdigest()[:32]

    def get(self, key: str) -> dict[str, torch.Tensor] | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            tensors, _ = read_weights(path, FORMAT, what="a pivot-cache entry", legacy=_legacy)
        except (LswError, KeyError, ValueError, TypeError) as exc:  # a miss, rewritten after inversion
            self.miss(path, str(exc).removeprefix(f"{path}: "))
            return None
        return tensors

    def miss(self, path: str | os.PathLike, reason: str) -> None:
        """Report an entry that cannot be used (damaged, of another shape): it counts as a miss."""
        warnings.warn(f"pivot cache entry {path} not used ({reason}); inverting again", stacklevel=3)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.safetensors"

    def put(self, key: str, tensors: dict[str, torch.Tensor], metadata: dict[str, Any] | None = None) -> Path:
        """Store `tensors` (and JSON-able `metadata`, e.g. the reconstruction PSNR) atomically."""
        return save_weights(self.path(key), tensors, format=FORMAT, **(metadata or {}))


class CachedInverter:
    """An `Inverter`'s two stages on aligned crops of `generator`'s resolution, through a `PivotCache`:
    `project` reads cached pivots and projects the others in one batch; `refine` runs the joint stage
    (PTI tuning one generator copy on several images), and with `cache_tuned` stores the refined
    generator as its weight difference from the original (as large as the generator's weights: ~120 MB
    per set of images for StyleGAN2 at 1024 px), so the same images skip tuning next time. Without a
    cache both stages just run."""

    def __init__(
        self, inverter: Inverter, generator: Generator, cache: PivotCache | None = None, *, cache_tuned: bool = False
    ) -> None:
        self.inverter = inverter
        self.generator = generator
        self.cache = cache
        self.cache_tuned = cache_tuned
        self._fingerprint: str | None = None

    def key(self, crop: np.ndarray, stage: str = "project") -> str | None:
        """The cache key of `crop`'s result of `stage` (None: not cached)."""
        context = self.inverter.cache_key(self.generator, stage) if self.cache is not None else None
        if context is None:
            return None
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.generator)
        return self.cache.key(crop, self.generator.backend_name, self._fingerprint, *context)

    def project(self, crops: Sequence[np.ndarray], progress: Any = None) -> tuple[Inversion, list[bool]]:
        """The inverter's per-image pivots of `crops` (RGB uint8 [R, R, 3]), cached ones read instead
        of projected; and which came from the cache."""
        G = self.generator
        keys = [self.key(c) for c in crops]
        entries: list[Inversion | None] = [_read(self.cache, k, G) for k in keys]
        todo = [i for i, entry in enumerate(entries) if entry is None]
        generator, metrics = G, {}
        if todo:
            fresh = self.inverter.project(
                G, torch.cat([to_tensor(crops[i], G.device) for i in todo]), progress=progress
            )
            generator, metrics = fresh.generator, fresh.metrics
            psnr = metrics.get("psnr", [None] * len(todo))
            for j, i in enumerate(todo):
                entries[i] = fresh[j].to(G.device)
                if keys[i] is not None:
                    self.cache.put(keys[i], _tensors(entries[i]), {"psnr": psnr[j]})
        pivots = Inversion.cat(entries, generator)
        return attrs.evolve(pivots, metrics=metrics), [i not in todo for i in range(len(crops))]

    def project_from(self, crop: np.ndarray, start: Inversion | None, progress: Any = None) -> Inversion:
        """`crop`'s pivot projected from the pivot `start` (the previous video frame's; inverters that
        do not warm-start ignore it). Not cached: it depends on where it started."""
        return self.inverter.project(self.generator, to_tensor(crop, self.generator.device), progress=progress,
                                     start=start)  # fmt: skip

    def refine(self, pivots: Inversion, crops: Sequence[np.ndarray], progress: Any = None) -> Inversion:
        """The inverter's joint stage on the pivots of `crops`, with the refined generator from the
        cache when `cache_tuned` and these crops were refined before."""
        if not self.inverter.refines:
            return pivots
        key = None
        context = self.inverter.cache_key(self.generator, "refine") if self.cache_tuned else None
        keys = [self.key(c) for c in crops]
        if self.cache is not None and context is not None and all(k is not None for k in keys):
            key = self.cache.key(np.concatenate(list(crops)), "tuned", *keys, *context)
            stored = self.cache.get(key)
            if stored is not None:
                delta = {k[len("delta.") :]: v for k, v in stored.items() if k.startswith("delta.")}
                own = {**dict(self.generator.named_buffers()), **dict(self.generator.named_parameters())}
                wrong = [k for k, v in delta.items() if k not in own or tuple(own[k].shape) != tuple(v.shape)]
                if not wrong:
                    tuned = apply_delta(self.generator, delta)
                    return attrs.evolve(pivots, generator=tuned, metrics={"tuning": "cached"})
                self.cache.miss(self.cache.path(key), f"{wrong[0]} does not fit the generator's weights")
        images = torch.cat([to_tensor(c, pivots.ws.device) for c in crops])
        inversion = self.inverter.refine(self.generator, pivots, images, progress=progress)
        if key is not None:
            delta = parameter_delta(self.generator, inversion.generator)
            self.cache.put(key, {f"delta.{k}": v for k, v in delta.items()}, {"psnr": inversion.metrics.get("psnr")})
        return inversion

    def invert(self, crops: Sequence[np.ndarray], progress: Any = None) -> tuple[Inversion, list[bool]]:
        """Both stages: the crops' pivots (cached or projected), refined together."""
        pivots, hits = self.project(crops, progress)
        return self.refine(pivots, crops, progress), hits


def _tensors(pivot: Inversion) -> dict[str, torch.Tensor]:
    """The cache entry of one image's pivot: its W+ code, camera and synthesis arguments."""
    entry = {"ws": pivot.ws}
    if isinstance(pivot.camera, Camera):
        cam = pivot.camera
        entry["camera"] = torch.stack([cam.azimuth, cam.polar, cam.fov, cam.radius], dim=1)
    entry.update({f"synthesis.{k}": v for k, v in pivot.synthesis_kwargs.items()})
    return {k: v.detach().cpu() for k, v in entry.items()}


def _read(cache: PivotCache | None, key: str | None, generator: Generator) -> Inversion | None:
    """One image's cached pivot, or None (no cache, no entry, or one that is damaged or does not
    fit the generator: a miss, with a warning naming it)."""
    entry = cache.get(key) if cache is not None and key is not None else None
    if entry is None:
        return None
    expected = {"ws": (1, generator.num_ws, generator.w_dim), "camera": (1, 4)}
    for name, shape in expected.items():
        value = entry.get(name)
        if (value is None and name == "ws") or (value is not None and tuple(value.shape) != shape):
            found = "missing" if value is None else f"{list(value.shape)}"
            cache.miss(cache.path(key), f"{name} is {found}, expected {list(shape)}")
            return None
        if value is not None and (not value.is_floating_point() or not torch.isfinite(value).all()):
            cache.miss(cache.path(key), f"{name} is not finite floating point")
            return None
    device = generator.device
    camera = None
    if generator.camera is not None and "camera" in entry:
        cam = entry["camera"].to(device)
        camera = Camera(cam[:, 0], cam[:, 1], cam[:, 2], cam[:, 3])
    kwargs = {k[len("synthesis.") :]: v.to(device) for k, v in entry.items() if k.startswith("synthesis.")}
    return Inversion(ws=entry["ws"].to(device), generator=generator, camera=camera, synthesis_kwargs=kwargs)
