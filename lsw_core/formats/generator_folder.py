"""Generators in the lsw folder format (`lsw_core.formats.artifacts`): `config.json` (backend name +
constructor arguments) and `model.safetensors` (the state dict). Backends read it in their loaders
with `read_generator_folder`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lsw_core.errors import CheckpointError, LswError
from lsw_core.formats.artifacts import CONFIG_NAME, read_folder, write_folder

FORMAT = "lsw-generator"
#: The StyleNeRF backend's own name for the same layout, in folders written before it used this one.
LEGACY_FORMATS = ("lsw-stylenerf",)
WEIGHTS_NAME = "model.safetensors"


def save_generator(generator: nn.Module, folder: str | os.PathLike) -> None:
    """Write a `Generator`, rebuilt on load from its `init_kwargs` (the JSON-able constructor arguments)."""
    if generator.init_kwargs is None:
        raise LswError(f"{type(generator).__name__} cannot be saved: it declares no init_kwargs")
    config = {"format": FORMAT, "backend": generator.backend_name, "init_kwargs": generator.init_kwargs}
    write_folder(folder, config, generator.state_dict(), WEIGHTS_NAME)


def is_generator_folder(path: str | os.PathLike) -> bool:
    return Path(path).is_dir() and (Path(path) / CONFIG_NAME).is_file()


def read_generator_folder(folder: str | os.PathLike, backend: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(init_kwargs, state_dict) of a generator folder written for `backend`."""
    config, state = read_folder(folder, (FORMAT, *LEGACY_FORMATS), what="a generator folder", weights_name=WEIGHTS_NAME)
    if config.get("backend") != backend:
        raise CheckpointError(f"{folder}: a {config.get('backend')!r} generator, not {backend!r}")
    if not isinstance(config.get("init_kwargs"), dict):
        raise CheckpointError(
            f"{Path(folder) / CONFIG_NAME}: expected 'init_kwargs', the generator's settings, as an object"
        )
    return config["init_kwargs"], state
