"""Where commands write, checked before any work, and how files get there.

Every command that writes checks each file it will write (OUT and every name derived from it) with
`check_output` before it loads a model:

- not one of the inputs: the same file, also through a symbolic or hard link (st_dev/st_ino);
- not an existing file unless the command was given `--overwrite`;
- never a symbolic link: lsw does not write through links (refused, `--overwrite` or not);
- a suffix some writer of that output supports;
- in a folder that can be written (tried for real: permission bits say nothing to root).

Files are written through a temporary beside them, `.NAME.lsw-PID-RANDOM.tmp[.EXT]`, renamed over
the target when complete (`lsw_core.formats.artifacts.atomic_write`, the video writer), with the
mode a new file gets from the umask. A temporary is removed when its write fails, on Ctrl-C and on
SIGTERM; one left by a killed process (its PID no longer running) is removed by the next write into
the same folder. Only names of exactly that pattern are ever removed.

Under torchrun only rank 0 writes: the command line runs commands other than `lsw train` on rank 0
alone (`is_main_process`), and the trainer writes from rank 0.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from lsw_core.errors import LswError

#: A temporary of this project: `.NAME.lsw-PID-RANDOM.tmp`, or with a container suffix (`.tmp.mp4`).
TEMPORARY = re.compile(r"^\..+\.lsw-(?P<pid>\d+)-[a-z0-9_]{8}\.tmp(\.[A-Za-z0-9]{1,8})?$")
_MAX_INPUT_FILES = 10_000  # files of an input folder compared with the outputs


def is_main_process() -> bool:
    """False in a torchrun worker other than rank 0 (`RANK` not 0 among `WORLD_SIZE` > 1 processes)."""
    try:
        return int(os.environ.get("RANK") or 0) == 0 or int(os.environ.get("WORLD_SIZE") or 1) <= 1
    except ValueError:
        return True


# --- temporaries -----------------------------------------------------------------------------------


def new_temporary(path: str | os.PathLike, suffix: str = "") -> Path:
    """Create an empty temporary file beside `path` named by the project's pattern (`suffix`, e.g.
    ".mp4", is kept at the end so that writers that guess a format from the name see it)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.lsw-{os.getpid()}-", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    name = Path(tmp).name
    if not TEMPORARY.match(name):  # mkstemp's random part is 8 of [a-z0-9_]; keep the two in step
        os.unlink(tmp)
        raise RuntimeError(f"temporary name {name!r} does not match the project's pattern")
    return Path(tmp)


def is_temporary(name: str) -> bool:
    """Whether `name` is one of this project's temporaries (by its pattern alone)."""
    return TEMPORARY.match(name) is not None


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


_cleaned: set[str] = set()


def remove_stale_temporaries(folder: str | os.PathLike, *, again: bool = False) -> list[Path]:
    """Remove the temporaries in `folder` left by processes that no longer run (killed mid-write);
    once per folder and process unless `again`. Returns what was removed."""
    folder = Path(folder)
    key = os.path.abspath(folder)
    if key in _cleaned and not again:
        return []
    _cleaned.add(key)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        found = TEMPORARY.match(entry.name)
        if found is None or _running(int(found["pid"])):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Give the finished temporary `tmp` a new file's mode (umask) and rename it over `path`."""
    os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes it owner-only
    os.replace(tmp, path)


# --- checks before any work ------------------------------------------------------------------------


def _identity(path: str | os.PathLike) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def input_files(*specs: str | os.PathLike | None) -> dict[tuple[int, int], Path]:
    """The files behind command inputs (files, and the files inside folders, recursively), by
    (st_dev, st_ino), for `check_output(inputs=...)`. Specs that are not paths (`seed:1`) are skipped."""
    found: dict[tuple[int, int], Path] = {}
    for spec in specs:
        if spec is None or str(spec).startswith("seed:"):
            continue
        path = Path(spec)
        if path.is_dir():
            for i, child in enumerate(path.rglob("*")):
                if i >= _MAX_INPUT_FILES:
                    break
                ident = _identity(child) if child.is_file() else None
                if ident is not None:
                    found.setdefault(ident, child)
        else:
            ident = _identity(path)
            if ident is not None:
                found.setdefault(ident, path)
    return found


def check_output(
    path: str | os.PathLike,
    *,
    folder: bool = False,
    inputs: dict[tuple[int, int], Path] | None = None,
    overwrite: bool = False,
    suffixes: Iterable[str] | None = None,
    what: str = "",
) -> Path:
    """Raise `LswError` unless a file (or, with `folder`, a folder) can be written at `path`: not
    one of `inputs` (from `input_files`), not an existing file unless `overwrite`, not a symbolic
    link, with one of `suffixes` (lower case, e.g. ".png") when given, and in a folder that accepts
    a new file. `what` names the output in messages (e.g. "-o")."""
    path = Path(path)
    label = f"{what} {path}" if what else str(path)
    kind = "output folder" if folder else "output file"
    if not str(path) or "\0" in str(path):
        raise LswError(f"{label!r}: not a usable {kind} name")
    if not folder:
        if os.path.islink(path):
            raise LswError(
                f"{label}: is a symbolic link; lsw never writes through links (name the file itself, or remove the link)"
            )
        if suffixes is not None:
            suffixes = tuple(suffixes)
            if path.suffix.lower() not in suffixes:
                found = f"the suffix {path.suffix!r}" if path.suffix else "no suffix"
                raise LswError(
                    f"{label}: {found} is not a format this output is written in; expected {', '.join(suffixes)}"
                )
    if path.exists():
        if folder and not path.is_dir():
            raise LswError(f"{label}: expected an {kind}, but it is an existing file")
        if not folder and path.is_dir():
            raise LswError(f"{label}: expected an {kind}, but it is an existing folder")
        ident = _identity(path)
        if not folder and inputs and ident in inputs:
            raise LswError(f"{label}: is an input of this command ({inputs[ident]}); write the result elsewhere")
        if not folder and not overwrite:
            raise LswError(f"{label}: exists; pass --overwrite to replace it, or choose another output")
    start = path if folder else path.parent
    existing = start
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise LswError(f"{label}: cannot create the {kind}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise LswError(f"{label}: cannot write the {kind}: no write permission in {existing}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".lsw-write-test-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise LswError(f"{label}: cannot write the {kind} in {existing} ({exc.strerror or exc})") from None
    if existing == start:  # a run into this folder: what a killed one left goes now
        remove_stale_temporaries(start)
    return path


def check_outputs(paths: Iterable[str | os.PathLike], **options) -> list[Path]:
    """`check_output` of every path (the same options for each), refusing one named twice."""
    checked: list[Path] = []
    for path in paths:
        path = Path(path)
        if path in checked:
            raise LswError(f"{path}: this command would write it twice; choose another output name")
        checked.append(check_output(path, **options))
    return checked


def check_no_matches(folder: str | os.PathLike, pattern: str, *, overwrite: bool, inputs=None, what: str = "") -> None:
    """For outputs whose number is known only after the work (e.g. OUT_face{i}_aligned.png, one per
    face found): refuse existing files matching the glob `pattern` in `folder` as `check_output` would."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for path in sorted(folder.glob(pattern)):
        check_output(path, inputs=inputs, overwrite=overwrite, what=what)
