"""The renderer's fused formulations draw what the plain ones they replaced drew.

The shipped networks were trained on renders of the plain formulations kept here, so the images and
their gradients must agree to float precision."""

import attrs
import pytest
import torch

from lsw_synthface import render, world
from lsw_synthface.render import SCREEN_CENTRE, _edges, _smooth_relu


def reference_ellipse(self, centre, axis, a, b):
    dx, dy = self.x - centre[:, 0, None, None], self.y - centre[:, 1, None, None]
    ax, ay = axis[:, 0, None, None], axis[:, 1, None, None]
    u, v = dx * (ax / a) + dy * (ay / a), dy * (ax / b) - dx * (ay / b)
    return torch.sigmoid((torch.minimum(a, b) / self.tau) * (1 - torch.sqrt(u * u + v * v + 1e-6)))


def reference_composite(self, under):
    transmit = 1.0
    ws, cs = [], []
    for alpha, colour, shade in reversed(self.layers):
        w = alpha * transmit
        transmit = transmit - w
        ws.append(w if shade is None else w * shade)
        cs.append(colour)
    painted = torch.einsum("bkhw,bkc->bchw", torch.stack(ws, 1), torch.stack(cs, 1))
    if self.index is None:
        return painted + transmit.unsqueeze(1) * under
    flat, index = under.flatten(2), self.index.unsqueeze(1).expand(-1, 3, -1)
    below = flat.gather(2, index).view_as(painted)
    return flat.scatter(2, index, (painted + transmit.unsqueeze(1) * below).flatten(2)).view_as(under)


def reference_polygon(canvas, poly):
    centre = poly.mean(1, keepdim=True)
    angles = torch.atan2(*(poly - centre).detach().unbind(-1)[::-1])
    angles, order = angles.sort(dim=1)
    a = poly.gather(1, order.unsqueeze(-1).expand(-1, -1, 2))
    n, offset = _edges(a, centre)
    x, y = torch.broadcast_tensors(canvas.x, canvas.y)
    x, y = x.expand(len(poly), -1, -1), y.expand(len(poly), -1, -1)
    with torch.no_grad():
        pixel_angles = torch.atan2(y - centre[:, :, 1, None], x - centre[:, :, 0, None]).flatten(1)
        edge = torch.searchsorted(angles.contiguous(), pixel_angles.contiguous()) - 1
    dist = None
    for shift in (-1, 0, 1):
        k = (edge + shift) % poly.shape[1]
        nx, ny, off = (t.gather(1, k).view_as(x) for t in (n[..., 0], n[..., 1], offset))
        d = nx * x + ny * y - off
        dist = d if dist is None else torch.minimum(dist, d)
    return canvas.soft(dist)


def reference_shade(self, c):
    dx, dy = c.x - SCREEN_CENTRE[0], c.y - SCREEN_CENTRE[1]
    mi = self.minv[:, :, :, None, None]
    nx = (mi[:, 0, 0] / 0.95) * dx + (mi[:, 0, 1] / 0.95) * dy
    ny = (mi[:, 1, 0] / 1.2) * dx + ((mi[:, 1, 1] / 1.2) * dy + 0.1 / 1.2)
    nz = torch.sqrt((1 - nx * nx - ny * ny).clamp(min=0.05))
    lam = nx * self.light[:, 0] + ny * self.light[:, 1] + nz * self.light[:, 2]
    return 0.58 + 0.42 * _smooth_relu(0.75 * lam).clamp(max=1.0)


@pytest.fixture
def reference(monkeypatch):
    """Render with the plain formulations."""

    def draw(params, resolution, camera=None):
        with monkeypatch.context() as m:
            m.setattr(render._Canvas, "ellipse", reference_ellipse)
            m.setattr(render._Canvas, "composite", reference_composite)
            m.setattr(render, "_polygon", reference_polygon)
            m.setattr(render._HeadFrame, "shade", reference_shade)
            return world.render(params, resolution, camera)

    return draw


def leaves(params):
    return params.map(lambda t: t.clone().requires_grad_(True))


@pytest.mark.parametrize("resolution", [64, 96])
def test_images_and_gradients_equal_the_plain_formulation(reference, resolution):
    p = world.sample_params(6, torch.Generator().manual_seed(11))
    weights = torch.randn(6, 3, resolution, resolution, generator=torch.Generator().manual_seed(5))
    new, old = leaves(p), leaves(p)
    image = world.render(new, resolution)
    expected = reference(old, resolution)
    assert torch.allclose(image, expected, atol=1e-5, rtol=0)
    (image * weights).sum().backward()
    (expected * weights).sum().backward()
    for field in attrs.fields(world.FaceParams):
        grad, want = getattr(new, field.name).grad, getattr(old, field.name).grad
        assert torch.allclose(grad, want, atol=1e-3 * (1 + want.abs().max()), rtol=1e-3), field.name
    with torch.no_grad():
        assert torch.allclose(world.render(p, resolution), expected, atol=1e-5, rtol=0)


def test_cameras_render_as_before(reference):
    from lsw_core.camera import Camera

    p = world.sample_params(3, torch.Generator().manual_seed(2))
    camera = Camera.make(azimuth=[-25.0, 0.0, 20.0], polar=[80.0, 95.0, 100.0])
    assert torch.allclose(world.render(p, 64, camera), reference(p, 64, camera), atol=1e-5, rtol=0)
