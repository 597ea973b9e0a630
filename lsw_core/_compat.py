"""Module paths from before lsw_core was grouped into packages by job: importing one gives the module
that took its place, with a `DeprecationWarning` naming it. They go in the next release."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types
import warnings
from typing import Any

#: Old module path → the module that took its place.
MOVED = {
    "lsw_core.architecture": "lsw_core.formats.bounds",
    "lsw_core.artifacts": "lsw_core.formats.artifacts",
    "lsw_core.authors": "lsw_core.convert.latentswap",
    "lsw_core.calibration": "lsw_core.training.calibration",
    "lsw_core.distributed": "lsw_core.training.distributed",
    "lsw_core.editing": "lsw_core.mixing.editing",
    "lsw_core.gated_mixer": "lsw_core.mixing.mixer",
    "lsw_core.generator_io": "lsw_core.formats.generator_folder",
    "lsw_core.identity_loss": "lsw_core.training.identity_loss",
    "lsw_core.imageio": "lsw_core.images",
    "lsw_core.latents": "lsw_core.mixing.latents",
    "lsw_core.lightning": "lsw_core.formats.lightning",
    "lsw_core.losses": "lsw_core.training.losses",
    "lsw_core.metrics": "lsw_core.evaluation.metrics",
    "lsw_core.mixer": "lsw_core.mixing.mixer",
    "lsw_core.mixer_eval": "lsw_core.evaluation.latent_pairs",
    "lsw_core.netpickle": "lsw_core.formats.netpickle",
    "lsw_core.photo.cache": "lsw_core.inversion.cache",
    "lsw_core.photo.geometry": "lsw_core.geometry",
    "lsw_core.photo.io": "lsw_core.images",
    "lsw_core.precision": "lsw_core.training.precision",
    "lsw_core.recipes": "lsw_core.training.recipes",
    "lsw_core.runs": "lsw_core.training.run_folder",
    "lsw_core.swapper": "lsw_core.mixing.swapper",
    "lsw_core.torchfile": "lsw_core.formats.torchfile",
    "lsw_core.trainer": "lsw_core.training.trainer",
    "lsw_core.checkpoint": "",  # split: built by `_checkpoint_module`
}


def _checkpoint_module() -> types.ModuleType:
    """`lsw_core.checkpoint`'s functions in terms of the mixer's own folder methods."""
    from lsw_core.formats import artifacts
    from lsw_core.mixing import mixer
    from lsw_core.training import run_folder

    module = types.ModuleType("lsw_core.checkpoint", "Deprecated: see LatentMixer.save_pretrained / from_pretrained.")

    def mixer_config(m: mixer.LatentMixer, *, backend: str, layout: Any, space: str, **extra: Any) -> dict:
        return {"format": mixer.FORMAT, "format_version": mixer.FORMAT_VERSION, "backend": backend,
                "latent_space": space, "latent_layout": {"num_ws": layout.num_ws, "w_dim": layout.w_dim},
                **m.config, **extra}  # fmt: skip

    def save_mixer(folder: str | os.PathLike, m: mixer.LatentMixer, config: dict) -> None:
        artifacts.write_folder(folder, config, m.state_dict(), mixer.WEIGHTS_NAME)

    def load_mixer(folder: str | os.PathLike) -> tuple[mixer.LatentMixer, dict]:
        return mixer.LatentMixer.from_pretrained(folder), mixer.read_mixer_config(folder)

    module.__dict__.update(
        CONFIG_NAME=artifacts.CONFIG_NAME, WEIGHTS_NAME=mixer.WEIGHTS_NAME, atomic_write=artifacts.atomic_write,
        write_json=artifacts.write_json, read_config=mixer.read_mixer_config, mixer_config=mixer_config,
        save_mixer=save_mixer, load_mixer=load_mixer, save_training_state=run_folder.save_training_state,
        load_training_state=run_folder.load_training_state,
    )  # fmt: skip
    return module


class _OldPath(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        new = MOVED[spec.name]
        where = new or "lsw_core.mixing.mixer (LatentMixer.save_pretrained / from_pretrained) and lsw_core.training"
        warnings.warn(
            f"{spec.name} is deprecated and goes in the next release: import from {where}",
            DeprecationWarning,
            stacklevel=2,  # the importing line: warnings skips the import machinery's frames
        )
        return importlib.import_module(new) if new else _checkpoint_module()

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def install_old_module_paths() -> None:
    if not any(isinstance(f, _OldPath) for f in sys.meta_path):
        sys.meta_path.append(_OldPath())
