"""The app's temporary folder: uploads (Gradio's upload folder), and one work folder per browser or
API session holding its intermediate files (pivot cache, tuned generators) and results. A session's
folder and the uploads only it sent are removed when it ends; everything when the app closes."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

from lsw_core.errors import LswError


class Sessions:
    """Work folders under `root` (a fresh temporary folder when None): `root/sessions/<id>/`; Gradio
    keeps uploads in `root/<hash>/<name>`."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="lsw-ui-")) if root is None else Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.root = self.root.resolve()
        self._uploads: dict[str, set[Path]] = {}
        self._seen: dict[str, float] = {}
        self._memos: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._counter = 0

    def folder(self, session: str | None) -> Path:
        """The work folder of `session` (created on first use)."""
        name = _safe(session)
        with self._lock:
            self._seen[name] = time.monotonic()
        path = self.root / "sessions" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def result_path(self, session: str | None, stem: str, suffix: str) -> Path:
        """A new file name in the session's folder: `<n>-<stem><suffix>`."""
        folder = self.folder(session)
        with self._lock:
            self._counter += 1
            n = self._counter
        return folder / f"{n:04d}-{stem}{suffix}"

    def memo(self, session: str | None) -> dict:
        """A dictionary kept in memory for the session until it ends (e.g. what a cached pivot measured)."""
        with self._lock:
            return self._memos.setdefault(_safe(session), {})

    def note_upload(self, session: str | None, path: Path) -> None:
        """Remember an uploaded file as the session's (only files inside the app's folder count)."""
        path = Path(path).resolve()
        if path.is_relative_to(self.root) and not path.is_relative_to(self.root / "sessions"):
            with self._lock:
                self._uploads.setdefault(_safe(session), set()).add(path)

    def end(self, session: str | None) -> None:
        """Remove the session's folder and the uploads no other live session also sent."""
        name = _safe(session)
        with self._lock:
            mine = self._uploads.pop(name, set())
            others = set().union(*self._uploads.values()) if self._uploads else set()
            self._seen.pop(name, None)
            self._memos.pop(name, None)
        shutil.rmtree(self.root / "sessions" / name, ignore_errors=True)
        for path in mine - others:
            path.unlink(missing_ok=True)
            if path.parent != self.root and not any(path.parent.iterdir()):
                path.parent.rmdir()

    def live(self) -> list[str]:
        with self._lock:
            return sorted(self._seen)

    def close(self) -> None:
        """Remove the whole temporary folder."""
        shutil.rmtree(self.root, ignore_errors=True)


def _safe(session: str | None) -> str:
    """A session id as a folder name (Gradio's are random hex/alphanumerics)."""
    name = session or "default"
    if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 128:
        raise LswError(f"session id {name[:40]!r}: unexpected characters")
    return name
