"""Deterministic pseudo-random normal values from integer hashing, so that large `noise_const`
buffers need not be stored in fixtures: the fixture maker and the tests regenerate them exactly."""

from __future__ import annotations

import zlib

import torch


def hashed_normal(shape: list[int] | tuple[int, ...], key: str) -> torch.Tensor:
    """Approximately N(0, 1) values of `shape`, a pure function of (`shape`, `key`)."""
    n = 1
    for s in shape:
        n *= int(s)
    seed = zlib.crc32(key.encode())
    i = torch.arange(2 * n, dtype=torch.int64)
    h = (i * 2654435761 + seed) % 4294967296
    h = (h ^ (h >> 15)) * 2246822519 % 4294967296
    h = (h ^ (h >> 13)) * 3266489917 % 4294967296
    h = h ^ (h >> 16)
    u = (h.to(torch.float64) + 0.5) / 4294967296.0
    u1, u2 = u[:n], u[n:]
    z = torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2.0 * torch.pi * u2)
    return z.to(torch.float32).reshape(shape)


def fill_noise_const(
    state_dict: dict[str, torch.Tensor], shapes: dict[str, tuple[int, ...]]
) -> dict[str, torch.Tensor]:
    """`state_dict` with every `*.noise_const` key of `shapes` set to `hashed_normal(shape, key)`."""
    out = dict(state_dict)
    for key, shape in shapes.items():
        if key.endswith("noise_const"):
            out[key] = hashed_normal(shape, key)
    return out
