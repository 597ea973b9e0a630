"""What a plugin author reads and runs: the backend example in docs/plugins.md, `lsw backends --strict`, and
the real-generator backend in plugins/dcgan_faces (when gan-face-generate is installed)."""

import re
import subprocess
import sys
import types

import pytest
import torch

import lsw_core
from lsw_core.plugins import plugin_manager, registry
from tests.conftest import ROOT, run_lsw


def docs_plugin_example() -> str:
    section = (ROOT / "docs" / "plugins.md").read_text().split("## Writing a backend plugin", 1)[1]
    return re.search(r"```python\n(# lsw_mygan/plugin.py\n.*?)```", section, re.S)[1]


def test_the_docs_backend_example_runs_as_written():
    module = types.ModuleType("lsw_mygan_plugin")
    exec(compile(docs_plugin_example(), "docs/plugins.md", "exec"), module.__dict__)
    pm = plugin_manager()
    pm.register(module, name="mygan")
    try:
        assert "mygan" in registry("generator")
        G = lsw_core.load_generator("mygan")
        ws = G.mapping(torch.randn(2, G.z_dim), truncation_psi=G.training_defaults.truncation_psi, truncation_cutoff=4)
        images = G.synthesis(ws)
        assert images.shape == (2, 3, 32, 32) and images.abs().max() <= 1
        assert G.training_defaults.embedder == "dlib-resnet" and G.backend_name == "mygan"
    finally:
        pm.unregister(module)


def test_backends_strict_exits_1_when_a_plugin_is_broken(example_plugin, tmp_path):
    assert run_lsw("backends", "--strict", env={"LSW_PLUGINS": "example"}).returncode == 0
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('boom at import')\n")
    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[lsw_core]\nbroken = broken_plugin\n")
    env = {"PYTHONPATH": f"{tmp_path}:{example_plugin}", "LSW_PLUGINS": "example,broken"}
    assert run_lsw("backends", env=env).returncode == 0
    for extra in ([], ["--json"]):
        strict = run_lsw("backends", "--strict", *extra, env=env, check=False)
        assert strict.returncode == 1 and "boom at import" in strict.stdout


def test_dcgan_faces_backend_wraps_the_real_generator(tmp_path, monkeypatch):
    pytest.importorskip("gan_face_generate")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
         str(tmp_path), str(ROOT / "plugins" / "dcgan_faces")],
        check=True,
    )  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    lsw_core.plugins.reset()
    try:
        G = lsw_core.load_generator("dcgan-faces")
        assert (G.z_dim, G.num_ws, G.w_dim, G.resolution) == (100, 1, 100, 64)
        assert G.training_defaults == lsw_core.TrainingDefaults(
            truncation_psi=1.0, truncation_cutoff=None, embedder="dlib-resnet"
        )
        z = torch.randn(2, 100, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            images = G.synthesis(G.mapping(z))
        assert images.shape == (2, 3, 64, 64) and images.abs().max() <= 1 and images.std() > 0.1
        # Frozen: batch norm runs on the stored statistics even in train mode.
        G.train()
        with torch.no_grad():
            assert torch.equal(G.synthesis(G.mapping(z)), images)
        assert G.layer_groups["middle"] == range(0)
    finally:
        lsw_core.plugins.reset()
