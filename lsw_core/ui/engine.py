"""The app without its page: settings, the mixers served, the models loaded once per process, and the
sessions' folders. The Gradio page (`lsw_core.ui.app`) and Python callers drive the same object."""

from __future__ import annotations

import threading
from pathlib import Path

from lsw_core.errors import LswError
from lsw_core.outputs import check_output
from lsw_core.ui.catalog import MixerEntry, find_mixers, open_entry
from lsw_core.ui.demo_mixer import train_demo_mixer
from lsw_core.ui.loaded import LoadedMixer, ModelCache
from lsw_core.ui.sessions import Sessions
from lsw_core.ui.settings import UiSettings
from lsw_core.ui.work import Report, Results, no_report


class Engine:
    """What `lsw ui` serves: the mixers of `settings` (checked now: a bad `--mixer` or output folder
    fails before the server starts), a `ModelCache`, and `Sessions` under `root` (a new temporary
    folder when None)."""

    def __init__(self, settings: UiSettings, root: str | Path | None = None) -> None:
        if settings.out is not None:
            check_output(settings.out, folder=True)
        self.settings = settings
        self.cache = ModelCache(device=settings.device, inverter_options=settings.inverter_options)
        self.entries, self.skipped = find_mixers(settings.mixers, settings.models)
        self.sessions = Sessions(root)
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        return self.sessions.root

    def entry(self, key: str | None) -> MixerEntry:
        """The served mixer `key` (its folder; None: the first). Only served folders can be asked for."""
        with self._lock:
            entries = list(self.entries)
        if not entries:
            raise LswError("no mixer yet: train the demo mixer (Models page) or start `lsw ui --mixer DIR`")
        if key in (None, ""):
            return entries[0]
        for entry in entries:
            if entry.key == str(key) or entry.folder == Path(key).resolve():
                return entry
        raise LswError(f"mixer {key!r}: not one this app serves ({', '.join(e.key for e in entries)})")

    def loaded(self, key: str | None) -> LoadedMixer:
        return self.cache.mixer(self.entry(key))

    def results(self, session: str | None) -> Results:
        return Results(self.sessions, session, self.settings.out)

    def refresh(self) -> None:
        """Look for mixers again (e.g. after the demo mixer was trained)."""
        entries, skipped = find_mixers(self.settings.mixers, self.settings.models)
        with self._lock:
            self.entries, self.skipped = entries, skipped

    def train_demo(self, report: Report = no_report) -> MixerEntry:
        """Train the demo mixer into the first models folder, then serve it."""
        if not self.settings.models:
            raise LswError("no models folder to train the demo mixer into: start `lsw ui --models DIR`")
        folder = train_demo_mixer(
            self.settings.models[0], steps=self.settings.demo_steps, device=self.settings.device,
            settings=self.settings.demo_settings, report=report,
        )  # fmt: skip
        self.refresh()
        trained = open_entry(folder)
        return next((e for e in self.entries if e.folder == trained.folder), trained)

    def close(self) -> None:
        self.sessions.close()
