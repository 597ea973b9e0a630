"""Reading PyTorch Lightning checkpoints without Lightning, omegaconf or any code from the file.

A Lightning `.ckpt` is a `torch.save` zip: `<name>/data.pkl` (the pickled dict: `state_dict`,
`epoch`, `global_step`, `pytorch-lightning_version`, `optimizer_states`, `lr_schedulers`,
`callbacks`, maybe `hyper_parameters`) and `<name>/data/<key>` (raw tensor storages). The pickle is
read by a restricted unpickler: tensors are rebuilt from their storage bytes, plain containers are
kept, and every other global it names (omegaconf's `DictConfig`, Lightning's `AttributeDict`,
`typing.Any`, ...) becomes an `Inert` placeholder that only records what the file says. Nothing the
file names is imported or called. `plain_config` turns such a tree (omegaconf nodes included) into
plain dicts and values.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from lsw_core.errors import CheckpointError
from lsw_core.formats.bounds import check_archive, check_pickle_stream, check_tensors
from lsw_core.formats.netpickle import _rebuild_parameter, _rebuild_tensor_v2

_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
    "UntypedStorage": torch.uint8,
}


class Inert(dict):
    """Stands in for any class a checkpoint names: keeps constructor arguments, items and state."""

    qualified_name = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.args, self.kwargs, self.state = args, kwargs, None

    def __new__(cls, *args: Any, **kwargs: Any) -> Inert:
        obj = super().__new__(cls)
        obj.args, obj.kwargs, obj.state = args, kwargs, None
        return obj

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def append(self, value: Any) -> None:
        self.setdefault("_appended", []).append(value)

    def extend(self, values: Any) -> None:
        for v in values:
            self.append(v)

    def __repr__(self) -> str:
        return f"<Inert {self.qualified_name}>"


def _inert_class(qualified: str) -> type:
    return type(qualified.rsplit(".", 1)[-1], (Inert,), {"qualified_name": qualified})


_SAFE = {
    "collections.OrderedDict": OrderedDict,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
    "torch.Size": torch.Size,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    **{f"torch.{name}": dtype for name, dtype in _DTYPES.items()},
    **{f"torch.{t}": getattr(torch, t) for t in ("float16", "float32", "float64", "bfloat16", "int64", "bool")},
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: Any, archive: zipfile.ZipFile, root: str) -> None:
        super().__init__(file)
        self.archive, self.root = archive, root
        self.storages: dict[Any, Any] = {}

    def find_class(self, module: str, name: str) -> Any:
        qualified = f"{module}.{name}"
        return _SAFE.get(qualified) or _inert_class(qualified)

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise CheckpointError(f"unexpected persistent id {pid!r}; expected a torch storage record")
        _, dtype, key, _location, numel = pid
        if not isinstance(dtype, torch.dtype):
            raise CheckpointError(f"storage {key!r}: unknown storage type {dtype!r}")
        if key in self.storages:  # one storage named again: the same storage, not another copy
            return self.storages[key]
        try:
            data = bytearray(self.archive.read(f"{self.root}/data/{key}"))
        except KeyError:
            raise CheckpointError(f"storage {key!r} is missing from the archive (truncated file?)") from None
        itemsize = torch.empty((), dtype=dtype).element_size()
        if len(data) != numel * itemsize:
            raise CheckpointError(f"storage {key!r}: expected {numel * itemsize} bytes, found {len(data)}")
        flat = torch.frombuffer(data, dtype=dtype) if data else torch.empty(0, dtype=dtype)
        storage = torch.storage.TypedStorage(wrap_storage=flat.untyped_storage(), dtype=dtype, _internal=True)
        self.storages[key] = storage
        return storage


def read_lightning_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The top-level dict of a Lightning checkpoint (`state_dict` a dict of tensors), read safely."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: expected a Lightning checkpoint file, found nothing there")
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
            if len(pickles) != 1:
                raise CheckpointError("expected one '<name>/data.pkl' record (a torch.save zip)")
            root = pickles[0].split("/")[0]
            check_archive(archive)
            check_pickle_stream(archive.read(pickles[0]))
            with archive.open(pickles[0]) as f:
                data = _Unpickler(f, archive, root).load()
            check_tensors(data)  # nesting, references and tensor sizes bounded before anything recurses into it
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except (zipfile.BadZipFile, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, RuntimeError, OSError, RecursionError, MemoryError, NotImplementedError) as exc:  # fmt: skip
        raise CheckpointError(
            f"{path}: expected a PyTorch Lightning checkpoint (a torch.save zip), but it is truncated or corrupt "
            f"({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(data, Mapping) or not isinstance(data.get("state_dict"), Mapping):
        found = sorted(map(str, data))[:8] if isinstance(data, Mapping) else type(data).__name__
        raise CheckpointError(f"{path}: expected a Lightning checkpoint with a 'state_dict', found {found}")
    bad = [k for k, v in data["state_dict"].items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path}: state_dict entries {bad[:3]} are not tensors")
    return dict(data)


def plain_config(obj: Any) -> Any:
    """A config tree as plain Python: dicts, lists, numbers, strings. omegaconf containers keep their
    children in `_content` and value nodes their value in `_val`; Lightning's `AttributeDict` is a
    dict. Anything else inert becomes None."""
    if isinstance(obj, Inert):
        state = obj.state
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], Mapping):  # (dict, slots)
            state = state[0]
        if isinstance(state, Mapping) and "_content" in state:
            return plain_config(state["_content"])
        if isinstance(state, Mapping) and "_val" in state:
            return plain_config(state["_val"])
        items = {k: v for k, v in obj.items() if k != "_appended"}
        if items:
            return {str(k): plain_config(v) for k, v in items.items()}
        if "_appended" in obj:
            return [plain_config(v) for v in obj["_appended"]]
        return None
    if isinstance(obj, Mapping):
        return {str(k): plain_config(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain_config(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return None
