"""The abstract interfaces every plugin implements: generators, identity embedders, shape models,
inverters. Public methods validate their inputs and delegate to the underscored methods that a
backend implements, so a wrong tensor fails where it enters with a message naming the shape."""

from __future__ import annotations

import abc
from typing import Any, Protocol, runtime_checkable

import attrs
import torch
from torch import nn

from lsw_core.camera import Camera, CameraSpec
from lsw_core.checks import check_images, check_shape
from lsw_core.errors import LswError, ShapeError

NOISE_MODES = ("const", "random", "none")
GROUP_NAMES = ("coarse", "middle", "fine1", "fine2")


def layer_groups_from_resolutions(row_resolutions: list[int]) -> dict[str, range]:
    """The paper's layer groups from the resolution each W+ row drives:
    coarse 4²–8², middle 16²–32², fine1 64²–128², fine2 256² and above."""
    bounds = {"coarse": (0, 8), "middle": (9, 32), "fine1": (33, 128), "fine2": (129, 1 << 30)}
    groups = {}
    for name, (lo, hi) in bounds.items():
        rows = [i for i, r in enumerate(row_resolutions) if lo <= r <= hi]
        groups[name] = range(rows[0], rows[-1] + 1) if rows else range(0)
    return groups


@attrs.frozen
class LatentLayout:
    """The shape of the latent codes a mixer reads and writes: `num_ws` rows of `w_dim`."""

    num_ws: int
    w_dim: int

    def __str__(self) -> str:
        return f"{self.num_ws}x{self.w_dim}"


class Generator(nn.Module, abc.ABC):
    """A frozen pretrained generator: z → (mapping) → W+ [B, num_ws, w_dim] → (synthesis) → image.

    Subclasses set `z_dim`, `w_dim`, `num_ws`, `resolution`, `camera` (a `CameraSpec`, or None for a
    2D generator) and a `w_avg` buffer, and implement `_mapping` and `_synthesis`.
    """

    z_dim: int
    w_dim: int
    num_ws: int
    resolution: int
    camera: CameraSpec | None = None
    #: Name under which the plugin registry loaded this generator (set by `load_generator`).
    backend_name: str = ""

    @property
    def layer_groups(self) -> dict[str, range]:
        """Named W+ row ranges (coarse, middle, fine1, fine2). Default: StyleGAN2's layout, two rows
        per resolution from 4² upwards."""
        return layer_groups_from_resolutions([4 * 2 ** (i // 2) for i in range(self.num_ws)])

    @property
    def latent_layout(self) -> LatentLayout:
        return LatentLayout(self.num_ws, self.w_dim)

    def mapping(
        self, z: torch.Tensor, truncation_psi: float = 1.0, truncation_cutoff: int | None = None
    ) -> torch.Tensor:
        """z [B, z_dim] → ws [B, num_ws, w_dim], truncated towards `w_avg` by ψ on the first
        `truncation_cutoff` rows (all rows when None)."""
        check_shape("z", z, [None, self.z_dim])
        ws = self._mapping(z, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return check_shape(f"{type(self).__name__}.mapping output", ws, [z.shape[0], self.num_ws, self.w_dim])

    def synthesis(self, ws: torch.Tensor, camera: Any = None, noise_mode: str = "const", **kwargs: Any) -> torch.Tensor:
        """ws [B, num_ws, w_dim] → images [B, 3, H, W] in [-1, 1]. Camera-aware generators render
        from `camera` (their default view when None); 2D generators refuse one."""
        check_shape("ws", ws, [None, self.num_ws, self.w_dim])
        if noise_mode not in NOISE_MODES:
            raise LswError(f"noise_mode: expected one of {NOISE_MODES}, got {noise_mode!r}")
        if self.camera is None:
            if camera is not None:
                raise LswError(f"{type(self).__name__} is a 2D generator and takes no camera")
        else:
            camera = self.camera.default if camera is None else camera
            if isinstance(camera, Camera):
                if len(camera) == 1 and ws.shape[0] > 1:
                    camera = camera.repeat(ws.shape[0])
                if len(camera) != ws.shape[0]:
                    raise ShapeError(f"camera: expected 1 or {ws.shape[0]} cameras, got {len(camera)}")
                camera = camera.to(ws.device)
        return self._synthesis(ws, camera=camera, noise_mode=noise_mode, **kwargs)

    def sample_synthesis_kwargs(self, batch: int, generator: torch.Generator | None = None) -> dict[str, Any]:
        """Extra synthesis arguments drawn from the backend's prior for `batch` images, e.g. a
        background code; the trainer renders every pair with its own draw. None by default."""
        return {}

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, camera: Any = None, **kwargs: Any) -> torch.Tensor:
        return self.synthesis(self.mapping(z, truncation_psi=truncation_psi), camera=camera, **kwargs)

    @abc.abstractmethod
    def _mapping(self, z: torch.Tensor, *, truncation_psi: float, truncation_cutoff: int | None) -> torch.Tensor: ...

    @abc.abstractmethod
    def _synthesis(self, ws: torch.Tensor, *, camera: Any, noise_mode: str, **kwargs: Any) -> torch.Tensor: ...


class IdentityEmbedder(nn.Module, abc.ABC):
    """Face images [B, 3, H, W] in [-1, 1], any size → identity embeddings [B, dim] of unit length.

    Each embedder resizes and normalises its input the way its network expects."""

    dim: int

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images("images", images)
        emb = self._embed(images)
        check_shape(f"{type(self).__name__} output", emb, [images.shape[0], self.dim])
        return torch.nn.functional.normalize(emb, dim=1)

    @abc.abstractmethod
    def _embed(self, images: torch.Tensor) -> torch.Tensor: ...


#: Side in pixels of the image frame `ShapeModel.landmarks` are measured in.
LANDMARK_FRAME = 224


class ShapeModel(nn.Module, abc.ABC):
    """A 3DMM-style regressor: images [B, 3, H, W] in [-1, 1] → coefficients [B, num_coeffs].

    `fuse(source, target)` keeps the source identity and everything else of the target;
    `landmarks(coeffs)` gives the 68 iBUG landmarks [B, 68, 2] differentiably, in pixels of a
    `LANDMARK_FRAME` × `LANDMARK_FRAME` image (Deep3DFaceRecon's frame: the scale at which the paper's
    μ = 0.1 makes L_shape about as large as the other terms); `parts(coeffs)` names the pieces the
    evaluation compares (identity, expression, and pose as yaw/pitch/roll degrees).
    """

    num_coeffs: int

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images("images", images)
        coeffs = self._regress(images)
        return check_shape(f"{type(self).__name__} output", coeffs, [images.shape[0], self.num_coeffs])

    @abc.abstractmethod
    def _regress(self, images: torch.Tensor) -> torch.Tensor: ...

    @abc.abstractmethod
    def fuse(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor: ...

    @abc.abstractmethod
    def landmarks(self, coeffs: torch.Tensor) -> torch.Tensor: ...

    @abc.abstractmethod
    def parts(self, coeffs: torch.Tensor) -> dict[str, torch.Tensor]: ...


@attrs.define
class Inversion:
    """The result of inverting images: W+ pivots [B, num_ws, w_dim], the generator to synthesise them
    with (tuned by PTI, else the input generator), the camera found for camera-aware backends, extra
    synthesis arguments a backend needs (e.g. a background code) and reconstruction metrics."""

    ws: torch.Tensor
    generator: Generator
    camera: Any = None
    synthesis_kwargs: dict[str, Any] = attrs.field(factory=dict)
    metrics: dict[str, Any] = attrs.field(factory=dict)


class Inverter(abc.ABC):
    """Images → latents of a given generator (and, for PTI, a tuned generator)."""

    def invert(self, generator: Generator, images: torch.Tensor, **kwargs: Any) -> Inversion:
        check_images("images", images, generator.resolution)
        return self._invert(generator, images, **kwargs)

    @abc.abstractmethod
    def _invert(self, generator: Generator, images: torch.Tensor, **kwargs: Any) -> Inversion: ...


@runtime_checkable
class SupportsActivationCheckpointing(Protocol):
    """Optional generator capability: recompute synthesis activations during the backward pass instead
    of keeping them (less memory for a second forward pass; `lsw train --activation-checkpointing`)."""

    def set_activation_checkpointing(self, enabled: bool) -> None: ...
