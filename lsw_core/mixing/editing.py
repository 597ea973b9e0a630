"""Editing swapped latents (paper, "Application: Latent Space Manipulation"): InterFaceGAN
directions and GANSpace principal components apply directly to W+ codes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from lsw_core.checks import check_shape
from lsw_core.errors import LswError
from lsw_core.interfaces import Generator


def load_direction(path: str, w_dim: int) -> torch.Tensor:
    """Read an InterFaceGAN boundary (`.npy` of shape [1, w_dim] or [w_dim]) as a unit vector."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise LswError(f"{path}: not a .npy direction file ({exc})") from None
    if array.dtype.kind not in "fiu":
        raise LswError(f"{path}: expected a numeric direction, found dtype {array.dtype}")
    direction = torch.from_numpy(np.asarray(array, dtype=np.float32)).reshape(-1)
    if direction.numel() != w_dim:
        raise LswError(f"{path}: expected a direction with {w_dim} values, got {direction.numel()}")
    norm = direction.norm()
    if not torch.isfinite(norm) or norm == 0:
        raise LswError(f"{path}: expected a finite, non-zero direction, got norm {norm.item()}")
    return direction / norm


def apply_direction(
    ws: torch.Tensor, direction: torch.Tensor, strength: float, rows: Sequence[int] | range | None = None
) -> torch.Tensor:
    """Move W+ codes along `direction` [w_dim] by `strength`, on `rows` (all by default)."""
    check_shape("direction", direction, [ws.shape[-1]])
    mask = torch.zeros(ws.shape[1], 1, device=ws.device)
    mask[list(rows) if rows is not None else slice(None)] = 1
    return ws + strength * mask * direction.to(ws)


@torch.no_grad()
def ganspace_components(generator: Generator, num_samples: int = 10_000, num_components: int = 20, seed: int = 0):
    """GANSpace: principal components of w = mapping(z) over random z. Returns (mean [w_dim],
    components [k, w_dim] as unit rows, stddev [k])."""
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(num_samples, generator.z_dim, generator=rng)
    w = torch.cat([generator.mapping(c.to(generator.w_avg.device))[:, 0] for c in z.split(1000)])
    mean = w.mean(0)
    _, s, v = torch.linalg.svd(w - mean, full_matrices=False)
    return mean, v[:num_components], s[:num_components] / (num_samples - 1) ** 0.5
