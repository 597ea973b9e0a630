"""The synthetic face world: face parameters, their prior, landmark projection and rendering.

A face is a `FaceParams`: identity and expression coefficients of the landmark morphable model
(`shape3d`), a head pose, and appearance (skin, hair, eyes, background, light, glasses). Every
parameter is decoded from standard-normal *factors* by `decode`, so the prior (`sample_params`) and
the generators (which read the factors linearly out of W+ rows) share one definition of what a
plausible face is.

What "identity" means here: the identity shape coefficients alone. Skin tone, eye and hair colour
are appearance, like lighting; the oracle's identity distance compares identity coefficients.

`FaceParams` (from `params`), the projection (from `projection`) and the renderer (`render`) are
defined below this module, which names them all.
"""

from __future__ import annotations

import math

import torch

from lsw_core.camera import Camera
from lsw_synthface.params import FaceParams
from lsw_synthface.projection import head_pose, project_landmarks, project_points
from lsw_synthface.render import render_faces
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

SKIN_PALETTE = [(0.99, 0.86, 0.76), (0.93, 0.74, 0.61), (0.80, 0.58, 0.43), (0.60, 0.41, 0.28), (0.38, 0.25, 0.17)]
HAIR_PALETTE = [(0.08, 0.06, 0.05), (0.27, 0.16, 0.09), (0.50, 0.33, 0.18), (0.86, 0.70, 0.42), (0.62, 0.27, 0.12),
                (0.72, 0.72, 0.72)]  # fmt: skip
EYE_PALETTE = [(0.36, 0.20, 0.08), (0.48, 0.37, 0.16), (0.28, 0.50, 0.25), (0.28, 0.48, 0.80), (0.52, 0.57, 0.63)]


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


def render(params: FaceParams, resolution: int = 128, camera: Camera | None = None) -> torch.Tensor:
    """Render faces → images [B, 3, resolution, resolution] in [-1, 1], differentiable in every
    continuous field of `params`."""
    return render_faces(params, resolution, camera)
