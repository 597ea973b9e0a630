"""Rays and sample points of StyleNeRF's renderer (eval mode: deterministic samples).

Pixels live on the image plane in [-1, 1] (pixel centres, y up), are lifted to camera space at depth −1
through the inverse intrinsics and to world space through camera-to-world; a ray runs from the camera
centre through that point and is *not* normalised, so depths are in units of its length.
"""

from __future__ import annotations

import torch

TINY_NUMBER = 1e-6


def pixel_grid(resolution: int) -> torch.Tensor:
    """Pixel centres [res², 2] as (x, y) in [-1, 1], row-major from the top row (y = +1 side)."""
    u = 1 - 1 / resolution
    t = torch.linspace(-u, u, resolution)
    y, x = torch.meshgrid(-t, t, indexing="ij")
    return torch.stack([x, y], -1).reshape(-1, 2)


def camera_rays(
    K_inv: torch.Tensor, cam2world: torch.Tensor, pixels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(origins [B, N, 3], ray vectors [B, N, 3]) for pixels [N, 2] seen by cameras [B, 4, 4] each."""
    b, n = K_inv.shape[0], pixels.shape[0]
    pix = torch.cat([pixels.to(K_inv), -pixels.new_ones(n, 1).to(K_inv), pixels.new_ones(n, 1).to(K_inv)], 1)
    pix = pix.t()[None].expand(b, 4, n)
    world = (cam2world @ K_inv) @ pix
    points = world[:, :3].permute(0, 2, 1)
    origins = cam2world[:, None, :3, 3].expand(b, n, 3)
    return origins, points - origins


def volume_weights(
    sigma: torch.Tensor, depths: torch.Tensor, ray: torch.Tensor | None, last_dist: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Alpha compositing weights [B, N, S] and the transmittance left after the last sample [B, N].

    Intervals are depth differences (times the ray length when given); the last interval is
    `last_dist` — 0 for the foreground (what passes goes to the background), 1e10 for the background,
    whose last sample is made opaque."""
    dists = depths[..., 1:] - depths[..., :-1]
    if ray is not None:
        dists = dists * torch.norm(ray, dim=-1, keepdim=True)
    dists = torch.cat([dists, torch.full_like(dists[..., :1], last_dist)], -1)
    alpha = 1.0 - torch.exp(-torch.relu(sigma) * dists)
    if last_dist > 0:
        alpha = torch.cat([alpha[..., :-1], torch.ones_like(alpha[..., -1:])], -1)
    trans = torch.cumprod(torch.cat([torch.ones_like(alpha[..., :1]), 1.0 - alpha + 1e-10], -1), -1)[..., :-1]
    return alpha * trans, trans[..., -1]


def sample_pdf_det(bins: torch.Tensor, weights: torch.Tensor, n: int, eps: float = 1e-5) -> torch.Tensor:
    """Deterministic inverse-CDF sampling of `n` depths per ray from piecewise-constant `weights`
    [R, K] on `bins` [R, K+1] (hierarchical sampling at u = linspace(0, 1, n))."""
    rays, k = weights.shape
    pdf = (weights + eps) / torch.sum(weights + eps, -1, keepdim=True)
    cdf = torch.cat([torch.zeros_like(pdf[:, :1]), torch.cumsum(pdf, -1)], -1)
    u = torch.linspace(0, 1, n, device=bins.device).expand(rays, n).contiguous()
    inds = torch.searchsorted(cdf, u)
    below, above = torch.clamp_min(inds - 1, 0), torch.clamp_max(inds, k)
    idx = torch.stack([below, above], -1).view(rays, 2 * n)
    cdf_g = torch.gather(cdf, 1, idx).view(rays, n, 2)
    bins_g = torch.gather(bins, 1, idx).view(rays, n, 2)
    denom = cdf_g[..., 1] - cdf_g[..., 0]
    denom = torch.where(denom < eps, torch.ones_like(denom), denom)
    return bins_g[..., 0] + (u - cdf_g[..., 0]) / denom * (bins_g[..., 1] - bins_g[..., 0])


def inverse_sphere_points(origins: torch.Tensor, dirs: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
    """NeRF++ background points [..., 4]: the unit direction where the ray leaves the unit sphere,
    rotated towards the ray's closest point as the inverse distance `depth` ∈ [0, 1] grows, plus `depth`."""
    d1 = -torch.sum(dirs * origins, -1) / torch.sum(dirs * dirs, -1)
    p_mid = origins + d1.unsqueeze(-1) * dirs
    p_mid_norm = torch.norm(p_mid, dim=-1)
    ray_d_cos = 1.0 / torch.norm(dirs, dim=-1)
    d2 = torch.sqrt(1.0 - p_mid_norm * p_mid_norm) * ray_d_cos
    p_sphere = origins + (d1 + d2).unsqueeze(-1) * dirs
    axis = torch.cross(origins, p_sphere, dim=-1)
    axis = axis / torch.norm(axis, dim=-1, keepdim=True)
    angle = (torch.asin(p_mid_norm) - torch.asin(p_mid_norm * depth)).unsqueeze(-1)
    # Rodrigues' rotation of p_sphere about `axis` by `angle`
    rotated = (
        p_sphere * torch.cos(angle)
        + torch.cross(axis, p_sphere, dim=-1) * torch.sin(angle)
        + axis * torch.sum(axis * p_sphere, -1, keepdim=True) * (1.0 - torch.cos(angle))
    )
    rotated = rotated / torch.norm(rotated, dim=-1, keepdim=True)
    return torch.cat([rotated, depth.unsqueeze(-1)], -1)
