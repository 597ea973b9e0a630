"""Every saved thing in one of two shapes, written atomically, read with one check:

- a weights file: safetensors with JSON metadata `{"format": NAME, "info": JSON}` (`save_weights`,
  `read_weights`), e.g. a latent encoder, a synthface network, a pivot-cache entry;
- a folder: `config.json` (with `"format": NAME` and all that rebuilds the thing) + one safetensors
  file (`write_folder`, `read_folder`), e.g. a trained mixer or a converted generator.

Files from before this layout load through each reader's `legacy` hook, unchanged on disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save
from torch import nn

from lsw_core.errors import CheckpointError
from lsw_core.formats.bounds import MAX_PARAMETERS
from lsw_core.outputs import new_temporary, publish, remove_stale_temporaries

CONFIG_NAME = "config.json"
#: The metadata entry holding `tensors_digest` of a weights file's tensors.
DIGEST_KEY = "sha256"
#: Weights files larger than this are refused before reading (4 bytes for each of the most parameters a
#: loader builds, `lsw_core.formats.bounds.MAX_PARAMETERS`).
MAX_WEIGHTS_BYTES = 4 * MAX_PARAMETERS + (1 << 20)
MAX_TENSORS = 100_000
Tensors = dict[str, torch.Tensor]


# --- writing ---------------------------------------------------------------------------------------

_batch: list[list[tuple[Path, Path]]] = []  # open `write_together` blocks: (temporary, target) pairs


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call `write(tmp_path)` on a temporary file beside `path`, then rename it over `path`, so a
    crash leaves either the old file or the new one, never a torn one. The temporary is removed if
    `write` fails or the process is interrupted (Ctrl-C, SIGTERM under the command line); one left
    by a killed process is removed by the next write into the folder (`lsw_core.outputs`). A
    symbolic link at `path` is replaced by the file, never written through. Inside `write_together`
    the rename waits for the end of the block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    tmp = new_temporary(path)
    try:
        write(str(tmp))
        if _batch:
            _batch[-1].append((tmp, path))
        else:
            publish(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def write_together() -> Iterator[None]:
    """Within the block, `atomic_write` only writes temporaries; they replace their targets together
    when the block ends, or are all removed if it raises (e.g. a full disk): the files before the
    block stay as they were, all of them."""
    _batch.append([])
    try:
        yield
    except BaseException:
        for tmp, _ in _batch.pop():
            tmp.unlink(missing_ok=True)
        raise
    pending = _batch.pop()
    if _batch:  # nested: the outer block publishes them with its own
        _batch[-1].extend(pending)
        return
    try:
        for tmp, path in pending:
            publish(tmp, path)
    finally:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)


def write_json(path: str | os.PathLike, data: Any) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")

    atomic_write(path, write)


def write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """`data` to `path` atomically. Serialisers write to memory first and this writes the file, so that
    a full disk is an `OSError` (ENOSPC) whatever the format's library would have raised."""
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def save_torch(path: str | os.PathLike, obj: Any) -> None:
    """`torch.save(obj)` to `path` atomically (see `write_bytes`)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes(path, buffer.getvalue())


def _cpu(tensors: Mapping[str, torch.Tensor]) -> Tensors:
    return {k: v.detach().cpu().contiguous() for k, v in tensors.items()}


def check_finite_weights(tensors: Mapping[str, torch.Tensor], where: str) -> None:
    """Raise `CheckpointError` naming the first tensors of `tensors` that hold NaN or infinite values:
    no weight file is written with them."""
    bad = []
    for name, value in tensors.items():
        if value.is_floating_point() or value.is_complex():
            count = int((~torch.isfinite(value.detach())).sum())
            if count:
                bad.append(f"{name} ({count} of {value.numel()})")
    if bad:
        listed = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise CheckpointError(f"{where}: NaN or infinite weights in {listed}; nothing was written")


def tensors_digest(tensors: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 of tensors' names, dtypes, shapes and bytes: what a weights file records to be checked on read."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        value = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{value.dtype}|{tuple(value.shape)}|".encode())
        if value.numel():
            h.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_weights(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], *, format: str, **info: Any) -> Path:
    """Write `tensors` to a safetensors file whose metadata names the `format`, holds `info` as JSON
    and the tensors' `sha256` (checked on read); refused if a weight is NaN or infinite."""
    data = _cpu(tensors)
    check_finite_weights(data, str(path))
    metadata = {"format": format, "info": json.dumps(info, sort_keys=True), DIGEST_KEY: tensors_digest(data)}
    write_bytes(path, save(data, metadata=metadata))
    return Path(path)


def write_folder(folder: str | os.PathLike, config: dict[str, Any], tensors: Mapping[str, torch.Tensor],
                 weights_name: str) -> Path:  # fmt: skip
    """Write `weights_name` and `config.json` (which must name its `format`) into `folder`, together
    (`write_together`); refused if a weight is NaN or infinite. The weights record their `sha256`."""
    if "format" not in config:
        raise ValueError("write_folder: the config must name its format")
    folder = Path(folder)
    data = _cpu(tensors)
    check_finite_weights(data, str(folder / weights_name))
    metadata = {"format": config["format"], DIGEST_KEY: tensors_digest(data)}
    with write_together():
        write_bytes(folder / weights_name, save(data, metadata=metadata))
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


def check_safetensors_file(path: str | os.PathLike, what: str) -> dict[str, Any]:
    """The header of the safetensors file `path`, after checking what it declares fits the file: at
    most MAX_WEIGHTS_BYTES, at most MAX_TENSORS entries, each tensor's bytes (shape × dtype size)
    exactly its stored span inside the file. Read before any tensor is."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            length = int.from_bytes(head, "little") if len(head) == 8 else -1
            if not 2 <= length <= min(size - 8, 1 << 26):
                raise CheckpointError(
                    f"{path}: cannot read {what} (not a safetensors file, or a damaged or truncated one)"
                )
            header = json.loads(f.read(length))
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise CheckpointError(f"{path}: cannot read {what} (a damaged safetensors header)") from None
    if size > MAX_WEIGHTS_BYTES:
        raise CheckpointError(
            f"{path}: {size / 1e9:.1f} GB is more than the {MAX_WEIGHTS_BYTES / 1e9:.1f} GB a {what} may hold"
        )
    if not isinstance(header, dict) or len(header) > MAX_TENSORS + 1:
        raise CheckpointError(f"{path}: expected a safetensors header of at most {MAX_TENSORS} tensors ({what})")
    data = size - 8 - length
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = (int(x) for x in entry["data_offsets"])
            count = math.prod(int(n) for n in entry["shape"])
            itemsize = _DTYPE_SIZES[entry["dtype"]]
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{path}: tensor {name!r}: damaged safetensors entry ({what})") from None
        if not 0 <= begin <= end <= data or (end - begin) * 8 != count * itemsize:
            raise CheckpointError(
                f"{path}: tensor {name!r} declares {count} values in {end - begin} bytes of {data}: damaged or crafted ({what})"
            )
    return header


_DTYPE_SIZES = {"BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "I16": 16, "U16": 16, "F16": 16,
                "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "I64": 64, "U64": 64, "F64": 64}  # bits  # fmt: skip


def read_tensors(path: str | os.PathLike, what: str) -> Tensors:
    """The tensors of a safetensors file, checked first (`check_safetensors_file`) and, when it
    records one, against its `sha256`: a mismatch is a `CheckpointError` (a damaged file)."""
    header = check_safetensors_file(path, what)
    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise CheckpointError(f"{path}: cannot read {what} ({exc})") from None
    recorded = (header.get("__metadata__") or {}).get(DIGEST_KEY)
    if recorded is not None and recorded != tensors_digest(tensors):
        raise CheckpointError(f"{path}: damaged {what}: its tensors do not match the checksum written with them")
    return tensors


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
