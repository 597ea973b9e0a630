import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import TINY_TRAIN, run_lsw

TRAIN = ["train", *TINY_TRAIN, "--batch-size", "4", "--steps", "3", "-q"]


@pytest.mark.parametrize("command", ["backends", "train", "swap", "demo", "eval", "convert"])
def test_every_command_has_help_with_a_description(command):
    out = run_lsw(command, "--help").stdout
    assert out.startswith("Usage: lsw " + command) and len(out.splitlines()) > 6


def test_train_then_swap_grid_and_latents(example_plugin, tmp_path):
    run_lsw(*TRAIN, "--out", str(tmp_path / "mixer"))
    cfg = json.loads((tmp_path / "mixer" / "config.json").read_text())
    assert cfg["backend"] == "example-tiny" and cfg["step"] == 3 and cfg["training"]["lambda_lp"] == 100
    grid = tmp_path / "grid.png"
    run_lsw("swap", "seed:1,2,3", "seed:4,5", "--mixer", str(tmp_path / "mixer"), "-o", str(grid), "--save-latents")
    # 3 sources on top + 1 corner, 2 targets + 1 header row, 16 px cells with 2 px padding.
    assert Image.open(grid).size == (4 * 18 + 2, 3 * 18 + 2)
    ws = np.load(grid.with_suffix(".npy"))
    assert ws.shape == (6, 6, 32)
    np.save(tmp_path / "src.npy", ws[:1])
    run_lsw(
        "swap", str(tmp_path / "src.npy"), "seed:9", "--mixer", str(tmp_path / "mixer"), "-o", str(tmp_path / "one.png")
    )
    assert Image.open(tmp_path / "one.png").size == (16, 16)


@pytest.fixture(scope="module")
def trained_once(example_prefix, tmp_path_factory):
    mixer = tmp_path_factory.mktemp("cli") / "mixer"
    one_step = [*TRAIN[: TRAIN.index("--steps")], "--steps", "1", "-q"]
    run_lsw(*one_step, "--out", str(mixer), env={"PYTHONPATH": str(example_prefix)})
    return mixer


@pytest.mark.parametrize(
    "args, message",
    [
        (["swap", "seed:1", "seed:x", "--mixer", "{mixer}"], "expected seed:N"),
        (["swap", "seed:1", "missing.png", "--mixer", "{mixer}"], "no such file or folder"),
        (["swap", "seed:1", "seed:2", "--mixer", "{mixer}", "--views", "3"], "needs a camera-aware generator"),
        (["swap", "seed:1", "seed:2", "--mixer", "{mixer}", "--groups", "eyes"], "unknown layer group"),
        (["swap", "{bad_npy}", "seed:2", "--mixer", "{mixer}"], "expected W+ codes of shape [B, 6, 32]"),
        (["swap", "seed:1", "seed:2", "--mixer", "{tmp}"], "not a mixer folder"),
        (["train", "--resume", "{tmp}"], "nothing to resume"),
    ],
)
def test_user_errors_print_one_line_and_exit_2(example_plugin, trained_once, tmp_path, args, message):
    mixer = trained_once
    np.save(tmp_path / "bad.npy", np.zeros((1, 18, 512), dtype=np.float32))
    args = [a.format(mixer=mixer, tmp=tmp_path, bad_npy=tmp_path / "bad.npy") for a in args]
    result = run_lsw(*args, check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr


def test_eval_without_ground_truth_asks_for_an_embedder(example_plugin, trained_once):
    result = run_lsw("eval", "--mixer", str(trained_once), check=False)
    assert result.returncode == 2 and "pass --judge NAME, or --embedder (and --shape-model for pose" in result.stderr


def test_edit_swapped_latents_along_a_ganspace_component(example_plugin, trained_once, tmp_path):
    run_lsw("swap", "seed:1", "seed:2", "--mixer", str(trained_once), "-o", str(tmp_path / "s.png"), "--save-latents")
    run_lsw(
        "edit",
        str(tmp_path / "s.npy"),
        "--generator",
        "example-tiny",
        "--ganspace",
        "0",
        "--groups",
        "coarse",
        "-o",
        str(tmp_path / "e.png"),
    )
    frames = np.asarray(Image.open(tmp_path / "e.png"))
    assert frames.shape == (16 + 4, 5 * 18 + 2, 3)
    assert (tmp_path / "e.gif").exists()
    # The middle strength (0) reproduces the unedited swap.
    swap = np.asarray(Image.open(tmp_path / "s.png"))
    assert np.array_equal(frames[2:18, 2 + 2 * 18 : 2 + 2 * 18 + 16], swap)
