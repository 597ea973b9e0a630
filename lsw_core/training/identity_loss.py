"""Identity losses that resist directions which fool an embedder without changing the face.

The paper's L_id = 1 − cos(E(I_s), E(I_swap)) on one embedder. Trained against a real network
(ArcFace, dlib) the mixer finds latent moves that lower that distance through pixel patterns the
network over-reads, not through the face. `RobustIdentityLoss` takes the expectation of L_id over
random differentiable augmentations applied before each embedder (scale / shift jitter, mirror,
blur, colour), the same draw for source and swap, and sums several embedders with weights: a move
that survives every view and every network is one that changes the face.
"""

from __future__ import annotations

import math

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from lsw_core.interfaces import IdentityEmbedder
from lsw_core.training.losses import contrast_loss, identity_loss

IDENTITY_LOSSES = ("paper", "augmented")


@attrs.frozen(kw_only=True)
class Augmentation:
    """Ranges of the random view drawn per image and per sample: zoom factor in [1 − scale, 1 + scale],
    shift up to `shift` of the image side, mirror with probability `flip`, a Gaussian blur of σ up to
    `blur` pixels (of a 64-px-normalised image), brightness / contrast / saturation factors in
    [1 − colour, 1 + colour]."""

    scale: float = 0.1
    shift: float = 0.06
    flip: float = 0.5
    blur: float = 1.0
    colour: float = 0.2


def _uniform(n: int, half_width: float, generator: torch.Generator | None, device) -> torch.Tensor:
    return 1 + half_width * (2 * torch.rand(n, generator=generator, device=device) - 1)


def augment(images: torch.Tensor, spec: Augmentation, generator: torch.Generator | None = None) -> torch.Tensor:
    """A differentiable random view of each of `images` [B, 3, H, W] in [-1, 1]."""
    n, device = images.shape[0], images.device
    zoom = _uniform(n, spec.scale, generator, device)
    shift = spec.shift * 2 * (2 * torch.rand(n, 2, generator=generator, device=device) - 1)
    mirror = torch.where(torch.rand(n, generator=generator, device=device) < spec.flip, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0] = mirror / zoom
    theta[:, 1, 1] = 1 / zoom
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    x = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if spec.blur > 0:
        sigma = spec.blur * images.shape[-1] / 64 * torch.rand(n, generator=generator, device=device)
        x = _blur(x, sigma)
    if spec.colour > 0:
        b = _uniform(n, spec.colour, generator, device)[:, None, None, None]
        c = _uniform(n, spec.colour, generator, device)[:, None, None, None]
        s = _uniform(n, spec.colour, generator, device)[:, None, None, None]
        grey = x.mean(1, keepdim=True)
        x = grey + s * (x - grey)
        mean = x.mean((1, 2, 3), keepdim=True)
        x = (mean + c * (x - mean) + (b - 1)).clamp(-1, 1)
    return x


def _blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur with a per-image σ [B] (σ = 0 leaves the image unchanged)."""
    radius = max(1, math.ceil(2 * float(sigma.max())))
    offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-0.5 * (offsets[None] / sigma.clamp_min(1e-3)[:, None]) ** 2)
    kernel = kernel / kernel.sum(1, keepdim=True)  # [B, K]
    b, c, h, w = x.shape
    y = x.reshape(1, b * c, h, w)
    k = kernel.repeat_interleave(c, 0)
    y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode="reflect"), k[:, None, None, :], groups=b * c)
    y = F.conv2d(F.pad(y, (0, 0, radius, radius), mode="reflect"), k[:, None, :, None], groups=b * c)
    return y.reshape(b, c, h, w)


class RobustIdentityLoss(nn.Module):
    """Σ_k w_k · E_views[1 − cos(E_k(view(I_s)), E_k(view(I_swap)))] over `samples` random views per
    pair (the same view for source and swap); with `samples` 0 the views are the images themselves."""

    def __init__(
        self,
        embedders: list[tuple[IdentityEmbedder, float]],
        *,
        samples: int = 2,
        augmentation: Augmentation = Augmentation(),
    ) -> None:
        super().__init__()
        self.embedders = nn.ModuleList([e for e, _ in embedders])
        self.weights = [float(w) for _, w in embedders]
        self.samples = samples
        self.augmentation = augmentation

    def forward(self, source: torch.Tensor, swap: torch.Tensor) -> torch.Tensor:
        return self.terms(source, swap)[0]

    def terms(
        self, source: torch.Tensor, swap: torch.Tensor, target: torch.Tensor | None = None, margin: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(L_id, L_contrast): the latter (`losses.contrast_loss`, in the same views, None without a
        target) weighted over embedders and averaged over views like L_id."""
        views = (
            [(source, swap, target)] if self.samples == 0 else [paired_views(source, swap, self.augmentation, target)]
        )
        views += [paired_views(source, swap, self.augmentation, target) for _ in range(self.samples - 1)]
        l_id = swap.new_zeros(())
        l_contrast = None if target is None else swap.new_zeros(())
        for embedder, weight in zip(self.embedders, self.weights):
            for view_s, view_swap, view_t in views:
                with torch.no_grad():
                    emb_s = embedder(view_s)
                    emb_t = None if view_t is None else embedder(view_t)
                emb_swap = embedder(view_swap)
                l_id = l_id + weight * identity_loss(emb_s, emb_swap) / len(views)
                if emb_t is not None:
                    l_contrast = l_contrast + weight * contrast_loss(emb_s, emb_t, emb_swap, margin) / len(views)
        return l_id, l_contrast


def paired_views(
    source: torch.Tensor, swap: torch.Tensor, spec: Augmentation, target: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One random view per pair, the same for the source, its swap and (when given) its target (drawn
    from torch's global RNG, which the trainer seeds and checkpoints)."""
    seed = int(torch.randint(0, 2**62, (1,)))

    def view(images: torch.Tensor) -> torch.Tensor:
        return augment(images, spec, torch.Generator(device=images.device).manual_seed(seed))

    with torch.no_grad():
        view_s = view(source)
        view_t = None if target is None else view(target)
    return view_s, view(swap), view_t
