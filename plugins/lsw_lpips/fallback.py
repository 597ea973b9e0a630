"""The perceptual-loss fallback used when no LPIPS weights are available: a pixel + SSIM distance.

d(a, b) = mean squared error (images mapped to [0, 1]) + (1 − SSIM(a, b)) / 2, per image. It has no
learned features, so it follows structure and colour rather than perceptual similarity; inversions
with it reach a similar PSNR but may look softer than with LPIPS.
"""

from __future__ import annotations

import torch

from lsw_core.interfaces import PerceptualLoss
from lsw_core.inversion.quality import ssim


class PixelSSIM(PerceptualLoss):
    """Pixel + SSIM distance between two image batches in [-1, 1] → [B]."""

    def _distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        mse = ((a - b) / 2).square().flatten(1).mean(dim=1)
        return mse + (1 - ssim(a, b)) / 2
