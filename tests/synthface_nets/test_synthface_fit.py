"""`lsw synthface fit` runs end to end, reproducibly, and writes loadable files."""

import json

import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import lsw_core
from lsw_core.cli import _add_commands, cli
from lsw_synthface.fit import METRICS_FILE, RenderPool
from lsw_synthface.nets import EMBEDDER_FILE, REGRESSOR_FILE
from lsw_synthface.world import IDENTITY_DIM

TINY = ["--steps", "2", "--pool-identities", "8", "--eval-identities", "4", "--eval-faces", "4", "--quiet"]


def _fit(out):
    _add_commands()
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
    assert embedder(images).shape == (2, embedder.dim)
    assert shape_model.landmarks(shape_model(images)).shape == (2, 68, 2)

    _fit(tmp_path / "b")  # same seed, same weights
    for name in (EMBEDDER_FILE, REGRESSOR_FILE):
        a, b = load_file(str(tmp_path / "a" / name)), load_file(str(tmp_path / "b" / name))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_render_pool_keeps_views_of_one_identity_together():
    pool = RenderPool(identities=3, views=2, resolution=16, generator=torch.Generator().manual_seed(0))
    pool.refresh(2)
    pool.refresh(2)  # wraps around: identity slots 2, 0
    assert pool.rendered == 8 and pool.next == 1
    images, labels, coeffs = pool.identity_batch(3)
    assert images.shape == (6, 3, 16, 16) and labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert torch.equal(coeffs[0::2, :IDENTITY_DIM], coeffs[1::2, :IDENTITY_DIM])
    assert not torch.equal(coeffs[0::2, IDENTITY_DIM:], coeffs[1::2, IDENTITY_DIM:])
