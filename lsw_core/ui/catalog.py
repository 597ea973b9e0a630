"""The mixer folders `lsw ui` serves: those named with `--mixer`, and those found in the `--models`
folders (a demo run's `DIR/mixer`, or mixer folders in them), each with a summary of its
`config.json` (backend, latent layout, training steps, recipe) and the metrics `lsw demo` or
`lsw eval` wrote beside it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from lsw_core.errors import LswError
from lsw_core.mixing.mixer import read_mixer_config
from lsw_core.training.config import TrainConfig
from lsw_core.training.recipes import DEMO_SETTINGS, RECIPES, SHOW_RESOLUTION, TRAIN_RESOLUTION

#: The metrics files looked for, relative to a mixer folder (`lsw demo` writes its own one level up).
METRICS_FILES = ("metrics.json", "eval.json", "../metrics.json")
#: Metrics shown in the summary, when a metrics file has them.
SHOWN_METRICS = ("id_retrieval", "expression_error", "pose_error_deg", "appearance_error", "n_pairs")
MAX_METRICS_BYTES = 1_000_000


@attrs.frozen
class MixerEntry:
    """A mixer folder, its checked config, and the generator options it is opened with (a demo run's
    mixer, trained at 96 px, renders at the demo's 128 px as `lsw demo` shows it)."""

    folder: Path
    config: dict[str, Any] = attrs.field(eq=False, repr=False)
    demo: bool = False

    @property
    def key(self) -> str:
        return str(self.folder)

    @property
    def generator_options(self) -> dict[str, Any]:
        return {"resolution": SHOW_RESOLUTION} if self.demo else {}

    @property
    def label(self) -> str:
        return f"{self.folder} ({self.config['backend']}{', demo' if self.demo else ''})"


def open_entry(folder: str | Path, *, demo: bool = False) -> MixerEntry:
    """A mixer folder's entry; `LswError` (one line) when it is not a readable mixer folder."""
    folder = Path(folder).resolve()
    return MixerEntry(folder, read_mixer_config(folder), demo)


def find_mixers(explicit: Sequence[Path], models: Sequence[Path]) -> tuple[list[MixerEntry], list[str]]:
    """The mixers of `--mixer` (each must be one: an `LswError` otherwise), then those found in the
    `models` folders: the folder itself, its `mixer/` (a demo run), and its subfolders and their
    `mixer/`. Returns the entries (each folder once) and why candidates that look like mixer folders
    were skipped."""
    entries = [open_entry(folder) for folder in explicit]
    skipped = []
    for root in models:
        root = Path(root)
        if not root.is_dir():
            continue
        candidates = [root, root / "mixer"]
        candidates += [p for sub in sorted(root.iterdir()) if sub.is_dir() for p in (sub, sub / "mixer")]
        for folder in candidates:
            if not (folder / "config.json").is_file():
                continue
            try:
                entry = open_entry(folder, demo=folder.name == "mixer" and is_demo_run(folder))
            except LswError as exc:
                skipped.append(str(exc))
                continue
            if entry.folder not in {e.folder for e in entries}:
                entries.append(entry)
    return entries, skipped


def is_demo_run(folder: Path) -> bool:
    """A mixer trained on the synthetic world at the demo's training resolution (shown at 128 px)."""
    training = read_mixer_config(folder).get("training") or {}
    return training.get("generator") in ("synthface", "synthface3d") and training.get("generator_options") == {
        "resolution": TRAIN_RESOLUTION
    }


def recipe_name(training: dict[str, Any]) -> str:
    """Which named recipe the recorded training settings are: "demo" (`lsw demo`'s CPU recipe), a
    recipe of `lsw train --recipe`, "paper" (TrainConfig's defaults) or "custom"."""
    defaults = {f.name: f.default for f in attrs.fields(TrainConfig) if f.default is not attrs.NOTHING}
    named = {"demo": {k: v for k, v in DEMO_SETTINGS.items() if k not in ("steps", "sample_every", "checkpoint_every")}}
    named.update({name: settings for name, settings in RECIPES.items() if settings})
    for name, settings in named.items():
        if all(_same(training.get(k), v) for k, v in settings.items()):
            return name
    keys = ("lr", "batch_size", "lambda_lp", "mu_shape", "mixer_kind", "identity_loss")
    return "paper" if all(_same(training.get(k), defaults[k]) for k in keys) else "custom"


def _same(a: Any, b: Any) -> bool:
    return list(a) == list(b) if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) else a == b


def read_metrics(folder: Path) -> dict[str, Any] | None:
    """The metrics `lsw eval -o MIXER/metrics.json` or `lsw demo` (OUT/metrics.json) wrote, if any."""
    for name in METRICS_FILES:
        path = (folder / name).resolve()
        if not path.is_file() or path.stat().st_size > MAX_METRICS_BYTES:
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and "id_retrieval" in data:
            return {"file": str(path), **{k: data[k] for k in SHOWN_METRICS if k in data}}
    return None


def summary(entry: MixerEntry) -> dict[str, Any]:
    """One row of the Models page: backend, latent layout and space, training steps, recipe, metrics."""
    config = entry.config
    training = config.get("training") or {}
    layout = config["latent_layout"]
    metrics = read_metrics(entry.folder)
    return {
        "mixer": str(entry.folder),
        "backend": config["backend"],
        "layout": f"{layout['num_ws']}×{layout['w_dim']} {config['latent_space'].upper()}",
        "steps": config.get("step"),
        "recipe": recipe_name(training) if training else "unknown",
        "embedder": (config.get("components") or {}).get("embedder"),
        "metrics": {k: v for k, v in metrics.items() if k != "file"} if metrics else None,
    }
