"""`lsw_core.load_generator("stylegan2", checkpoint=...)` on every accepted format, and clear errors
on files it must refuse."""

from __future__ import annotations

import argparse
import copy

import pytest
import torch
from click.testing import CliRunner

import lsw_core
from lsw_core.cli import add_plugin_commands, cli
from lsw_core.errors import CheckpointError
from lsw_stylegan2.rosinality import to_rosinality

from .conftest import fixture_generator


def _image(G, ref):
    with torch.no_grad():
        return G.synthesis(ref["ws_psi07"], noise_mode="const")


@pytest.fixture(scope="module")
def skip32():
    return fixture_generator("skip32")


def test_plain_torch_file(tmp_path, skip32):
    G, init_kwargs, state, ref = skip32
    path = tmp_path / "g.pt"
    torch.save({"init_kwargs": init_kwargs, "state_dict": state}, path)
    loaded = lsw_core.load_generator("stylegan2", checkpoint=path)
    assert torch.equal(_image(loaded, ref), _image(G, ref))
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    torch.save({"init_kwargs": init_kwargs, "state_dict": state}, path, _use_new_zipfile_serialization=False)
    assert torch.equal(_image(lsw_core.load_generator("stylegan2", checkpoint=path), ref), _image(G, ref))


def test_convert_cli_writes_folder_that_loads(tmp_path, skip32):
    G, init_kwargs, state, ref = skip32
    src = tmp_path / "g.pt"
    torch.save({"init_kwargs": init_kwargs, "state_dict": state}, src)
    add_plugin_commands()
    result = CliRunner().invoke(cli, ["convert", str(src), str(tmp_path / "folder"), "--generator", "stylegan2"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "folder" / "config.json").is_file() and (tmp_path / "folder" / "model.safetensors").is_file()
    loaded = lsw_core.load_generator("stylegan2", checkpoint=tmp_path / "folder")
    assert torch.equal(_image(loaded, ref), _image(G, ref))
    assert loaded.init_kwargs == G.init_kwargs


def test_nvidia_snapshot_converts_to_a_folder_with_the_same_image(tmp_path):
    from safetensors.torch import load_file

    from .conftest import FIXTURES

    add_plugin_commands()
    result = CliRunner().invoke(
        cli, ["convert", str(FIXTURES / "snapshot16.pkl"), str(tmp_path / "f"), "-g", "stylegan2"]
    )
    assert result.exit_code == 0, result.output
    G = lsw_core.load_generator("stylegan2", checkpoint=tmp_path / "f")
    ref = load_file(str(FIXTURES / "snapshot16.reference.safetensors"))
    with torch.no_grad():
        assert (G.synthesis(ref["ws_psi07"]) - ref["img"]).abs().max() <= 1e-4


def _rosinality_generator():
    """A random-weight config without conv clamping (rosinality has none), written in rosinality's layout."""
    G, init_kwargs, state, ref = fixture_generator("skip32")
    init_kwargs = copy.deepcopy(init_kwargs)
    init_kwargs["synthesis_kwargs"]["conv_clamp"] = None
    init_kwargs["z_dim"] = init_kwargs["w_dim"]  # rosinality maps style_dim → style_dim
    state = dict(state)
    state["mapping.fc0.weight"] = torch.randn(init_kwargs["w_dim"], init_kwargs["w_dim"]) * 100
    G = lsw_core.load_generator("stylegan2", checkpoint=None, **init_kwargs)
    G.load_state_dict(state)
    return G, init_kwargs, state


def test_rosinality_checkpoint_converts_to_the_same_generator(tmp_path):
    G, init_kwargs, state = _rosinality_generator()
    g_ema, latent_avg = to_rosinality(init_kwargs, state)
    assert "style.1.weight" in g_ema and g_ema["convs.0.conv.weight"].ndim == 5
    path = tmp_path / "rosinality.pt"
    torch.save({"g_ema": g_ema, "latent_avg": latent_avg}, path)
    loaded = lsw_core.load_generator("stylegan2", checkpoint=path)
    z = torch.randn(2, init_kwargs["z_dim"])
    with torch.no_grad():
        for psi in (1.0, 0.5):
            assert torch.equal(loaded.mapping(z, psi), G.mapping(z, psi))
        ws = G.mapping(z, 0.7)
        assert (loaded.synthesis(ws) - G.synthesis(ws)).abs().max() <= 1e-5


def test_rosinality_training_checkpoint_without_latent_avg(tmp_path):
    G, init_kwargs, state = _rosinality_generator()
    g_ema, _ = to_rosinality(init_kwargs, state)
    path = tmp_path / "010000.pt"
    torch.save({"g": g_ema, "d": {}, "g_ema": g_ema, "args": argparse.Namespace(size=32, n_mlp=3)}, path)
    loaded = lsw_core.load_generator("stylegan2", checkpoint=path)
    with torch.no_grad():
        estimate = G.mapping(torch.randn(10_000, init_kwargs["z_dim"]))[:, 0].mean(0)
    assert torch.allclose(loaded.w_avg, estimate, atol=0.15 * estimate.abs().max().item())


def test_random_config_f_widths():
    G = lsw_core.load_generator("stylegan2", img_resolution=256)
    assert (G.num_ws, G.w_dim, G.z_dim, G.resolution) == (14, 512, 512, 256)
    assert G.synthesis_net.b256.conv1.weight.shape == (128, 128, 3, 3)


def test_other_architecture_is_refused(tmp_path, skip32):
    _, init_kwargs, state, _ = skip32
    sg3 = dict(init_kwargs, synthesis_kwargs={"channel_base": 32768, "magnitude_ema_beta": 0.999})
    torch.save({"init_kwargs": sg3, "state_dict": state}, tmp_path / "sg3.pt")
    with pytest.raises(CheckpointError, match=r"unknown arguments \['magnitude_ema_beta'\]"):
        lsw_core.load_generator("stylegan2", checkpoint=tmp_path / "sg3.pt")
    cond = dict(init_kwargs, c_dim=10)
    torch.save({"init_kwargs": cond, "state_dict": state}, tmp_path / "cond.pt")
    with pytest.raises(CheckpointError, match="c_dim=10"):
        lsw_core.load_generator("stylegan2", checkpoint=tmp_path / "cond.pt")


def test_unknown_key_layouts_are_refused(tmp_path, skip32):
    _, init_kwargs, state, _ = skip32
    torch.save({"generator": state}, tmp_path / "a.pt")
    with pytest.raises(CheckpointError, match=r"expected \{'init_kwargs', 'state_dict'\}.*found keys \['generator'\]"):
        lsw_core.load_generator("stylegan2", checkpoint=tmp_path / "a.pt")
    renamed = {k.replace("synthesis.", "synth."): v for k, v in state.items()}
    torch.save({"init_kwargs": init_kwargs, "state_dict": renamed}, tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match="missing: .*unexpected: "):
        lsw_core.load_generator("stylegan2", checkpoint=tmp_path / "b.pt")
    wider = dict(init_kwargs, w_dim=32)
    torch.save({"init_kwargs": wider, "state_dict": state}, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match=r"wrong shape: .* \[16, 16\] \(expected \[16, 32\]\)"):
        lsw_core.load_generator("stylegan2", checkpoint=tmp_path / "c.pt")


def test_truncated_torch_file_and_missing_path(tmp_path, skip32):
    _, init_kwargs, state, _ = skip32
    path = tmp_path / "g.pt"
    torch.save({"init_kwargs": init_kwargs, "state_dict": state}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 200])
    with pytest.raises(CheckpointError, match="truncated, corrupt"):
        lsw_core.load_generator("stylegan2", checkpoint=path)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        lsw_core.load_generator("stylegan2", checkpoint=tmp_path / "nope.pkl")


def test_cli_reports_refused_pickle_in_one_line(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    add_plugin_commands()
    result = CliRunner().invoke(cli, ["convert", str(path), str(tmp_path / "out"), "-g", "stylegan2"])
    assert result.exit_code == 2
    assert "os.system" in result.output and "refusing" in result.output
