"""Bounds on what a file can make a loader build. A checkpoint stores its network's architecture
(resolution, widths, depths) beside the weights; a damaged or crafted file could ask for a network of
terabytes. Loaders check each setting against a sane range and count the parameters of the network
they would build, on the meta device (no memory), before building it."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from lsw_core.errors import CheckpointError

# 10× the largest network a backend here builds (StyleGAN2 at 1024 px: 30 M); 1.2 GB in float32.
MAX_PARAMETERS = 300_000_000
MAX_RESOLUTION = 4096
MAX_WIDTH = 4096  # latent sizes, channels and hidden features
MAX_DEPTH = 64  # layers of one stack


def check_int(name: str, value: Any, low: int, high: int, *, source: str = "") -> int:
    """`value` as an int in [low, high], else `CheckpointError` naming the setting."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise CheckpointError(f"{_where(source)}{name}: expected a whole number, found {value!r}")
    if not low <= value <= high:
        raise CheckpointError(
            f"{_where(source)}{name}: expected {low} to {high}, found {int(value)} (refused before building the network)"
        )
    return int(value)


def check_resolution(name: str, value: Any, *, low: int = 4, high: int = MAX_RESOLUTION, source: str = "") -> int:
    """A power-of-two resolution in [low, high]."""
    value = check_int(name, value, low, high, source=source)
    if value & (value - 1):
        raise CheckpointError(f"{_where(source)}{name}: expected a power of two, found {value}")
    return value


def check_count(count: int, *, what: str, source: str = "", limit: int = MAX_PARAMETERS) -> None:
    """Refuse a network of more than `limit` values (parameters and buffers)."""
    if count > limit:
        raise CheckpointError(
            f"{_where(source)}the stored architecture makes a {what} of {count / 1e6:,.0f} M values; "
            f"refused (more than {limit / 1e6:,.0f} M, a damaged or crafted file)"
        )


def check_size(build: Callable[[], nn.Module], *, what: str, source: str = "", limit: int = MAX_PARAMETERS) -> None:
    """`check_count` of the module `build()` returns, built on the meta device. Only for networks
    made of plain layers: computing buffers on the meta device (e.g. `torch.outer` of a filter)
    imports torch's compiler stack, 20 s at the first call; those backends count by formula."""
    with torch.device("meta"):
        module = build()
    count = sum(t.numel() for t in itertools.chain(module.parameters(), module.buffers()))
    check_count(count, what=what, source=source, limit=limit)


def _where(source: str) -> str:
    return f"{source}: " if source else ""
