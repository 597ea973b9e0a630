"""A linear morphable model of 3D facial landmarks, defined entirely in code.

Head frame: x to the viewer's right, y up, z towards the viewer; one unit is about the half width of
the face at the ears. A head is

    points = MEAN + einsum(identity, IDENTITY_BASIS) + einsum(expression, EXPRESSION_BASIS)

with `N_POINTS` points: the 68 iBUG landmarks (jaw 0–16 from the viewer's left ear over the chin to
the right ear, brows 17–26, nose bridge 27–30, nostrils 31–35, eyes 36–47, outer lips 48–59, inner
lips 60–67) followed by the points the renderer needs: the skull outline from the right ear over the
crown to the left ear (68–76), the ears (77, 78) and the centre of the cranium (79).

Identity coefficients have a N(0, 1) prior; each basis vector moves the points the renderer draws by
0.05–0.13 units per standard deviation, in a named, visible way (`IDENTITY_NAMES`) that expressions
and head pose imitate as little as possible, so identity can be told from one image.
Expression coefficients live in about [-1, 1]; 1 is a full smile, a wide-open jaw, a closed eye
(`EXPRESSION_NAMES`).
"""

from __future__ import annotations

import math

import torch

from lsw_synthface import constants

N_LANDMARKS = 68
SKULL = list(range(68, 77))
EARS = [77, 78]
CRANIUM = 79
N_POINTS = 80

JAW = list(range(0, 17))
BROW_L, BROW_R = list(range(17, 22)), list(range(22, 27))
NOSE_BRIDGE, NOSTRILS = list(range(27, 31)), list(range(31, 36))
EYE_L, EYE_R = list(range(36, 42)), list(range(42, 48))
LIPS_OUTER, LIPS_INNER = list(range(48, 60)), list(range(60, 68))
#: The head silhouette polygon, counter-clockwise on screen: jaw, then skull over the crown.
OUTLINE = JAW + SKULL

IDENTITY_NAMES = (
    "face_width", "face_length", "jaw_width", "forehead_height",  # face structure (coarse rows)
    "eye_spacing", "eye_size", "eye_tilt", "brow_height", "brow_arch", "nose_length", "nose_width",
    "mouth_width", "ear_height", "mouth_height", "chin_point", "brow_length",
)  # fmt: skip
EXPRESSION_NAMES = ("smile", "jaw_open", "brow_raise", "blink", "brow_furrow", "pucker", "frown", "mouth_shift")
IDENTITY_DIM = len(IDENTITY_NAMES)
EXPRESSION_DIM = len(EXPRESSION_NAMES)


def _mean_shape() -> torch.Tensor:
    p = torch.zeros(N_POINTS, 3, dtype=torch.float64)
    for i in JAW:  # a squarish U from ear (y 0.15) to chin (y -0.92)
        t = math.pi * i / 16
        c, s = math.cos(t), math.sin(t)
        p[i] = torch.tensor([-0.78 * math.copysign(abs(c) ** 0.8, c), 0.15 - 1.07 * s**1.3, 0.38 - 0.48 * abs(c)])
    brow_y = [0.30, 0.355, 0.375, 0.365, 0.33]
    for k, x in enumerate([-0.56, -0.46, -0.35, -0.24, -0.13]):
        p[17 + k] = torch.tensor([x, brow_y[k], 0.42 + 0.1 * (k / 4)])
        p[26 - k] = torch.tensor([-x, brow_y[k], 0.42 + 0.1 * (k / 4)])
    for k, (y, z) in enumerate([(0.16, 0.5), (0.03, 0.58), (-0.1, 0.66), (-0.23, 0.76)]):
        p[27 + k] = torch.tensor([0.0, y, z])
    for k, (x, y, z) in enumerate([(-0.13, -0.29, 0.55), (-0.065, -0.315, 0.6), (0.0, -0.33, 0.63)]):
        p[31 + k] = torch.tensor([x, y, z])
        p[35 - k] = torch.tensor([-x, y, z])
    eye = [(-0.135, 0.0), (-0.05, 0.06), (0.04, 0.06), (0.125, 0.0), (0.04, -0.045), (-0.05, -0.045)]
    for k, (dx, dy) in enumerate(eye):  # 36 outer corner, 37-38 upper lid, 39 inner corner, 40-41 lower lid
        p[36 + k] = torch.tensor([-0.33 + dx, 0.15 + dy, 0.45])
    for k, src in enumerate([39, 38, 37, 36, 41, 40]):  # the right eye mirrors the left, inner corner first
        p[42 + k] = p[src] * torch.tensor([-1.0, 1.0, 1.0])
    outer = [(-0.23, -0.56), (-0.14, -0.505), (-0.055, -0.48), (0.0, -0.49)]
    for k, (x, y) in enumerate(outer):
        p[48 + k] = torch.tensor([x, y, 0.52 - 0.25 * abs(x)])
        p[54 - k] = torch.tensor([-x, y, 0.52 - 0.25 * abs(x)])
    for k, (x, y) in enumerate([(-0.14, -0.625), (-0.06, -0.655), (0.0, -0.66)]):
        p[59 - k] = torch.tensor([x, y, 0.52 - 0.25 * abs(x)])
        p[55 + k] = torch.tensor([-x, y, 0.52 - 0.25 * abs(x)])
    inner_top, inner_bot = [(-0.19, -0.56), (-0.06, -0.548), (0.0, -0.55)], [(-0.06, -0.566), (0.0, -0.568)]
    for k, (x, y) in enumerate(inner_top):
        p[60 + k] = torch.tensor([x, y, 0.53 - 0.25 * abs(x)])
        p[64 - k] = torch.tensor([-x, y, 0.53 - 0.25 * abs(x)])
    p[67], p[66], p[65] = (torch.tensor([x, y, 0.53 - 0.25 * abs(x)]) for x, y in [*inner_bot, (0.06, -0.566)])
    for k, i in enumerate(SKULL):  # from the right ear over the crown to the left ear
        a = math.pi * (k + 1) / 10
        p[i] = torch.tensor([0.8 * math.cos(a), 0.15 + 0.95 * math.sin(a), 0.0])
    p[EARS[0]] = torch.tensor([-0.8, 0.05, -0.12])
    p[EARS[1]] = torch.tensor([0.8, 0.05, -0.12])
    p[CRANIUM] = torch.tensor([0.0, 0.35, -0.15])
    return p


def _identity_basis(mean: torch.Tensor) -> torch.Tensor:
    """[IDENTITY_DIM, N_POINTS, 3]: displacement per standard deviation of each identity coefficient.

    Each moves a feature the renderer draws by about 0.05–0.13 head units (1–3 % of the image), in
    a way that expressions and head pose imitate as little as possible: the expressions move the
    mouth corners, the inner brows, the lids and the jaw, identity moves whole features."""
    basis = torch.zeros(IDENTITY_DIM, N_POINTS, 3, dtype=torch.float64)
    x, y = mean[:, 0], mean[:, 1]
    eyes, brows = EYE_L + EYE_R, BROW_L + BROW_R
    lips = LIPS_OUTER + LIPS_INNER
    lower = JAW[3:14]
    b = dict(zip(IDENTITY_NAMES, basis))
    b["face_width"][JAW + SKULL + EARS, 0] = 0.14 * x[JAW + SKULL + EARS]
    b["face_length"][JAW, 1] = -0.11 * (0.15 - y[JAW]).clamp(min=0)
    b["face_length"][lips, 1] = -0.06
    b["jaw_width"][lower, 0] = 0.25 * x[lower] * (0.15 - y[lower]).clamp(min=0)
    b["forehead_height"][SKULL, 1] = 0.14 * (y[SKULL] - 0.15)
    b["eye_spacing"][eyes, 0] = 0.07 * torch.sign(x[eyes])
    b["eye_spacing"][brows, 0] = 0.05 * torch.sign(x[brows])
    for eye in (EYE_L, EYE_R):
        centre = mean[eye, :2].mean(0)
        b["eye_size"][eye, 0] = 0.4 * (mean[eye, 0] - centre[0])
        b["eye_size"][eye, 1] = 0.45 * (mean[eye, 1] - centre[1])
        b["eye_tilt"][eye, 1] = 0.45 * (x[eye] - centre[0]) * torch.sign(centre[0])
    b["brow_height"][brows, 1] = 0.085
    arch = 1 - ((x[brows].abs() - 0.345) / 0.215) ** 2
    b["brow_arch"][brows, 1] = 0.1 * (arch - arch.mean())  # no net lift: brow height is its own coefficient
    b["nose_length"][NOSE_BRIDGE[1:], 1] = torch.tensor([-0.03, -0.06, -0.09], dtype=torch.float64)
    b["nose_length"][NOSTRILS, 1] = -0.09
    b["nose_length"][NOSE_BRIDGE[1:] + NOSTRILS, 2] = 0.04
    b["nose_width"][NOSTRILS, 0] = 0.5 * x[NOSTRILS]
    b["mouth_width"][lips, 0] = 0.5 * x[lips]
    b["ear_height"][EARS, 1] = 0.09
    b["mouth_height"][lips, 1] = 0.09
    chin = JAW[5:12]
    point = torch.cos((x[chin] / 0.5).clamp(-1, 1) * math.pi / 2) ** 2
    b["chin_point"][chin, 1] = -0.12 * (point - point.mean())  # the tip drops, its sides rise
    b["chin_point"][chin, 0] = -0.06 * x[chin]
    outer_ends = [17, 18, 25, 26]
    b["brow_length"][outer_ends, 0] = (
        0.12 * torch.sign(x[outer_ends]) * torch.tensor([1.0, 0.5, 0.5, 1.0], dtype=torch.float64)
    )
    return basis


def _expression_basis(mean: torch.Tensor) -> torch.Tensor:
    """[EXPRESSION_DIM, N_POINTS, 3]: displacement at coefficient 1 of each expression."""
    basis = torch.zeros(EXPRESSION_DIM, N_POINTS, 3, dtype=torch.float64)
    x, y = mean[:, 0], mean[:, 1]
    e = dict(zip(EXPRESSION_NAMES, basis))
    lips = LIPS_OUTER + LIPS_INNER
    corner = (x[lips].abs() / 0.23).clamp(max=1) ** 2  # 1 at the mouth corners, 0 at the centre
    e["smile"][lips, 1] = 0.11 * corner
    e["smile"][lips, 0] = 0.05 * torch.sign(x[lips]) * corner
    e["smile"][[40, 41, 46, 47], 1] = 0.02
    e["smile"][JAW[4:13], 0] = 0.02 * torch.sign(x[JAW[4:13]])
    opens = [55, 56, 57, 58, 59, 65, 66, 67]
    centre = 1 - corner[[lips.index(i) for i in opens]] * 0.6
    e["jaw_open"][opens, 1] = -0.2 * centre
    e["jaw_open"][JAW[3:14], 1] = -0.1 * (0.15 - y[JAW[3:14]]).clamp(min=0) / 1.07
    e["jaw_open"][[60, 64], 1] = -0.02
    inner_brows = [19, 20, 21, 22, 23, 24]
    weight = (1 - (x[inner_brows].abs() - 0.13) / 0.3).clamp(0, 1)
    e["brow_raise"][inner_brows, 1] = 0.08 * weight  # the inner ends rise most
    e["brow_raise"][[37, 38, 43, 44], 1] = 0.02  # the eyes open wider
    e["blink"][[37, 38, 43, 44], 1] = -0.1
    e["blink"][[40, 41, 46, 47], 1] = 0.008
    e["brow_furrow"][inner_brows, 1] = -0.06 * weight
    e["brow_furrow"][inner_brows, 0] = -0.03 * torch.sign(x[inner_brows]) * weight
    centre_all = 1 - corner
    e["pucker"][lips, 0] = -0.12 * x[lips]
    e["pucker"][lips, 2] = 0.05
    e["pucker"][[49, 50, 51, 52, 53], 1] = 0.03 * centre_all[[1, 2, 3, 4, 5]]  # lips round and part
    e["pucker"][[55, 56, 57, 58, 59], 1] = -0.03 * centre_all[[7, 8, 9, 10, 11]]
    e["pucker"][[61, 62, 63], 1] = 0.01
    e["pucker"][[65, 66, 67], 1] = -0.01
    e["frown"][lips, 1] = -0.07 * corner
    e["frown"][BROW_L[2:] + BROW_R[:3], 1] = -0.02
    e["mouth_shift"][lips, 0] = 0.07
    e["mouth_shift"][lips, 1] = 0.03 * x[lips] / 0.23
    return basis


def compute_constants() -> dict[str, torch.Tensor]:
    """The model's tensors as computed here (float64 arithmetic rounded to float32); the world uses
    the shipped copy (`lsw_synthface.constants`), identical on every CPU."""
    mean = _mean_shape().float()
    return {
        "shape.mean": mean,
        "shape.identity_basis": _identity_basis(mean.double()).float(),
        "shape.expression_basis": _expression_basis(mean.double()).float(),
    }


_SHIPPED = constants.shipped()
MEAN = _SHIPPED["shape.mean"]
IDENTITY_BASIS = _SHIPPED["shape.identity_basis"]
EXPRESSION_BASIS = _SHIPPED["shape.expression_basis"]


def head_points(identity: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
    """Identity [B, IDENTITY_DIM] and expression [B, EXPRESSION_DIM] coefficients → 3D points
    [B, N_POINTS, 3] in the head frame (before pose)."""
    dev, dt = identity.device, identity.dtype
    return (
        MEAN.to(dev, dt)
        + torch.einsum("bk,kpc->bpc", identity, IDENTITY_BASIS.to(dev, dt))
        + torch.einsum("bk,kpc->bpc", expression, EXPRESSION_BASIS.to(dev, dt))
    )


def rotation(pose: torch.Tensor) -> torch.Tensor:
    """Pose [B, 3] = (yaw, pitch, roll) in degrees → rotation matrices [B, 3, 3], R = Rz(roll) Rx(pitch) Ry(yaw).

    Positive yaw turns the nose to the viewer's right, positive pitch lifts it, positive roll turns
    the face counter-clockwise on screen."""
    yaw, pitch, roll = torch.deg2rad(pose).unbind(-1)
    one, zero = torch.ones_like(yaw), torch.zeros_like(yaw)
    cy, sy, cp, sp, cr, sr = yaw.cos(), yaw.sin(), pitch.cos(), pitch.sin(), roll.cos(), roll.sin()
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).view(-1, 3, 3)
    rx = torch.stack([one, zero, zero, zero, cp, sp, zero, -sp, cp], -1).view(-1, 3, 3)
    rz = torch.stack([cr, -sr, zero, sr, cr, zero, zero, zero, one], -1).view(-1, 3, 3)
    return rz @ rx @ ry


def euler(rot: torch.Tensor) -> torch.Tensor:
    """Inverse of `rotation`: matrices [B, 3, 3] → (yaw, pitch, roll) [B, 3] in degrees."""
    pitch = torch.asin((-rot[:, 2, 1]).clamp(-1, 1))
    yaw = torch.atan2(-rot[:, 2, 0], rot[:, 2, 2])
    roll = torch.atan2(-rot[:, 0, 1], rot[:, 1, 1])
    return torch.rad2deg(torch.stack([yaw, pitch, roll], -1))
