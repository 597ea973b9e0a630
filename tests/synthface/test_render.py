import attrs
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lsw_core.camera import Camera
from lsw_synthface import shape3d, world

CONTINUOUS = [f.name for f in attrs.fields(world.FaceParams)]


def params(batch=2, seed=0, dtype=torch.float32):
    return world.sample_params(batch, torch.Generator().manual_seed(seed)).to(dtype)


@settings(max_examples=12, deadline=None)
@given(st.integers(1, 4), st.sampled_from([16, 64, 128]), st.integers(0, 2**31 - 1))
def test_images_have_the_right_shape_and_range(batch, resolution, seed):
    img = world.render(params(batch, seed), resolution)
    assert img.shape == (batch, 3, resolution, resolution)
    assert img.min() >= -1 and img.max() <= 1 and torch.isfinite(img).all()


def test_rendering_is_deterministic_and_per_face():
    p = params(3)
    a, b = world.render(p, 32), world.render(p, 32)
    assert torch.equal(a, b)
    single = world.render(p.map(lambda t: t[1:2]), 32)
    assert torch.allclose(single[0], a[1], atol=1e-4)  # feature windows cut soft tails below 1e-4


def test_256_pixels_render():
    assert world.render(params(1), 256).shape == (1, 3, 256, 256)


@pytest.mark.parametrize("field", CONTINUOUS)
def test_render_gradients_match_finite_differences(field):
    p = params(1, seed=3, dtype=torch.float64)
    x = getattr(p, field).clone().requires_grad_(True)

    def f(value):
        return world.render(p.replace(**{field: value}), 12)

    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True)


def test_every_continuous_field_changes_the_image():
    p = params(2, seed=1)
    for field in CONTINUOUS:
        x = getattr(p, field).clone().requires_grad_(True)
        world.render(p.replace(**{field: x}), 32).sum().backward()
        assert (x.grad.abs().sum(0) > 0).all(), field


def test_landmarks_drive_the_features_the_renderer_draws():
    p = params(1, seed=2).replace(glasses=torch.zeros(1, 1))
    res = 128
    lm = world.project_landmarks(p.identity, p.expression, p.pose)[0]

    def patch(img, centre, r=3):
        x, y = (centre * res).long().tolist()
        return img[0, :, y - r : y + r, x - r : x + r]

    eye_open = p.replace(expression=p.expression.clone().index_fill_(1, torch.tensor([3]), -0.3))
    eye_shut = p.replace(expression=p.expression.clone().index_fill_(1, torch.tensor([3]), 1.2))
    centre = lm[36:42].mean(0)
    blue = torch.tensor([[0.1, 0.3, 0.9]])
    a, b = world.render(eye_open.replace(eyes=blue), res), world.render(eye_shut.replace(eyes=blue), res)
    assert (patch(a, centre) - patch(b, centre)).abs().mean() > 0.2  # the iris disappears when the eye closes
    shut = p.replace(expression=p.expression.clone().index_fill_(1, torch.tensor([1]), -0.5))
    wide = p.replace(expression=p.expression.clone().index_fill_(1, torch.tensor([1]), 1.0))
    mouth = world.project_landmarks(wide.identity, wide.expression, wide.pose)[0, 60:68].mean(0)
    # an open jaw shows the dark mouth interior (or teeth) where the lips met
    assert (patch(world.render(wide, res), mouth, 2) - patch(world.render(shut, res), mouth, 2)).abs().mean() > 0.1


def test_background_changes_leave_the_face_alone():
    p = params(1, seed=4)
    q = p.replace(background=1 - p.background, background2=1 - p.background2, pattern=p.pattern + 1.0)
    a, b = world.render(p, 64), world.render(q, 64)
    lm = world.project_landmarks(p.identity, p.expression, p.pose)[0]
    x0, y0 = (lm[[36, 45, 51]].mean(0) * 64).long().tolist()
    face = (slice(None), slice(None), slice(y0 - 4, y0 + 4), slice(x0 - 4, x0 + 4))
    assert torch.allclose(a[face], b[face], atol=1e-4)
    assert (a[..., :4, :4] - b[..., :4, :4]).abs().mean() > 0.05


def test_cameras_turn_and_zoom_the_head():
    p = params(1, seed=5)
    front = world.project_landmarks(p.identity, p.expression, p.pose, Camera.make())
    assert torch.allclose(front, world.project_landmarks(p.identity, p.expression, p.pose), atol=1e-6)
    side = world.project_landmarks(p.identity, p.expression, p.pose, Camera.make(azimuth=25.0))
    assert side[0, 30, 0] > front[0, 30, 0] + 0.02
    near = world.project_landmarks(p.identity, p.expression, p.pose, Camera.make(fov=8.0))
    spread = lambda lm: (lm - lm.mean(1, keepdim=True)).norm(dim=-1).mean()  # noqa: E731
    assert spread(near) > 1.4 * spread(front)
    seen = world.head_pose(p.pose, Camera.make(azimuth=25.0, polar=80.0))
    assert torch.allclose(
        shape3d.rotation(seen), shape3d.rotation(torch.tensor([[25.0, -10.0, 0]])) @ shape3d.rotation(p.pose), atol=1e-5
    )


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(-1.5, 1.5), st.floats(-60, 60), st.floats(-30, 30))
def test_extreme_faces_render_with_finite_gradients(seed, expression, yaw, azimuth):
    p = params(3, seed)
    p = p.replace(
        identity=p.identity.sign() * 3.0,
        expression=torch.full_like(p.expression, expression),
        pose=p.pose + torch.tensor([yaw, 0.0, 0.0]),
    )
    leaves = p.map(lambda t: t.clone().requires_grad_(True))
    img = world.render(leaves, 32, Camera.make(azimuth=azimuth, polar=100.0, fov=10.0))
    assert torch.isfinite(img).all() and img.abs().max() <= 1
    img.sum().backward()
    assert all(torch.isfinite(getattr(leaves, f).grad).all() for f in CONTINUOUS)
