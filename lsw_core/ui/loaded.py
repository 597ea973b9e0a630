"""Models loaded once per process: each mixer with its generator, each inverter schedule, the aligner
and identity embedders, keyed by what they were loaded from (folder and options). `loads` counts what
was actually loaded, so a second request is seen to load nothing. Each mixer carries a lock: one swap
at a time per loaded model."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import attrs
import torch

from lsw_core.devices import resolve_device
from lsw_core.errors import LswError
from lsw_core.interfaces import Aligner, IdentityEmbedder, Inverter
from lsw_core.mixing.editing import ganspace_components
from lsw_core.mixing.swapper import Swapper
from lsw_core.plugins import load_aligner, load_identity_embedder, load_inverter, registry
from lsw_core.training.config import recorded_training
from lsw_core.ui.catalog import MixerEntry

#: The inversion schedules offered: PTI's fast schedule, the authors' full one, and the fast one
#: starting from the backend's registered latent encoder.
SCHEDULES = ("fast", "full", "encoder")
ALIGNER = "dlib-ffhq"
GANSPACE_COMPONENTS = 10


@attrs.define(eq=False)
class LoadedMixer:
    """A mixer bound to its generator (on the app's device), and the lock its swaps take."""

    entry: MixerEntry
    swapper: Swapper
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    @property
    def camera_aware(self) -> bool:
        return self.swapper.generator.camera is not None


class ModelCache:
    """Everything the app loads, loaded on first use and kept: `mixer(entry)`, `inverter(schedule,
    backend)`, `aligner()`, `embedder(entry)`, `ganspace(entry)`."""

    def __init__(self, *, device: str = "auto", inverter_options: dict[str, Any] | None = None) -> None:
        self.device = resolve_device(device)
        self.inverter_options = dict(inverter_options or {})
        self.loads: Counter[str] = Counter()
        self._items: dict[tuple, Any] = {}
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()

    def _get(self, kind: str, key: tuple, load: Callable[[], Any]) -> Any:
        """The item under (kind, key), loaded once even when requests ask for it together."""
        full = (kind, *key)
        with self._guard:
            if full in self._items:
                return self._items[full]
            lock = self._locks.setdefault(full, threading.Lock())
        with lock:
            with self._guard:
                if full in self._items:
                    return self._items[full]
            item = load()
            with self._guard:
                self._items[full] = item
                self.loads[kind] += 1
            return item

    def mixer(self, entry: MixerEntry) -> LoadedMixer:
        """The entry's mixer and generator, opened as `lsw swap` opens them (recorded settings checked)."""

        def load() -> LoadedMixer:
            recorded_training(entry.config, entry.folder)
            swapper = Swapper.from_folder(entry.folder, **entry.generator_options).to(self.device)
            return LoadedMixer(entry, swapper)

        return self._get("mixer", (entry.key, tuple(sorted(entry.generator_options.items()))), load)

    def inverter(self, schedule: str, backend: str) -> Inverter:
        """PTI with `schedule` ("fast", "full", or "encoder": fast from `backend`'s latent encoder),
        with the app's inverter options on top."""
        if schedule not in SCHEDULES:
            raise LswError(f"schedule {schedule!r}: expected one of {', '.join(SCHEDULES)}")
        options = {"schedule": "authors" if schedule == "full" else "fast", **self.inverter_options}
        if schedule == "encoder" and "encoder" not in options:
            if backend not in registry("latent_encoder"):
                known = ", ".join(sorted(registry("latent_encoder"))) or "none"
                raise LswError(
                    f"schedule 'encoder': no latent encoder is registered for {backend!r} (registered: {known});"
                    " start `lsw ui` with --inverter-option encoder=FILE"
                )
            options["encoder"] = backend
        key = (schedule, backend if schedule == "encoder" else None)
        return self._get("inverter", key, lambda: load_inverter("pti", **options))

    def aligner(self) -> Aligner | None:
        """The face aligner for photos; None when it is not installed (aligned crops still work)."""

        def load() -> Aligner | None:
            try:
                return load_aligner(ALIGNER)
            except LswError:
                return None

        return self._get("aligner", (ALIGNER,), load)

    def embedder(self, entry: MixerEntry) -> IdentityEmbedder:
        """The identity embedder the mixer was trained with (for the reference-face choice)."""
        name = (entry.config.get("components") or {}).get("embedder")
        if name is None:
            raise LswError("reference face: the mixer names no identity embedder it was trained with")
        options = (entry.config.get("training") or {}).get("embedder_options", {})

        def load() -> IdentityEmbedder:
            return load_identity_embedder(name, **options).eval().to(self.device)

        return self._get("embedder", (name, tuple(sorted(options.items()))), load)

    def ganspace(self, loaded: LoadedMixer) -> tuple[torch.Tensor, torch.Tensor]:
        """GANSpace components [k, w_dim] and their standard deviations [k] of the mixer's generator."""

        def load() -> tuple[torch.Tensor, torch.Tensor]:
            _, components, stddev = ganspace_components(loaded.swapper.generator, num_components=GANSPACE_COMPONENTS)
            return components, stddev

        return self._get("ganspace", (loaded.entry.key,), load)
