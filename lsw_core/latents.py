"""The three latent spaces a mixer can work in (paper, "Latent Space"): Z, W and W+.

W+ (the default) mixes the mapped codes [B, num_ws, w_dim], truncated by ψ on the first `cutoff`
rows as the authors sample them. W mixes the single (fully truncated) w; the swap is copied to every
row. Z mixes z; the swap is mapped like any z. `encode` gives the code a mixer reads, `decode` the
W+ code a generator synthesises.
"""

from __future__ import annotations

import torch

from lsw_core.errors import LswError
from lsw_core.interfaces import Generator

SPACES = ("w+", "w", "z")


def check_space(space: str) -> str:
    if space not in SPACES:
        raise LswError(f"latent space: expected one of {SPACES}, got {space!r}")
    return space


def mixer_shape(generator: Generator, space: str) -> tuple[int, int]:
    """(rows, width) of the codes a mixer for `space` on `generator` reads."""
    check_space(space)
    if space == "w+":
        return generator.num_ws, generator.w_dim
    return 1, generator.w_dim if space == "w" else generator.z_dim


def encode(generator: Generator, z: torch.Tensor, space: str, psi: float, cutoff: int | None) -> torch.Tensor:
    """z [B, z_dim] → the code in `space`, shaped [B, rows, width]."""
    if space == "z":
        return z[:, None]
    if space == "w":
        return generator.mapping(z, truncation_psi=psi, truncation_cutoff=None)[:, :1]
    return generator.mapping(z, truncation_psi=psi, truncation_cutoff=cutoff)


def decode(generator: Generator, code: torch.Tensor, space: str, psi: float, cutoff: int | None) -> torch.Tensor:
    """A code in `space` [B, rows, width] → W+ [B, num_ws, w_dim] for synthesis."""
    if space == "z":
        return generator.mapping(code[:, 0], truncation_psi=psi, truncation_cutoff=cutoff)
    if space == "w":
        return code.expand(-1, generator.num_ws, -1)
    return code


def from_wplus(ws: torch.Tensor, space: str) -> torch.Tensor:
    """Read a W+ code (e.g. an inversion pivot) as a code of `space`. W takes the first row (pivots
    in W are one w copied to every row); Z cannot be recovered from W+."""
    if space == "w+":
        return ws
    if space == "w":
        return ws[:, :1]
    raise LswError("a Z-space mixer can only swap codes sampled from z (seeds), not inverted W+ latents")
