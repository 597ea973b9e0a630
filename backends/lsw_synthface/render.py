"""A differentiable face renderer in plain torch: soft shapes composited back to front.

Every shape is a soft mask `sigmoid(d / tau)` of an approximate signed distance `d` (image units,
positive inside), with `tau` half a pixel, so the image is smooth in every continuous parameter.
Features are drawn in local frames spanned by their landmarks (eye corners, mouth corners, brow
ends), as regions between parabolas through those landmarks; the head is the convex polygon of the
jaw and skull outline; shading is Lambertian on an ellipsoid that turns with the head.
Layers, back to front: background pattern, hair volume, neck, ears, shaded skin, nose sides and
nostrils, lips and mouth interior with teeth, eyes (white, iris, pupil, lash line), brows, fringe,
glasses.
"""

from __future__ import annotations

import math

import torch

from lsw_core.camera import Camera
from lsw_synthface import shape3d
from lsw_synthface.shape3d import BROW_L, BROW_R, CRANIUM, EARS, OUTLINE
from lsw_synthface.world import SCREEN_CENTRE, FaceParams, _view, project_points

WHITE = (0.95, 0.94, 0.91)
DARK = (0.07, 0.05, 0.05)
MOUTH = (0.30, 0.08, 0.08)
TEETH = (0.96, 0.94, 0.88)
GLASSES = (0.06, 0.06, 0.08)
LIP_TINT = (0.86, 0.55, 0.55)


class _Canvas:
    """Pixel grid, softness and the image being composited."""

    def __init__(self, background: torch.Tensor, resolution: int, like: torch.Tensor):
        grid = (torch.arange(resolution, dtype=like.dtype, device=like.device) + 0.5) / resolution
        self.x, self.y = grid.view(1, 1, resolution), grid.view(1, resolution, 1)
        self.tau = 0.5 / resolution
        self.image = background

    def soft(self, d: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(d / self.tau)

    def local(self, origin: torch.Tensor, axis: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel coordinates along the unit `axis` [B, 2] and along its normal (axis turned 90° clockwise
        on screen, so "down" for an axis pointing right), relative to `origin` [B, 2]."""
        dx, dy = self.x - origin[:, 0, None, None], self.y - origin[:, 1, None, None]
        ax, ay = axis[:, 0, None, None], axis[:, 1, None, None]
        return dx * ax + dy * ay, dy * ax - dx * ay

    def over(self, alpha: torch.Tensor, colour: torch.Tensor) -> None:
        """Composite `colour` ([B, 3] or [B, 3, H, W]) with coverage `alpha` [B, H, W] over the image."""
        if colour.ndim == 2:
            colour = colour[:, :, None, None]
        self.image = self.image + alpha.unsqueeze(1) * (colour - self.image)


def _const(rgb: tuple[float, float, float], like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(rgb, dtype=like.dtype, device=like.device).expand(like.shape[0], 3)


def _frame(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Midpoint, unit direction and half length of the segment a→b (each [B, 2])."""
    d = b - a
    half = d.norm(dim=1, keepdim=True).clamp(min=1e-6) / 2
    return (a + b) / 2, d / (2 * half), half


def _coords(points: torch.Tensor, origin: torch.Tensor, axis: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Points [B, K, 2] in the frame (origin, axis): along-axis and normal coordinates [B, K]."""
    d = points - origin[:, None]
    return d[..., 0] * axis[:, None, 0] + d[..., 1] * axis[:, None, 1], d[..., 1] * axis[:, None, 0] - d[..., 0] * axis[
        :, None, 1
    ]


def _polygon(canvas: _Canvas, poly: torch.Tensor) -> torch.Tensor:
    """Soft inside [B, H, W] of the convex polygon `poly` [B, E, 2], counter-clockwise on screen."""
    a, b = poly, poly.roll(-1, dims=1)
    d = b - a
    n = torch.stack([d[..., 1], -d[..., 0]], -1) / d.norm(dim=-1, keepdim=True).clamp(min=1e-6)
    offset = (n * a).sum(-1)
    dist = (n[..., 0, None, None] * canvas.x - offset[..., None, None]) + n[..., 1, None, None] * canvas.y
    return canvas.soft(dist.amin(dim=1))


def _smooth_relu(t: torch.Tensor) -> torch.Tensor:
    return 0.5 * (t + torch.sqrt(t * t + 0.01))


def render_faces(params: FaceParams, resolution: int, camera: Camera | None) -> torch.Tensor:
    """See `lsw_synthface.world.render`."""
    p = params
    ref = p.identity
    pts3 = project_points(p.identity, p.expression, p.pose, camera)
    pts = pts3[..., :2]
    rot, scale = _view(p.pose, camera)
    s = scale[:, None, None]
    light = p.light / p.light.norm(dim=1, keepdim=True).clamp(min=1e-6)
    c = _Canvas(_background(p, resolution, ref), resolution, ref)

    # Head frame on screen: where head x and y axes point (y flipped to screen "down").
    m = torch.stack([rot[:, 0, 0], rot[:, 0, 1], -rot[:, 1, 0], -rot[:, 1, 1]], 1).view(-1, 2, 2) * scale[:, None, None]
    minv = torch.linalg.inv(m)
    dx, dy = c.x - SCREEN_CENTRE[0], c.y - SCREEN_CENTRE[1]
    face_x = minv[:, 0, 0, None, None] * dx + minv[:, 0, 1, None, None] * dy
    face_y = minv[:, 1, 0, None, None] * dx + minv[:, 1, 1, None, None] * dy
    roll_axis = torch.nn.functional.normalize(m[:, :, 0], dim=1)

    # Lambertian shading on an ellipsoid around the face, turned with the head.
    nx, ny = face_x / 0.95, (face_y + 0.1) / 1.2
    nz = torch.sqrt((1 - nx * nx - ny * ny).clamp(min=0.05))
    lh = torch.einsum("bij,bi->bj", rot, light)  # the light direction in the head frame
    diffuse = _smooth_relu((nx * lh[:, 0, None, None] + ny * lh[:, 1, None, None] + nz * lh[:, 2, None, None]) * 0.9)
    shade = (0.58 + 0.42 * diffuse.clamp(max=1.2) / 1.2).unsqueeze(1)
    skin_lit = p.skin[:, :, None, None] * shade
    hair_lit = p.hair[:, :, None, None] * (0.35 + 0.65 * shade)

    # Hair volume behind the head: an ellipse around the cranium and, for long hair, a curtain.
    volume, length, fringe = p.hair_shape.unbind(1)
    hx, hy = c.local(pts[:, CRANIUM], roll_axis)
    a = s * (1.0 + 0.16 * volume[:, None, None])
    b = s * (0.98 + 0.12 * volume[:, None, None])
    blob = c.soft(torch.minimum(a, b) * (1 - torch.sqrt((hx / a) ** 2 + (hy / b) ** 2 + 1e-6)))
    curtain = c.soft(0.93 * a - hx.abs()) * c.soft(hy)
    cut = c.soft(s * (0.25 + 1.45 * length[:, None, None]) - hy)
    c.over(torch.maximum(blob, curtain) * cut, hair_lit)

    # Neck, ears, head.
    neck_origin = (pts[:, 4] + pts[:, 12]) / 2
    kx, ky = c.local(neck_origin, roll_axis)
    c.over(c.soft(s * 0.3 - kx.abs()) * c.soft(ky), p.skin[:, :, None, None] * 0.62)
    for ear in EARS:
        ex, ey = c.local(pts[:, ear], roll_axis)
        c.over(
            c.soft(s * 0.1 * (1 - torch.sqrt((ex / (s * 0.1)) ** 2 + (ey / (s * 0.17)) ** 2 + 1e-6))), skin_lit * 0.9
        )
    head = _polygon(c, pts[:, OUTLINE])
    c.over(head, skin_lit)

    _nose(c, p, pts, rot, light, skin_lit)
    _mouth(c, p, pts, skin_lit, s)
    for eye in (shape3d.EYE_L, shape3d.EYE_R):
        _eye(c, p, pts[:, eye], s)
    for brow in (BROW_L, BROW_R):
        _brow(c, pts[:, brow], p.hair * 0.55, s, outer_first=brow == BROW_L)

    hairline = 0.98 - 0.45 * fringe[:, None, None] + 0.3 * face_x * face_x
    c.over(head * c.soft(s * (face_y - hairline)), hair_lit)
    _glasses(c, p, pts, s)
    return c.image.clamp(0, 1) * 2 - 1


def _background(p: FaceParams, resolution: int, ref: torch.Tensor) -> torch.Tensor:
    """Two colours mixed by stripes (checker weight 0) or a checkerboard-like product (weight 1)."""
    grid = (torch.arange(resolution, dtype=ref.dtype, device=ref.device) + 0.5) / resolution - 0.5
    angle, freq, phase, checker = (t[:, None, None] for t in p.pattern.unbind(1))
    x, y = grid.view(1, 1, -1), grid.view(1, -1, 1)
    u = x * angle.cos() + y * angle.sin()
    v = y * angle.cos() - x * angle.sin()
    s1 = torch.sin(2 * math.pi * freq * u + phase)
    s2 = torch.sin(2 * math.pi * freq * v)
    mix = 0.5 + 0.5 * s1 * (1 - checker + checker * s2)
    return p.background[:, :, None, None] + (p.background2 - p.background)[:, :, None, None] * mix.unsqueeze(1)


def _nose(c: _Canvas, p: FaceParams, pts: torch.Tensor, rot: torch.Tensor, light: torch.Tensor, skin_lit) -> None:
    for tri, side in (([27, 31, 33], -1.0), ([27, 33, 35], 1.0)):
        normal = rot @ torch.tensor([0.75 * side, -0.1, 0.65], dtype=rot.dtype, device=rot.device)
        lam = (normal * light).sum(1)[:, None, None, None]
        poly = pts[:, tri]
        if side < 0:  # keep counter-clockwise order on screen
            poly = poly.flip(1)
        c.over(_polygon(c, poly) * 0.8, skin_lit * (0.8 + 0.3 * lam.clamp(-1, 1)))
    tip = pts[:, 30]
    tx, ty = c.local(tip, torch.tensor([1.0, 0.0], dtype=pts.dtype, device=pts.device).expand_as(tip))
    r = (pts[:, 35] - pts[:, 31]).norm(dim=1)[:, None, None] * 0.22
    c.over(c.soft(r - torch.sqrt(tx * tx + ty * ty + 1e-8)) * 0.35, _const(WHITE, pts))
    for i in (32, 34):
        o, axis, _ = _frame(pts[:, 31], pts[:, 35])
        nx, ny = c.local(pts[:, i], axis)
        r = (pts[:, 35] - pts[:, 31]).norm(dim=1)[:, None, None] * 0.13
        c.over(c.soft(r * (1 - torch.sqrt((nx / r) ** 2 + (ny / (0.6 * r)) ** 2 + 1e-6))) * 0.85, p.skin * 0.3)


def _mouth(c: _Canvas, p: FaceParams, pts: torch.Tensor, skin_lit: torch.Tensor, s: torch.Tensor) -> None:
    origin, axis, half = _frame(pts[:, 48], pts[:, 54])
    lx, ly = c.local(origin, axis)
    lx = lx / half[:, :, None]
    _, heights = _coords(pts[:, [51, 62, 66, 57]], origin, axis)
    bend = 1 - lx * lx
    top, inner_top, inner_bottom, bottom = (heights[:, k, None, None] * bend for k in range(4))
    inside = c.soft((1 - lx.abs()) * half[:, :, None])
    lips = c.soft(torch.minimum(ly - top, bottom - ly)) * inside
    tint = torch.tensor(LIP_TINT, dtype=pts.dtype, device=pts.device)[None, :, None, None]
    c.over(lips, skin_lit * tint)
    opening = c.soft(torch.minimum(ly - inner_top, inner_bottom - ly)) * inside
    c.over(opening, _const(MOUTH, pts))
    teeth_edge = inner_top + 0.45 * (inner_bottom - inner_top).clamp(min=0)
    c.over(opening * c.soft(teeth_edge - ly) * c.soft(0.8 - lx.abs()), _const(TEETH, pts))


def _eye(c: _Canvas, p: FaceParams, eye: torch.Tensor, s: torch.Tensor) -> None:
    """One eye from its six landmarks (outer/inner corner first, iBUG order)."""
    origin, axis, half = _frame(eye[:, 0], eye[:, 3])  # both eyes run left to right on a frontal face
    lx, ly = c.local(origin, axis)
    _, h = _coords(eye, origin, axis)
    upper, lower = (h[:, 1] + h[:, 2]) / 2, (h[:, 4] + h[:, 5]) / 2
    nx = lx / half[:, :, None]
    bend = 1 - nx * nx
    lid_top, lid_bottom = upper[:, None, None] * bend, lower[:, None, None] * bend
    white = c.soft(torch.minimum(ly - lid_top, lid_bottom - ly)) * c.soft((1 - nx.abs()) * half[:, :, None])
    c.over(white, _const(WHITE, eye))
    centre_y = (upper + lower)[:, None, None] / 2
    dist = torch.sqrt(lx * lx + (ly - centre_y) ** 2 + 1e-8)
    r = 0.5 * half[:, :, None]
    c.over(white * c.soft(r - dist), p.eyes)
    c.over(white * c.soft(0.45 * r - dist), _const(DARK, eye))
    lash = c.soft(s * 0.018 - (ly - lid_top).abs()) * c.soft((1 - nx.abs()) * half[:, :, None])
    c.over(lash, _const(DARK, eye))


def _brow(c: _Canvas, brow: torch.Tensor, colour: torch.Tensor, s: torch.Tensor, outer_first: bool) -> None:
    origin, axis, half = _frame(brow[:, 0], brow[:, 4])
    lx, ly = c.local(origin, axis)
    _, h = _coords(brow[:, 2:3], origin, axis)
    nx = lx / half[:, :, None]
    centre = h[:, :1, None] * (1 - nx * nx)
    inner = (nx + 1) / 2 if outer_first else (1 - nx) / 2  # 0 at the outer end, 1 at the inner end
    thick = s * 0.028 * (0.6 + 0.6 * inner)
    mask = c.soft(thick - (ly - centre).abs()) * c.soft((1 - nx.abs()) * half[:, :, None])
    c.over(mask * 0.92, colour)


def _glasses(c: _Canvas, p: FaceParams, pts: torch.Tensor, s: torch.Tensor) -> None:
    opacity = p.glasses[:, :, None]
    centres = [pts[:, shape3d.EYE_L].mean(1), pts[:, shape3d.EYE_R].mean(1)]
    width = s * 0.018
    frame = 0
    for eye, centre in zip((shape3d.EYE_L, shape3d.EYE_R), centres):
        radius = (pts[:, eye[3]] - pts[:, eye[0]]).norm(dim=1)[:, None, None] * 0.72
        dx, dy = c.x - centre[:, 0, None, None], c.y - centre[:, 1, None, None]
        dist = torch.sqrt(dx * dx + dy * dy + 1e-8)
        c.over(c.soft(radius - dist) * 0.18 * opacity, _const(GLASSES, pts))
        frame = frame + c.soft(width - (dist - radius).abs())
    origin, axis, half = _frame(*centres)
    lx, ly = c.local(origin, axis)
    gap = half[:, :, None] - (pts[:, 39] - pts[:, 36]).norm(dim=1)[:, None, None] * 0.72
    bridge = c.soft(width - (ly + s * 0.03).abs()) * c.soft(gap + width - lx.abs())
    c.over((frame + bridge).clamp(max=1) * opacity, _const(GLASSES, pts))
