"""Generators in the lsw folder format: `config.json` (backend name + constructor arguments) and
`model.safetensors` (the state dict). Backends read it in their loaders with `read_generator_folder`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from lsw_core.checkpoint import atomic_write, write_json
from lsw_core.errors import CheckpointError, LswError
from lsw_core.interfaces import Generator

FORMAT = "lsw-generator"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def save_generator(generator: Generator, folder: str | os.PathLike) -> None:
    """Write `generator` (which must expose `init_kwargs`, the JSON-able arguments that rebuild it)."""
    init_kwargs = getattr(generator, "init_kwargs", None)
    if init_kwargs is None:
        raise LswError(f"{type(generator).__name__} cannot be saved: it exposes no init_kwargs")
    folder = Path(folder)
    tensors = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    atomic_write(folder / WEIGHTS_NAME, lambda tmp: save_file(tensors, tmp, metadata={"format": FORMAT}))
    write_json(folder / CONFIG_NAME, {"format": FORMAT, "backend": generator.backend_name, "init_kwargs": init_kwargs})


def is_generator_folder(path: str | os.PathLike) -> bool:
    return Path(path).is_dir() and (Path(path) / CONFIG_NAME).is_file()


def read_generator_folder(folder: str | os.PathLike, backend: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(init_kwargs, state_dict) of a generator folder written for `backend`."""
    folder = Path(folder)
    try:
        config = json.loads((folder / CONFIG_NAME).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{folder}: expected a generator folder with {CONFIG_NAME} ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise CheckpointError(f"{folder / CONFIG_NAME}: expected format {FORMAT!r}, found {found!r}")
    if config.get("backend") != backend:
        raise CheckpointError(f"{folder}: a {config.get('backend')!r} generator, not {backend!r}")
    init_kwargs = config.get("init_kwargs")
    if not isinstance(init_kwargs, dict):
        raise CheckpointError(f"{folder / CONFIG_NAME}: expected 'init_kwargs', the generator's settings, as an object")
    try:
        state = load_file(str(folder / WEIGHTS_NAME))
    except (OSError, SafetensorError) as exc:
        raise CheckpointError(f"{folder / WEIGHTS_NAME}: cannot read weights ({exc})") from None
    return init_kwargs, state
