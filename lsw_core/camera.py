"""Cameras for 3D-aware generators, in user units.

Convention (StyleNeRF's): world up is +z, the camera sits on a sphere around the origin and looks at
it; `azimuth` and `polar` are in degrees, the frontal view is azimuth 0, polar 90; `fov` is the
vertical field of view in degrees. Every field is a tensor of shape [B], so one `Camera` is a batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import torch

from lsw_core.errors import ShapeError


@attrs.frozen
class Camera:
    """A batch of cameras: azimuth, polar, fov in degrees and radius, each of shape [B]."""

    azimuth: torch.Tensor
    polar: torch.Tensor
    fov: torch.Tensor
    radius: torch.Tensor

    @classmethod
    def make(cls, azimuth=0.0, polar=90.0, fov=12.0, radius=1.0, batch: int | None = None) -> Camera:
        """Build a batch from numbers, sequences or tensors; scalars broadcast to the batch size."""
        fields = [torch.as_tensor(v, dtype=torch.float32).reshape(-1) for v in (azimuth, polar, fov, radius)]
        size = batch or max(f.numel() for f in fields)
        out = []
        for name, f in zip(("azimuth", "polar", "fov", "radius"), fields):
            if f.numel() not in (1, size):
                raise ShapeError(f"Camera.{name}: expected 1 or {size} values, got {f.numel()}")
            out.append(f.expand(size).clone())
        return cls(*out)

    def __len__(self) -> int:
        return self.azimuth.shape[0]

    def __getitem__(self, index) -> Camera:
        index = [index] if isinstance(index, int) else index
        return Camera(*(t[index] for t in attrs.astuple(self, recurse=False)))

    def to(self, device: torch.device | str) -> Camera:
        return Camera(*(t.to(device) for t in attrs.astuple(self, recurse=False)))

    def repeat(self, n: int) -> Camera:
        """Each camera repeated `n` times in a row (for rendering n latents from the same view)."""
        return Camera(*(t.repeat_interleave(n) for t in attrs.astuple(self, recurse=False)))

    @classmethod
    def cat(cls, cameras: Sequence[Camera]) -> Camera:
        return cls(*(torch.cat(ts) for ts in zip(*(attrs.astuple(c, recurse=False) for c in cameras))))


@attrs.frozen
class CameraSpec:
    """What a camera-aware backend accepts: ranges (degrees) of its training prior and the default view."""

    azimuth_range: tuple[float, float]
    polar_range: tuple[float, float]
    fov: float = 12.0
    radius: float = 1.0

    @property
    def default(self) -> Camera:
        return Camera.make(0.0, 90.0, self.fov, self.radius)

    def sample(self, batch: int, generator: torch.Generator | None = None) -> Camera:
        """Draw cameras uniformly from the prior ranges (used by the mixer trainer)."""
        u = torch.rand(2, batch, generator=generator)
        az = self.azimuth_range[0] + u[0] * (self.azimuth_range[1] - self.azimuth_range[0])
        po = self.polar_range[0] + u[1] * (self.polar_range[1] - self.polar_range[0])
        return Camera.make(az, po, self.fov, self.radius, batch=batch)

    def yaw_sweep(self, views: int) -> Camera:
        """`views` cameras from the leftmost to the rightmost azimuth of the prior, polar 90."""
        az = torch.linspace(*self.azimuth_range, views) if views > 1 else torch.zeros(1)
        return Camera.make(az, 90.0, self.fov, self.radius, batch=views)

    def orbit(self, views: int) -> Camera:
        """`views` cameras on an ellipse that spans the prior's azimuth and polar ranges."""
        t = torch.arange(views) * (2 * math.pi / views)
        a0, a1 = self.azimuth_range
        p0, p1 = self.polar_range
        az = (a0 + a1) / 2 + (a1 - a0) / 2 * torch.sin(t)
        po = (p0 + p1) / 2 + (p1 - p0) / 2 * torch.cos(t)
        return Camera.make(az, po, self.fov, self.radius, batch=views)
