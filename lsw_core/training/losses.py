"""The LatentSwap objective (paper Eq. 1–4): L = L_id + λ·L_lp + μ·L_shape, and two optional terms not
in the paper: κ·L_keep in image space and ν·L_contrast in identity space (κ = ν = 0 by default)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lsw_core.interfaces import IdentityEmbedder, ShapeModel


def identity_loss(source_embedding: torch.Tensor, swap_embedding: torch.Tensor) -> torch.Tensor:
    """L_id = 1 − cos(ID(I_s), ID(I_swap)), averaged over the batch (Eq. 2)."""
    return (1 - F.cosine_similarity(source_embedding, swap_embedding, dim=1)).mean()


def contrast_loss(
    source_embedding: torch.Tensor, target_embedding: torch.Tensor, swap_embedding: torch.Tensor, margin: float
) -> torch.Tensor:
    """L_contrast = mean over pairs of max(0, d(swap, s) − d(swap, t) + margin·d(s, t)), d = 1 − cos: zero
    for a pair whose swap is already nearer the source than the target by `margin` of the source–target
    distance, so it spends the swap's budget only on the pairs not yet swapped."""
    d_source = 1 - F.cosine_similarity(swap_embedding, source_embedding, dim=1)
    d_target = 1 - F.cosine_similarity(swap_embedding, target_embedding, dim=1)
    d_pair = 1 - F.cosine_similarity(source_embedding, target_embedding, dim=1)
    return F.relu(d_source - d_target + margin * d_pair).mean()


def downsample(images: torch.Tensor, side: int | None) -> torch.Tensor:
    """`images` [B, C, H, W] with the longer side reduced to `side` (antialiased bilinear, aspect
    kept); unchanged when `side` is None or not smaller."""
    h, w = images.shape[-2:]
    if side is None or max(h, w) <= side:
        return images
    scale = side / max(h, w)
    size = (max(round(h * scale), 1), max(round(w * scale), 1))
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True)


def latent_penalty(target_latent: torch.Tensor, swap_latent: torch.Tensor) -> torch.Tensor:
    """L_lp = ‖l_t − l_swap‖² / dim: the mean squared error between target and swapped codes (Eq. 3)."""
    return F.mse_loss(swap_latent, target_latent)


def shape_loss(shape_model: ShapeModel, source: torch.Tensor, target: torch.Tensor, swap: torch.Tensor) -> torch.Tensor:
    """L_shape = `shape_model.shape_distance` between the swap's fit and the fused coefficients (source
    identity, target expression/pose/...): L1 between their 68 landmarks (Eq. 4, mean over landmarks
    as in the authors' code) unless the model adds to it. Source and target fits carry no gradient."""
    with torch.no_grad():
        fused = shape_model.fuse(shape_model(source), shape_model(target))
    return shape_model.shape_distance(shape_model(swap), fused)


#: σ of the Gaussian face-centre region of `keep_mask`, as a fraction of the image side.
KEEP_CENTRE_SIGMA = 0.2


def keep_mask(height: int, width: int, centre_weight: float, device=None) -> torch.Tensor:
    """[H, W] pixel weights: 1 at the borders, `centre_weight` at the image centre (where an aligned
    face sits), a Gaussian of σ = KEEP_CENTRE_SIGMA of the side in between."""
    y = (torch.arange(height, device=device) + 0.5) / height - 0.5
    x = (torch.arange(width, device=device) + 0.5) / width - 0.5
    r2 = y[:, None] ** 2 + x[None] ** 2
    return 1 - (1 - centre_weight) * torch.exp(-r2 / (2 * KEEP_CENTRE_SIGMA**2))


def keep_loss(
    target_image: torch.Tensor, swap_image: torch.Tensor, centre_weight: float = 1.0, power: float = 1.0
) -> torch.Tensor:
    """L_keep = mean over pairs of d^power, d the mean absolute pixel distance of the swap to the
    target, images mapped to [0, 1], each pixel weighted by `keep_mask` (centre_weight 1: the plain
    mean). The target carries no gradient. Power 1 charges every changed pixel the same, so the trade
    of identity for pixels has no resting point short of one end; power 2 charges each further pixel
    more, and the swap settles where the identity it gains stops paying for them."""
    distance = (swap_image.float() - target_image.detach().float()).abs() / 2
    if centre_weight != 1:
        distance = distance * keep_mask(*distance.shape[-2:], centre_weight, device=distance.device)
    if power == 1:
        return distance.mean()
    return distance.flatten(1).mean(1).pow(power).mean()


class LatentSwapLoss(nn.Module):
    """L = L_id + λ·L_lp + μ·L_shape [+ κ·L_keep] [+ ν·L_contrast] with the paper's λ = 100, μ = 0.1 and
    κ = ν = 0. The shape term is dropped when no shape model is given, the others when their weight is 0.
    L_contrast is measured in the same views and embedders as L_id, on images downsampled to
    `id_resolution` (None: as rendered)."""

    def __init__(
        self,
        embedder: IdentityEmbedder,
        shape_model: ShapeModel | None = None,
        *,
        lambda_lp: float = 100.0,
        mu_shape: float = 0.1,
        identity: nn.Module | None = None,
        keep_weight: float = 0.0,
        keep_centre: float = 1.0,
        keep_power: float = 1.0,
        contrast_weight: float = 0.0,
        contrast_margin: float = 0.25,
        id_resolution: int | None = None,
    ) -> None:
        super().__init__()
        self.embedder = embedder
        #: Replaces the paper's L_id: a module (source images, swap images) → loss.
        self.identity = identity
        self.shape_model = shape_model
        self.lambda_lp = lambda_lp
        self.mu_shape = mu_shape
        self.keep_weight = keep_weight
        self.keep_centre = keep_centre
        self.keep_power = keep_power
        self.contrast_weight = contrast_weight
        self.contrast_margin = contrast_margin
        #: Longer side the images are downsampled to before the identity terms (None: as given).
        self.id_resolution = id_resolution

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
        """The total loss and its detached terms (`id`, `lp`, `shape`, `keep`, `contrast`, `total`) as 0-d tensors: reading
        them (`.item()`) waits for the device, so the trainer does it only on logging steps. The terms
        are computed in fp32 from the networks' outputs, whatever precision those ran in."""
        contrasted = target_image if self.contrast_weight else None
        l_id, l_contrast = self.identity_terms(source_image, swap_image, source_embedding, contrasted)
        l_lp = latent_penalty(target_latent.float(), swap_latent.float())
        total = l_id + self.lambda_lp * l_lp
        terms = {"id": l_id, "lp": l_lp}
        if l_contrast is not None:
            total = total + self.contrast_weight * l_contrast
            terms["contrast"] = l_contrast
        if self.shape_model is not None and self.mu_shape:
            l_shape = shape_loss(self.shape_model, source_image, target_image, swap_image)
            total = total + self.mu_shape * l_shape
            terms["shape"] = l_shape
        if self.keep_weight:
            l_keep = keep_loss(target_image, swap_image, self.keep_centre, self.keep_power)
            total = total + self.keep_weight * l_keep
            terms["keep"] = l_keep
        terms["total"] = total
        return total, {k: v.detach() for k, v in terms.items()}

    def identity_term(
        self, source_image: torch.Tensor, swap_image: torch.Tensor, source_embedding: torch.Tensor | None = None
    ) -> torch.Tensor:
        """L_id alone."""
        return self.identity_terms(source_image, swap_image, source_embedding)[0]

    def identity_terms(
        self,
        source_image: torch.Tensor,
        swap_image: torch.Tensor,
        source_embedding: torch.Tensor | None = None,
        target_image: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(L_id, L_contrast), the latter None unless `target_image` is given."""
        side = self.id_resolution
        source_image, swap_image = downsample(source_image, side), downsample(swap_image, side)
        if target_image is not None:
            target_image = downsample(target_image, side)
        if self.identity is not None:
            l_id, l_contrast = self.identity.terms(source_image, swap_image, target_image, self.contrast_margin)
            return l_id.float(), None if l_contrast is None else l_contrast.float()
        with torch.no_grad():
            if source_embedding is None:
                source_embedding = self.embedder(source_image)
            target_embedding = None if target_image is None else self.embedder(target_image).float()
        swap_embedding = self.embedder(swap_image).float()
        l_id = identity_loss(source_embedding.float(), swap_embedding)
        if target_embedding is None:
            return l_id, None
        return l_id, contrast_loss(source_embedding.float(), target_embedding, swap_embedding, self.contrast_margin)
