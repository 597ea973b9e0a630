"""Reading user-supplied PyTorch checkpoints safely and loading them into our modules with one clear
error when the architecture does not match."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from lsw_core.errors import CheckpointError
from lsw_core.formats.artifacts import load_checked
from lsw_core.formats.torchfile import load_torch_file


def read_state_dict(path: str | Path, *, nested: tuple[str, ...] = ("state_dict",)) -> dict[str, torch.Tensor]:
    """Tensors of a `.pth`/`.ckpt` file (never unpickling code: `weights_only=True`). A checkpoint
    that wraps its weights (Lightning's `state_dict`, Deep3DFaceRecon's `net_recon`) is unwrapped
    through the first of `nested` it contains."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint: expected an existing file, got {str(path)!r}")
    obj: Any = load_torch_file(path, "PyTorch state dict")
    if isinstance(obj, dict):
        for key in nested:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: expected a dict of tensors (a state dict), found {type(obj).__name__}")
    return obj


def strip_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Keys under `prefix` with it removed (all keys when none carries it)."""
    if not any(k.startswith(prefix) for k in state):
        return dict(state)
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def load_exact(module: nn.Module, state: dict[str, torch.Tensor], *, what: str) -> None:
    """`load_state_dict(strict=True)` with shape checks, raising one `CheckpointError` naming the
    first missing, unexpected or mis-shaped keys."""
    load_checked(module, state, source=what, what="the architecture")
