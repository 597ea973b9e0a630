"""Every saved thing in one of two shapes, written atomically, read with one check:

- a weights file: safetensors with JSON metadata `{"format": NAME, "info": JSON}` (`save_weights`,
  `read_weights`), e.g. a latent encoder, a synthface network, a pivot-cache entry;
- a folder: `config.json` (with `"format": NAME` and all that rebuilds the thing) + one safetensors
  file (`write_folder`, `read_folder`), e.g. a trained mixer or a converted generator.

Files from before this layout load through each reader's `legacy` hook, unchanged on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from lsw_core.errors import CheckpointError

CONFIG_NAME = "config.json"
Tensors = dict[str, torch.Tensor]


# --- writing ---------------------------------------------------------------------------------------


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


def write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def _cpu(tensors: Mapping[str, torch.Tensor]) -> Tensors:
    return {k: v.detach().cpu().contiguous() for k, v in tensors.items()}


def save_weights(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], *, format: str, **info: Any) -> Path:
    """Write `tensors` to a safetensors file whose metadata names the `format` and holds `info` as JSON."""
    metadata = {"format": format, "info": json.dumps(info, sort_keys=True)}
    data = _cpu(tensors)
    atomic_write(path, lambda tmp: save_file(data, tmp, metadata=metadata))
    return Path(path)


def write_folder(folder: str | os.PathLike, config: dict[str, Any], tensors: Mapping[str, torch.Tensor],
                 weights_name: str) -> Path:  # fmt: skip
    """Write `weights_name` then `config.json` (which must name its `format`) into `folder`, each atomically."""
    if "format" not in config:
        raise ValueError("write_folder: the config must name its format")
    folder = Path(folder)
    data = _cpu(tensors)
    atomic_write(folder / weights_name, lambda tmp: save_file(data, tmp, metadata={"format": config["format"]}))
    write_json(folder / CONFIG_NAME, config)
    return folder


# --- reading ---------------------------------------------------------------------------------------


def read_metadata(path: str | os.PathLike, what: str) -> dict[str, str]:
    """The raw metadata of a safetensors file; a `CheckpointError` naming `what` was expected otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file (expected {what})")
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as exc:
        raise CheckpointError(f"{path}: expected a safetensors file ({what}), could not read it ({exc})") from None


def read_info(
    path: str | os.PathLike, format: str, *, what: str, legacy: Callable[[dict[str, str]], dict] | None = None
) -> dict[str, Any]:
    """The `info` of a weights file written by `save_weights` in `format`. `legacy(metadata)` turns the
    metadata of an older file (no "info" entry) into the same dict, or raises `CheckpointError`."""
    meta = read_metadata(path, what)
    if "info" in meta and meta.get("format") == format:
        try:
            info = json.loads(meta["info"])
        except json.JSONDecodeError:
            info = None
        if not isinstance(info, dict):
            raise CheckpointError(f"{path}: damaged metadata (expected {what}: its 'info' entry is not a JSON object)")
        return info
    if legacy is not None:
        try:
            return legacy(meta)
        except CheckpointError as exc:
            raise CheckpointError(f"{path}: {exc}") from None
    raise CheckpointError(f"{path}: not {what} (format {meta.get('format')!r}, expected {format!r})")


def read_tensors(path: str | os.PathLike, what: str) -> Tensors:
    try:
        return load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise CheckpointError(f"{path}: cannot read {what} ({exc})") from None


def read_weights(
    path: str | os.PathLike, format: str, *, what: str, legacy: Callable[[dict[str, str]], dict] | None = None
) -> tuple[Tensors, dict[str, Any]]:
    """(tensors, info) of a weights file written by `save_weights` (see `read_info` for `legacy`)."""
    info = read_info(path, format, what=what, legacy=legacy)
    return read_tensors(path, what), info


def read_config(folder: str | os.PathLike, formats: Iterable[str], *, what: str, weights_name: str) -> dict:
    """The `config.json` of a folder written by `write_folder` in one of `formats`."""
    folder = Path(folder)
    formats = tuple(formats)
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"{folder}: not {what} (expected {CONFIG_NAME} and {weights_name})")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(config).__name__}")
    if config.get("format") not in formats:
        raise CheckpointError(f"{path}: expected a config with format {formats[0]!r}, got {config.get('format')!r}")
    return config


def read_folder(
    folder: str | os.PathLike, formats: Iterable[str], *, what: str, weights_name: str
) -> tuple[dict[str, Any], Tensors]:
    """(config, tensors) of a folder written by `write_folder`; `formats` lists the accepted format
    names, the current one first (older names of the same layout after it)."""
    config = read_config(folder, formats, what=what, weights_name=weights_name)
    weights = Path(folder) / weights_name
    if not weights.is_file():
        raise CheckpointError(
            f"{folder}: expected {what} with {CONFIG_NAME} and {weights_name}, {weights_name} is missing"
        )
    return config, read_tensors(weights, what)


def load_checked(
    module: nn.Module,
    state: Mapping[str, torch.Tensor],
    *,
    source: str,
    what: str,
    convert: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> nn.Module:
    """`module.load_state_dict(state, strict=True)`, or one `CheckpointError` naming the first missing,
    unexpected and mis-shaped keys: "SOURCE: weights do not match WHAT; missing: …; unexpected: …;
    wrong shape: …". `convert` maps each tensor first (e.g. to the module's precision)."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [
        f"{k} {list(state[k].shape)} (expected {list(own[k].shape)})"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if keys:
                parts.append(f"{label}: {', '.join(keys[:3])}{' …' if len(keys) > 3 else ''} ({len(keys)})")
        raise CheckpointError(f"{source}: weights do not match {what}; " + "; ".join(parts))
    module.load_state_dict({k: convert(v) for k, v in state.items()} if convert else dict(state), strict=True)
    return module


# --- identity of stored weights --------------------------------------------------------------------


def fingerprint(module: nn.Module) -> str:
    """A short hash of a module's weights (class name, and the names, shapes and leading values of
    every tensor): what a latent encoder and the pivot cache record of the generator they belong to."""
    h = hashlib.sha256(type(module).__name__.encode())
    for name, value in module.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(value.shape)).encode())
        h.update(value.detach().flatten()[:16].float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]
