"""The LatentSwap objective (paper Eq. 1–4): L = L_id + λ·L_lp + μ·L_shape."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lsw_core.interfaces import IdentityEmbedder, ShapeModel


def identity_loss(source_embedding: torch.Tensor, swap_embedding: torch.Tensor) -> torch.Tensor:
    """L_id = 1 − cos(ID(I_s), ID(I_swap)), averaged over the batch (Eq. 2)."""
    return (1 - F.cosine_similarity(source_embedding, swap_embedding, dim=1)).mean()


def latent_penalty(target_latent: torch.Tensor, swap_latent: torch.Tensor) -> torch.Tensor:
    """L_lp = ‖l_t − l_swap‖² / dim: the mean squared error between target and swapped codes (Eq. 3)."""
    return F.mse_loss(swap_latent, target_latent)


def shape_loss(shape_model: ShapeModel, source: torch.Tensor, target: torch.Tensor, swap: torch.Tensor) -> torch.Tensor:
    """L_shape = L1 between the 68 landmarks of the swap's 3DMM fit and those of the fused
    coefficients (source identity, target expression/pose/...); source and target fits carry no
    gradient (Eq. 4, mean over landmarks as in the authors' code)."""
    with torch.no_grad():
        fused = shape_model.fuse(shape_model(source), shape_model(target))
        q_fuse = shape_model.landmarks(fused)
    q_swap = shape_model.landmarks(shape_model(swap))
    return F.l1_loss(q_swap.float(), q_fuse.float())


class LatentSwapLoss(nn.Module):
    """L = L_id + λ·L_lp + μ·L_shape with the paper's λ = 100, μ = 0.1. The shape term is dropped
    when no shape model is given."""

    def __init__(
        self,
        embedder: IdentityEmbedder,
        shape_model: ShapeModel | None = None,
        *,
        lambda_lp: float = 100.0,
        mu_shape: float = 0.1,
        identity: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.embedder = embedder
        #: Replaces the paper's L_id: a module (source images, swap images) → loss.
        self.identity = identity
        self.shape_model = shape_model
        self.lambda_lp = lambda_lp
        self.mu_shape = mu_shape

    def forward(
        self,
        *,
        source_image: torch.Tensor,
        target_image: torch.Tensor,
        swap_image: torch.Tensor,
        target_latent: torch.Tensor,
        swap_latent: torch.Tensor,
        source_embedding: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The total loss and its detached terms (`id`, `lp`, `shape`, `total`) as 0-d tensors: reading
        them (`.item()`) waits for the device, so the trainer does it only on logging steps. The terms
        are computed in fp32 from the networks' outputs, whatever precision those ran in."""
        l_id = self.identity_term(source_image, swap_image, source_embedding)
        l_lp = latent_penalty(target_latent.float(), swap_latent.float())
        total = l_id + self.lambda_lp * l_lp
        terms = {"id": l_id, "lp": l_lp}
        if self.shape_model is not None and self.mu_shape:
            l_shape = shape_loss(self.shape_model, source_image, target_image, swap_image)
            total = total + self.mu_shape * l_shape
            terms["shape"] = l_shape
        terms["total"] = total
        return total, {k: v.detach() for k, v in terms.items()}

    def identity_term(
        self, source_image: torch.Tensor, swap_image: torch.Tensor, source_embedding: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.identity is not None:
            return self.identity(source_image, swap_image).float()
        if source_embedding is None:
            with torch.no_grad():
                source_embedding = self.embedder(source_image)
        return identity_loss(source_embedding.float(), self.embedder(swap_image).float())
