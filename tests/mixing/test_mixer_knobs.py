"""The paper's remaining knobs: mixer depth and residual coefficient, and Z / W mixers through
`Swapper` and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lsw_core.errors import LswError
from lsw_core.interfaces import LatentLayout
from lsw_core.mixing.mixer import LatentMixer, layer_widths
from lsw_core.mixing.swapper import Swapper
from lsw_core.training.config import TrainConfig
from tests.conftest import TINY_TRAIN, run_lsw

TRAIN = ["train", *TINY_TRAIN, "--batch-size", "2", "--steps", "1", "-q"]


@pytest.mark.parametrize("depth", [1, 2, 3, 5, 7])
def test_every_depth_reads_2w_and_writes_w(depth):
    widths = layer_widths(512, depth)
    assert len(widths) == depth and widths[0][0] == 1024 and widths[-1][1] == 512
    assert all(a[1] == b[0] for a, b in zip(widths, widths[1:]))


def test_depth_five_is_the_papers_mixer():
    assert layer_widths(512) == [(1024, 1024), (1024, 1024), (1024, 512), (512, 512), (512, 512)]
    assert sum(p.numel() for p in LatentMixer(num_rows=1).parameters()) == 3_149_312
    assert [len(LatentMixer(num_rows=2, w_dim=8, depth=d).weights) for d in (2, 3, 7)] == [2, 3, 7]


@pytest.mark.parametrize("bad", [0, 17, 2.5, "3", True])
def test_bad_depths_are_refused(bad):
    with pytest.raises(LswError, match="mixer depth"):
        TrainConfig(generator="synthface", mixer_depth=bad)


def test_folders_without_a_depth_load_as_depth_five(tmp_path):
    mixer = LatentMixer(num_rows=2, w_dim=8)
    config = mixer.save_pretrained(tmp_path, backend="x", layout=LatentLayout(2, 8), space="w+")
    del config["mixer_depth"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    loaded = LatentMixer.from_pretrained(tmp_path)
    assert loaded.depth == 5
    s, t = torch.randn(3, 2, 8), torch.randn(3, 2, 8)
    torch.testing.assert_close(loaded(s, t), mixer(s, t))


@pytest.mark.slow
def test_train_records_depth_and_residual_coefficient_and_the_swap_honours_them(example_plugin, tmp_path):
    out = tmp_path / "m"
    run_lsw(*TRAIN, "--mixer-depth", "3", "--residual-coefficient", "0.5", "--out", str(out))
    config = json.loads((out / "config.json").read_text())
    assert config["mixer_depth"] == 3 and config["residual_coefficient"] == 0.5
    assert config["training"]["mixer_depth"] == 3 and config["training"]["residual_coefficient"] == 0.5
    swapper = Swapper.from_folder(out)
    mixer = swapper.mixer
    assert mixer.depth == 3 and len(mixer.weights) == 3 and mixer.residual_coefficient == 0.5
    s, t = torch.randn(2, 6, 32), torch.randn(2, 6, 32)
    mixer.residual_coefficient = 0.0
    without = mixer(s, t)
    mixer.residual_coefficient = 0.5
    torch.testing.assert_close(swapper.mix(s, t), without + 0.5 * t)
    result = run_lsw(*TRAIN, "--mixer-depth", "0", "--out", str(tmp_path / "bad"), check=False)
    assert result.returncode == 2 and result.stderr.strip().startswith("error: mixer depth"), result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("space", ["z", "w"])
def test_z_and_w_mixers_swap_through_swapper_and_cli(example_plugin, tmp_path, space):
    out = tmp_path / space
    run_lsw(*TRAIN, "--space", space, "--out", str(out))
    swapper = Swapper.from_folder(out)
    G = swapper.generator
    assert (swapper.mixer.num_rows, swapper.space) == (1, space)
    z_s, z_t = torch.randn(3, G.z_dim), torch.randn(3, G.z_dim)
    ws = swapper.mix_z(z_s, z_t)
    with torch.no_grad():
        if space == "z":
            expected = G.mapping(
                swapper.mixer(z_s[:, None], z_t[:, None])[:, 0], truncation_psi=0.5, truncation_cutoff=8
            )
        else:
            w_s, w_t = (G.mapping(z, truncation_psi=0.5)[:, :1] for z in (z_s, z_t))
            expected = swapper.mixer(w_s, w_t).expand(-1, G.num_ws, -1)
    torch.testing.assert_close(ws, expected)
    grid = tmp_path / f"{space}.png"
    run_lsw("swap", "seed:1,2", "seed:3", "--mixer", str(out), "-o", str(grid), "--save-latents")
    saved = np.load(grid.with_suffix(".npy"))  # the swaps of sources 1, 2 onto target 3
    expected = swapper.mix_z(swapper.latents_from_seeds([1, 2]), swapper.latents_from_seeds([3, 3]))
    torch.testing.assert_close(torch.from_numpy(saved), expected, rtol=1e-5, atol=1e-5)
    np.save(tmp_path / "ws.npy", saved[:1])
    result = run_lsw(
        "swap", str(tmp_path / "ws.npy"), "seed:3", "--mixer", str(out), "-o", str(tmp_path / "o.png"), check=False
    )
    if space == "z":
        assert result.returncode == 2 and "only swap codes sampled from z" in result.stderr, result.stderr
    else:
        assert result.returncode == 0, result.stderr
