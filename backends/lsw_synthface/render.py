"""A differentiable face renderer in plain torch: soft shapes composited back to front.

Every shape is a soft mask `sigmoid(d / tau)` of an approximate signed distance `d` (image units,
positive inside), with `tau` half a pixel, so the image is smooth in every continuous parameter.
Features are drawn in local frames spanned by their landmarks (eye corners, mouth corners, brow
ends), as regions between parabolas through those landmarks; the head is the polygon of the jaw and
skull outline; shading is Lambertian on an ellipsoid that turns with the head.
Layers, back to front, over the whole image: background pattern, hair volume, neck, ears, shaded
skin, fringe (which stays above the brows); then, each in a small window per face around its
landmarks: nose sides, tip and nostrils; lips, mouth opening and teeth; eyes (white, iris, pupil,
lash line), brows and glasses. All layers of one canvas are composited in one weighted sum.
"""

from __future__ import annotations

import math

import torch

from lsw_core.camera import Camera
from lsw_synthface import shape3d
from lsw_synthface.params import FaceParams
from lsw_synthface.projection import SCREEN_CENTRE, camera_view, project_points
from lsw_synthface.shape3d import BROW_L, BROW_R, CRANIUM, EARS, OUTLINE

WHITE = (0.95, 0.94, 0.91)
DARK = (0.07, 0.05, 0.05)
MOUTH = (0.30, 0.08, 0.08)
TEETH = (0.96, 0.94, 0.88)
GLASSES = (0.06, 0.06, 0.08)
LIP_TINT = (0.86, 0.55, 0.55)


class _Canvas:
    """A pixel grid (the whole image, or one window per face), its softness, and the layers painted
    on it so far (coverage, colour, optional shading)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, resolution: int, index: torch.Tensor | None = None):
        self.x, self.y = x, y  # pixel centres in image units: [1 or B, 1, W] and [1 or B, H, 1]
        self.tau = 0.5 / resolution
        self.index = index  # for a window: each pixel's position in the flattened image, [B, H * W]
        self.layers: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] = []

    @classmethod
    def full(cls, resolution: int, like: torch.Tensor) -> _Canvas:
        grid = (torch.arange(resolution, dtype=like.dtype, device=like.device) + 0.5) / resolution
        return cls(grid.view(1, 1, -1), grid.view(1, -1, 1), resolution)

    @classmethod
    def window(cls, lo: torch.Tensor, hi: torch.Tensor, resolution: int, margin: float = 8.0) -> _Canvas:
        """One window per face around the boxes [lo, hi] ([B, 2] image units), `margin` pixels wider
        on each side; all windows have the size of the largest box, and lie inside the image."""
        lo_px, hi_px = (lo.detach() * resolution - margin).floor(), (hi.detach() * resolution + margin).ceil()
        w, h = ((hi_px - lo_px).amax(0).clamp(min=1, max=resolution)).long().tolist()
        x0 = lo_px[:, 0].clamp(0, resolution - w).long()
        y0 = lo_px[:, 1].clamp(0, resolution - h).long()
        cols = x0[:, None] + torch.arange(w, device=lo.device)
        rows = y0[:, None] + torch.arange(h, device=lo.device)
        index = (rows[:, :, None] * resolution + cols[:, None, :]).reshape(len(lo), h * w)
        x = ((cols.to(lo.dtype) + 0.5) / resolution)[:, None, :]
        y = ((rows.to(lo.dtype) + 0.5) / resolution)[:, :, None]
        return cls(x, y, resolution, index)

    def soft(self, d: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(d / self.tau)

    def local(self, origin: torch.Tensor, axis: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel coordinates along the unit `axis` [B, 2] and along its normal (axis turned 90° clockwise
        on screen, so "down" for an axis pointing right), relative to `origin` [B, 2]."""
        dx, dy = self.x - origin[:, 0, None, None], self.y - origin[:, 1, None, None]
        ax, ay = axis[:, 0, None, None], axis[:, 1, None, None]
        return dx * ax + dy * ay, dy * ax - dx * ay

    def ellipse(self, centre: torch.Tensor, axis: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Soft inside of the ellipse with semi-axes a along `axis` and b across it ([B, 1, 1] each)."""
        dx, dy = self.x - centre[:, 0, None, None], self.y - centre[:, 1, None, None]
        ax, ay = axis[:, 0, None, None], axis[:, 1, None, None]
        u, v = dx * (ax / a) + dy * (ay / a), dy * (ax / b) - dx * (ay / b)  # scaled while still small
        k = torch.minimum(a, b) / self.tau
        # k (1 - sqrt(u² + v² + 1e-6)) in fused steps: each full-size temporary costs more than its arithmetic
        radius = torch.addcmul((u * u).add_(1e-6), v, v).sqrt_()
        return torch.sigmoid(torch.addcmul(k, k, radius, value=-1))

    def paint(self, alpha: torch.Tensor, colour: torch.Tensor, shade: torch.Tensor | None = None) -> None:
        """Paint `colour` [B, 3] (times the `shade` map [B, H, W], if any) with coverage `alpha` [B, H, W]
        over everything painted before."""
        self.layers.append((alpha, colour, shade))

    def composite(self, under: torch.Tensor) -> torch.Tensor:
        """The painted layers over `under` (the image [B, 3, R, R]) → a new image. Each layer weighs
        its coverage times the transmittance of the layers in front of it, so compositing is one
        weighted sum of colours; a window composites over, and writes back, its own pixels."""
        transmit = None
        ws, cs = [], []
        for alpha, colour, shade in reversed(self.layers):
            w = alpha if transmit is None else alpha * transmit
            transmit = 1 - alpha if transmit is None else transmit - w
            ws.append(w if shade is None else w * shade)
            cs.append(colour)
        painted = torch.einsum("bkhw,bkc->bchw", torch.stack(ws, 1), torch.stack(cs, 1))
        if self.index is None:
            return painted + transmit.unsqueeze(1) * under
        flat, index = under.flatten(2), self.index.unsqueeze(1).expand(-1, 3, -1)
        below = flat.gather(2, index).view_as(painted)
        return flat.scatter(2, index, (painted + transmit.unsqueeze(1) * below).flatten(2)).view_as(under)


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
    """Soft inside [B, H, W] of the convex polygon `poly` [B, E, 2] with many edges.

    Each pixel is measured against the edge in whose angular sector (seen from the vertex mean) it
    lies and that edge's two neighbours (which cut off the edge lines beyond the vertices), so the
    cost does not grow with the number of edges."""
    centre = poly.mean(1, keepdim=True)
    angles = torch.atan2(*(poly - centre).detach().unbind(-1)[::-1])
    angles, order = angles.sort(dim=1)
    a = poly.gather(1, order.unsqueeze(-1).expand(-1, -1, 2))
    n, offset = _edges(a, centre)
    x, y = torch.broadcast_tensors(canvas.x, canvas.y)
    x, y = x.expand(len(poly), -1, -1), y.expand(len(poly), -1, -1)
    # Edge k - 1 .. E of the sorted polygon at padded index k + 1 (edges wrap around), so a pixel's
    # three candidate edges are padded indices `sector`, + 1, + 2: no modulo over the pixels.
    nx, ny, off = (torch.cat([t[:, -2:], t, t[:, :1]], 1) for t in (n[..., 0], n[..., 1], offset))

    def distance(k: torch.Tensor) -> torch.Tensor:
        return nx.gather(1, k).view_as(x) * x + ny.gather(1, k).view_as(x) * y - off.gather(1, k).view_as(x)

    with torch.no_grad():
        pixel_angles = torch.atan2(y - centre[:, :, 1, None], x - centre[:, :, 0, None]).flatten(1)
        sector = torch.searchsorted(angles.contiguous(), pixel_angles.contiguous())
        nearest = torch.stack([distance(sector + j) for j in range(3)]).min(0)
    if not (torch.is_grad_enabled() and poly.requires_grad):
        return canvas.soft(nearest.values)
    # The same distance again, differentiable through the one edge that gave it (the backward of a
    # three-way minimum over every pixel cost more than the rest of the polygon).
    return canvas.soft(distance(sector + nearest.indices.flatten(1)))


def _convex(canvas: _Canvas, poly: torch.Tensor) -> torch.Tensor:
    """Soft inside [B, H, W] of the convex polygon `poly` [B, E, 2] with few edges (vertices in order).

    Besides the edges, each vertex contributes a supporting line across its bisector, which keeps
    the inside exact and stops the soft edge from running on past sharp corners."""
    n, offset = _edges(poly, poly.mean(1, keepdim=True))
    caps = torch.nn.functional.normalize(n + n.roll(1, dims=1), dim=-1)  # edges k-1 and k meet at vertex k
    n, offset = torch.cat([n, caps], 1), torch.cat([offset, (caps * poly).sum(-1)], 1)
    x, y = canvas.x.unsqueeze(1), canvas.y.unsqueeze(1)
    dist = (n[..., 0, None, None] * x - offset[..., None, None]) + n[..., 1, None, None] * y
    return canvas.soft(dist.amin(dim=1))


def _edges(vertices: torch.Tensor, centre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit inward normals [B, E, 2] and offsets [B, E] of the edges vertex k → k+1 (the last wraps)."""
    d = vertices.roll(-1, dims=1) - vertices
    n = torch.stack([d[..., 1], -d[..., 0]], -1) / d.norm(dim=-1, keepdim=True).clamp(min=1e-6)
    n = n * torch.sign(((centre - vertices) * n).sum(-1, keepdim=True).detach())
    return n, (n * vertices).sum(-1)


def _smooth_relu(t: torch.Tensor) -> torch.Tensor:
    return 0.5 * (t + torch.sqrt(t * t + 0.01))


def render_faces(params: FaceParams, resolution: int, camera: Camera | None) -> torch.Tensor:
    """See `lsw_synthface.world.render`."""
    p = params
    pts = project_points(p.identity, p.expression, p.pose, camera)[..., :2]
    rot, scale = camera_view(p.pose, camera)
    s = scale[:, None, None]
    light = p.light / p.light.norm(dim=1, keepdim=True).clamp(min=1e-6)
    head_frame = _HeadFrame(rot, s, light)
    c = _Canvas.full(resolution, p.identity)
    face_x, face_y = head_frame.coords(c)
    shade = head_frame.shade(c)
    hair_shade = 0.35 + 0.65 * shade

    # Hair volume behind the head: an ellipse around the cranium and, for long hair, a curtain.
    volume, length, fringe = (t[:, None, None] for t in p.hair_shape.unbind(1))
    a, b = s * (1.0 + 0.16 * volume), s * (0.98 + 0.12 * volume)
    blob = c.ellipse(pts[:, CRANIUM], head_frame.roll_axis, a, b)
    hx, hy = c.local(pts[:, CRANIUM], head_frame.roll_axis)
    curtain = c.soft(0.93 * a - hx.abs()) * c.soft(hy)
    c.paint(torch.maximum(blob, curtain) * c.soft(s * (0.25 + 1.45 * length) - hy), p.hair, hair_shade)

    kx, ky = c.local((pts[:, 4] + pts[:, 12]) / 2, head_frame.roll_axis)
    c.paint(c.soft(s * 0.3 - kx.abs()) * c.soft(ky), p.skin * 0.62)  # the neck, in the head's shadow
    for ear in EARS:
        c.paint(c.ellipse(pts[:, ear], head_frame.roll_axis, s * 0.1, s * 0.17), p.skin * 0.9, shade)
    head = _polygon(c, pts[:, OUTLINE])
    c.paint(head, p.skin, shade)
    hairline = 0.98 - 0.45 * fringe + 0.3 * face_x * face_x  # the fringe stays above the brows
    c.paint(head * c.soft(s * (face_y - hairline)), p.hair, hair_shade)
    image = c.composite(_background(p, c))

    # The features, each in a small window per face around its landmarks.
    nose = _Canvas.window(pts[:, 27:36].amin(1), pts[:, 27:36].amax(1), resolution)
    _nose(nose, p, pts, rot, light, head_frame.shade(nose))
    image = nose.composite(image)
    mouth = _Canvas.window(pts[:, 48:68].amin(1), pts[:, 48:68].amax(1), resolution)
    _mouth(mouth, p, pts, head_frame.shade(mouth))
    image = mouth.composite(image)
    reach = 0.8 * (pts[:, 39] - pts[:, 36]).norm(dim=1, keepdim=True) + s[:, 0] * 0.04  # glasses rims
    centres = pts[:, 36:48].view(-1, 2, 6, 2).mean(2)
    lo = torch.minimum(pts[:, 17:27].amin(1), centres.amin(1) - reach)
    hi = torch.maximum(pts[:, 36:48].amax(1), centres.amax(1) + reach)
    eyes = _Canvas.window(lo, hi, resolution)
    for eye in (shape3d.EYE_L, shape3d.EYE_R):
        _eye(eyes, p, pts[:, eye], s)
    for brow in (BROW_L, BROW_R):
        _brow(eyes, pts[:, brow], p.hair * 0.55, s, outer_first=brow == BROW_L)
    _glasses(eyes, p, pts, s)
    return eyes.composite(image) * 2 - 1


class _HeadFrame:
    """Screen ↔ head geometry: face-plane coordinates of pixels and Lambertian shading on an
    ellipsoid around the face that turns with the head."""

    def __init__(self, rot: torch.Tensor, s: torch.Tensor, light: torch.Tensor):
        m = torch.stack([rot[:, 0, 0], rot[:, 0, 1], -rot[:, 1, 0], -rot[:, 1, 1]], 1).view(-1, 2, 2) * s
        self.minv = torch.linalg.inv(m)  # screen offset → head (x, y), through the head's screen axes
        self.roll_axis = torch.nn.functional.normalize(m[:, :, 0], dim=1)
        self.light = torch.einsum("bij,bi->bj", rot, light)[:, :, None, None]  # the light in the head frame

    def coords(self, c: _Canvas) -> tuple[torch.Tensor, torch.Tensor]:
        """Face-plane coordinates (head units, y up) of the canvas pixels."""
        dx, dy = c.x - SCREEN_CENTRE[0], c.y - SCREEN_CENTRE[1]
        mi = self.minv[:, :, :, None, None]
        return mi[:, 0, 0] * dx + mi[:, 0, 1] * dy, mi[:, 1, 0] * dx + mi[:, 1, 1] * dy

    def shade(self, c: _Canvas) -> torch.Tensor:
        """Lambertian shading [B, H, W] of the canvas pixels on an ellipsoid (semi-axes 0.95 and 1.2
        head units, centred 0.1 below the head origin) facing the viewer."""
        dx, dy = c.x - SCREEN_CENTRE[0], c.y - SCREEN_CENTRE[1]
        mi = self.minv[:, :, :, None, None]
        nx = (mi[:, 0, 0] / 0.95) * dx + (mi[:, 0, 1] / 0.95) * dy
        ny = (mi[:, 1, 0] / 1.2) * dx + ((mi[:, 1, 1] / 1.2) * dy + 0.1 / 1.2)
        nz = torch.addcmul(torch.addcmul(torch.ones_like(nx), nx, nx, value=-1), ny, ny, value=-1).clamp_(min=0.05)
        lam = torch.addcmul(torch.addcmul(nx * self.light[:, 0], ny, self.light[:, 1]), nz.sqrt_(), self.light[:, 2])
        return _smooth_relu(0.75 * lam).clamp_(max=1.0).mul_(0.42).add_(0.58)


def _background(p: FaceParams, c: _Canvas) -> torch.Tensor:
    """The background image [B, 3, R, R]: two colours mixed by stripes (checker weight 0) or by a
    checkerboard-like product of stripes (weight 1)."""
    angle, freq, phase, checker = (t[:, None, None] for t in p.pattern.unbind(1))
    x, y = c.x - 0.5, c.y - 0.5
    u = x * angle.cos() + y * angle.sin()
    v = y * angle.cos() - x * angle.sin()
    s1 = torch.sin(2 * math.pi * freq * u + phase)
    s2 = torch.sin(2 * math.pi * freq * v)
    mix = (0.5 + 0.5 * s1 * (1 - checker + checker * s2)).unsqueeze(1)
    return p.background[:, :, None, None] + (p.background2 - p.background)[:, :, None, None] * mix


def _nose(c: _Canvas, p: FaceParams, pts: torch.Tensor, rot: torch.Tensor, light: torch.Tensor, shade) -> None:
    """Two shaded triangles for the sides of the nose, a highlight on the tip, two nostrils."""
    for tri, side in (([27, 31, 33], -1.0), ([27, 33, 35], 1.0)):
        normal = rot @ torch.tensor([0.75 * side, -0.1, 0.65], dtype=rot.dtype, device=rot.device)
        lam = (normal * light).sum(1, keepdim=True).clamp(-1, 1)
        c.paint(_convex(c, pts[:, tri]) * 0.8, p.skin * (0.75 + 0.25 * lam), shade)
    width = (pts[:, 35] - pts[:, 31]).norm(dim=1)[:, None, None]
    origin, axis, _ = _frame(pts[:, 31], pts[:, 35])
    c.paint(c.ellipse(pts[:, 30], axis, 0.15 * width, 0.12 * width) * 0.3, _const(WHITE, pts))
    for i in (32, 34):
        c.paint(c.ellipse(pts[:, i], axis, 0.13 * width, 0.08 * width) * 0.85, p.skin * 0.3)


def _mouth(c: _Canvas, p: FaceParams, pts: torch.Tensor, shade: torch.Tensor) -> None:
    """Lips between parabolas through the mouth corners and lip midpoints; the opening, with teeth."""
    origin, axis, half = _frame(pts[:, 48], pts[:, 54])
    lx, ly = c.local(origin, axis)
    lx = lx / half[:, :, None]
    _, heights = _coords(pts[:, [51, 62, 66, 57]], origin, axis)
    bend = 1 - lx * lx
    top, inner_top, inner_bottom, bottom = (heights[:, k, None, None] * bend for k in range(4))
    inside = c.soft((1 - lx.abs()) * half[:, :, None])
    lips = c.soft(torch.minimum(ly - top, bottom - ly)) * inside
    c.paint(lips, p.skin * torch.tensor(LIP_TINT, dtype=pts.dtype, device=pts.device), shade)
    opening = c.soft(torch.minimum(ly - inner_top, inner_bottom - ly)) * inside
    c.paint(opening, _const(MOUTH, pts))
    teeth_edge = inner_top + 0.45 * (inner_bottom - inner_top).clamp(min=0)
    c.paint(opening * c.soft(teeth_edge - ly) * c.soft(0.8 - lx.abs()), _const(TEETH, pts))


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
    c.paint(white, _const(WHITE, eye))
    centre_y = (upper + lower)[:, None, None] / 2
    dist = torch.sqrt(lx * lx + (ly - centre_y) ** 2 + 1e-8)
    r = 0.5 * half[:, :, None]
    c.paint(white * c.soft(r - dist), p.eyes)
    c.paint(white * c.soft(0.45 * r - dist), _const(DARK, eye))
    lash = c.soft(s * 0.018 - (ly - lid_top).abs()) * c.soft((1 - nx.abs()) * half[:, :, None])
    c.paint(lash, _const(DARK, eye))


def _brow(c: _Canvas, brow: torch.Tensor, colour: torch.Tensor, s: torch.Tensor, outer_first: bool) -> None:
    origin, axis, half = _frame(brow[:, 0], brow[:, 4])
    lx, ly = c.local(origin, axis)
    _, h = _coords(brow[:, 2:3], origin, axis)
    nx = lx / half[:, :, None]
    centre = h[:, :1, None] * (1 - nx * nx)
    inner = (nx + 1) / 2 if outer_first else (1 - nx) / 2  # 0 at the outer end, 1 at the inner end
    thick = s * 0.028 * (0.6 + 0.6 * inner)
    mask = c.soft(thick - (ly - centre).abs()) * c.soft((1 - nx.abs()) * half[:, :, None])
    c.paint(mask * 0.92, colour)


def _glasses(c: _Canvas, p: FaceParams, pts: torch.Tensor, s: torch.Tensor) -> None:
    opacity = p.glasses[:, :, None]
    centres = [pts[:, shape3d.EYE_L].mean(1), pts[:, shape3d.EYE_R].mean(1)]
    width = s * 0.018
    frame = 0
    for eye, centre in zip((shape3d.EYE_L, shape3d.EYE_R), centres):
        radius = (pts[:, eye[3]] - pts[:, eye[0]]).norm(dim=1)[:, None, None] * 0.72
        dx, dy = c.x - centre[:, 0, None, None], c.y - centre[:, 1, None, None]
        dist = torch.sqrt(dx * dx + dy * dy + 1e-8)
        c.paint(c.soft(radius - dist) * 0.18 * opacity, _const(GLASSES, pts))
        frame = frame + c.soft(width - (dist - radius).abs())
    origin, axis, half = _frame(*centres)
    lx, ly = c.local(origin, axis)
    gap = half[:, :, None] - (pts[:, 39] - pts[:, 36]).norm(dim=1)[:, None, None] * 0.72
    bridge = c.soft(width - (ly + s * 0.03).abs()) * c.soft(gap + width - lx.abs())
    c.paint((frame + bridge).clamp(max=1) * opacity, _const(GLASSES, pts))
