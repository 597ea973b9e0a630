"""The NeRF MLPs of StyleNeRF: points → (density, feature), conditioned either by W+ styles (the
foreground, one style row per layer) or by a latent code appended to the input (the background)."""

from __future__ import annotations

import math

import torch
from torch import nn

from lsw_stylenerf.layers import Conv1x1Layer, Style2Layer, ToRGBLayer


def positional_encoding(p: torch.Tensor, n_freq: int) -> torch.Tensor:
    """NeRF's sinusoidal encoding: [sin(2⁰πp), cos(2⁰πp), …, sin(2ᴸ⁻¹πp), cos(2ᴸ⁻¹πp)] on the last axis."""
    return torch.cat([f(float(2**i * math.pi) * p) for i in range(n_freq) for f in (torch.sin, torch.cos)], -1)


class NeRFBlock(nn.Module):
    """A StyleNeRF radiance field MLP.

    Input points [B, P, D] (D = 3, or 4 for the background's inverse-sphere points) are positionally
    encoded; with `z_dim > 0` the latent code is appended and layers are unmodulated, otherwise each
    layer reads one W+ row (`num_ws` = n_blocks + 2). Outputs raw density [B, P] and features
    [B, P, img_channels + rgb_out_dim] whose first channels are the predicted colour."""

    def __init__(
        self,
        *,
        w_dim: int,
        z_dim: int = 0,
        rgb_out_dim: int = 128,
        hidden_size: int = 128,
        n_blocks: int = 8,
        inverse_sphere: bool = False,
        n_freq_posenc: int = 10,
        downscale_p_by: float = 1,
        use_skip: bool = False,
        predict_rgb: bool = True,
        img_channels: int = 3,
        activation: str = "lrelu",
        magnitude_ema_beta: float = -1,
    ):
        super().__init__()
        self.z_dim = z_dim
        self.n_blocks = n_blocks
        self.n_freq_posenc = n_freq_posenc
        self.downscale_p_by = downscale_p_by
        self.predict_rgb = predict_rgb
        self.img_channels = img_channels
        self.rgb_out_dim = rgb_out_dim
        d_in = 4 if inverse_sphere else 3
        dim_embed = d_in * n_freq_posenc * 2
        if z_dim > 0:  # a global latent replaces the styles
            w_dim, dim_embed = 0, dim_embed + z_dim
        self.w_dim = w_dim
        self.fc_in = Style2Layer(dim_embed, hidden_size, w_dim, activation=activation)
        self.skip_layer = n_blocks // 2 - 1 if use_skip else None
        self.blocks = nn.ModuleList(
            [
                Style2Layer(
                    hidden_size + (dim_embed if i == self.skip_layer else 0),
                    hidden_size,
                    w_dim,
                    activation=activation,
                    magnitude_ema_beta=magnitude_ema_beta,
                )
                for i in range(n_blocks - 1)
            ]
        )
        self.sigma_out = ToRGBLayer(hidden_size, 1, w_dim)
        self.feat_out = ToRGBLayer(hidden_size, rgb_out_dim, w_dim)
        if predict_rgb:
            self.to_rgb = Conv1x1Layer(rgb_out_dim, img_channels)
        self.num_ws = n_blocks + 2 if w_dim > 0 else 0

    def forward(
        self, points: torch.Tensor, ws: torch.Tensor | None = None, z: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """points [B, P, D], ws [B, num_ws, w_dim] or z [B, z_dim] → (features [B, P, F], sigma_raw [B, P])."""
        p = positional_encoding(points / self.downscale_p_by, self.n_freq_posenc)
        if self.z_dim > 0:
            p = torch.cat([p, z[:, None, :].expand(-1, p.shape[1], -1)], -1)

        def style(i: int) -> torch.Tensor | None:
            return ws[:, i] if self.w_dim > 0 else None

        net = self.fc_in(p, style(0))
        for idx, layer in enumerate(self.blocks):
            if idx == self.skip_layer:
                net = torch.cat([net, p], -1)
            net = layer(net, style(idx + 1))
        sigma = self.sigma_out(net, style(self.n_blocks))
        feat = self.feat_out(net, style(self.n_blocks + 1))
        if self.predict_rgb:
            feat = torch.cat([self.to_rgb(feat), feat], -1)
        return feat, sigma[..., 0]
