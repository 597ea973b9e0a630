"""Face-swap metrics shared by every evaluation (the paper follows the FaceForensics++ protocol)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def id_retrieval(
    source_embeddings: torch.Tensor, swap_embeddings: torch.Tensor, source_ids: torch.Tensor | None = None
) -> float:
    """Fraction of swaps whose nearest source (cosine similarity, among all sources) has the swap's
    own source identity. `source_ids` maps pair i to an identity label when several pairs share a
    source; by default pair i's source is identity i."""
    sims = F.normalize(swap_embeddings, dim=1) @ F.normalize(source_embeddings, dim=1).T
    nearest = sims.argmax(dim=1)
    ids = torch.arange(len(source_embeddings)) if source_ids is None else torch.as_tensor(source_ids)
    return (ids[nearest.cpu()] == ids[: len(swap_embeddings)]).float().mean().item()


def mean_squared_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over pairs of the squared error per pair (expression error: swap vs target)."""
    return (a - b).pow(2).mean(dim=tuple(range(1, a.ndim))).mean().item()


def pose_error_deg(pose_a: torch.Tensor, pose_b: torch.Tensor) -> float:
    """Mean over pairs of the Euclidean distance between (yaw, pitch, roll) in degrees."""
    return (pose_a - pose_b).norm(dim=1).mean().item()
