"""Device names as users type them (`auto`, `cpu`, `cuda`, `cuda:N`, `mps`) → a checked `torch.device`.

Every command and the trainer resolve through `resolve_device`, so an unknown or unavailable device is
one `LswError` before any model is loaded.
"""

from __future__ import annotations

import os
import re

import torch

from lsw_core.errors import LswError

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N or mps"


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """`auto` (or None) is CUDA when available, else the CPU. Under torchrun a bare `cuda` is the
    process's own GPU (`cuda:$LOCAL_RANK`)."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    name = "auto" if spec is None else str(spec).strip().lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise LswError("--device mps: this machine has no usable MPS (Apple GPU) device; use --device cpu")
        return torch.device("mps")
    match = re.fullmatch(r"cuda(?::(\d+))?", name)
    if match is None:
        raise LswError(f"--device {spec or chr(34) * 2}: expected {DEVICE_CHOICES}")
    if not torch.cuda.is_available():
        raise LswError(
            f"--device {spec}: CUDA is not available on this machine (torch {torch.__version__}); use --device cpu"
        )
    count = torch.cuda.device_count()
    if match.group(1) is None:
        index = int(os.environ.get("LOCAL_RANK", 0))
    else:
        index = int(match.group(1))
    if index >= count:
        raise LswError(f"--device {spec}: this machine has {count} CUDA device(s), cuda:0 … cuda:{count - 1}")
    return torch.device("cuda", index)
