"""Reading `.pt`/`.pth`/`.ckpt` files without running code from them: `torch.load(weights_only=True)`,
with every refusal turned into one line that says what the file is and why it is refused."""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import torch

from lsw_core.errors import CheckpointError
from lsw_core.formats.bounds import check_archive, check_pickle_stream, check_tensors

_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def load_torch_file(path: str | os.PathLike, what: str = "checkpoint", *, allow: Sequence[type] = ()) -> Any:
    """The tensors and plain containers of the torch file `path` (a `what`, e.g. "StyleGAN2
    checkpoint"), on the CPU; `allow` names extra plain classes to accept. Raises `CheckpointError`
    in one line for a missing, damaged or code-carrying file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such {what} file")
    check_torch_archive(path, source=f"{path}: {what} refused")
    try:
        with torch.serialization.safe_globals(list(allow)):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds (UnpicklingError, RuntimeError, KeyError, EOFError, ...)
        raise CheckpointError(f"{path}: {what} refused: {refusal(exc)}") from None
    check_tensors(data, source=f"{path}: {what} refused")
    return data


def check_torch_archive(file: str | os.PathLike | IO[bytes], *, source: str) -> None:
    """Before `torch.load`: a zip-format torch file's members must not expand beyond their bound
    and its pickle must be of bounded size (`lsw_core.formats.bounds`). Files in torch's older
    non-zip format are checked after loading only (their tensors by `check_tensors`)."""
    if not zipfile.is_zipfile(file):
        return
    try:
        with zipfile.ZipFile(file) as archive:
            check_archive(archive, source=source)
            for name in archive.namelist():
                if name.endswith("data.pkl"):
                    check_pickle_stream(archive.read(name), source=source)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError) as exc:
        raise CheckpointError(f"{source}: cannot read it: truncated, corrupt or not a torch file ({exc})") from None
    finally:
        if hasattr(file, "seek"):
            file.seek(0)


def refusal(exc: Exception) -> str:
    """Why `torch.load(weights_only=True)` failed, in one line (torch's own text spans ten)."""
    text = str(exc)
    found = _GLOBAL.search(text)
    if found:
        return (
            f"it stores the Python object {found.group(1)}, which would have to run code to load; "
            "only tensors and plain containers are read"
        )
    if "Weights only load failed" in text:
        detail = text.partition("WeightsUnpickler error:")[2].split("Check the documentation")[0]
        detail = " ".join(detail.split())
        if not detail or detail.startswith("Unsupported operand"):  # not a pickle stream at all
            return f"cannot read it: truncated, corrupt or not a torch file ({detail or 'unreadable pickle'})"
        return f"it holds objects that would have to run code to load ({detail[:200]})"
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"cannot read it: truncated, corrupt or not a torch file ({type(exc).__name__}{': ' + first[:200] if first else ''})"
