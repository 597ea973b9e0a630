"""The demo world on a fresh install: the mixer `lsw demo` trains (its CPU recipe on the synthetic
world), trained from the page into the first models folder (`DIR/mixer`, where `lsw demo --out DIR`
puts it) with progress in steps and time left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lsw_core.errors import LswError
from lsw_core.mixing.mixer import read_mixer_config
from lsw_core.outputs import check_output
from lsw_core.training.recipes import cpu_recipe
from lsw_core.training.trainer import MixerTrainer
from lsw_core.ui.work import Report, no_report

DEMO_GENERATOR = "synthface"


def demo_folder(models: Path) -> Path:
    return Path(models) / "mixer"


def train_demo_mixer(
    models: Path, *, steps: int, device: str = "auto", settings: dict[str, Any] | None = None,
    report: Report = no_report,
) -> Path:  # fmt: skip
    """Train the demo's mixer into MODELS/mixer (the demo's recipe with `steps` and `settings`),
    reporting each step; refuses a folder that already holds a mixer."""
    folder = demo_folder(models)
    try:
        read_mixer_config(folder)
    except LswError:
        pass
    else:
        raise LswError(f"{folder} already holds a mixer: choose it in the mixer list")
    check_output(folder, folder=True)
    config = cpu_recipe(DEMO_GENERATOR, steps=steps, device=device, **(settings or {}))
    report(0.0, "loading the synthetic world and measuring the loss scales")
    trainer = MixerTrainer(config, folder, progress=False, existing="overwrite")

    def on_step(trainer: MixerTrainer) -> None:
        done = trainer.step
        timed = trainer.step_seconds[1:] or trainer.step_seconds  # the first step also warms up
        per_step = sum(timed) / len(timed)
        left = per_step * (steps - done)
        report(
            done / steps, f"training step {done} of {steps}: {per_step:.2f} s per step, about {left / 60:.1f} min left"
        )

    trainer.train(on_step=on_step)
    if trainer.step % trainer.config.sample_every:
        trainer.save_samples()
    report(1.0, f"trained {trainer.step} steps into {folder}")
    return folder
