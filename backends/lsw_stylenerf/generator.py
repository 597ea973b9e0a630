"""The StyleNeRF generator behind lsw-core's `Generator` interface: z → W+ → camera-conditioned image."""

from __future__ import annotations

import math
from typing import Any

import torch

from lsw_core.camera import Camera, CameraSpec
from lsw_core.checks import check_shape
from lsw_core.errors import LswError, ShapeError
from lsw_core.interfaces import Generator, TrainingDefaults, layer_groups_from_resolutions
from lsw_stylenerf.config import StyleNeRFConfig
from lsw_stylenerf.layers import MappingNetwork
from lsw_stylenerf.synthesis import NeRFSynthesisNetwork, SynthesisOutput


def camera_spec(cfg: StyleNeRFConfig) -> CameraSpec:
    """The backend's camera prior in user units: StyleNeRF's angular (u, v) ranges in degrees."""
    s = cfg.synthesis
    deg = 180 / math.pi
    return CameraSpec(
        azimuth_range=(s.range_u[0] * deg, s.range_u[1] * deg),
        polar_range=(s.range_v[0] * deg, s.range_v[1] * deg),
        fov=s.fov,
        radius=float(s.range_radius[0]),
        distribution="gaussian" if s.gaussian_camera else "uniform",
    )


class StyleNeRFGenerator(Generator):
    """StyleNeRF (FFHQ architecture). `synthesis(ws, camera=CAM, background=CODE)` renders from a
    `Camera` batch or a pair of [B, 4, 4] tensors (K_inv, cam2world) as StyleNeRF builds them; CODE is
    the [B, z_dim_bg] background latent (zeros, the prior's mean, when omitted)."""

    backend_name = "stylenerf"
    #: The authors' sampling, as for StyleGAN2: ψ = 0.5 on the first 8 rows.
    training_defaults = TrainingDefaults(truncation_psi=0.5, truncation_cutoff=8)

    def __init__(self, config: StyleNeRFConfig, init_kwargs: dict[str, Any] | None = None):
        super().__init__()
        self.config = config
        #: The reference-style init kwargs this generator was built from (saved with it).
        self.init_kwargs = dict(init_kwargs or {})
        self.z_dim, self.w_dim = config.z_dim, config.w_dim
        self.resolution = config.synthesis.img_resolution
        self.mapping_network = MappingNetwork(
            z_dim=config.z_dim,
            w_dim=config.w_dim,
            num_layers=config.mapping_layers,
            layer_features=config.mapping_layer_features,
            lr_multiplier=config.mapping_lr_multiplier,
        )
        self.synthesis_network = NeRFSynthesisNetwork(config.synthesis)
        self.num_ws = self.synthesis_network.num_ws
        self.z_dim_bg = config.synthesis.z_dim_bg
        self.camera = camera_spec(config)

    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping_network.w_avg

    @property
    def layer_groups(self) -> dict[str, range]:
        """Groups by the resolution each row acts at: the NeRF rows render the 32² volume (middle),
        the upsampler rows 64² and up (fine1, fine2). StyleNeRF has no 4²–8² rows, so coarse is empty."""
        return layer_groups_from_resolutions(self.synthesis_network.row_resolutions)

    def _mapping(self, z: torch.Tensor, *, truncation_psi: float, truncation_cutoff: int | None) -> torch.Tensor:
        ws = self.mapping_network(z).unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            rows = slice(None) if truncation_cutoff is None else slice(0, truncation_cutoff)
            ws[:, rows] = self.w_avg.lerp(ws[:, rows], truncation_psi)
        return ws

    def sample_background(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Background codes from the training prior N(0, I), [batch, z_dim_bg]."""
        device = generator.device if generator is not None else None
        return torch.randn(batch, self.z_dim_bg, generator=generator, device=device).to(self.w_avg.device)

    def sample_synthesis_kwargs(self, batch: int, generator: torch.Generator | None = None) -> dict[str, Any]:
        return {"background": self.sample_background(batch, generator)}

    def camera_matrices(self, camera: Any, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(K_inv, cam2world) [batch, 4, 4] from a `Camera` or from such a pair (one camera broadcasts)."""
        device = self.w_avg.device
        if camera is None:
            camera = self.camera.default
        if isinstance(camera, Camera):
            if len(camera) == 1 and batch > 1:
                camera = camera.repeat(batch)
            K_inv, cam2world = camera.to(device).matrices()
        elif isinstance(camera, (tuple, list)) and len(camera) == 2:
            K_inv, cam2world = camera
            check_shape("camera K_inv", K_inv, [None, 4, 4])
            check_shape("camera cam2world", cam2world, [None, 4, 4])
        else:
            raise ShapeError(
                f"camera: expected a Camera or a pair (K_inv, cam2world) of [B, 4, 4] tensors, "
                f"got {type(camera).__name__}"
            )
        K_inv, cam2world = K_inv.to(device, torch.float32), cam2world.to(device, torch.float32)
        if K_inv.shape[0] == 1 and batch > 1:
            K_inv = K_inv.expand(batch, 4, 4)
        if cam2world.shape[0] == 1 and batch > 1:
            cam2world = cam2world.expand(batch, 4, 4)
        if K_inv.shape[0] != batch or cam2world.shape[0] != batch:
            raise ShapeError(
                f"camera: expected 1 or {batch} cameras, got {K_inv.shape[0]} intrinsics and {cam2world.shape[0]} poses"
            )
        return K_inv, cam2world

    def background_code(self, background: torch.Tensor | None, batch: int) -> torch.Tensor:
        if background is None:
            return self.w_avg.new_zeros(batch, self.z_dim_bg)
        check_shape("background", background, [None, self.z_dim_bg])
        if background.shape[0] == 1 and batch > 1:
            background = background.expand(batch, -1)
        if background.shape[0] != batch:
            raise ShapeError(f"background: expected 1 or {batch} codes, got {background.shape[0]}")
        return background.to(self.w_avg.device, torch.float32)

    def render(self, ws: torch.Tensor, camera: Any = None, background: torch.Tensor | None = None) -> SynthesisOutput:
        """Like `synthesis`, also returning the 32² NeRF image and feature map."""
        check_shape("ws", ws, [None, self.num_ws, self.w_dim])
        K_inv, cam2world = self.camera_matrices(camera, ws.shape[0])
        return self.synthesis_network(ws, K_inv, cam2world, self.background_code(background, ws.shape[0]))

    def _synthesis(
        self, ws: torch.Tensor, *, camera: Any, noise_mode: str, background: torch.Tensor | None = None, **kwargs: Any
    ) -> torch.Tensor:
        # noise_mode has no effect: the FFHQ model has no noise inputs and renders deterministically.
        if kwargs:
            raise LswError(f"StyleNeRF synthesis: unexpected arguments {sorted(kwargs)}; it takes camera, background")
        return self.render(ws, camera, background).img
