"""The synthetic world's numeric constants, shipped as exact data in `weights/world.safetensors`.

They are made by code — the mapping network's weights by a seeded `torch.randn`, the read-out
directions by an SVD of 4096 mapped samples, the landmark model by float64 arithmetic — whose last
bits depend on the CPU: `torch.randn` takes another code path with AVX2 than without, and MKL's SVD
and matrix products differ between processors. Loaded from the file, the world (and every network
trained on it, and the fingerprint a latent encoder records of it) is bit-identical everywhere.
The symmetric `stretch` is stored as its upper triangle (`stretch.upper`, row by row) and mirrored
on loading: copies only, so every value is the one computed.

This module only reads the file; `lsw_synthface.regenerate` computes the constants and writes it
(`python -m lsw_synthface.regenerate --out FILE / --check`).
"""

from __future__ import annotations

import functools
import math
from importlib import resources
from pathlib import Path

import torch

#: The mapping-network seed whose constants are shipped (the generators' default `seed`).
SHIPPED_SEED = 0
FILE_NAME = "world.safetensors"
#: The symmetric constant stored as its upper triangle, under this name + ".upper".
SYMMETRIC = "stretch"


def shipped_path() -> Path:
    return Path(str(resources.files("lsw_synthface").joinpath("weights", FILE_NAME)))


@functools.cache
def shipped() -> dict[str, torch.Tensor]:
    """The constants of the shipped world (seed `SHIPPED_SEED`), as stored; do not modify them."""
    from safetensors.torch import load_file

    return unpacked(load_file(str(shipped_path())))


def packed(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors as stored: `SYMMETRIC` as the row-major upper triangle of the (exactly symmetric) matrix."""
    matrix = tensors[SYMMETRIC]
    if not torch.equal(matrix, matrix.T):
        raise ValueError(f"{SYMMETRIC} is not exactly symmetric, so its upper triangle does not hold it")
    rows, cols = torch.triu_indices(*matrix.shape)
    rest = {k: v for k, v in tensors.items() if k != SYMMETRIC}
    return {**rest, f"{SYMMETRIC}.upper": matrix[rows, cols]}


def unpacked(stored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of `packed` as computed: the upper triangle mirrored into the full matrix."""
    tensors = dict(stored)
    upper = tensors.pop(f"{SYMMETRIC}.upper")
    size = (math.isqrt(8 * upper.numel() + 1) - 1) // 2
    rows, cols = torch.triu_indices(size, size)
    matrix = torch.empty(size, size, dtype=upper.dtype)
    matrix[rows, cols] = upper
    matrix[cols, rows] = upper
    return {**tensors, SYMMETRIC: matrix}
