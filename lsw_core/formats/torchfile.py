"""Reading `.pt`/`.pth`/`.ckpt` files without running code from them: `torch.load(weights_only=True)`,
with every refusal turned into one line that says what the file is and why it is refused."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from lsw_core.errors import CheckpointError

_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def load_torch_file(path: str | os.PathLike, what: str = "checkpoint", *, allow: Sequence[type] = ()) -> Any:
    """The tensors and plain containers of the torch file `path` (a `what`, e.g. "StyleGAN2
    checkpoint"), on the CPU; `allow` names extra plain classes to accept. Raises `CheckpointError`
    in one line for a missing, damaged or code-carrying file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such {what} file")
    try:
        with torch.serialization.safe_globals(list(allow)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds (UnpicklingError, RuntimeError, KeyError, EOFError, ...)
        raise CheckpointError(f"{path}: {what} refused: {refusal(exc)}") from None


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
