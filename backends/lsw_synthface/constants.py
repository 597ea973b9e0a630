"""The synthetic world's numeric constants, shipped as exact data in `weights/world.safetensors`.

They are made by code — the mapping network's weights by a seeded `torch.randn`, the read-out
directions by an SVD of 4096 mapped samples, the landmark model by float64 arithmetic — whose last
bits depend on the CPU: `torch.randn` takes another code path with AVX2 than without, and MKL's SVD
and matrix products differ between processors. Loaded from the file, the world (and every network
trained on it, and the fingerprint a latent encoder records of it) is bit-identical everywhere.
The symmetric `stretch` is stored as its upper triangle (`stretch.upper`, row by row) and mirrored
on loading: copies only, so every value is the one computed.

Regenerate (and compare with the shipped file) with

    python -m lsw_synthface.constants --out FILE      # then copy FILE to weights/world.safetensors
    python -m lsw_synthface.constants --check         # how far this machine's values are from the file

The shipped file is this command's output on a 2-core AMD EPYC machine (torch 2.13, MKL, AVX2).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
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


def compute(seed: int = SHIPPED_SEED) -> dict[str, torch.Tensor]:
    """Every constant of the world with mapping seed `seed`, computed on this machine:
    `shape.*` (the landmark model) and `mapping.*`, `w_avg`, `directions`, `stretch`, `spread`
    (the generators')."""
    from lsw_synthface import generator, shape3d

    return {**shape3d.compute_constants(), **generator.compute_constants(seed)}


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


def world_constants(seed: int = SHIPPED_SEED) -> dict[str, torch.Tensor]:
    """The shipped constants for the shipped seed; another seed's are computed here (exact only on
    the same CPU and libraries)."""
    return shipped() if seed == SHIPPED_SEED else _computed(seed)


@functools.lru_cache(maxsize=4)
def _computed(seed: int) -> dict[str, torch.Tensor]:
    return compute(seed)


def write(path: str | Path, seed: int = SHIPPED_SEED) -> Path:
    """Compute the constants and write them as safetensors (atomically)."""
    from safetensors.torch import save_file

    from lsw_core.formats.artifacts import atomic_write

    tensors = {k: v.contiguous() for k, v in sorted(packed(compute(seed)).items())}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata={"seed": str(seed)}))
    return Path(path)


def differences(computed: dict[str, torch.Tensor], stored: dict[str, torch.Tensor]) -> dict[str, float | None]:
    """Largest absolute difference per tensor (None where a tensor is missing or differs in shape)."""
    keys = sorted(set(computed) | set(stored))
    out: dict[str, float | None] = {}
    for k in keys:
        a, b = computed.get(k), stored.get(k)
        out[k] = None if a is None or b is None or a.shape != b.shape else float((a - b).abs().max())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lsw_synthface.constants", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="write the constants computed here to this file")
    parser.add_argument(
        "--check", action="store_true", help="compare the constants computed here with the shipped file"
    )
    args = parser.parse_args(argv)
    if args.out is None and not args.check:
        parser.error("give --out FILE and/or --check")
    if args.out is not None:
        print(f"wrote {write(args.out)}")
    if args.check:
        computed, stored = compute(), shipped()
        identical = set(computed) == set(stored) and all(torch.equal(computed[k], stored[k]) for k in stored)
        print(json.dumps({"bit_identical": identical, "max_abs_difference": differences(computed, stored)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
