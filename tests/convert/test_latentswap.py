"""`lsw convert X.ckpt OUT --from latentswap`: the authors' Lightning file → a mixer folder whose
swaps equal the authors' computation (their `nn.Sequential` rows applied by hand)."""

from __future__ import annotations

import json
import os
import sys
import zipfile

import pytest
import torch
from click.testing import CliRunner

from lsw_core.cli import add_plugin_commands, cli
from lsw_core.convert.latentswap import convert_latentswap
from lsw_core.errors import CheckpointError
from lsw_core.formats.lightning import read_lightning_checkpoint
from lsw_core.mixing.swapper import Swapper
from lsw_stylegan2.loaders import CONFIG_F, build_generator
from lsw_stylegan2.shapes import init_kwargs_from_shapes
from tests.convert.latentswap_ckpt import SMALL_G, lightning_dict, save_lightning

NUM_WS, W = 8, 32  # SMALL_G: 32 px → 2·log2(32) − 2 = 8 W+ rows of 32


@pytest.fixture(scope="module")
def generator_state():
    torch.manual_seed(1)
    state = build_generator(SMALL_G, None).state_dict()
    state["mapping.w_avg"] = torch.randn(W) * 0.3  # a trained G_ema tracks a non-zero mean w
    return state


def _write(tmp_path, generator_state, name="latentswap.ckpt", **kw):
    ckpt, mixer = lightning_dict(generator_state=generator_state, num_ws=NUM_WS, w=W, **kw)
    path = tmp_path / name
    save_lightning(ckpt, path)
    return path, ckpt, mixer


def _lsw(*args):
    add_plugin_commands()
    return CliRunner().invoke(cli, list(map(str, args)))


def _one_error_line(result, message):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output


def test_wplus_checkpoint_converts_and_swaps_exactly_as_the_authors_rows(tmp_path, generator_state):
    path, ckpt, mixer = _write(tmp_path, generator_state, residual_coefficient=0.5)
    result = _lsw("convert", path, tmp_path / "out", "--from", "latentswap")
    assert result.exit_code == 0, result.output
    assert "W+ mixer, 8x32, residual coefficient 0.5, with generator" in result.output
    assert "omegaconf.dictconfig" not in sys.modules and "pytorch_lightning" not in sys.modules
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["step"] == 12345 and config["converted_from"]["hyper_parameters"]["loss"]["lp_weight"] == 100.0

    swapper = Swapper.from_folder(tmp_path / "out")
    G = swapper.generator
    for k, v in generator_state.items():
        assert torch.equal(G.state_dict()[k], v), k
    z_s, z_t = torch.randn(3, W), torch.randn(3, W)
    ws_s = G.mapping(z_s, truncation_psi=0.5, truncation_cutoff=8)
    ws_t = G.mapping(z_t, truncation_psi=0.5, truncation_cutoff=8)
    with torch.no_grad():
        by_hand = torch.stack(
            [row(torch.cat([ws_s[:, r], ws_t[:, r]], dim=1)) + 0.5 * ws_t[:, r] for r, row in enumerate(mixer.mixer)],
            dim=1,
        )
    assert (by_hand - ws_t).abs().mean() > 0.1  # the mixer does change the code
    torch.testing.assert_close(swapper.mix(ws_s, ws_t), by_hand, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(swapper.mix_z(z_s, z_t), by_hand, rtol=1e-5, atol=1e-5)
    reference = build_generator(SMALL_G, generator_state)
    images = swapper.swap(ws_s, ws_t).images
    torch.testing.assert_close(images, reference.synthesis(by_hand, noise_mode="const"), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("space", ["z", "w"])
def test_one_row_mixers_swap_as_the_authors_z_and_w_paths(tmp_path, generator_state, space):
    path, _, mixer = _write(tmp_path, generator_state, space=space, residual_coefficient=0.5)
    config = convert_latentswap(path, tmp_path / "out")
    assert config["latent_space"] == space and config["residual_coefficient"] == 1.0  # their Z/W add 1·target
    swapper = Swapper.from_folder(tmp_path / "out")
    G = swapper.generator
    z_s, z_t = torch.randn(4, W), torch.randn(4, W)
    with torch.no_grad():
        if space == "z":  # style_target + mixer(cat(z_s, z_t)), then mapped without truncation
            by_hand = G.mapping(z_t + mixer(torch.cat([z_s, z_t], 1)), truncation_psi=1.0)
        else:  # the untruncated w, mixed, copied to every row
            w_s, w_t = (G.mapping(z, truncation_psi=1.0)[:, 0] for z in (z_s, z_t))
            by_hand = (w_t + mixer(torch.cat([w_s, w_t], 1)))[:, None].expand(-1, NUM_WS, -1)
    torch.testing.assert_close(swapper.mix_z(z_s, z_t), by_hand, rtol=1e-5, atol=1e-5)


def test_a_one_row_mixer_without_latent_type_needs_the_space(tmp_path, generator_state):
    path, _, _ = _write(tmp_path, generator_state, space="w", latent_type_recorded=False)
    _one_error_line(_lsw("convert", path, tmp_path / "a", "--from", "latentswap"), "say which with --space z")
    assert _lsw("convert", path, tmp_path / "b", "--from", "latentswap", "--space", "w").exit_code == 0
    assert json.loads((tmp_path / "b" / "config.json").read_text())["latent_space"] == "w"


def test_residual_coefficient_defaults_to_one_without_hyper_parameters(tmp_path, generator_state):
    ckpt, _ = lightning_dict(generator_state=generator_state, num_ws=NUM_WS, w=W)
    del ckpt["hyper_parameters"], ckpt["hparams_name"]
    save_lightning(ckpt, tmp_path / "bare.ckpt")
    assert convert_latentswap(tmp_path / "bare.ckpt", tmp_path / "out")["residual_coefficient"] == 1.0


def _damaged(tmp_path, generator_state, how):
    ckpt, _ = lightning_dict(generator_state=generator_state, num_ws=NUM_WS, w=W)
    sd = ckpt["state_dict"]
    if how == "missing mixer key":
        del sd["identity_mixer.mixer.3.4.weight"]
    elif how == "missing last layer":
        for r in range(NUM_WS):
            del sd[f"identity_mixer.mixer.{r}.8.weight"], sd[f"identity_mixer.mixer.{r}.8.bias"]
    elif how == "wrong mixer shape":
        sd["identity_mixer.mixer.2.6.weight"] = torch.randn(W, W + 1)
    elif how == "wrong generator shape":
        sd["style_gan.synthesis.b16.conv0.weight"] = torch.randn(32, 16, 3, 3)
    elif how == "no mixer":
        ckpt["state_dict"] = {k: v for k, v in sd.items() if not k.startswith("identity_mixer.")}
    elif how == "unknown module":
        sd["discriminator.fc.weight"] = torch.randn(2, 2)
    path = tmp_path / "damaged.ckpt"
    save_lightning(ckpt, path)
    return path


@pytest.mark.parametrize(
    "how, message",
    [
        ("missing mixer key", "authors' mixer row 3: expected Linear layers 0,2,4,6,8"),
        ("missing last layer", "5 Linear layers per row"),
        ("wrong mixer shape", "layer 6 of row 2: expected weight [32, 32]"),
        ("wrong generator shape", "synthesis.b16.conv0.weight [32, 16, 3, 3] (expected [32, 32, 3, 3])"),
        ("no mixer", "no 'identity_mixer.*' weights"),
        ("unknown module", "unexpected keys ['discriminator.fc.weight']"),
    ],
)
def test_damaged_checkpoints_give_one_error_line(tmp_path, generator_state, how, message):
    path = _damaged(tmp_path, generator_state, how)
    _one_error_line(_lsw("convert", path, tmp_path / "out", "--from", "latentswap"), message)
    assert not (tmp_path / "out" / "config.json").exists()


def test_truncated_and_foreign_files_give_one_error_line(tmp_path, generator_state):
    path, _, _ = _write(tmp_path, generator_state)
    data = path.read_bytes()
    (tmp_path / "truncated.ckpt").write_bytes(data[: len(data) // 2])
    _one_error_line(_lsw("convert", tmp_path / "truncated.ckpt", tmp_path / "o", "--from", "latentswap"), "truncated")
    # A zip whose storage records were cut out: the pickle is whole, its tensors are not.
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp_path / "holes.ckpt", "w") as dst:
        for item in src.infolist():
            if "/data/" not in item.filename or item.filename.endswith("/0"):
                dst.writestr(item, src.read(item))
    _one_error_line(_lsw("convert", tmp_path / "holes.ckpt", tmp_path / "o", "--from", "latentswap"), "missing from")
    (tmp_path / "text.ckpt").write_text("not a checkpoint")
    _one_error_line(_lsw("convert", tmp_path / "text.ckpt", tmp_path / "o", "--from", "latentswap"), "torch.save zip")
    _one_error_line(
        _lsw("convert", path, tmp_path / "o", "--from", "latentswap", "-g", "stylegan2"), "drop --generator"
    )


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_reading_runs_nothing_from_the_file(tmp_path):
    marker = tmp_path / "ran"
    torch.save({"state_dict": {"a": torch.ones(2)}, "callbacks": _Exploit(marker)}, tmp_path / "evil.ckpt")
    ckpt = read_lightning_checkpoint(tmp_path / "evil.ckpt")
    assert not marker.exists() and torch.equal(ckpt["state_dict"]["a"], torch.ones(2))
    assert type(ckpt["callbacks"]).qualified_name.endswith(".system")
    with pytest.raises(CheckpointError, match="torch.save zip"):
        read_lightning_checkpoint(__file__)


def test_config_f_is_recognised_from_g_ema_shapes():
    """The FFHQ generator's shapes (meta tensors, no memory) give back NVIDIA's config-f."""
    with torch.device("meta"):
        G = build_generator(CONFIG_F, None)
    assert sum(p.numel() for p in G.parameters()) == 30_370_060  # NVIDIA's FFHQ-1024 G_ema, as it prints
    kw = init_kwargs_from_shapes(G.state_dict(), CONFIG_F)
    assert kw == {**CONFIG_F, "synthesis_kwargs": {**CONFIG_F["synthesis_kwargs"], "architecture": "skip"}}
    broken = dict(G.state_dict())
    broken["synthesis.b64.conv1.weight"] = torch.empty(300, 512, 3, 3, device="meta")
    with pytest.raises(CheckpointError, match="follow no rule"):
        init_kwargs_from_shapes(broken, CONFIG_F)
    del broken["synthesis.b32.conv1.weight"]
    with pytest.raises(CheckpointError, match="expected resolutions"):
        init_kwargs_from_shapes(broken, CONFIG_F)


@pytest.mark.slow
def test_the_smoothswap_embedder_is_written_for_the_existing_loader(tmp_path, generator_state):
    from lsw_core.plugins import load_identity_embedder
    from lsw_faces.smoothswap import SmoothSwapNet

    torch.manual_seed(2)
    net = SmoothSwapNet()
    for m in net.modules():  # a trained embedder's BatchNorm statistics are not the defaults
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2)
    path, _, _ = _write(tmp_path, generator_state, embedder_state=net.state_dict())
    config = convert_latentswap(path, tmp_path / "out")
    assert config["embedder_checkpoint"] == "smoothswap.pth"
    embedder = load_identity_embedder("smoothswap", checkpoint=tmp_path / "out" / "smoothswap.pth")
    for k, v in net.state_dict().items():
        assert torch.equal(embedder.net.state_dict()[k], v), k
