"""W / W+ projection and PTI on a tiny generator: known latents are recovered to high PSNR, tuning
improves on projection, the caller's generator is left untouched, cameras are fitted."""

from __future__ import annotations

import copy

import pytest
import torch

from lsw_core.camera import Camera
from lsw_core.errors import LswError
from lsw_core.inversion import ProjectionConfig, TuningConfig, apply_delta, parameter_delta, project, tune
from lsw_core.plugins import load_inverter, registry
from lsw_lpips.fallback import PixelSSIM


def targets(G, n=2, seed=5):
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return G.mapping(z), G.synthesis(G.mapping(z))


def test_inverters_are_registered():
    assert {"w", "wplus", "pti"} <= set(registry("inverter"))


def test_w_projection_recovers_images_and_leaves_the_generator_alone(tiny_generator):
    G = tiny_generator
    before = {k: v.clone() for k, v in G.state_dict().items()}
    _, images = targets(G)
    inv = load_inverter("w", steps=100, lr=2e-2, init="search", perceptual="pixel-ssim").invert(G, images)
    assert inv.ws.shape == (2, G.num_ws, G.w_dim)
    assert torch.equal(inv.ws[:, 0], inv.ws[:, -1])  # a W code copied to every row
    assert min(inv.metrics["psnr"]) >= 30
    assert inv.generator is not G  # noise buffers were optimised on a copy
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())
    assert all(p.requires_grad for p in G.parameters())


def test_wplus_rows_differ_and_fit_at_least_as_well(tiny_generator):
    G = tiny_generator
    _, images = targets(G, seed=7)
    cfg = ProjectionConfig(steps=60, lr=2e-2, init="search")
    w = project(G, images, cfg, PixelSSIM())
    wp = project(G, images, ProjectionConfig(steps=60, lr=2e-2, init="search", space="wplus"), PixelSSIM())
    assert not torch.equal(wp.ws[:, 0], wp.ws[:, -1])
    assert sum(wp.metrics["psnr"]) >= sum(w.metrics["psnr"]) - 1.0


def test_pti_tunes_a_copy_that_reconstructs_better(tiny_generator):
    G = tiny_generator
    _, images = targets(G, seed=11)
    inverter = load_inverter("pti", schedule="fast", perceptual="pixel-ssim", projection_steps=40, tuning_steps=60,
                             tuning_early_stop_psnr=None)  # fmt: skip
    inv = inverter.invert(G, images)
    assert min(inv.metrics["psnr"]) > min(inv.metrics["projection_psnr"]) + 1
    assert inv.metrics["steps"] == 60
    assert inv.generator is not G
    delta = parameter_delta(G, inv.generator)
    assert delta and all(not k.endswith("w_avg") for k in delta)
    rebuilt = apply_delta(G, delta)
    with torch.no_grad():
        assert torch.allclose(rebuilt.synthesis(inv.ws), inv.generator.synthesis(inv.ws), atol=1e-5)


def test_pti_reuses_given_pivots_and_regularises_locality(tiny_generator):
    G = tiny_generator
    _, images = targets(G, seed=13)
    pivots = project(G, images, ProjectionConfig(steps=20, lr=2e-2), PixelSSIM())
    inverter = load_inverter("pti", perceptual="pixel-ssim", tuning_steps=5, tuning_locality_weight=0.1)
    out = inverter.refine(G, pivots, images)
    assert torch.equal(out.ws, pivots.ws)
    assert out.metrics["projection_steps"] == 20 and out.metrics["steps"] == 5


def test_projection_starts_from_the_tracked_w_avg_or_the_sampled_mean(tiny_generator):
    G = copy.deepcopy(tiny_generator)
    _, images = targets(G)
    start = project(G, images, ProjectionConfig(steps=0, init="w_avg"), PixelSSIM())
    assert torch.equal(start.ws, G.w_avg.expand(2, G.num_ws, -1))
    sampled = project(G, images, ProjectionConfig(steps=0, init="mean", w_avg_samples=500), PixelSSIM())
    assert not torch.equal(sampled.ws, start.ws)
    G.w_avg.zero_()  # never tracked (random weights): the sampled mean instead
    untracked = project(G, images, ProjectionConfig(steps=0, init="w_avg", w_avg_samples=500), PixelSSIM())
    assert torch.allclose(untracked.ws, sampled.ws, atol=1e-6)


def test_early_stopping_stops(tiny_generator):
    G = tiny_generator
    _, images = targets(G, seed=3)
    inv = project(G, images, ProjectionConfig(steps=200, lr=2e-2, init="search", early_stop_psnr=15.0), PixelSSIM())
    assert inv.metrics["steps"] < 200
    tuned = tune(G, inv, images, TuningConfig(steps=100, early_stop_psnr=10.0), PixelSSIM())
    assert tuned.metrics["steps"] == 1


def test_camera_aware_projection_fits_the_view(tiny_camera_generator):
    G = tiny_camera_generator
    z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ws = G.mapping(z)
        images = G.synthesis(ws, camera=Camera.make(azimuth=12.0, polar=90.0, fov=G.camera.fov))
    inv = project(G, images, ProjectionConfig(steps=150, lr=2e-2, camera_lr=0.5, init="search"), PixelSSIM())
    assert isinstance(inv.camera, Camera)
    assert abs(float(inv.camera.azimuth[0]) - 12.0) < 4.0


def test_bad_options_are_reported():
    with pytest.raises(LswError, match="unknown options"):
        load_inverter("w", perceptual="pixel-ssim", stepz=3)
    with pytest.raises(LswError, match="schedule"):
        load_inverter("pti", schedule="slow", perceptual="pixel-ssim")
    with pytest.raises(ValueError):
        load_inverter("w", perceptual="pixel-ssim", steps=-1)
