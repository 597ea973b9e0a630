"""Where a face's points land on screen: the screen conventions, the view of a camera, and the
orthographic projection of the landmark model (`shape3d`) into the image."""

from __future__ import annotations

import math

import torch

from lsw_core.camera import Camera
from lsw_synthface import shape3d

#: Head centre on screen (x right, y down, [0, 1]) and pixels per head unit as a fraction of the image.
SCREEN_CENTRE = (0.5, 0.54)
SCREEN_SCALE = 0.32
DEFAULT_FOV = 12.0


def camera_view(pose: torch.Tensor, camera: Camera | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotation [B, 3, 3] of the head as seen by `camera`, and screen scale [B] (fraction of the image
    per head unit). A camera at azimuth a and polar p sees the head turned by yaw a and pitch p − 90
    on top of its own pose; a narrower field of view or a closer camera enlarges it."""
    rot = shape3d.rotation(pose)
    scale = torch.full_like(pose[:, 0], SCREEN_SCALE)
    if camera is not None:
        cam = camera.to(pose.device)
        zero = torch.zeros_like(cam.azimuth)
        view = torch.stack([cam.azimuth, cam.polar - 90.0, zero], 1).to(pose.dtype)
        rot = shape3d.rotation(view) @ rot
        zoom = math.tan(math.radians(DEFAULT_FOV) / 2) / torch.tan(torch.deg2rad(cam.fov.to(pose.dtype)) / 2)
        scale = scale * zoom / cam.radius.to(pose.dtype)
    return rot, scale


def head_pose(pose: torch.Tensor, camera: Camera | None = None) -> torch.Tensor:
    """The pose [B, 3] (degrees) a viewer of `camera` sees: the head's pose composed with the view."""
    return pose if camera is None else shape3d.euler(camera_view(pose, camera)[0])


def project_points(
    identity: torch.Tensor, expression: torch.Tensor, pose: torch.Tensor, camera: Camera | None = None
) -> torch.Tensor:
    """All model points (landmarks and outline, see `shape3d`) → screen positions [B, N_POINTS, 2] in
    [0, 1] (x right, y down) under orthographic projection, and depth as a third channel (towards
    the viewer), so [B, N_POINTS, 3]."""
    rot, scale = camera_view(pose, camera)
    pts = shape3d.head_points(identity, expression) @ rot.transpose(1, 2)
    s = scale[:, None]
    return torch.stack([SCREEN_CENTRE[0] + s * pts[..., 0], SCREEN_CENTRE[1] - s * pts[..., 1], pts[..., 2]], -1)


def project_landmarks(
    identity: torch.Tensor, expression: torch.Tensor, pose: torch.Tensor, camera: Camera | None = None
) -> torch.Tensor:
    """The 68 iBUG landmarks [B, 68, 2] in [0, 1] image coordinates (x right, y down) of faces with
    these identity/expression coefficients and pose (degrees), seen by `camera` (the default frontal
    view when None). Differentiable in all three."""
    return project_points(identity, expression, pose, camera)[:, : shape3d.N_LANDMARKS, :2]
