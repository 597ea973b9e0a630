"""FID: the Inception-v3 port in the standard weights layout, the exact Fréchet distance, `lsw fid`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from lsw_core.cli import add_plugin_commands, cli
from lsw_core.errors import CheckpointError, LswError
from lsw_core.mixing.mixer import LatentMixer
from lsw_core.plugins import load_generator
from lsw_fid.frechet import frechet_distance, gaussian_stats, sqrtm_psd, trace_sqrt_product
from lsw_fid.inception import FIDInceptionV3, load_fid_inception, random_state_dict


def _psd(rng: np.random.Generator, n: int, rank: int | None = None) -> np.ndarray:
    a = rng.standard_normal((n, rank or n))
    return a @ a.T / n


def test_layout_is_the_pt_inception_file():
    """torchvision's Inception-v3 names, 1008 logits, no auxiliary head: 27,161,264 parameters of
    torchvision's inception_v3, less its 3,326,696-parameter AuxLogits, plus 8 more classes."""
    net = FIDInceptionV3()
    assert sum(p.numel() for p in net.parameters()) == 27_161_264 - 3_326_696 + 8 * 2048 + 8
    sd = net.state_dict()
    assert list(sd["Conv2d_1a_3x3.conv.weight"].shape) == [32, 3, 3, 3]
    assert list(sd["Mixed_7c.branch_pool.conv.weight"].shape) == [192, 2048, 1, 1]
    assert list(sd["Mixed_6b.branch7x7dbl_5.conv.weight"].shape) == [192, 128, 1, 7]
    assert list(sd["fc.weight"].shape) == [1008, 2048] and "Mixed_5b.branch1x1.bn.running_var" in sd


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("fid") / "pt_inception-random.pth"
    torch.save(random_state_dict(0), path)
    return path


@pytest.mark.slow
def test_random_weight_file_loads_and_gives_2048_features(inception_file, tmp_path):
    net = load_fid_inception(inception_file)
    images = torch.rand(3, 3, 64, 48)
    features = net(images)
    assert features.shape == (3, 2048) and torch.isfinite(features).all() and features.std() > 1e-3
    torch.testing.assert_close(net(images[1:2]), features[1:2], rtol=1e-4, atol=1e-5)  # eval BatchNorm
    with_counters = FIDInceptionV3().state_dict()  # files saved from a torch module carry BN counters
    torch.save(with_counters, tmp_path / "counters.pth")
    load_fid_inception(tmp_path / "counters.pth")


def test_foreign_weight_files_are_refused(tmp_path):
    state = FIDInceptionV3().state_dict()
    torch.save({k: v for k, v in state.items() if not k.startswith("Mixed_6c.")}, tmp_path / "missing.pth")
    torch.save({**state, "fc.weight": torch.zeros(1000, 2048)}, tmp_path / "shape.pth")
    (tmp_path / "cut.pth").write_bytes((tmp_path / "shape.pth").read_bytes()[:5000])
    for name, message in [
        ("missing", "missing: Mixed_6c"),
        ("shape", "wrong shape: fc.weight"),
        ("cut", "truncated, corrupt or not a torch file"),
    ]:
        with pytest.raises(CheckpointError, match=message):
            load_fid_inception(tmp_path / f"{name}.pth")


def test_sqrtm_and_trace_match_scipy_on_full_and_rank_deficient_matrices():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(0)
    for n, rank in [(6, None), (40, None), (40, 7), (64, 63)]:
        a, b = _psd(rng, n, rank), _psd(rng, n)
        root = sqrtm_psd(a)
        np.testing.assert_allclose(root @ root, a, atol=1e-10)
        np.testing.assert_allclose(root, root.T, atol=1e-12)
        reference = np.trace(scipy_linalg.sqrtm(a @ b)).real
        assert trace_sqrt_product(a, b) == pytest.approx(reference, rel=1e-6, abs=1e-8)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(0, 10), min_size=3, max_size=3),
    st.lists(st.floats(0, 10), min_size=3, max_size=3),
    st.lists(st.floats(-5, 5), min_size=3, max_size=3),
)
def test_frechet_distance_of_commuting_gaussians_is_closed_form(var1, var2, shift):
    """Diagonal covariances: d² = |Δμ|² + Σ (√a − √b)²."""
    mu1, mu2 = np.zeros(3), np.array(shift)
    expected = np.sum(np.square(shift)) + np.sum(np.square(np.sqrt(var1) - np.sqrt(var2)))
    d = frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert d == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert frechet_distance(mu2, np.diag(var2), mu1, np.diag(var1)) == pytest.approx(d, rel=1e-9, abs=1e-9)


def test_frechet_distance_of_a_rotated_gaussian_and_of_equal_sets():
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    sigma = q @ np.diag([4.0, 1, 0.25, 9, 0]) @ q.T
    # Σ₂ = c² Σ₁ gives Tr(Σ₁ + Σ₂ − 2cΣ₁) = (1 − c)² Tr Σ₁.
    # The zero eigenvalue costs √ε of rounding ε (here ~2e-7 of 57); a Schur sqrtm does no better.
    assert frechet_distance(np.ones(5), sigma, np.ones(5), 9 * sigma) == pytest.approx(4 * np.trace(sigma), rel=1e-8)
    features = rng.standard_normal((50, 8))
    stats = gaussian_stats(features)
    assert frechet_distance(*stats, *stats) == pytest.approx(0, abs=1e-9)
    with pytest.raises(LswError, match="at least 2"):
        gaussian_stats(features[:1])


@pytest.fixture
def w_mixer_folder(tmp_path):
    G = load_generator("synthface", resolution=64)
    mixer = LatentMixer(num_rows=1, w_dim=G.w_dim)
    training = {
        "generator": "synthface",
        "generator_options": {"resolution": 64},
        "truncation_psi": 0.5,
        "truncation_cutoff": 8,
    }
    mixer.save_pretrained(tmp_path / "mixer", backend="synthface", layout=G.latent_layout, space="w", training=training)
    return tmp_path / "mixer"


@pytest.mark.slow
def test_lsw_fid_measures_swaps_against_targets(w_mixer_folder, inception_file):
    add_plugin_commands()
    args = ["fid", "--mixer", str(w_mixer_folder), "--inception", str(inception_file), "--pairs", "3"]
    result = CliRunner().invoke(cli, [*args, "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["pairs"] == 3 and out["feature_dim"] == 2048
    assert out["fid_swap_vs_target"] > 0 and out["fid_source_vs_target"] > 0


def test_lsw_fid_refuses_a_wrong_weights_file_before_any_work(w_mixer_folder, tmp_path):
    add_plugin_commands()
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "x.pth")
    result = CliRunner().invoke(cli, ["fid", "--mixer", str(w_mixer_folder), "--inception", str(tmp_path / "x.pth")])
    assert result.exit_code == 2 and result.output.startswith("error: ") and "FID Inception-v3 layout" in result.output
    assert len(result.output.strip().splitlines()) == 1
