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

from lsw_core.errors import LswError, ShapeError
from lsw_core.validators import choice, number, pair


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

    def position(self) -> torch.Tensor:
        """Camera centres [B, 3] in world space: radius · (sin p cos a, sin p sin a, cos p)."""
        az = self.azimuth.double() * (math.pi / 180)
        po = self.polar.double() * (math.pi / 180)
        unit = torch.stack([po.sin() * az.cos(), po.sin() * az.sin(), po.cos()], -1).float()
        return unit * self.radius.unsqueeze(-1)

    def matrices(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(K_inv, cam2world), each [B, 4, 4], as StyleNeRF uses them.

        K_inv = inverse(diag(f, f, 1, 1)) with f = 1 / tan(fov / 2) (image plane in [-1, 1]);
        cam2world = [R | t] with t the camera centre and R's columns (x, y, z) the camera axes of a
        look-at towards the origin with world up +z: z points from the origin to the camera, so the
        camera looks along −z."""
        focal = (1.0 / torch.tan(0.5 * self.fov.double() * (math.pi / 180))).float()
        ones = torch.ones_like(focal)
        K_inv = torch.linalg.inv(torch.diag_embed(torch.stack([focal, focal, ones, ones], -1)))
        eye = self.position()
        up = torch.tensor([0.0, 0.0, 1.0], device=eye.device).expand_as(eye)
        z_axis = _normalize(eye)
        x_axis = _normalize(torch.cross(up, z_axis, dim=-1))
        y_axis = _normalize(torch.cross(z_axis, x_axis, dim=-1))
        cam2world = torch.eye(4, device=eye.device).repeat(len(self), 1, 1)
        cam2world[:, :3, :3] = torch.stack([x_axis, y_axis, z_axis], -1)
        cam2world[:, :3, 3] = eye
        return K_inv, cam2world


def _normalize(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp(min=1e-8)


@attrs.frozen
class CameraSpec:
    """What a camera-aware backend accepts: ranges (degrees) of its training prior and the default view."""

    azimuth_range: tuple[float, float] = attrs.field(validator=pair(number()))
    polar_range: tuple[float, float] = attrs.field(validator=pair(number()))
    fov: float = attrs.field(default=12.0, validator=number(gt=0, lt=180))
    radius: float = attrs.field(default=1.0, validator=number(gt=0))
    #: "uniform" over the ranges, or "gaussian" centred on them with the half-range as standard
    #: deviation (StyleNeRF's `gaussian_camera`).
    distribution: str = attrs.field(default="uniform", validator=choice("uniform", "gaussian"))

    @property
    def default(self) -> Camera:
        return Camera.make(0.0, 90.0, self.fov, self.radius)

    def sample(self, batch: int, generator: torch.Generator | None = None) -> Camera:
        """Draw cameras from the training prior (used by the mixer trainer): uniform over the ranges,
        or for a "gaussian" spec normal around their centres with the half-ranges as deviations."""
        device = generator.device if generator is not None else None  # drawn where the generator draws
        if self.distribution == "gaussian":
            u = 0.5 + 0.5 * torch.randn(2, batch, generator=generator, device=device)
        else:
            u = torch.rand(2, batch, generator=generator, device=device)
        return self.from_uv(u[0], u[1])

    def from_uv(self, u, v) -> Camera:
        """Cameras from normalised controls (StyleNeRF's linear camera mode): u, v in [0, 1] map
        linearly onto the azimuth and polar ranges (0.5, 0.5 is the centre)."""
        u = torch.as_tensor(u, dtype=torch.float64).reshape(-1)
        v = torch.as_tensor(v, dtype=torch.float64).reshape(-1)
        az = self.azimuth_range[0] + u * (self.azimuth_range[1] - self.azimuth_range[0])
        po = self.polar_range[0] + v * (self.polar_range[1] - self.polar_range[0])
        return Camera.make(az, po, self.fov, self.radius, batch=max(len(az), len(po)))

    def yaw_sweep(self, views: int) -> Camera:
        """`views` cameras from the leftmost to the rightmost azimuth of the prior, polar 90."""
        _check_views(views)
        az = torch.linspace(*self.azimuth_range, views) if views > 1 else torch.zeros(1)
        return Camera.make(az, 90.0, self.fov, self.radius, batch=views)

    def orbit(self, views: int) -> Camera:
        """`views` cameras on an ellipse that spans the prior's azimuth and polar ranges."""
        _check_views(views)
        t = torch.arange(views) * (2 * math.pi / views)
        a0, a1 = self.azimuth_range
        p0, p1 = self.polar_range
        az = (a0 + a1) / 2 + (a1 - a0) / 2 * torch.sin(t)
        po = (p0 + p1) / 2 + (p1 - p0) / 2 * torch.cos(t)
        return Camera.make(az, po, self.fov, self.radius, batch=views)


def _check_views(views: int) -> None:
    if isinstance(views, bool) or not isinstance(views, int) or views < 1:
        raise LswError(f"views: expected a whole number of at least 1, got {views!r}")
