"""The synthetic face world: face parameters, their prior, landmark projection and rendering.

A face is a `FaceParams`: identity and expression coefficients of the landmark morphable model
(`shape3d`), a head pose, and appearance (skin, hair, eyes, background, light, glasses). Every
parameter is decoded from standard-normal *factors* by `decode`, so the prior (`sample_params`) and
the generators (which read the factors linearly out of W+ rows) share one definition of what a
plausible face is.

What "identity" means here: the identity shape coefficients alone. Skin tone, eye and hair colour
are appearance, like lighting; the oracle's identity distance compares identity coefficients.
"""

from __future__ import annotations

import math

import attrs
import torch

from lsw_core.camera import Camera
from lsw_synthface import shape3d
from lsw_synthface.shape3d import EXPRESSION_DIM, EXPRESSION_NAMES, IDENTITY_DIM, IDENTITY_NAMES

__all__ = [
    "EXPRESSION_DIM", "EXPRESSION_NAMES", "FACTORS", "IDENTITY_DIM", "IDENTITY_NAMES", "POSE_LIMITS", "FaceParams",
    "decode", "head_pose", "project_landmarks", "project_points", "render", "sample_factors", "sample_params",
]  # fmt: skip

#: Standard-normal factors and their sizes; `decode` maps them to `FaceParams`.
FACTORS: dict[str, int] = {
    "identity": IDENTITY_DIM, "expression": EXPRESSION_DIM, "pose": 3, "hair_shape": 3, "glasses": 1,
    "skin": 1, "hair": 1, "eyes": 1, "light": 2, "background": 3, "background2": 3, "pattern": 4,
}  # fmt: skip
#: Identity coefficients are softly bounded to ±IDENTITY_BOUND prior standard deviations.
IDENTITY_BOUND = 2.0
#: Largest |yaw|, |pitch|, |roll| in degrees that the prior reaches.
POSE_LIMITS = (45.0, 25.0, 20.0)
#: Head centre on screen (x right, y down, [0, 1]) and pixels per head unit as a fraction of the image.
SCREEN_CENTRE = (0.5, 0.54)
SCREEN_SCALE = 0.32
DEFAULT_FOV = 12.0

SKIN_PALETTE = [(0.99, 0.86, 0.76), (0.93, 0.74, 0.61), (0.80, 0.58, 0.43), (0.60, 0.41, 0.28), (0.38, 0.25, 0.17)]
HAIR_PALETTE = [(0.08, 0.06, 0.05), (0.27, 0.16, 0.09), (0.50, 0.33, 0.18), (0.86, 0.70, 0.42), (0.62, 0.27, 0.12),
                (0.72, 0.72, 0.72)]  # fmt: skip
EYE_PALETTE = [(0.36, 0.20, 0.08), (0.48, 0.37, 0.16), (0.28, 0.50, 0.25), (0.28, 0.48, 0.80), (0.52, 0.57, 0.63)]


@attrs.define
class FaceParams:
    """One batch of faces; every field is a tensor with leading batch dimension B.

    identity [B, IDENTITY_DIM] (N(0, 1) prior), expression [B, EXPRESSION_DIM] (about [-1, 1]),
    pose [B, 3] yaw/pitch/roll in degrees, skin/hair/eyes [B, 3] RGB in [0, 1] (eyes: the iris),
    hair_shape [B, 3] (volume in [-1, 1], length and fringe in [0, 1]), background/background2 [B, 3]
    RGB of the two pattern colours, pattern [B, 4] (angle in radians, frequency in cycles per image,
    phase in radians, checker weight in [0, 1]), light [B, 3] unit direction towards the light
    (x right, y up, z to the viewer), glasses [B, 1] opacity in [0, 1].
    """

    identity: torch.Tensor
    expression: torch.Tensor
    pose: torch.Tensor
    skin: torch.Tensor
    hair: torch.Tensor
    hair_shape: torch.Tensor
    eyes: torch.Tensor
    background: torch.Tensor
    background2: torch.Tensor
    pattern: torch.Tensor
    light: torch.Tensor
    glasses: torch.Tensor

    def __len__(self) -> int:
        return self.identity.shape[0]

    def map(self, fn) -> FaceParams:
        """A new FaceParams with `fn` applied to every field (e.g. `.map(lambda t: t[:4])`)."""
        return FaceParams(**{k: fn(v) for k, v in attrs.asdict(self, recurse=False).items()})

    def replace(self, **fields: torch.Tensor) -> FaceParams:
        return attrs.evolve(self, **fields)

    def to(self, *args, **kwargs) -> FaceParams:
        return self.map(lambda t: t.to(*args, **kwargs))

    def appearance(self) -> torch.Tensor:
        """What a swap must keep of its target besides expression and pose, [B, 22]: skin, hair,
        eye and background colours (RGB in [0, 1]), glasses opacity, hair shape and the direction
        of the light."""
        parts = (self.skin, self.hair, self.eyes, self.background, self.background2, self.glasses)
        return torch.cat([*parts, self.hair_shape, self.light], dim=1)

    @classmethod
    def cat(cls, items: list[FaceParams]) -> FaceParams:
        names = attrs.fields_dict(cls)
        return cls(**{k: torch.cat([getattr(p, k) for p in items]) for k in names})


def _palette(colours: list[tuple[float, float, float]], t: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear colour ramp: t [B, 1] in [0, 1] → RGB [B, 3]."""
    table = torch.tensor(colours, dtype=t.dtype, device=t.device)
    pos = t.clamp(0, 1) * (len(colours) - 1)
    lo = pos.detach().floor().clamp(max=len(colours) - 2).long().squeeze(1)
    frac = pos - lo.unsqueeze(1).to(t.dtype)
    return table[lo] * (1 - frac) + table[lo + 1] * frac


def decode(factors: dict[str, torch.Tensor]) -> FaceParams:
    """Standard-normal factors (see `FACTORS`) → FaceParams. Smooth and monotone in each factor."""
    f = factors
    limits = torch.tensor(POSE_LIMITS, dtype=f["pose"].dtype, device=f["pose"].device)
    light_az = math.radians(60) * torch.tanh(0.8 * f["light"][:, 0])
    light_el = math.radians(15) + math.radians(35) * torch.tanh(0.8 * f["light"][:, 1])
    light = torch.stack([light_az.sin() * light_el.cos(), light_el.sin(), light_az.cos() * light_el.cos()], 1)
    pat = f["pattern"]
    pattern = torch.stack(
        [
            math.pi * torch.tanh(0.6 * pat[:, 0]),
            4.0 + 2.0 * torch.tanh(pat[:, 1]),
            2.0 * pat[:, 2],
            torch.sigmoid(2 * pat[:, 3]),
        ],
        1,
    )
    hs = f["hair_shape"]
    return FaceParams(
        identity=IDENTITY_BOUND * torch.tanh(f["identity"] / IDENTITY_BOUND),
        expression=torch.tanh(0.6 * f["expression"]),
        pose=limits * torch.tanh(f["pose"] * torch.tensor([0.45, 0.4, 0.35], dtype=limits.dtype, device=limits.device)),
        skin=_palette(SKIN_PALETTE, torch.sigmoid(1.3 * f["skin"])),
        hair=_palette(HAIR_PALETTE, torch.sigmoid(1.3 * f["hair"])),
        hair_shape=torch.stack([torch.tanh(hs[:, 0]), torch.sigmoid(1.5 * hs[:, 1]), torch.sigmoid(1.5 * hs[:, 2])], 1),
        eyes=_palette(EYE_PALETTE, torch.sigmoid(1.3 * f["eyes"])),
        background=0.15 + 0.75 * torch.sigmoid(f["background"]),
        background2=0.15 + 0.75 * torch.sigmoid(f["background2"]),
        pattern=pattern,
        light=light,
        glasses=torch.sigmoid(5.0 * (f["glasses"] - 0.7)),
    )


def sample_factors(batch: int, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Independent standard-normal factors for `batch` faces."""
    return {k: torch.randn(batch, n, generator=generator) for k, n in FACTORS.items()}


def sample_params(batch: int, generator: torch.Generator | None = None) -> FaceParams:
    """`batch` faces drawn from the world's prior (deterministic given `generator`)."""
    return decode(sample_factors(batch, generator))


def _view(pose: torch.Tensor, camera: Camera | None) -> tuple[torch.Tensor, torch.Tensor]:
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
    return pose if camera is None else shape3d.euler(_view(pose, camera)[0])


def project_points(
    identity: torch.Tensor, expression: torch.Tensor, pose: torch.Tensor, camera: Camera | None = None
) -> torch.Tensor:
    """All model points (landmarks and outline, see `shape3d`) → screen positions [B, N_POINTS, 2] in
    [0, 1] (x right, y down) under orthographic projection, and depth as a third channel (towards
    the viewer), so [B, N_POINTS, 3]."""
    rot, scale = _view(pose, camera)
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


def render(params: FaceParams, resolution: int = 128, camera: Camera | None = None) -> torch.Tensor:
    """Render faces → images [B, 3, resolution, resolution] in [-1, 1], differentiable in every
    continuous field of `params`."""
    from lsw_synthface.render import render_faces

    return render_faces(params, resolution, camera)
