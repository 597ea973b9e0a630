"""Numerical parity with NVIDIA stylegan2-ada-pytorch on random-weight fixtures (see the fixtures'
README): mapping at three truncation settings and synthesis with constant noise, max |Δ| ≤ 1e-4."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import lsw_core

from .conftest import FIXTURES, fixture_generator

TOL = 1e-4
CONFIGS = ["skip32", "orig32", "resnet32", "skip1024"]


@pytest.mark.parametrize("name", CONFIGS)
def test_mapping_matches_reference(name):
    G, _, _, ref = fixture_generator(name)
    with torch.no_grad():
        for key, psi, cutoff in [("ws_psi1", 1.0, None), ("ws_psi07", 0.7, None), ("ws_psi07_cut8", 0.7, 8)]:
            ws = G.mapping(ref["z"], truncation_psi=psi, truncation_cutoff=cutoff)
            assert (ws - ref[key]).abs().max().item() <= TOL, key
    if G.num_ws > 8:  # the cutoff is exercised: rows past 8 stay untruncated
        assert torch.equal(ref["ws_psi07_cut8"][:, 8:], ref["ws_psi1"][:, 8:])
        assert not torch.allclose(ref["ws_psi07_cut8"], ref["ws_psi07"])


@pytest.mark.parametrize("name", CONFIGS)
def test_synthesis_matches_reference(name):
    G, _, _, ref = fixture_generator(name)
    with torch.no_grad():
        img = G.synthesis(ref["ws_psi07"], noise_mode="const")
    assert img.shape == (ref["z"].shape[0], 3, G.resolution, G.resolution)
    if "img" in ref:
        assert (img - ref["img"]).abs().max().item() <= TOL
    else:  # 1024 px: the fixture keeps a strided subset and 8×8 means of the image
        assert (img[:, :, 3::8, 5::8] - ref["img_sub"]).abs().max().item() <= TOL
        assert (F.avg_pool2d(img, 8) - ref["img_pool"]).abs().max().item() <= TOL


def test_1024_layout_has_18_ws_and_paper_groups():
    G, _, _, _ = fixture_generator("skip1024")
    assert (G.num_ws, G.resolution) == (18, 1024)
    assert G.layer_groups == {
        "coarse": range(0, 4),
        "middle": range(4, 8),
        "fine1": range(8, 12),
        "fine2": range(12, 18),
    }


def test_noise_const_buffers_matter():
    """Guards against a parity test that would pass with noise ignored."""
    G, _, _, ref = fixture_generator("skip32")
    with torch.no_grad():
        a = G.synthesis(ref["ws_psi07"], noise_mode="const")
        b = G.synthesis(ref["ws_psi07"], noise_mode="none")
    assert (a - b).abs().max() > 1e-2


def test_reference_snapshot_pickle_gives_reference_image():
    """A network pickle written by the reference training loop's snapshot code."""
    G = lsw_core.load_generator("stylegan2", checkpoint=FIXTURES / "snapshot16.pkl")
    ref = load_file(str(FIXTURES / "snapshot16.reference.safetensors"))
    with torch.no_grad():
        ws = G.mapping(ref["z"], truncation_psi=0.7)
        img = G.synthesis(ws, noise_mode="const")
    assert (ws - ref["ws_psi07"]).abs().max().item() <= TOL
    assert (img - ref["img"]).abs().max().item() <= TOL
