"""Run folders: the rules that keep a training run's files its own, and the training state in them.

- One writer at a time: `.lock` in the folder is held with flock(2) while a trainer writes there;
  the kernel releases it when the process exits or dies, so a killed run never blocks its resume.
- A new run starts in an empty or missing folder. "overwrite" first removes an earlier run's files
  (and refuses a folder that holds anything else); "resume" continues the run already there.
- Temporary files of interrupted atomic writes (`.NAME.*.tmp`) are removed when a run starts or
  resumes: while the lock is held, no other process can be writing them.
- Resuming may change only settings that alter neither the model nor the data it is trained on
  (the trainer names them); `log.jsonl` is cut back to the checkpoint, a torn last line dropped.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import attrs

from lsw_core.errors import CheckpointError, LswError
from lsw_core.formats.artifacts import CONFIG_NAME, save_torch, write_bytes
from lsw_core.formats.torchfile import load_torch_file
from lsw_core.mixing.mixer import WEIGHTS_NAME
from lsw_core.outputs import is_temporary

STATE_NAME = "trainer_state.pt"
LOG_NAME = "log.jsonl"
SAMPLES_NAME = "samples"
LOCK_NAME = ".lock"
RUN_FILES = (CONFIG_NAME, WEIGHTS_NAME, STATE_NAME, LOG_NAME, SAMPLES_NAME)
MODES = ("refuse", "overwrite", "resume")


class RunLock:
    """An exclusive lock on a run folder, taken without waiting: a second writer is refused."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.path = Path(folder) / LOCK_NAME
        self._fd: int | None = None
        #: Folders `claim` created for the run (deepest first), removed by `abandon`.
        self.created: list[Path] = []

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self.held:
            return
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = os.read(fd, 32).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise LswError(
                    f"{self.path.parent} is in use by another training run (pid {owner}); "
                    "wait for it to finish or choose another --out"
                ) from None
            # The holder before us may have unlinked the file between our open and our flock:
            # then we locked a file nobody else will see, and must lock the one at the path.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still locked, so no one else holds this file
        finally:
            os.close(self._fd)
            self._fd = None

    def abandon(self) -> None:
        """Release the lock of a run that failed before writing anything, removing the folders
        `claim` created for it (when they are still empty): a failed start leaves nothing behind."""
        self.release()
        for folder in self.created:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                break

    def __del__(self) -> None:
        self.release()


def claim(folder: str | os.PathLike, mode: str = "refuse") -> RunLock:
    """Lock `folder` for writing a run and check it is fit for `mode` ("refuse": it is empty or
    missing; "overwrite": it holds nothing but an earlier run's files, which `clear_run` removes;
    "resume": a run is there to continue). Stale temporary files are removed. Returns the held lock."""
    if mode not in MODES:
        raise LswError(f"run folder mode: expected one of {MODES}, got {mode!r}")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise LswError(f"{folder} is a file, not a folder: choose another --out")
    lock = RunLock(folder)
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock.created = missing
        lock.acquire()
    except OSError as exc:
        raise LswError(f"{folder}: cannot write a run there ({exc.strerror or exc}); choose another --out") from None
    try:
        entries = sorted(p.name for p in folder.iterdir() if p.name != LOCK_NAME)
        if mode == "refuse" and entries:
            raise LswError(
                f"{folder} is not empty ({_listing(entries)}): start over with --overwrite, "
                f"or continue the run with --resume {folder}"
            )
        if mode == "overwrite":
            _check_only_run_files(folder, entries)
        remove_stale_temporaries(folder)
    except BaseException:
        lock.abandon()
        raise
    return lock


def _listing(names: list[str], limit: int = 3) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _is_temporary(name: str) -> bool:
    """A temporary of an atomic write (`lsw_core.outputs`), or of the older pattern `.NAME.XXXXXXXX.tmp`."""
    return is_temporary(name) or (name.startswith(".") and name.endswith(".tmp") and name.count(".") >= 3)


def _check_only_run_files(folder: Path, entries: list[str]) -> None:
    foreign = [n for n in entries if n not in RUN_FILES and not _is_temporary(n)]
    if foreign:
        raise LswError(
            f"{folder} holds files that are not a training run's ({_listing(foreign)}); --overwrite removes "
            "only a run's files: choose another --out"
        )


def clear_run(folder: str | os.PathLike) -> None:
    """Remove a run's files from `folder` (which `claim(folder, "overwrite")` checked and locked)."""
    for path in Path(folder).iterdir():
        if path.name in RUN_FILES or _is_temporary(path.name):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete leftovers of interrupted atomic writes in `folder` and its samples/; returns them."""
    folder = Path(folder)
    stale = [
        p
        for d in (folder, folder / SAMPLES_NAME)
        if d.is_dir()
        for p in d.iterdir()
        if _is_temporary(p.name) and p.is_file()
    ]
    for path in stale:
        path.unlink()
    return stale


def resumed_settings(
    saved: Any, overrides: Mapping[str, Any], allowed: Collection[str], flags: Mapping[str, str] | None = None
) -> Any:
    """The attrs settings `saved` with `overrides` applied. A setting outside `allowed` may be
    repeated with its saved value, never changed; option dicts are merged onto the saved ones.
    `flags` names the settings as the user typed them (e.g. {"lr": "--lr"})."""
    flags = flags or {}
    known = attrs.fields_dict(type(saved))
    changes = {}
    for name, value in overrides.items():
        if name not in known:
            raise LswError(f"unknown training setting {name!r}; known: {sorted(known)}")
        old = getattr(saved, name)
        if isinstance(old, dict) and isinstance(value, dict):
            value = {**old, **value}
        flag = flags.get(name, name)
        if name not in allowed and value != old:
            where = "--resume" if flag.startswith("-") else "resume"
            raise LswError(f"{flag} cannot change on {where}: the run was trained with {name} {_show(old)}")
        changes[name] = value
    return attrs.evolve(saved, **changes)


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else repr(value) if isinstance(value, str) else str(value)


def read_log(path: str | os.PathLike) -> list[tuple[int, bytes]]:
    """The records of `log.jsonl` as (step, line); a torn last line (a run killed while writing
    it) is dropped, damage elsewhere is an error."""
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            if number == len(lines):  # not newline-terminated: the write was cut short
                continue
            raise CheckpointError(f"{path}: line {number} is not a JSON record; remove or repair it") from None
        step = record.get("step") if isinstance(record, dict) else None
        if isinstance(step, bool) or not isinstance(step, int):
            raise CheckpointError(f"{path}: line {number} has no integer 'step'; remove or repair it")
        records.append((step, line + b"\n"))
    return records


def write_log(path: str | os.PathLike, lines: list[bytes]) -> None:
    """Replace `log.jsonl` (if there is one) by `lines`, unless it holds just those already."""
    path, data = Path(path), b"".join(lines)
    if path.exists() and path.read_bytes() != data:
        write_bytes(path, data)


def save_training_state(path: str | os.PathLike, state: dict) -> None:
    """Write the optimizer, RNG and step state (`trainer_state.pt`) atomically."""
    save_torch(path, state)


def load_training_state(path: str | os.PathLike) -> dict:
    return load_torch_file(path, "training state")
