"""Cameras in user units → StyleNeRF's (K_inv, cam2world); the FFHQ prior of the backend."""

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lsw_core.camera import Camera, CameraSpec

angles = st.tuples(st.floats(-80, 80), st.floats(10, 170), st.floats(5, 60), st.floats(0.5, 3))


@settings(max_examples=40, deadline=None)
@given(angles)
def test_cam2world_is_a_look_at_from_the_sphere(params):
    az, po, fov, radius = params
    K_inv, c2w = Camera.make(az, po, fov, radius).matrices()
    R, t = c2w[0, :3, :3], c2w[0, :3, 3]
    assert torch.allclose(R.T @ R, torch.eye(3), atol=1e-5)
    assert torch.allclose(t.norm(), torch.tensor(radius), atol=1e-5)
    # the camera looks along its −z axis, at the origin
    assert torch.allclose(-R[:, 2], -t / t.norm(), atol=1e-5)
    assert torch.allclose(c2w[0, 3], torch.tensor([0.0, 0.0, 0.0, 1.0]))
    f = 1 / math.tan(math.radians(fov) / 2)
    assert torch.allclose(K_inv[0], torch.diag(torch.tensor([1 / f, 1 / f, 1.0, 1.0])), rtol=1e-5)


def test_frontal_camera_sits_on_plus_x_with_world_up_z():
    _, c2w = Camera.make(0.0, 90.0).matrices()
    assert torch.allclose(c2w[0, :3, 3], torch.tensor([1.0, 0.0, 0.0]), atol=1e-6)
    assert torch.allclose(c2w[0, :3, 1], torch.tensor([0.0, 0.0, 1.0]), atol=1e-6)  # image up = world up


def test_azimuth_turns_about_z_and_polar_tilts_from_it():
    _, c2w = Camera.make([90.0, 0.0], [90.0, 0.0]).matrices()
    assert torch.allclose(c2w[0, :3, 3], torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)
    assert torch.allclose(c2w[1, :3, 3], torch.tensor([0.0, 0.0, 1.0]), atol=1e-6)


def test_batches_give_one_matrix_per_camera():
    cams = Camera.cat([Camera.make(10.0, 80.0), Camera.make([-5.0, 5.0], 95.0, fov=20.0)])
    K_inv, c2w = cams.matrices()
    assert K_inv.shape == c2w.shape == (3, 4, 4)
    assert torch.allclose(cams[1].matrices()[1], c2w[1:2])


def test_ffhq_prior_ranges_and_uv_controls(tiny64):
    spec = tiny64.camera
    assert math.isclose(spec.azimuth_range[1], math.degrees(0.3)) and spec.azimuth_range[0] == -spec.azimuth_range[1]
    assert math.isclose(sum(spec.polar_range) / 2, 90.0) and spec.fov == 12.0 and spec.distribution == "gaussian"
    centre = spec.from_uv(0.5, 0.5)
    assert torch.allclose(centre.azimuth, torch.zeros(1), atol=1e-5)
    assert torch.allclose(centre.polar, torch.full((1,), 90.0), atol=1e-5)
    edge = spec.from_uv([0.0, 1.0], [0.0, 1.0])
    assert torch.allclose(edge.azimuth, torch.tensor(spec.azimuth_range, dtype=torch.float32))
    assert torch.allclose(edge.polar, torch.tensor(spec.polar_range, dtype=torch.float32))


def test_gaussian_prior_sampling_is_centred_with_half_range_deviation():
    spec = CameraSpec((-20.0, 20.0), (80.0, 100.0), distribution="gaussian")
    cams = spec.sample(4000, generator=torch.Generator().manual_seed(0))
    assert len(cams) == 4000
    assert abs(cams.azimuth.mean().item()) < 1.0 and abs(cams.azimuth.std().item() - 20.0) < 1.0
    assert abs(cams.polar.mean().item() - 90.0) < 0.5 and abs(cams.polar.std().item() - 10.0) < 0.5


def test_presets_sweep_and_orbit_stay_in_the_prior(tiny64):
    spec = tiny64.camera
    sweep, orbit = spec.yaw_sweep(5), spec.orbit(8)
    assert len(sweep) == 5 and len(orbit) == 8
    assert torch.allclose(sweep.azimuth[[0, -1]], torch.tensor(spec.azimuth_range, dtype=torch.float32))
    assert bool((orbit.polar >= spec.polar_range[0] - 1e-4).all() and (orbit.polar <= spec.polar_range[1] + 1e-4).all())
