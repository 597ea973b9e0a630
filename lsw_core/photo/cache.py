"""A cache of inversion results on disk, keyed by image hash and what produced them, so that
repeated swaps of the same photo skip projection (and, optionally, a repeated pair skips tuning)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lsw_core.artifacts import read_weights, save_weights
from lsw_core.errors import LswError
from lsw_core.photo.io import image_hash

FORMAT = "lsw-pivot"


def _legacy(metadata: dict[str, str]) -> dict[str, Any]:
    """Entries written before the common weights-file format: metadata `{"info": JSON}` only."""
    return json.loads(metadata["info"])


class PivotCache:
    """Inversion results on disk: one weights file (`lsw_core.artifacts`) per key, e.g. the W+ pivot
    and camera of an image, or the weight difference of a generator tuned on a pair."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def key(self, image: np.ndarray, *context: Any) -> str:
        """Cache key of an aligned image under the given context (e.g. generator fingerprint, settings)."""
        h = hashlib.sha256(image_hash(image).encode())
        for item in context:
            h.update(repr(item).encode())
        return h.hexdigest()[:32]

    def get(self, key: str) -> dict[str, torch.Tensor] | None:
        path = self.folder / f"{key}.safetensors"
        if not path.is_file():
            return None
        try:
            tensors, _ = read_weights(path, FORMAT, what="a pivot-cache entry", legacy=_legacy)
        except (LswError, KeyError, ValueError):  # a damaged entry is a miss, it is rewritten after inversion
            return None
        return tensors

    def put(self, key: str, tensors: dict[str, torch.Tensor], metadata: dict[str, Any] | None = None) -> Path:
        """Store `tensors` (and JSON-able `metadata`, e.g. the reconstruction PSNR) atomically."""
        return save_weights(self.folder / f"{key}.safetensors", tensors, format=FORMAT, **(metadata or {}))
