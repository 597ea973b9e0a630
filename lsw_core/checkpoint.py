"""Trained mixers as folders (`lsw_core.artifacts`' folder format): `config.json` (everything needed
to rebuild it: backend, latent space and layout, training settings) + `mixer.safetensors`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from lsw_core.artifacts import CONFIG_NAME as CONFIG_NAME
from lsw_core.artifacts import atomic_write, load_checked, read_tensors, write_folder
from lsw_core.artifacts import read_config as _read_folder_config
from lsw_core.artifacts import write_json as write_json  # callers that save JSON beside a mixer
from lsw_core.errors import CheckpointError, LswError, SettingError
from lsw_core.gated_mixer import MIXER_KINDS, kind_config, make_mixer
from lsw_core.interfaces import LatentLayout
from lsw_core.mixer import DEFAULT_DEPTH, MAX_DEPTH, LatentMixer
from lsw_core.validators import check, choice, integer, number, text

FORMAT = "lsw-mixer"
FORMAT_VERSION = 1
WEIGHTS_NAME = "mixer.safetensors"
LATENT_SPACES = ("w+", "w", "z")


def mixer_config(mixer: LatentMixer, *, backend: str, layout: LatentLayout, space: str, **extra: Any) -> dict:
    """The `config.json` content describing `mixer`, trained on `backend` with latents `layout`."""
    if space not in LATENT_SPACES:
        raise CheckpointError(f"latent space: expected one of {LATENT_SPACES}, got {space!r}")
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "backend": backend,
        "latent_space": space,
        "latent_layout": {"num_ws": layout.num_ws, "w_dim": layout.w_dim},
        "num_rows": mixer.num_rows,
        "w_dim": mixer.w_dim,
        "residual_coefficient": mixer.residual_coefficient,
        "mixer_depth": mixer.depth,
        **kind_config(mixer),
        **extra,
    }


def save_mixer(folder: str | os.PathLike, mixer: LatentMixer, config: dict) -> None:
    """Write `mixer.safetensors` then `config.json` into `folder`, each atomically."""
    write_folder(folder, config, mixer.state_dict(), WEIGHTS_NAME)


def read_config(folder: str | os.PathLike) -> dict:
    config = _read_folder_config(folder, (FORMAT,), what="a mixer folder", weights_name=WEIGHTS_NAME)
    try:
        _check_config(config)
    except LswError as exc:
        raise CheckpointError(f"{Path(folder) / CONFIG_NAME}: {exc}") from None
    return config


_CONFIG_FIELDS = {
    "backend": text(),
    "latent_space": choice(*LATENT_SPACES),
    "num_rows": integer(gt=0),
    "w_dim": integer(gt=0),
    "residual_coefficient": number(),
}


def _check_config(config: dict) -> None:
    """Every field a mixer folder is rebuilt from, by name; the training settings as `TrainConfig`."""
    for name, validator in _CONFIG_FIELDS.items():
        if name not in config:
            raise SettingError(f"{name}: missing")
        check(name, config[name], validator)
    layout = config.get("latent_layout")
    if not isinstance(layout, dict):
        raise SettingError(f"latent_layout: expected {{'num_ws': N, 'w_dim': N}}, got {layout!r}")
    for name in ("num_ws", "w_dim"):
        check(f"latent_layout.{name}", layout.get(name), integer(gt=0))
    if "step" in config:
        check("step", config["step"], integer(ge=0))
    if "mixer_depth" in config:  # absent in folders from before depth was a setting: depth 5
        check("mixer_depth", config["mixer_depth"], integer(ge=1, le=MAX_DEPTH))
    if "mixer_kind" in config:
        check("mixer_kind", config["mixer_kind"], choice(*MIXER_KINDS))
    if "gate_init" in config:
        check("gate_init", config["gate_init"], number())
    if "training" in config:
        from lsw_core.trainer import TrainConfig  # the trainer writes these files: it imports this module

        if not isinstance(config["training"], dict):
            raise SettingError(f"training: expected a JSON object of settings, got {config['training']!r}")
        try:
            TrainConfig.from_dict(config["training"])
        except LswError as exc:
            raise SettingError(f"training.{exc}") from None


def load_mixer(folder: str | os.PathLike) -> tuple[LatentMixer, dict]:
    """Rebuild a mixer from its folder; returns (mixer, config)."""
    folder = Path(folder)
    config = read_config(folder)
    tensors = read_tensors(folder / WEIGHTS_NAME, "mixer weights")
    options = {"gate_init": config["gate_init"]} if "gate_init" in config else {}
    mixer = make_mixer(
        config.get("mixer_kind", "paper"),
        num_rows=config["num_rows"],
        w_dim=config["w_dim"],
        residual_coefficient=config["residual_coefficient"],
        depth=config.get("mixer_depth", DEFAULT_DEPTH),  # folders from before depth was a setting have 5
        **options,
    )
    what = f"its config ({config['num_rows']} rows × {config['w_dim']})"
    load_checked(mixer, tensors, source=str(folder / WEIGHTS_NAME), what=what)
    return mixer, config


def save_training_state(path: str | os.PathLike, state: dict) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_training_state(path: str | os.PathLike) -> dict:
    from lsw_core.torchfile import load_torch_file

    return load_torch_file(path, "training state")
