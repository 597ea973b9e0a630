"""Output paths are checked before any work: a swap or a training run must not end, minutes later,
in an error about where its result goes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lsw_core.errors import LswError


def check_output(path: str | os.PathLike, *, folder: bool = False) -> Path:
    """Raise `LswError` unless a file (or, with `folder`, a folder) can be written at `path`: no
    existing part of it is a file where a folder is needed, and the deepest existing folder accepts
    a new file (tried for real: permission bits say nothing to root, or on a read-only mount)."""
    path = Path(path)
    kind = "output folder" if folder else "output file"
    if path.exists():
        if folder and not path.is_dir():
            raise LswError(f"{path}: expected an {kind}, but it is an existing file")
        if not folder and path.is_dir():
            raise LswError(f"{path}: expected an {kind}, but it is an existing folder")
    start = path if folder else path.parent
    existing = start
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise LswError(f"{path}: cannot create the {kind}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise LswError(f"{path}: cannot write the {kind}: no write permission in {existing}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".lsw-write-test-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise LswError(f"{path}: cannot write the {kind} in {existing} ({exc.strerror or exc})") from None
    return path
