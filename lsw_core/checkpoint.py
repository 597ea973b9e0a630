"""Trained mixers as folders: `config.json` (everything needed to rebuild it: backend, latent space
and layout, training settings) + `mixer.safetensors`. Every file is written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from lsw_core.errors import CheckpointError, LswError, SettingError
from lsw_core.gated_mixer import MIXER_KINDS, kind_config, make_mixer
from lsw_core.interfaces import LatentLayout
from lsw_core.mixer import LatentMixer
from lsw_core.validators import check, choice, integer, number, text

FORMAT = "lsw-mixer"
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "mixer.safetensors"
LATENT_SPACES = ("w+", "w", "z")


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call `write(tmp_path)` on a temporary file beside `path`, then rename it over `path`, so a
    crash leaves either the old file or the new one, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it owner-only; give it a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, data: Any) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")

    atomic_write(path, write)


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
        **kind_config(mixer),
        **extra,
    }


def save_mixer(folder: str | os.PathLike, mixer: LatentMixer, config: dict) -> None:
    """Write `mixer.safetensors` then `config.json` into `folder`, each atomically."""
    folder = Path(folder)
    tensors = {k: v.detach().cpu().contiguous() for k, v in mixer.state_dict().items()}
    atomic_write(folder / WEIGHTS_NAME, lambda tmp: save_file(tensors, tmp, metadata={"format": FORMAT}))
    write_json(folder / CONFIG_NAME, config)


def read_config(folder: str | os.PathLike) -> dict:
    folder = Path(folder)
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"{folder}: not a mixer folder (expected {CONFIG_NAME} and {WEIGHTS_NAME})")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(config).__name__}")
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{path}: expected a config with format {FORMAT!r}, got {config.get('format')!r}")
    try:
        _check_config(config)
    except LswError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
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
    options = {"gate_init": config["gate_init"]} if "gate_init" in config else {}
    mixer = make_mixer(
        config.get("mixer_kind", "paper"),
        num_rows=config["num_rows"],
        w_dim=config["w_dim"],
        residual_coefficient=config["residual_coefficient"],
        **options,
    )
    try:
        tensors = load_file(str(folder / WEIGHTS_NAME))
    except (OSError, SafetensorError) as exc:
        raise CheckpointError(f"{folder / WEIGHTS_NAME}: cannot read mixer weights ({exc})") from None
    expected = {k: tuple(v.shape) for k, v in mixer.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in tensors.items()}
    if expected != found:
        missing = sorted(set(expected) - set(found))
        wrong = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
        raise CheckpointError(
            f"{folder / WEIGHTS_NAME}: does not match its config ({config['num_rows']} rows × {config['w_dim']}); "
            f"missing {missing[:3]}, wrong shapes {[(k, found[k], expected[k]) for k in wrong[:3]]}"
        )
    mixer.load_state_dict(tensors)
    return mixer, config


def save_training_state(path: str | os.PathLike, state: dict) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_training_state(path: str | os.PathLike) -> dict:
    from lsw_core.torchfile import load_torch_file

    return load_torch_file(path, "training state")
