"""Loading StyleNeRF checkpoints: official pickles (never executed), torch files, our folders; errors."""

import os
import pickle

import pytest
import torch

from lsw_core.errors import CheckpointError, PluginError
from lsw_core.formats.generator_folder import save_generator
from lsw_stylenerf import plugin
from lsw_stylenerf.loader import load_stylenerf


def save_folder(G, path):
    save_generator(G, path)
    return path


def _renders_like(G, reference) -> bool:
    ws = G.mapping(torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        return torch.equal(G.synthesis(ws), reference.synthesis(ws))


def test_folder_round_trip_renders_the_same(tiny64, tmp_path):
    path = save_folder(tiny64, tmp_path / "G")
    assert sorted(os.listdir(path)) == ["config.json", "model.safetensors"]
    assert _renders_like(load_stylenerf(path), tiny64)
    assert [p.name for p in tmp_path.iterdir()] == ["G"]  # no temporary left behind


def test_lsw_convert_writes_a_folder_the_backend_loads(fixtures_dir, tiny64, tmp_path):
    from click.testing import CliRunner

    from lsw_core.cli import add_plugin_commands, cli
    from lsw_core.plugins import load_generator

    add_plugin_commands()
    out = tmp_path / "converted"
    res = CliRunner().invoke(cli, ["convert", str(fixtures_dir / "tiny64.pt"), str(out), "-g", "stylenerf"])
    assert res.exit_code == 0, res.output
    assert _renders_like(load_generator("stylenerf", checkpoint=out), tiny64)


def test_folders_of_the_older_stylenerf_format_still_load(tiny64, tmp_path):
    import json

    from safetensors.torch import save_file

    old = tmp_path / "old"
    old.mkdir()
    config = {"format": "lsw-stylenerf", "backend": "stylenerf", "num_ws": tiny64.num_ws, "w_dim": tiny64.w_dim,
              "resolution": tiny64.resolution, "init_kwargs": tiny64.init_kwargs}  # fmt: skip
    (old / "config.json").write_text(json.dumps(config, indent=2))
    save_file({k: v.contiguous() for k, v in tiny64.state_dict().items()}, str(old / "model.safetensors"))
    assert _renders_like(load_stylenerf(old), tiny64)


def test_folder_missing_weights(tiny64, tmp_path):
    path = save_folder(tiny64, tmp_path / "G")
    (path / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="model.safetensors is missing"):
        load_stylenerf(path)


def test_torch_file_errors(fixtures_dir, tmp_path):
    data = torch.load(fixtures_dir / "tiny64.pt", weights_only=True)
    torch.save({"state_dict": data["state_dict"]}, tmp_path / "a.pt")
    with pytest.raises(CheckpointError, match="'init_kwargs' and 'state_dict'"):
        load_stylenerf(tmp_path / "a.pt")
    sd = dict(data["state_dict"])
    sd.pop("synthesis.b64.torgb.weight")
    torch.save({"init_kwargs": data["init_kwargs"], "state_dict": sd}, tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match="missing: synthesis_network.b64.torgb.weight"):
        load_stylenerf(tmp_path / "b.pt")
    sd = dict(data["state_dict"], **{"synthesis.alpha": torch.tensor(0.5)})
    torch.save({"init_kwargs": data["init_kwargs"], "state_dict": sd}, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="progressive growing"):
        load_stylenerf(tmp_path / "c.pt")


def test_unsupported_architecture_options_are_named(fixtures_dir, tmp_path):
    data = torch.load(fixtures_dir / "tiny64.pt", weights_only=True)
    data["init_kwargs"]["synthesis_kwargs"]["foreground_kwargs"]["use_viewdirs"] = True
    torch.save(data, tmp_path / "v.pt")
    with pytest.raises(CheckpointError, match="use_viewdirs"):
        load_stylenerf(tmp_path / "v.pt")
    data["init_kwargs"]["synthesis_kwargs"]["foreground_kwargs"]["use_viewdirs"] = False
    data["init_kwargs"]["synthesis_kwargs"]["upsample_mode"] = "default"
    torch.save(data, tmp_path / "u.pt")
    with pytest.raises(CheckpointError, match="upsample_mode"):
        load_stylenerf(tmp_path / "u.pt")


class _Payload:
    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_pickle_that_would_run_code_is_refused(tmp_path):
    payload = _Payload()
    payload.target = str(tmp_path / "pwned")
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"G_ema": payload}))
    with pytest.raises(CheckpointError, match="posix.mkdir|os.mkdir|nt.mkdir"):
        load_stylenerf(tmp_path / "evil.pkl")
    assert not (tmp_path / "pwned").exists()


def test_pickle_without_generator(tmp_path):
    (tmp_path / "d.pkl").write_bytes(pickle.dumps({"D": None}))
    with pytest.raises(CheckpointError, match="'G_ema'"):
        load_stylenerf(tmp_path / "d.pkl")


def test_missing_path_and_stray_options(fixtures_dir, tmp_path):
    with pytest.raises(CheckpointError, match="found nothing there"):
        load_stylenerf(tmp_path / "nope.pkl")
    with pytest.raises(CheckpointError, match="only apply without a checkpoint"):
        load_stylenerf(fixtures_dir / "tiny64.pt", resolution=256)


def test_missing_dependency_names_the_extra(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "einops", None)
    with pytest.raises(PluginError, match=r"lsw-core\[stylenerf\]"):
        plugin._factory(None)


def test_omegaconf_interpolations_resolve_from_the_pickled_root():
    from lsw_stylenerf.loader import _DictConfig, _ValueNode, to_plain

    def node(v):
        n = _ValueNode()
        n.__setstate__({"_val": v})
        return n

    def dc(content, parent=None):
        d = _DictConfig()
        d.__setstate__({"_content": content, "_parent": parent})
        return d

    root = dc({})
    spec = dc({"map": node(8)}, root)
    model = dc({"num_layers": node("${spec.map}"), "other": node("${nowhere.x}"), "z": node(3)}, root)
    root.state["_content"].update(spec=spec, model=model)
    assert to_plain(model) == {"num_layers": 8, "other": "${nowhere.x}", "z": 3}


def test_unresolved_mapping_depth_is_read_from_the_weights(fixtures_dir, tmp_path):
    data = torch.load(fixtures_dir / "tiny64.pt", weights_only=True)
    data["init_kwargs"]["mapping_kwargs"]["num_layers"] = "${spec.map}"
    torch.save(data, tmp_path / "m.pt")
    assert load_stylenerf(tmp_path / "m.pt").config.mapping_layers == 4
