"""Run folders through the real `lsw train` / `swap` / `eval` commands: nothing lost, nothing mixed.

Every refused command must exit 2 with one `error:` line and leave the folder byte-identical."""

import json
import math
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import lsw_core.plugins
from lsw_core import CheckpointError, LswError
from lsw_core.cli import add_plugin_commands, cli
from lsw_core.errors import TrainingDiverged
from lsw_core.mixing.swapper import Swapper
from lsw_core.training.trainer import MixerTrainer
from tests.conftest import TINY_TRAIN, tiny_train_config

TINY = [*TINY_TRAIN, "--batch-size", "2", "--lr", "1e-3", "-q"]
HUGE_LR = [*TINY_TRAIN, "--batch-size", "2", "--lr", "1e30", "-q"]  # an option is given once: no overriding


def lsw(*args):
    add_plugin_commands()
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_ok(result):
    assert result.exit_code == 0, result.output + repr(result.exception)


def assert_refused(result, *phrases):
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output + repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert all(p in lines[0] for p in phrases), lines[0]
    assert "Traceback" not in result.output


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def log_steps(folder: Path) -> list[int]:
    """Steps of the loss records (the step-0 record holds the loss scales measured before training)."""
    records = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]
    return [r["step"] for r in records if "calibration" not in r]


@pytest.fixture(scope="module")
def template(example_prefix, tmp_path_factory):
    """A finished 3-step run (a log line per step, samples at step 3)."""
    run = tmp_path_factory.mktemp("runs") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(example_prefix))
        lsw_core.plugins.reset()
        args = ["--steps", 3, "--log-every", 1, "--sample-every", 3, "--minutes", 30]
        assert_ok(lsw("train", *TINY, *args, "--out", run))
    lsw_core.plugins.reset()
    return run


@pytest.fixture
def run(template, example_plugin, tmp_path):
    """A private copy of the template run."""
    shutil.copytree(template, tmp_path / "run")
    return tmp_path / "run"


def test_a_new_run_into_a_non_empty_folder_is_refused(run, tmp_path):
    before = snapshot(run)
    assert_refused(lsw("train", *TINY, "--steps", 2, "--out", run), str(run), "--overwrite", f"--resume {run}")
    assert snapshot(run) == before

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    assert_refused(lsw("train", *TINY, "--steps", 2, "--out", notes), "not empty")
    assert sorted(p.name for p in notes.iterdir()) == ["todo.txt"]  # no lock file left behind


def test_an_output_folder_that_cannot_be_written_is_one_error(example_plugin, tmp_path):
    (tmp_path / "file").write_text("x")
    assert_refused(lsw("train", *TINY, "--out", tmp_path / "file" / "run"), "cannot write a run there")
    assert_refused(lsw("train", *TINY, "--out", "/proc/lsw-run"), "cannot write a run there")


def test_overwrite_starts_over_and_removes_only_a_runs_files(run):
    (run / ".mixer.safetensors.k2j4h1.tmp").write_bytes(b"\0" * 100)
    assert_ok(lsw("train", *TINY, "--steps", 2, "--log-every", 1, "--out", run, "--overwrite"))
    assert sorted(p.name for p in run.iterdir()) == [
        "config.json",
        "log.jsonl",
        "mixer.safetensors",
        "trainer_state.pt",
    ]
    assert log_steps(run) == [1, 2]
    assert json.loads((run / "config.json").read_text())["step"] == 2

    (run / "notes.txt").write_text("mine")
    before = snapshot(run)
    assert_refused(lsw("train", *TINY, "--steps", 2, "--out", run, "--overwrite"), "notes.txt", "not a training run's")
    assert snapshot(run) == before


def test_a_second_writer_is_refused_while_the_first_runs_and_a_killed_run_resumes(example_plugin, tmp_path):
    folder = tmp_path / "live"
    args = [*TINY, "--steps", "100000", "--log-every", "1", "--checkpoint-every", "5", "--out", str(folder)]
    first = subprocess.Popen([str(Path(sys.executable).parent / "lsw"), "train", *args], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while not (folder / "trainer_state.pt").exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first.poll() is None, first.stderr.read().decode()
        assert_refused(lsw("train", "--resume", folder, "--steps", 3), "in use by another training run", str(folder))
        assert_refused(lsw("train", *TINY, "--out", folder, "--overwrite"), "in use by another training run")
        assert_refused(lsw("train", *TINY, "--out", folder), "in use by another training run")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # The kernel dropped the dead writer's lock: the run resumes, its log continuous.
    stopped = json.loads((folder / "config.json").read_text())["step"]
    assert_ok(lsw("train", "--resume", folder, "--steps", stopped + 2, "--log-every", 1, "-q"))
    assert log_steps(folder) == list(range(1, stopped + 3))


def test_resume_removes_stale_temporaries_and_applies_allowed_overrides(run):
    stale = [run / ".trainer_state.pt.a81kz0.tmp", run / "samples" / ".step_0000003.png.0qk3lz.tmp"]
    for path in stale:
        path.write_bytes(b"\0" * 1000)
    (run / ".hidden").write_text("not a temporary file")
    args = ["--steps", 5, "--log-every", 2, "--checkpoint-every", 4, "--minutes", 60, "--sample-every", 5]
    # A setting repeated with its saved value is no change.
    assert_ok(lsw("train", "--resume", run, *args, "--lr", "0.001", "-g", "example-tiny", "-q"))
    assert not any(p.exists() for p in stale) and (run / ".hidden").exists()
    config = json.loads((run / "config.json").read_text())
    assert config["step"] == 5
    training = config["training"]
    assert (training["steps"], training["log_every"], training["checkpoint_every"]) == (5, 2, 4)
    assert (training["max_minutes"], training["sample_every"], training["lr"]) == (60, 5, 1e-3)
    assert log_steps(run) == [1, 2, 3, 4]
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_0000003.png", "step_0000005.png"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lr", "5e-4"], "--lr cannot change on --resume: the run was trained with lr 0.001"),
        (["--lambda", "3"], "--lambda cannot change on --resume: the run was trained with lambda_lp 100"),
        (["--batch-size", "4"], "--batch-size cannot change on --resume: the run was trained with batch_size 2"),
        (["--seed", "1"], "--seed cannot change"),
        (["--space", "w"], "--space cannot change"),
        (["--psi", "0.7"], "--psi cannot change"),
        (["--embedder", "other"], "--embedder cannot change"),
        (["--generator-option", "seed=3"], "--checkpoint/--generator-option cannot change"),
        (["--overwrite"], "give one of them"),
        (["--out", "elsewhere"], "drop --out elsewhere"),
        (["--steps", "0"], "steps: expected an integer > 0, got 0"),
        (["--minutes", "nan"], "'--minutes': 'nan' is not a finite number"),
    ],
)
def test_resume_refuses_settings_that_change_the_model_or_data_by_name(run, args, message):
    before = snapshot(run)
    assert_refused(lsw("train", "--resume", run, *args), message)
    assert snapshot(run) == before


def test_python_resume_refuses_by_setting_name(run):
    with pytest.raises(LswError, match="lr cannot change on resume: the run was trained with lr 0.001"):
        MixerTrainer.resume(run, lr=1.0, progress=False)


def test_a_torn_log_tail_and_lines_past_the_checkpoint_are_dropped_on_resume(run):
    with open(run / "log.jsonl", "a") as f:
        f.write('{"step": 4, "id": 123.0}\n{"step": 5, "id": 0.4')  # logged after the checkpoint, then killed
    assert_ok(lsw("train", "--resume", run, "--steps", 4, "-q"))
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert log_steps(run) == [1, 2, 3, 4] and records[-1]["id"] != 123.0


def test_a_damaged_log_line_before_the_end_is_reported(run):
    lines = (run / "log.jsonl").read_text().splitlines()
    (run / "log.jsonl").write_text("\n".join([lines[0], "{garbage", *lines[1:]]) + "\n")
    before = snapshot(run)
    assert_refused(lsw("train", "--resume", run), "log.jsonl: line 2 is not a JSON record")
    assert snapshot(run) == before


TRAINING_KEYS = ("batch_size", "lr", "truncation_psi")


def _set(key, value):
    def edit(config):
        (config["training"] if key in TRAINING_KEYS else config)[key] = value
        return config

    return edit


def _drop(key):
    return lambda config: {k: v for k, v in config.items() if k != key}


DAMAGED_CONFIGS = {
    "a list": (lambda config: [], "expected a JSON object, got list"),
    "no training": (_drop("training"), "no 'training' settings"),
    "no num_rows": (_drop("num_rows"), "num_rows: missing"),
    "no backend": (_drop("backend"), "backend: missing"),
    "batch_size string": (_set("batch_size", "8"), "training.batch_size: expected an integer > 0, got '8'"),
    "lr string": (_set("lr", "fast"), "training.lr: expected a finite number > 0, got 'fast'"),
    "psi string": (_set("truncation_psi", "half"), "training.truncation_psi: expected a finite number, got 'half'"),
    "num_rows string": (_set("num_rows", "abc"), "num_rows: expected an integer > 0, got 'abc'"),
    "layout null": (_set("latent_layout", None), "latent_layout: expected"),
    "unknown space": (_set("latent_space", "s"), "latent_space: expected one of"),
}
COMMANDS = {
    "train --resume": lambda run, tmp: ["train", "--resume", run],
    "swap": lambda run, tmp: ["swap", "seed:1", "seed:2", "--mixer", run, "-o", tmp / "grid.png"],
    "eval": lambda run, tmp: ["eval", "--mixer", run],
}


@pytest.mark.parametrize("damage", DAMAGED_CONFIGS)
@pytest.mark.parametrize("command", [*COMMANDS, "Swapper.from_folder"])
def test_a_damaged_config_json_is_one_error_naming_the_field(run, tmp_path, damage, command):
    edit, message = DAMAGED_CONFIGS[damage]
    path = run / "config.json"
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    if damage == "no training" and command != "train --resume":
        return  # a mixer folder needs no training settings to swap with (they only refine defaults)
    before = snapshot(run)
    if command == "Swapper.from_folder" and damage in ("batch_size string", "lr string"):
        Swapper.from_folder(run)  # the library checks the settings a swap reads; the commands check them all
    elif command == "Swapper.from_folder":
        with pytest.raises(CheckpointError, match="config.json: " + message.replace("(", r"\(").replace("[", r"\[")):
            Swapper.from_folder(run)
    else:
        assert_refused(lsw(*COMMANDS[command](run, tmp_path)), f"{path}: {message}")
        assert not (tmp_path / "grid.png").exists()
    assert snapshot(run) == before


def test_a_damaged_config_without_training_still_swaps(run, tmp_path):
    path = run / "config.json"
    path.write_text(json.dumps(_drop("training")(json.loads(path.read_text()))))
    assert_ok(lsw("swap", "seed:1", "seed:2", "--mixer", run, "-o", tmp_path / "grid.png"))


def test_a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(example_plugin, tmp_path):
    # lr 1e30: Adam moves every weight by ~1e30 in step 1 (still finite), so the mixer's output
    # overflows float32 in step 2 and the loss is NaN.
    run = tmp_path / "run"
    assert_ok(lsw("train", *HUGE_LR, "--steps", 1, "--log-every", 1, "--out", run))
    before = snapshot(run)
    assert_refused(
        lsw("train", "--resume", run, "--steps", 5, "--log-every", 1, "-q"),
        "training stopped at step 2: the loss became NaN or infinite",
        f"{run} keeps the last good checkpoint (step 1)",
    )
    assert snapshot(run) == before
    assert all(t.isfinite().all() for t in load_file(run / "mixer.safetensors").values())

    fresh = tmp_path / "fresh"
    assert_refused(
        lsw("train", *HUGE_LR, "--steps", 5, "--checkpoint-every", 5, "--out", fresh),
        "no checkpoint was written",
    )
    assert not (fresh / "mixer.safetensors").exists()


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_checkpoint_is_never_written_from_non_finite_weights(example_plugin, tmp_path, bad):
    config = tiny_train_config(batch_size=2, steps=1)
    trainer = MixerTrainer(config, tmp_path / "run", progress=False)
    trainer.save()
    before = snapshot(tmp_path / "run")
    with torch.no_grad():
        next(trainer.mixer.parameters())[0, 0, 0] = bad
    with pytest.raises(TrainingDiverged, match="keeps the last good checkpoint \\(step 0\\)"):
        trainer.save()
    assert snapshot(tmp_path / "run") == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lr", "nan"], "'--lr': 'nan' is not a finite number"),
        (["--lambda", "inf"], "'--lambda': 'inf' is not a finite number"),
        (["--mu", "-inf"], "'--mu': '-inf' is not a finite number"),
        (["--psi", "nan"], "'--psi': 'nan' is not a finite number"),
        (["--minutes", "nan"], "'--minutes': 'nan' is not a finite number"),
        (["--same-pair-prob", "1.5"], "'--same-pair-prob': 1.5 is not in the range 0<=x<=1"),
        (["--batch-size", "0"], "batch_size: expected an integer > 0"),
    ],
)
def test_bad_settings_are_one_error_before_anything_loads(tmp_path, args, message):
    # An unknown generator would be the error if anything were loaded first.
    assert_refused(lsw("train", "-g", "nosuch", *args, "--out", tmp_path / "run"), message)
    assert not (tmp_path / "run").exists()
