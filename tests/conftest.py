"""Shared fixtures. `example_plugin` installs the example third-party backend (plugins/example_backend)
as a real distribution into a temporary prefix, so entry-point discovery is exercised for real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import lsw_core.plugins
from lsw_core.training.config import TrainConfig
from tests.tiny import TinyGenerator

ROOT = Path(__file__).resolve().parents[1]
#: `lsw train` options for the example backend's tiny generator and embedder (μ 0: it names no shape model).
TINY_TRAIN = ("--generator", "example-tiny", "--embedder", "example-embedder", "--mu", "0")


def tiny_train_config(**settings) -> TrainConfig:
    """Training settings for the example backend's tiny generator and embedder (μ 0), with `settings`."""
    return TrainConfig(**{"generator": "example-tiny", "embedder": "example-embedder", "mu_shape": 0.0, **settings})


@pytest.fixture(autouse=True)
def _single_thread():
    torch.set_num_threads(1)
    yield


@pytest.fixture(scope="session")
def example_prefix(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("example_plugin")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(ROOT / "plugins" / "example_backend"),
        ],
        check=True,
    )
    return target


@pytest.fixture
def example_plugin(example_prefix, monkeypatch) -> Path:
    """The example backend importable and discoverable in this process and in `lsw` subprocesses."""
    monkeypatch.syspath_prepend(str(example_prefix))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(example_prefix), os.environ.get("PYTHONPATH", "")]))
    lsw_core.plugins.reset()
    yield example_prefix
    lsw_core.plugins.reset()


def interruptible() -> None:
    """`preexec_fn` of a child that a test stops with SIGINT: a shell runs background jobs with SIGINT
    ignored, which children inherit (and Python then installs no KeyboardInterrupt for it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_lsw(
    *args: str, env: dict | None = None, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run the `lsw` console script as a user would."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lsw"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"lsw {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


# --- tiny generators (tests/tiny.py) for the photo and inversion tests ------------------------------


def untrained_mixer(folder, plugin, backend: str, generator, **config):
    """Register `plugin` (which provides the `backend` generator) and write an untrained mixer for
    it into `folder` (its swaps differ from the target); yields the folder, then unregisters."""
    import lsw_core.plugins
    from lsw_core.mixing.mixer import LatentMixer

    pm = lsw_core.plugins.plugin_manager()
    pm.register(plugin, name=f"{backend}-test")
    mixer = LatentMixer(num_rows=generator.num_ws, w_dim=generator.w_dim)
    mixer.save_pretrained(folder, backend=backend, layout=generator.latent_layout, space="w+", **config)
    yield folder
    pm.unregister(plugin)


@pytest.fixture(scope="session")
def tiny_generator() -> TinyGenerator:
    return TinyGenerator().eval()


@pytest.fixture(scope="session")
def tiny_camera_generator() -> TinyGenerator:
    return TinyGenerator(camera=True).eval()
