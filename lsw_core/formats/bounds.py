"""Bounds on what a file can make a loader build. A checkpoint stores its network's architecture
(resolution, widths, depths) beside the weights; a damaged or crafted file could ask for a network of
terabytes. Loaders check each setting against a sane range and count the parameters of the network
they would build, on the meta device (no memory), before building it."""

from __future__ import annotations

import itertools
import pickletools
import zipfile
from collections.abc import Callable, Mapping
from typing import IO, Any

import torch
from torch import nn

from lsw_core.errors import CheckpointError

# 10× the largest network a backend here builds (StyleGAN2 at 1024 px: 30 M); 1.2 GB in float32.
MAX_PARAMETERS = 300_000_000
MAX_RESOLUTION = 4096
MAX_WIDTH = 4096  # latent sizes, channels and hidden features
MAX_DEPTH = 64  # layers of one stack


def check_int(name: str, value: Any, low: int, high: int, *, source: str = "") -> int:
    """`value` as an int in [low, high], else `CheckpointError` naming the setting."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise CheckpointError(f"{_where(source)}{name}: expected a whole number, found {value!r}")
    if not low <= value <= high:
        raise CheckpointError(
            f"{_where(source)}{name}: expected {low} to {high}, found {int(value)} (refused before building the network)"
        )
    return int(value)


def check_resolution(name: str, value: Any, *, low: int = 4, high: int = MAX_RESOLUTION, source: str = "") -> int:
    """A power-of-two resolution in [low, high]."""
    value = check_int(name, value, low, high, source=source)
    if value & (value - 1):
        raise CheckpointError(f"{_where(source)}{name}: expected a power of two, found {value}")
    return value


def check_count(count: int, *, what: str, source: str = "", limit: int = MAX_PARAMETERS) -> None:
    """Refuse a network of more than `limit` values (parameters and buffers)."""
    if count > limit:
        raise CheckpointError(
            f"{_where(source)}the stored architecture makes a {what} of {count / 1e6:,.0f} M values; "
            f"refused (more than {limit / 1e6:,.0f} M, a damaged or crafted file)"
        )


def check_size(build: Callable[[], nn.Module], *, what: str, source: str = "", limit: int = MAX_PARAMETERS) -> None:
    """`check_count` of the module `build()` returns, built on the meta device. Only for networks
    made of plain layers: computing buffers on the meta device (e.g. `torch.outer` of a filter)
    imports torch's compiler stack, 20 s at the first call; those backends count by formula."""
    with torch.device("meta"):
        module = build()
    count = sum(t.numel() for t in itertools.chain(module.parameters(), module.buffers()))
    check_count(count, what=what, source=source, limit=limit)


def _where(source: str) -> str:
    return f"{source}: " if source else ""


# --- containers: what a file's bytes may make a reader allocate -------------------------------------

#: Nesting depth and references (counted every time one is reached, so shared ones count again) of
#: what a pickle may hold; a "billion laughs" list or a 200 000-deep nesting is refused.
MAX_NESTING = 100
MAX_REFERENCES = 2_000_000
#: Opcodes of one pickle stream (each makes at most one object): bounds the objects it builds.
MAX_PICKLE_OPS = 5_000_000
#: A compressed archive member may expand to this many times its stored size (plus 1 MiB); torch
#: writes members uncompressed, so anything near the bound is crafted.
MAX_EXPANSION = 64


def check_tensor_extent(
    size: Any, stride: Any, offset: Any, storage_bytes: int, itemsize: int, *, name: str = "tensor", source: str = ""
) -> None:
    """Refuse a tensor view (size, stride, storage offset) that reaches past its storage or that
    declares more values than the storage holds (stride-0 or overlapping views that would expand on
    the first copy: a [200000, 200000] view of one float is 160 GB)."""
    try:
        size, stride, offset = tuple(int(n) for n in size), tuple(int(n) for n in stride), int(offset)
    except (TypeError, ValueError):
        raise CheckpointError(f"{_where(source)}{name}: damaged tensor layout") from None
    if len(size) != len(stride) or min((*size, *stride, offset), default=0) < 0:
        raise CheckpointError(f"{_where(source)}{name}: invalid layout size={list(size)} stride={list(stride)}")
    available = storage_bytes // max(itemsize, 1)
    count = 1
    for n in size:
        count *= n
    if count == 0:
        return
    extent = offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1
    if extent > available:
        raise CheckpointError(
            f"{_where(source)}{name}: layout size={list(size)} stride={list(stride)} offset={offset} reaches element "
            f"{extent}, past its storage of {available} elements; refused (a damaged or crafted file)"
        )
    if count > available:
        raise CheckpointError(
            f"{_where(source)}{name}: declares {count:,} values (shape {list(size)}, stride {list(stride)}) over a "
            f"storage of {available:,}; refused (a damaged or crafted file)"
        )


def check_tensors(tensors: Any, *, source: str = "") -> None:
    """`check_tensor_extent` for every tensor reached in the container tree `tensors`, and their
    total size against the storages they view (at most 4× their distinct bytes, plus 1 MiB)."""
    total = 0
    storages: dict[int, int] = {}
    for path, value in walk(tensors, source=source):
        if isinstance(value, torch.Tensor):
            storage = value.untyped_storage()
            nbytes = storage.nbytes()
            check_tensor_extent(value.shape, value.stride(), value.storage_offset(), nbytes, value.element_size(),
                                name=path or "tensor", source=source)  # fmt: skip
            total += value.numel() * value.element_size()
            storages[storage.data_ptr() if nbytes else id(storage)] = nbytes
    if total > 4 * sum(storages.values()) + (1 << 20):
        raise CheckpointError(
            f"{_where(source)}its tensors declare {total / 1e9:.1f} GB over {sum(storages.values()) / 1e9:.1f} GB of "
            "stored values; refused (a damaged or crafted file)"
        )


def walk(root: Any, *, source: str = "", max_depth: int = MAX_NESTING, max_references: int = MAX_REFERENCES):
    """Yield (dotted path, value) for every value reached in a tree of containers (mappings, lists,
    tuples, sets, and objects' `__dict__`), iteratively, as a recursive reader would expand it:
    a shared container is reached again through each reference, a reference back to a container
    being expanded (a cycle, e.g. omegaconf's `_parent`) is not followed. Deeper than `max_depth`,
    or more than `max_references` references in all, is a `CheckpointError`."""
    stack: list[tuple[str, Any, int, bool]] = [("", root, 0, False)]
    open_ids: set[int] = set()
    seen = 0
    while stack:
        path, value, depth, leaving = stack.pop()
        if leaving:
            open_ids.discard(id(value))
            continue
        seen += 1
        if seen > max_references:
            raise CheckpointError(
                f"{_where(source)}holds more than {max_references:,} references (e.g. a list repeating itself); refused"
            )
        if depth > max_depth:
            raise CheckpointError(f"{_where(source)}nested more than {max_depth} levels deep at {path[:80]!r}; refused")
        yield path, value
        if isinstance(value, (str, bytes, bytearray, int, float, complex, bool, torch.Tensor)) or value is None:
            continue
        if isinstance(value, Mapping):
            children = [(f"{path}.{k}" if path else str(k), v) for k, v in value.items()]
            children += [(f"{path}.{k}" if path else str(k), v) for k, v in _object_state(value)]
        elif isinstance(value, (list, tuple, set, frozenset)):
            children = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
        else:
            children = [(f"{path}.{k}" if path else str(k), v) for k, v in _object_state(value)]
        if not children:
            continue
        open_ids.add(id(value))
        stack.append((path, value, depth, True))
        for child_path, child in children:
            if id(child) not in open_ids:
                stack.append((child_path, child, depth + 1, False))


def _object_state(value: Any) -> list[tuple[str, Any]]:
    """What a placeholder object (an unpickled stand-in for a class the file names) holds."""
    state = getattr(value, "__dict__", None)
    if not isinstance(state, dict) or type(value).__module__.startswith(("torch", "numpy")):
        return []
    return list(state.items())


def check_archive(archive: zipfile.ZipFile, *, source: str = "") -> None:
    """Refuse a zip archive (a torch file) whose members would expand beyond MAX_EXPANSION times
    their stored size (plus 1 MiB), read from the directory before anything is inflated."""
    infos = archive.infolist()
    if len(infos) > 1_000_000:
        raise CheckpointError(f"{_where(source)}an archive of {len(infos):,} members; refused")
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED and info.file_size > MAX_EXPANSION * info.compress_size + (1 << 20):
            raise CheckpointError(
                f"{_where(source)}member {info.filename!r} would expand from {info.compress_size:,} to "
                f"{info.file_size:,} bytes; refused (a damaged or crafted file)"
            )


def check_pickle_stream(data: bytes | IO[bytes], *, source: str = "", max_ops: int = MAX_PICKLE_OPS) -> None:
    """Refuse a pickle stream of more than `max_ops` opcodes (each makes at most one object), or one
    that does not parse, before it is unpickled."""
    count = 0
    try:
        for _ in pickletools.genops(data):
            count += 1
            if count > max_ops:
                raise CheckpointError(f"{_where(source)}a pickle of more than {max_ops:,} operations; refused")
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - pickletools raises ValueError and others for damaged streams
        raise CheckpointError(
            f"{_where(source)}truncated or corrupt pickle data ({type(exc).__name__}: {exc})"
        ) from None
