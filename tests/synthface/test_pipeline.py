"""The whole pipeline on the synthetic world through the CLI: train, evaluate with the oracle, swap
with layer groups, and multiview swaps on the 3D-aware backend."""

import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_lsw

QUICK = ["--batch-size", "2", "--steps", "2", "--sample-every", "2", "--log-every", "1", "-q"]


@pytest.fixture(scope="module")
def mixers(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    run_lsw(
        "train", "--generator", "synthface", "--generator-option", "resolution=64", *QUICK, "--out", str(root / "2d")
    )
    run_lsw(
        "train", "--generator", "synthface3d", "--generator-option", "resolution=64", *QUICK, "--out", str(root / "3d")
    )
    return root


def test_training_uses_the_worlds_components_and_writes_samples(mixers):
    cfg = json.loads((mixers / "2d" / "config.json").read_text())
    assert cfg["components"] == {"embedder": "synthface-id", "shape_model": "synthface-3dmm"}
    assert cfg["latent_layout"] == {"num_ws": 18, "w_dim": 512}
    log = [json.loads(x) for x in (mixers / "2d" / "log.jsonl").read_text().splitlines()]
    assert {"id", "lp", "shape"} <= set(log[-1])
    width, height = Image.open(mixers / "2d" / "samples" / "step_0000002.png").size
    assert height == 3 * 66 + 2 and width > 6 * 66 + 2  # three rows of six, and a column of row labels


def test_eval_reports_oracle_metrics_and_baselines(mixers):
    result = json.loads(run_lsw("eval", "--mixer", str(mixers / "2d"), "--pairs", "20").stdout)
    assert result["method"] == "oracle" and result["n_pairs"] == 20
    assert {"id_retrieval", "expression_error", "pose_error_deg"} <= set(result)
    assert result["baselines"]["return_source"]["id_retrieval"] == 1.0
    assert result["baselines"]["return_target"]["expression_error"] == 0.0


def test_multiview_swap_writes_a_strip_and_gif_with_one_identity(mixers, tmp_path):
    out = tmp_path / "strip.png"
    run_lsw("swap", "seed:1", "seed:2", "--mixer", str(mixers / "3d"), "--views", "5", "-o", str(out), "--save-latents")
    strip = np.asarray(Image.open(out))
    assert strip.shape == (3 * 66 + 2, 5 * 66 + 2, 3)
    views = [strip[2 + 2 * 66 : 2 + 2 * 66 + 64, 2 + v * 66 : 2 + v * 66 + 64] for v in range(5)]
    assert all(not np.array_equal(views[0], v) for v in views[1:])
    with Image.open(out.with_suffix(".gif")) as gif:
        assert gif.n_frames == 8
    # One W+ code serves every view, so the oracle identity is the same from every camera.
    import torch

    import lsw_core

    G = lsw_core.load_generator("synthface3d", resolution=64)
    ws = torch.from_numpy(np.load(out.with_suffix(".npy")))
    truth = G.ground_truth(ws)
    assert truth["identity"].shape == (1, 16)


def test_a_mixer_for_one_layout_refuses_the_other(mixers):
    result = run_lsw(
        "swap", "seed:1", "seed:2", "--mixer", str(mixers / "2d"), "--generator", "synthface3d", check=False
    )
    assert result.returncode == 2
    assert "18x512" in result.stderr and "21x512" in result.stderr


def test_demo_writes_a_swap_grid_the_mixer_and_its_metrics(tmp_path):
    """`lsw demo` end to end, cut to its first training steps (the full run is the README's)."""
    result = run_lsw("demo", "--out", str(tmp_path), "--steps", "2", "--pairs", "8", "-q")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["method"] == "oracle" and metrics["n_pairs"] == 8 and metrics["train_steps"] == 2
    assert {"id_retrieval", "expression_error", "pose_error_deg", "appearance_error"} <= set(metrics)
    assert json.loads(result.stdout[result.stdout.index("{") : result.stdout.rindex("}") + 1]) == metrics
    width, height = Image.open(tmp_path / "grid.png").size  # 5 × 5 swaps at 128 px, and labels
    assert width > 6 * 130 + 2 and height > 6 * 130 + 2
    config = json.loads((tmp_path / "mixer" / "config.json").read_text())
    assert config["training"]["generator_options"] == {"resolution": 96} and config["step"] == 2
    assert [p.name for p in (tmp_path / "mixer" / "samples").iterdir()] == ["step_0000002.png"]
    # two steps cannot reach the README's figures, and the demo says so
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "after 2 of 240 steps" in warning[0] and "id_retrieval" in warning[0]


@pytest.mark.slow
def test_demo_minutes_caps_the_training_and_estimates_the_time(tmp_path):
    result = run_lsw("demo", "--out", str(tmp_path), "--steps", "6", "--minutes", "0.0001", "--pairs", "4")
    assert json.loads((tmp_path / "metrics.json").read_text())["train_steps"] == 1
    assert "warning:" in result.stderr
    result = run_lsw("demo", "--out", str(tmp_path / "b"), "--steps", "6", "--pairs", "4")
    assert "training 6 steps:" in result.stderr and "s per step" in result.stderr
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["train_steps"] == 6
