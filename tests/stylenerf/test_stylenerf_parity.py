"""Numerical parity with the reference StyleNeRF implementation on random-weight FFHQ-config models
(fixtures made by running the reference code; see tests/fixtures/stylenerf/README.md)."""

import sys

import pytest
import torch

from lsw_core.camera import Camera

TOL = 5e-4


def test_mapping_matches_reference_truncated_and_untruncated(tiny64, expected64):
    for psi, ws in expected64["ws"].items():
        assert torch.allclose(tiny64.mapping(expected64["z"], truncation_psi=float(psi)), ws, atol=1e-5, rtol=0)


@pytest.mark.parametrize("index", range(4))
def test_render_matches_reference(tiny64, expected64, index):
    r = expected64["renders"][index]
    ws = expected64["ws"][str(r["psi"])]
    with torch.no_grad():
        out = tiny64.render(ws, camera=(r["K_inv"], r["cam2world"]), background=expected64["bg"])
    assert (out.nerf_img - r["nerf_img"]).abs().max() < TOL
    assert (out.feat - r["feat"]).abs().max() < TOL
    assert (out.img - r["img"]).abs().max() < TOL
    assert out.img.shape == (2, 3, 64, 64) and out.nerf_img.shape == (2, 3, 32, 32)


@pytest.mark.parametrize("index", range(4))
def test_camera_from_uv_matches_reference_matrices(tiny64, expected64, index):
    r = expected64["renders"][index]
    K_inv, cam2world = tiny64.camera.from_uv(r["u"], r["v"]).matrices()
    assert torch.allclose(K_inv, r["K_inv"][:1], atol=1e-7, rtol=0)
    assert torch.allclose(cam2world, r["cam2world"][:1], atol=1e-6, rtol=0)


def test_synthesis_with_camera_object_matches_reference(tiny64, expected64):
    r = expected64["renders"][2]
    cam = tiny64.camera.from_uv(r["u"], r["v"])
    assert isinstance(cam, Camera)
    with torch.no_grad():
        img = tiny64.synthesis(expected64["ws"]["1.0"], camera=cam, background=expected64["bg"], noise_mode="const")
    assert (img - r["img"]).abs().max() < TOL


def test_larger_model_with_more_rows_matches_reference(fixtures_dir):
    from lsw_stylenerf.loader import load_stylenerf

    G = load_stylenerf(fixtures_dir / "tiny128.pt")
    exp = torch.load(fixtures_dir / "tiny128_expected.pt", weights_only=True)
    assert G.num_ws == 15 and G.resolution == 128
    r = exp["renders"][0]
    ws = G.mapping(exp["z"], truncation_psi=0.7)
    assert torch.allclose(ws, exp["ws"]["0.7"], atol=1e-5, rtol=0)
    with torch.no_grad():
        out = G.render(ws, camera=(r["K_inv"], r["cam2world"]), background=exp["bg"])
    for key in ("img", "nerf_img", "feat"):
        assert (getattr(out, key) - r[key]).abs().max() < TOL, key


def test_official_pickle_with_omegaconf_kwargs_loads_the_same_network(tiny64, fixtures_dir):
    from lsw_stylenerf.loader import load_stylenerf

    G = load_stylenerf(fixtures_dir / "tiny64_omegaconf.pkl")
    assert "omegaconf" not in sys.modules and "training" not in sys.modules and "torch_utils" not in sys.modules
    assert G.init_kwargs["synthesis_kwargs"]["camera_kwargs"]["range_u"] == [-0.3, 0.3]
    ours, theirs = G.state_dict(), tiny64.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
