"""Training at scale on CPU: --device checks, bf16 autocast, micro-batches, torchrun data parallelism."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from lsw_core.devices import resolve_device
from lsw_core.errors import LswError
from lsw_core.training.trainer import MixerTrainer
from tests.conftest import TINY_TRAIN, run_lsw, tiny_train_config

TINY = [*TINY_TRAIN, "--lr", "1e-3", "-q"]
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")


def tiny_config(**kw):
    return tiny_train_config(**{"lr": 1e-3, **kw})


def mixer_weights(folder):
    return load_file(Path(folder) / "mixer.safetensors")


def max_difference(a, b):
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


def test_device_names_resolve():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("gpu", "cuda:x", "cuda:-1", ""):
        with pytest.raises(LswError, match="expected auto, cpu, cuda, cuda:N or mps"):
            resolve_device(bad)
    with pytest.raises(LswError, match="cuda:99"):
        resolve_device("cuda:99")


@NO_CUDA
@pytest.mark.parametrize("device, message", [("cuda", "CUDA is not available"), ("foo", "expected auto, cpu")])
def test_train_with_an_unusable_device_is_one_error_line(example_plugin, tmp_path, device, message):
    result = run_lsw("train", *TINY, "--device", device, "--out", str(tmp_path / "run"), check=False)
    assert result.returncode == 2 and result.stderr.startswith("error: --device")
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.fixture
def lsw_cli(example_plugin):
    from lsw_core import cli

    cli.add_plugin_commands()
    return cli.cli


@pytest.mark.parametrize(
    "args",
    [
        ["train", *TINY, "--out", "{tmp}/run"],
        ["swap", "seed:1", "seed:2", "--mixer", "{tmp}/nothing"],
        ["edit", "{tmp}/ws.npy", "-g", "example-tiny", "--ganspace", "0"],
        ["eval", "--mixer", "{tmp}/nothing"],
        ["encoder", "train", "-g", "example-tiny", "-o", "{tmp}/enc.safetensors"],
        ["demo", "--out", "{tmp}/demo"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_every_command_refuses_an_unknown_device_before_loading(lsw_cli, tmp_path, args):
    np.save(tmp_path / "ws.npy", np.zeros((1, 6, 32), np.float32))
    args = [a.format(tmp=tmp_path) for a in args]
    path = 2 if args[0] == "encoder" else 1  # the (sub)command's name
    for device in ("cuda:99", "tpu"):
        result = CliRunner().invoke(lsw_cli, [*args[:path], "--device", device, *args[path:]])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: --device {device}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ws.npy"]  # nothing was written


def test_micro_batches_give_the_full_batch_mixer(example_plugin, tmp_path):
    # Deterministic synthesis (const noise): chunks of 1 or 3 pairs with gradients accumulated must
    # give the full batch's steps, up to float32 rounding (kernels round differently per batch size:
    # measured gradients 1.2e-4 and weight updates 1.5e-4 apart, relative). Adam's eps is raised here
    # because with the default 1e-8 the first update of a weight whose gradient is ~1e-8 is ±lr by the
    # sign of that rounding noise: the comparison would test Adam's conditioning, not the accumulation.
    def flat(tensors):
        return torch.cat([t.reshape(-1) for t in tensors])

    runs = {}
    for micro in (None, 1, 3):
        trainer = MixerTrainer(
            tiny_config(batch_size=6, micro_batch=micro, noise_mode="const"), tmp_path / str(micro), progress=False
        )
        trainer.optimizer.param_groups[0]["eps"] = 1e-2
        start = flat(trainer.mixer.parameters()).detach().clone()
        terms = [trainer.gather_terms(trainer.train_step()) for _ in range(4)]
        params = list(trainer.mixer.parameters())
        runs[micro] = terms, flat(p.grad for p in params), flat(params).detach() - start
    full_terms, full_grad, full_update = runs[None]
    for micro in (1, 3):
        terms, grad, update = runs[micro]
        assert (grad - full_grad).norm() < 1e-3 * full_grad.norm()
        assert (update - full_update).norm() < 1e-3 * full_update.norm()
        for a, b in zip(full_terms, terms):
            assert a["total"] == pytest.approx(b["total"], rel=1e-5)


def test_bf16_losses_stay_close_to_fp32_on_the_same_batch(example_plugin, tmp_path):
    terms = {}
    for precision in ("fp32", "bf16"):
        trainer = MixerTrainer(tiny_config(batch_size=8, precision=precision), tmp_path / precision, progress=False)
        terms[precision] = trainer.gather_terms(trainer.train_step())
        assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in trainer.mixer.parameters())
        state = trainer.optimizer.state_dict()["state"]
        assert all(s["exp_avg"].dtype == torch.float32 for s in state.values())
    # bf16 keeps 8 mantissa bits (relative rounding 2^-9 per op); measured |Δ| ≈ 1e-3 on these terms.
    for k in ("id", "lp", "total"):
        assert terms["bf16"][k] == pytest.approx(terms["fp32"][k], rel=0.05, abs=0.01), k
    assert math.isfinite(terms["bf16"]["grad_norm"])


def test_cli_trains_in_bf16_with_micro_batches(example_plugin, tmp_path):
    run_lsw("train", *TINY, "--batch-size", "4", "--steps", "2", "--log-every", "1", "--precision", "bf16",
            "--micro-batch", "2", "--device", "cpu", "--out", str(tmp_path / "run"))  # fmt: skip
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    log = [r for r in log if "calibration" not in r]  # the loss scales measured before training
    assert [r["step"] for r in log] == [1, 2] and all(math.isfinite(r["total"]) for r in log)
    training = json.loads((tmp_path / "run" / "config.json").read_text())["training"]
    assert (training["precision"], training["micro_batch"], training["device"]) == ("bf16", 2, "cpu")


def torchrun(*args: str, nproc: int = 2, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc-per-node N -m lsw_core ...`, as a user launches it."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", "-m", "lsw_core"]
    result = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ})
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.mark.slow
def test_two_torchrun_processes_equal_one_process_and_resume(example_plugin, tmp_path):
    # Same global batch (4) and chunk size (2): each rank renders its half with the same pairs and
    # noise as the single process, and the ranks' gradients are summed in the same order: measured equal.
    common = [*TINY, "--batch-size", "4", "--micro-batch", "2", "--log-every", "1", "--checkpoint-every", "2"]
    # torchrun gives each process one thread; the single process too, so kernels sum in the same order.
    run_lsw("train", *common, "--steps", "4", "--out", str(tmp_path / "one"), env={"OMP_NUM_THREADS": "1"})
    first = torchrun("train", *common, "--steps", "2", "--out", str(tmp_path / "two"))
    assert first.stdout.count("mixer written to") == 1  # rank 0 alone reports and writes
    torchrun("train", "--resume", str(tmp_path / "two"), "--steps", "4", "-q")
    assert max_difference(mixer_weights(tmp_path / "one"), mixer_weights(tmp_path / "two")) < 1e-5
    logs = [[json.loads(x) for x in (tmp_path / d / "log.jsonl").read_text().splitlines()] for d in ("one", "two")]
    logs = [[r for r in log if "calibration" not in r] for log in logs]  # the loss scales before training
    assert [r["step"] for r in logs[1]] == [1, 2, 3, 4]
    for a, b in zip(*logs):
        assert a["total"] == pytest.approx(b["total"], rel=1e-5) and a["id"] == pytest.approx(b["id"], rel=1e-4)


@pytest.mark.slow
def test_a_loss_that_diverges_under_torchrun_stops_every_rank(example_plugin, tmp_path):
    # lr 1e30 makes step 2's loss NaN (see test_run_folders). Every rank stops at that step, rather
    # than rank 0 (which alone writes and checks before writing) stopping alone while the others block
    # in their next all-reduce until torchrun kills them; rank 0 reports it once, and the others wait
    # for that before they exit (torchrun stops the remaining processes when one exits).
    run = tmp_path / "run"
    common = [*TINY_TRAIN, "-q", "--batch-size", "4", "--lr", "1e30", "--log-every", "1"]
    torchrun("train", *common, "--steps", "1", "--out", str(run))
    result = torchrun("train", "--resume", str(run), "--steps", "5", "-q", check=False, timeout=300)
    assert result.returncode != 0
    assert result.stderr.count("error: training stopped at step 2: the loss became NaN or infinite") == 1
    assert all(t.isfinite().all() for t in mixer_weights(run).values())


def test_a_batch_that_does_not_split_over_the_ranks_is_refused(example_plugin, tmp_path, monkeypatch):
    from lsw_core.training import distributed

    monkeypatch.setenv("WORLD_SIZE", "3")  # as torchrun sets it: refused before any process group is joined
    monkeypatch.setattr(distributed, "setup", lambda device: pytest.fail("joined a process group first"))
    with pytest.raises(LswError, match="--batch-size 4 cannot be split over the 3 training processes"):
        MixerTrainer(tiny_config(batch_size=4), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_activation_checkpointing_needs_a_generator_that_offers_it(example_plugin, tmp_path):
    with pytest.raises(LswError, match="does not support activation checkpointing"):
        MixerTrainer(tiny_config(activation_checkpointing=True), tmp_path, progress=False)
