"""A tiny style-based generator and a random-feature embedder with seeded weights."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import lsw_core


def _randn(g: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=g) * scale


class TinyGenerator(lsw_core.Generator):
    """z [32] → 2-layer mapping → w [32] → W+ 6 × 32; each pair of rows styles one 3×3 conv block
    at 4, 8 and 16 px (modulation by an affine map of the row, StyleGAN-like)."""

    z_dim = w_dim = 32
    num_ws = 6
    resolution = 16
    channels = 16

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        d, c = self.w_dim, self.channels
        self.register_buffer("map1", _randn(g, d, d, scale=d**-0.5))
        self.register_buffer("map2", _randn(g, d, d, scale=d**-0.5))
        self.register_buffer("const", _randn(g, 1, c, 4, 4))
        self.register_buffer("affine", _randn(g, self.num_ws, d, c, scale=d**-0.5))
        self.register_buffer("conv", _randn(g, self.num_ws, c, c, 3, 3, scale=(9 * c) ** -0.5))
        self.register_buffer("to_rgb", _randn(g, 3, c, 1, 1, scale=c**-0.5))
        self.register_buffer("w_avg", self._map(_randn(g, 4096, d)).mean(0))

    @classmethod
    def create(cls, checkpoint=None, seed: int = 0) -> TinyGenerator:
        if checkpoint is not None:
            raise lsw_core.CheckpointError("example-tiny has seeded weights and takes no checkpoint")
        return cls(seed=seed)

    def _map(self, z: torch.Tensor) -> torch.Tensor:
        x = z * z.square().mean(1, keepdim=True).add(1e-8).rsqrt()
        return F.leaky_relu(F.leaky_relu(x @ self.map1, 0.2) @ self.map2, 0.2)

    def _mapping(self, z, *, truncation_psi, truncation_cutoff):
        ws = self._map(z)[:, None].repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            cutoff = self.num_ws if truncation_cutoff is None else truncation_cutoff
            ws[:, :cutoff] = self.w_avg.lerp(ws[:, :cutoff], truncation_psi)
        return ws

    def _synthesis(self, ws, *, camera, noise_mode):
        x = self.const.expand(ws.shape[0], -1, -1, -1)
        for i in range(self.num_ws):
            if i in (2, 4):
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            style = 1 + torch.einsum("bd,dc->bc", ws[:, i], self.affine[i])
            x = F.conv2d(x * style[:, :, None, None], self.conv[i], padding=1)
            if noise_mode == "random":
                x = x + 0.05 * torch.randn_like(x[:, :1])
            x = F.leaky_relu(x, 0.2)
            x = x * x.square().mean((1, 2, 3), keepdim=True).add(1e-8).rsqrt()
        return torch.tanh(F.conv2d(x, self.to_rgb))


class TinyEmbedder(lsw_core.IdentityEmbedder):
    """Fixed random convolutional features of a 16 px image, pooled to a 24-d embedding."""

    dim = 24

    def __init__(self, seed: int = 1) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("conv1", _randn(g, 32, 3, 3, 3, scale=27**-0.5))
        self.register_buffer("conv2", _randn(g, self.dim, 32, 3, 3, scale=288**-0.5))

    @classmethod
    def create(cls, checkpoint=None, seed: int = 1) -> TinyEmbedder:
        return cls(seed=seed)

    def _embed(self, images):
        x = F.interpolate(images, size=(16, 16), mode="bilinear", align_corners=False)
        x = F.silu(F.conv2d(x, self.conv1, padding=1, stride=2))
        x = F.conv2d(x, self.conv2, padding=1, stride=2)
        return x.mean((2, 3))
