"""`lsw synthface fit` runs end to end, reproducibly, and writes loadable files."""

import json

import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import lsw_core
from lsw_core.cli import add_plugin_commands, cli
from lsw_synthface import world
from lsw_synthface.fit import METRICS_FILE, FitConfig, RenderPool, identity_targets, sample_faces
from lsw_synthface.nets import EMBEDDER_FILE, REGRESSOR_FILE
from lsw_synthface.world import EXPRESSION_DIM, IDENTITY_DIM

TINY = ["--steps", "2", "--pool-faces", "8", "--eval-identities", "4", "--eval-faces", "4", "--quiet"]


def _fit(out):
    add_plugin_commands()
    result = CliRunner().invoke(cli, ["synthface", "fit", "--out", str(out), *TINY])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def test_fit_command_writes_loadable_weights_and_a_report(tmp_path):
    result = _fit(tmp_path / "a")
    assert "identity retrieval" in result.output
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted([EMBEDDER_FILE, REGRESSOR_FILE, METRICS_FILE])
    report = json.loads((tmp_path / "a" / METRICS_FILE).read_text())
    assert report["command"].startswith("lsw synthface fit --out")
    assert report["settings"]["seed"] == 0 and report["fitting"]["steps"] == 2
    assert 0 <= report["metrics"]["identity_retrieval_128px"] <= 1
    embedder = lsw_core.load_identity_embedder("synthface-id", checkpoint=tmp_path / "a" / EMBEDDER_FILE)
    shape_model = lsw_core.load_shape_model("synthface-3dmm", checkpoint=tmp_path / "a" / REGRESSOR_FILE)
    images = torch.zeros(2, 3, 48, 48)
    assert embedder(images).shape == (2, embedder.dim) and embedder.mirror
    assert shape_model.landmarks(shape_model(images)).shape == (2, 68, 2)

    _fit(tmp_path / "b")  # same seed, same weights
    for name in (EMBEDDER_FILE, REGRESSOR_FILE):
        a, b = load_file(str(tmp_path / "a" / name)), load_file(str(tmp_path / "b" / name))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_render_pool_replaces_its_oldest_faces_and_truncates_some():
    config = FitConfig(render_resolution=16, truncated_fraction=0.5, min_psi=0.4)
    pool = RenderPool(3, config, generator=torch.Generator().manual_seed(0))
    pool.refresh(2)
    first = pool.coeffs.clone()
    pool.refresh(2)  # wraps around: slots 2, 0
    assert pool.rendered == 4 and pool.next == 1
    assert torch.equal(pool.coeffs[1], first[1]) and not torch.equal(pool.coeffs[0], first[0])
    images, coeffs, landmarks = pool.batch(5)
    assert images.shape == (5, 3, 16, 16) and coeffs.shape == (5, IDENTITY_DIM + EXPRESSION_DIM + 3)
    assert landmarks.shape == (5, 68, 2)

    faces = sample_faces(4000, config, torch.Generator().manual_seed(1))
    spread = faces.identity.std(0).mean()
    prior = world.sample_params(4000, generator=torch.Generator().manual_seed(1)).identity.std(0).mean()
    assert 0.7 * prior < spread < 0.92 * prior  # half the faces shrunk by ψ ~ U(0.4, 1)


def test_identity_targets_are_unit_vectors_that_order_identities_by_distance():
    mean, std = torch.zeros(2), torch.ones(2)
    t = identity_targets(torch.tensor([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]]), mean, std, anchor=2.0)
    assert torch.allclose(t.norm(dim=1), torch.ones(3))
    assert torch.allclose(t[0], torch.tensor([0.0, 0.0, 1.0]))
    assert (t[0] @ t[1]) > (t[0] @ t[2])
