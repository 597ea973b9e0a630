"""Reconstruction quality of an inversion: PSNR and SSIM between image batches in [-1, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image [B], on images mapped to [0, 1]."""
    mse = ((a - b) / 2).square().flatten(1).mean(dim=1)
    return -10 * torch.log10(mse.clamp_min(1e-12))


def _gaussian_window(size: int, sigma: float, device, dtype) -> torch.Tensor:
    x = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-x.square() / (2 * sigma**2))
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity per image [B] (Wang et al. 2004: Gaussian window 11, σ 1.5, K1 0.01,
    K2 0.03) on images mapped to [0, 1], averaged over channels and valid positions. Differentiable."""
    a, b = (a + 1) / 2, (b + 1) / 2
    window = min(window, a.shape[-1], a.shape[-2])
    g = _gaussian_window(window, sigma, a.device, a.dtype)
    c = a.shape[1]
    kh = g.view(1, 1, 1, -1).expand(c, 1, 1, window)
    kv = g.view(1, 1, -1, 1).expand(c, 1, window, 1)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(x, kh, groups=c), kv, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a.square()
    var_b = blur(b * b) - mu_b.square()
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a.square() + mu_b.square() + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(dim=1)


def reconstruction_metrics(reconstruction: torch.Tensor, images: torch.Tensor) -> dict[str, list[float]]:
    """PSNR (dB) and SSIM of each reconstruction against its image, as plain floats."""
    with torch.no_grad():
        rec, img = reconstruction.float().clamp(-1, 1), images.float()
        return {"psnr": psnr(rec, img).tolist(), "ssim": ssim(rec, img).tolist()}
