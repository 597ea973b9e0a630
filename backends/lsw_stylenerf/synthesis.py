"""StyleNeRF's synthesis network (FFHQ configuration): volume rendering of a style-conditioned
foreground NeRF and a code-conditioned NeRF++ background at low resolution, then a 2D upsampler.

ws rows: the foreground NeRF reads the first `fg_nerf.num_ws` rows (10 for 8 blocks), the upsampler
blocks from 64² up read the rest, two per resolution plus one for the last ToRGB.
"""

from __future__ import annotations

import attrs
import torch
from einops import rearrange
from torch import nn

from lsw_stylenerf.config import SynthesisConfig
from lsw_stylenerf.layers import SynthesisBlock
from lsw_stylenerf.nerf import NeRFBlock
from lsw_stylenerf.rays import camera_rays, inverse_sphere_points, pixel_grid, sample_pdf_det, volume_weights


@attrs.frozen
class SynthesisOutput:
    """The final image [B, 3, R, R], the rendered low-resolution NeRF image [B, 3, r, r] and the
    NeRF feature map [B, rgb_out_dim, r, r] that the upsampler starts from."""

    img: torch.Tensor
    nerf_img: torch.Tensor
    feat: torch.Tensor


class NeRFSynthesisNetwork(nn.Module):
    """ws [B, num_ws, w_dim] + cameras (K⁻¹, cam2world) + background code → image."""

    def __init__(self, cfg: SynthesisConfig):
        super().__init__()
        self.cfg = cfg
        self.fg_nerf = NeRFBlock(
            w_dim=cfg.w_dim,
            z_dim=0,
            rgb_out_dim=cfg.rgb_out_dim,
            img_channels=cfg.img_channels,
            activation=cfg.activation,
            **cfg.foreground,
        )
        self.bg_nerf = NeRFBlock(
            w_dim=cfg.w_dim,
            z_dim=cfg.z_dim_bg,
            rgb_out_dim=cfg.rgb_out_dim,
            img_channels=cfg.img_channels,
            activation=cfg.activation,
            inverse_sphere=True,
            **cfg.background,
        )
        self.block_resolutions = cfg.block_resolutions
        in_channels = cfg.rgb_out_dim
        for res in self.block_resolutions:
            out_channels = cfg.channels(res)
            setattr(
                self,
                f"b{res}",
                SynthesisBlock(
                    in_channels,
                    out_channels,
                    cfg.w_dim,
                    img_channels=cfg.img_channels,
                    conv_clamp=cfg.conv_clamp,
                    magnitude_ema_beta=cfg.magnitude_ema_beta,
                    activation=cfg.activation,
                ),
            )
            in_channels = out_channels
        self.num_ws = self.fg_nerf.num_ws + 2 * len(self.block_resolutions) + 1
        # Training progress of progressive growing; -1 (never set) and 1 (finished) both mean full resolution.
        self.register_buffer("alpha", torch.scalar_tensor(-1))

    @property
    def row_resolutions(self) -> list[int]:
        """The resolution each ws row acts at (NeRF rows at the volume resolution)."""
        rows = [self.cfg.resolution_vol] * self.fg_nerf.num_ws
        for res in self.block_resolutions:
            rows += [res, res]
        return rows + [self.block_resolutions[-1]]

    def n_steps(self) -> int:
        # The reference renders 20 coarse samples while `alpha` still holds its initial −1.
        return 20 if float(self.alpha) == -1 else self.cfg.n_ray_samples

    def render_foreground(self, origins, rays, styles):
        """Coarse uniform samples in the depth range, then as many hierarchical samples from their
        weights; returns (feature [B, N, F], transmittance left for the background [B, N])."""
        cfg, nerf = self.cfg, self.fg_nerf
        b, n = origins.shape[:2]
        s = self.n_steps()
        d0, d1 = cfg.depth_range
        di = torch.linspace(0.0, 1.0, s, device=origins.device).expand(b, n, s)

        def query(di):
            depth = d1 * di + d0 * (1 - di)
            pts = origins.unsqueeze(-2) + depth.unsqueeze(-1) * rays.unsqueeze(-2)
            feat, sigma = nerf(pts.reshape(b, n * s, 3), ws=styles)
            return depth, feat.reshape(b, n, s, -1), torch.relu(sigma.reshape(b, n, s))

        depth, feat, sigma = query(di)
        weights, remaining = volume_weights(sigma, depth, rays, last_dist=0.0)
        if cfg.hierarchical:
            with torch.no_grad():
                mids = 0.5 * (di[..., :-1] + di[..., 1:])
                di_fine = sample_pdf_det(mids.reshape(-1, s - 1), weights.reshape(-1, s)[:, 1:-1], s).reshape(b, n, s)
            depth_f, feat_f, sigma_f = query(di_fine)
            di, order = torch.sort(torch.cat([di_fine, di], 2), dim=2)
            depth = torch.gather(torch.cat([depth_f, depth], 2), 2, order)
            sigma = torch.gather(torch.cat([sigma_f, sigma], 2), 2, order)
            feat = torch.gather(torch.cat([feat_f, feat], 2), 2, order.unsqueeze(-1).expand(-1, -1, -1, feat.shape[-1]))
            weights, remaining = volume_weights(sigma, depth, rays, last_dist=0.0)
        return torch.sum(weights.unsqueeze(-1) * feat, -2), remaining

    def render_background(self, origins, rays, code):
        """NeRF++ inverse-sphere samples at inverse depths bg_start … 0, opaque at infinity."""
        b, n = origins.shape[:2]
        s = self.cfg.n_bg_samples
        di = torch.linspace(-1.0, 0.0, s, device=origins.device).expand(b, n, s) * self.cfg.bg_start
        dirs = rays / rays.norm(dim=-1, keepdim=True)
        expand = (b, n, s, 3)
        pts = inverse_sphere_points(origins.unsqueeze(-2).expand(expand), dirs.unsqueeze(-2).expand(expand), -di)
        feat, sigma = self.bg_nerf(pts.reshape(b, n * s, 4), z=code)
        weights, _ = volume_weights(torch.relu(sigma.reshape(b, n, s)), di, None, last_dist=1e10)
        return torch.sum(weights.unsqueeze(-1) * feat.reshape(b, n, s, -1), -2)

    def forward(
        self, ws: torch.Tensor, K_inv: torch.Tensor, cam2world: torch.Tensor, background: torch.Tensor
    ) -> SynthesisOutput:
        """ws [B, num_ws, w_dim], K_inv and cam2world [B, 4, 4], background code [B, z_dim_bg]."""
        res = self.cfg.resolution_vol
        ws = ws.to(torch.float32)
        origins, rays = camera_rays(K_inv, cam2world, pixel_grid(res).to(ws.device))
        feat, remaining = self.render_foreground(origins, rays, ws[:, : self.fg_nerf.num_ws])
        feat = feat + remaining.unsqueeze(-1) * self.render_background(origins, rays, background)
        feat = rearrange(feat, "b (h w) c -> b c h w", h=res)
        nerf_img, nerf_feat = feat[:, : self.cfg.img_channels], feat[:, self.cfg.img_channels :]
        x, img, w_idx = nerf_feat, nerf_img, self.fg_nerf.num_ws
        for res in self.block_resolutions:
            x, img = getattr(self, f"b{res}")(x, img, ws[:, w_idx : w_idx + 3])
            w_idx += 2
        return SynthesisOutput(img=img, nerf_img=nerf_img, feat=nerf_feat)
