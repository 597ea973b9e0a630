"""Properties of the elementary operations and ray geometry (independent of the reference fixtures)."""

import math

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from lsw_core.camera import Camera
from lsw_stylenerf.layers import nn_cat_neighbours
from lsw_stylenerf.ops import filter2d, fir_filter, modulated_matmul, upsample2d
from lsw_stylenerf.rays import camera_rays, inverse_sphere_points, pixel_grid, sample_pdf_det, volume_weights

sizes = st.integers(4, 12)


@settings(max_examples=20, deadline=None)
@given(sizes, st.floats(-3, 3))
def test_fir_ops_keep_constant_images_constant_inside(n, value):
    x = torch.full((1, 2, n, n), value)
    f = fir_filter()
    assert filter2d(x, f).shape == x.shape
    assert torch.allclose(filter2d(x, f)[..., 2:-2, 2:-2], x[..., 2:-2, 2:-2], atol=1e-5)
    up = upsample2d(x, f)
    assert up.shape == (1, 2, 2 * n, 2 * n)
    assert torch.allclose(up[..., 3:-3, 3:-3], torch.full_like(up[..., 3:-3, 3:-3], value), atol=1e-5)


def test_nn_cat_neighbours_average_the_adjacent_pixels():
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    y = nn_cat_neighbours(x)
    assert y.shape == (1, 1, 6, 6)
    # output pixel (2, 2) is the top-left sub-pixel of input (1, 1): mean of its left (3) and upper (1) neighbours
    assert y[0, 0, 2, 2] == (3 + 1) / 2 and y[0, 0, 3, 3] == (5 + 7) / 2
    assert y[0, 0, 0, 0] == 0.0  # both neighbours outside the image


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(2, 6), st.integers(2, 6))
def test_modulated_matmul_demodulates_to_unit_norm(b, i, o):
    w, s = torch.randn(o, i), torch.rand(b, i) + 0.1
    eye = torch.eye(i).expand(b, i, i)
    y = modulated_matmul(eye, w, s)  # rows of y: the effective weight columns
    assert torch.allclose(y.square().sum(1), torch.ones(b, o), atol=1e-4)


@settings(max_examples=20, deadline=None)
@given(st.floats(-30, 30), st.floats(70, 110))
def test_centre_ray_points_at_the_origin(az, po):
    K_inv, c2w = Camera.make(az, po).matrices()
    origins, rays = camera_rays(K_inv, c2w, torch.zeros(1, 2))
    direction = rays[0, 0] / rays[0, 0].norm()
    assert torch.allclose(direction, -origins[0, 0] / origins[0, 0].norm(), atol=1e-5)
    assert math.isclose(rays[0, 0].norm().item(), 1.0, rel_tol=1e-5)  # image plane at depth 1


def test_pixel_grid_is_row_major_from_the_top():
    g = pixel_grid(4)
    assert torch.allclose(g[0], torch.tensor([-0.75, 0.75])) and torch.allclose(g[-1], torch.tensor([0.75, -0.75]))
    assert torch.allclose(g[1, 1], g[0, 1]) and g[1, 0] > g[0, 0]


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 9))
def test_volume_weights_sum_with_the_remaining_light_to_one(s):
    sigma, depth = torch.rand(2, 3, s) * 5, torch.sort(torch.rand(2, 3, s), -1).values
    w, remaining = volume_weights(sigma, depth, None, last_dist=0.0)
    assert torch.allclose(w.sum(-1) + remaining, torch.ones(2, 3), atol=1e-5)
    w_bg, _ = volume_weights(sigma, depth, None, last_dist=1e10)
    assert torch.allclose(w_bg.sum(-1), torch.ones(2, 3), atol=1e-5)


def test_hierarchical_samples_concentrate_where_the_weight_is():
    bins = torch.linspace(0, 1, 11)[None]
    weights = torch.zeros(1, 10)
    weights[0, 7] = 1.0
    samples = sample_pdf_det(bins, weights, 16)
    assert ((samples >= 0.7) & (samples <= 0.8)).float().mean() > 0.8
    assert torch.all(samples[:, 1:] >= samples[:, :-1])


def test_inverse_sphere_points_are_unit_directions_with_inverse_depth():
    origins = F.normalize(torch.randn(5, 3), dim=-1)  # cameras on the unit sphere, as in FFHQ
    dirs = F.normalize(-origins + 0.1 * torch.randn(5, 3), dim=-1)
    depth = torch.rand(5) * 0.5
    pts = inverse_sphere_points(origins, dirs, depth)
    assert torch.allclose(pts[:, :3].norm(dim=-1), torch.ones(5), atol=1e-5)
    assert torch.equal(pts[:, 3], depth)
