"""A tiny StyleGAN-shaped generator for unit tests of the inversion machinery (the acceptance tests
use the synthetic world's `synthface` backend when it is installed)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lsw_core.camera import Camera, CameraSpec
from lsw_core.interfaces import Generator


class TinyGenerator(Generator):
    """z [16] → 2-layer mapping → 6 W+ rows of 16 → modulated 3×3 convolutions 4² → 32², with constant
    noise inputs (`*.noise_const` buffers) like StyleGAN2's."""

    def __init__(self, seed: int = 0, camera: bool = False) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.z_dim = self.w_dim = 16
        self.num_ws = 6
        self.resolution = 32
        self.camera = CameraSpec(azimuth_range=(-30.0, 30.0), polar_range=(75.0, 105.0)) if camera else None
        self.mapping_net = nn.Sequential(nn.Linear(16, 16), nn.LeakyReLU(0.2), nn.Linear(16, 16))
        self.const = nn.Parameter(torch.randn(8, 4, 4))
        self.affine = nn.ModuleList(nn.Linear(16, 8) for _ in range(6))
        self.conv = nn.ModuleList(nn.Conv2d(8, 8, 3, padding=1) for _ in range(6))
        self.to_rgb = nn.Conv2d(8, 3, 1)
        self.noise_strength = nn.Parameter(torch.full((6,), 0.05))
        # a fixed pattern that only the camera moves (the view, unlike the face, is not in w)
        scenery = F.interpolate(torch.randn(1, 3, 3, 3), size=(32, 32), mode="bicubic", align_corners=True)
        self.register_buffer("scenery", scenery.clamp(-1, 1))
        for i, res in enumerate((4, 8, 8, 16, 16, 32)):
            self.register_buffer(f"layer{i}_noise_const", torch.randn(1, 1, res, res))
        with torch.no_grad():
            self.register_buffer("w_avg", self.mapping_net(torch.randn(1000, 16)).mean(0))

    def _mapping(self, z, *, truncation_psi, truncation_cutoff):
        w = self.mapping_net(z)[:, None].repeat(1, self.num_ws, 1)
        cutoff = self.num_ws if truncation_cutoff is None else truncation_cutoff
        w[:, :cutoff] = self.w_avg + truncation_psi * (w[:, :cutoff] - self.w_avg)
        return w

    def _synthesis(self, ws, *, camera, noise_mode, **kwargs):
        x = self.const[None].expand(ws.shape[0], -1, -1, -1)
        for i in range(6):
            if i in (1, 3, 5):
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = self.conv[i](x * (1 + self.affine[i](ws[:, i]))[:, :, None, None])
            if noise_mode == "const":
                x = x + self.noise_strength[i] * getattr(self, f"layer{i}_noise_const")
            elif noise_mode == "random":
                x = x + self.noise_strength[i] * torch.randn_like(x[:, :1])
            x = F.leaky_relu(x, 0.2)
        img = torch.tanh(self.to_rgb(x))
        if isinstance(camera, Camera):  # scenery shifted horizontally, standing in for a change of view
            theta = torch.zeros(img.shape[0], 2, 3, dtype=img.dtype, device=img.device)
            theta[:, 0, 0] = theta[:, 1, 1] = 1
            theta[:, 0, 2] = camera.azimuth.to(img) / 60.0
            grid = F.affine_grid(theta, list(img.shape), align_corners=False)
            scenery = F.grid_sample(
                self.scenery.expand(img.shape[0], -1, -1, -1), grid, padding_mode="reflection", align_corners=False
            )
            img = 0.5 * img + 0.5 * scenery
        return img
