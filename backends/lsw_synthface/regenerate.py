"""Recompute the world's constants on this machine, write them, and compare them with the shipped file.

The code that defines them is beside what they define (`shape3d.compute_constants`,
`generator.compute_constants`); `lsw_synthface.constants` loads the shipped copy,
`weights/world.safetensors`, and says why it is shipped.

    python -m lsw_synthface.regenerate --out FILE      # then copy FILE to weights/world.safetensors
    python -m lsw_synthface.regenerate --check         # how far this machine's values are from the file

The shipped file is this command's output on a 2-core AMD EPYC machine (torch 2.13, MKL, AVX2).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from lsw_synthface import constants, generator, shape3d


def compute(seed: int = constants.SHIPPED_SEED) -> dict[str, torch.Tensor]:
    """Every constant of the world with mapping seed `seed`, computed on this machine:
    `shape.*` (the landmark model) and `mapping.*`, `w_avg`, `directions`, `stretch`, `spread`
    (the generators')."""
    return {**shape3d.compute_constants(), **generator.compute_constants(seed)}


def write(path: str | Path, seed: int = constants.SHIPPED_SEED) -> Path:
    """Compute the constants and write them as safetensors (atomically)."""
    from safetensors.torch import save_file

    from lsw_core.formats.artifacts import atomic_write

    tensors = {k: v.contiguous() for k, v in sorted(constants.packed(compute(seed)).items())}
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
    parser = argparse.ArgumentParser(prog="python -m lsw_synthface.regenerate", description=__doc__.split("\n")[0])
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
        computed, stored = compute(), constants.shipped()
        identical = set(computed) == set(stored) and all(torch.equal(computed[k], stored[k]) for k in stored)
        print(json.dumps({"bit_identical": identical, "max_abs_difference": differences(computed, stored)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
