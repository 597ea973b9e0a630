"""A restricted unpickler for NVIDIA-style network pickles (stylegan2-ada-pytorch, StyleNeRF, ...).

Those pickles store every network module as a *persistent object*: a call to
`torch_utils.persistence._reconstruct_persistent_obj(meta)` whose `meta` carries the full source text
of the Python module that defined the class, which NVIDIA's loader executes. Here nothing from the
file is ever executed: each persistent object becomes a `PersistentObject` placeholder that keeps the
class name, the source text (as an inert string) and the object's state (parameters, buffers,
sub-modules, init arguments). Only an allow-list of globals can be named by the file; tensors are
rebuilt from their bytes with `torch.load(..., weights_only=True)`. Anything else is refused with a
`CheckpointError` naming the global.

`module_state_dict(obj)` flattens a placeholder module tree into a state dict with the original key
names, ready to be loaded into a network implemented in our own code.
"""

from __future__ import annotations

import io
import os
import pickle
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

import numpy as np
import torch

from lsw_core.errors import CheckpointError
from lsw_core.formats.bounds import check_pickle_stream, check_tensor_extent, check_tensors, walk
from lsw_core.formats.torchfile import check_torch_archive, refusal

PERSISTENT_RECONSTRUCTOR = ("torch_utils.persistence", "_reconstruct_persistent_obj")


class AttrDict(dict):
    """A dict whose items are also attributes; stands in for `dnnlib.EasyDict` / `dnnlib.util.EasyDict`."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, Mapping):
            self.update(state)


class ModulePlaceholder:
    """The state of a pickled module, kept as data. Never runs code from the file.

    `state` is the module's `__dict__` as pickled: `_parameters`, `_buffers`, `_modules`, plain
    attributes, and for persistent objects `_init_args` / `_init_kwargs`."""

    class_name: str = "?"

    def __init__(self, state: Mapping[str, Any] | None = None) -> None:
        self.state: dict[str, Any] = dict(state or {})

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], Mapping):  # (dict, slots)
            state = {**(state[0] or {}), **state[1]}
        if not isinstance(state, Mapping):
            raise CheckpointError(f"{self.class_name}: expected a dict of module state, found {type(state).__name__}")
        self.state = dict(state)

    @property
    def init_args(self) -> tuple:
        return tuple(self.state.get("_init_args", ()))

    @property
    def init_kwargs(self) -> dict[str, Any]:
        return plain(self.state.get("_init_kwargs", {}))

    @property
    def children(self) -> dict[str, Any]:
        return {k: v for k, v in (self.state.get("_modules") or {}).items() if v is not None}

    def __getattr__(self, name: str) -> Any:
        # Attribute access to the pickled state (`obj.z_dim`, `obj.mapping`) like the live module.
        if name.startswith("__") or name == "state":
            raise AttributeError(name)
        state = self.__dict__.get("state", {})
        for section in ("_parameters", "_buffers", "_modules"):
            if name in (state.get(section) or {}):
                return state[section][name]
        if name in state:
            return state[name]
        raise AttributeError(f"{self.class_name} has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.class_name} children={list(self.children)}>"


class PersistentObject(ModulePlaceholder):
    """A `torch_utils.persistence` object: class name, module source text (never executed), state."""

    def __init__(self, meta: Mapping[str, Any]) -> None:
        if not isinstance(meta, Mapping) or "class_name" not in meta:
            raise CheckpointError(
                f"persistent object: expected a meta dict with 'class_name', found {type(meta).__name__}"
            )
        super().__init__(meta.get("state") or {})
        self.class_name = str(meta["class_name"])
        self.type = meta.get("type")
        self.version = meta.get("version")
        self.module_src: str = str(meta.get("module_src", ""))


def plain(obj: Any) -> Any:
    """`obj` with every AttrDict/OrderedDict turned into a plain dict (recursively)."""
    if isinstance(obj, Mapping):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [plain(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(plain(v) for v in obj)
    return obj


# ---------------------------------------------------------------------------------------------------
# Safe replacements of the functions the file may name.


def _load_storage_from_bytes(data: bytes) -> Any:
    """`torch.storage._load_from_bytes` runs an unrestricted `torch.load`; this one does not."""
    if not isinstance(data, (bytes, bytearray)):
        raise CheckpointError(f"tensor storage: expected bytes, found {type(data).__name__}")
    check_torch_archive(io.BytesIO(data), source="tensor storage")
    try:
        storage = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as exc:
        raise CheckpointError(f"tensor storage could not be read safely: {refusal(exc)}") from None
    check_tensors(storage, source="tensor storage")
    return storage


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    if not isinstance(storage, torch.storage.TypedStorage):
        raise CheckpointError(f"tensor: expected a tensor storage, found {type(storage).__name__}")
    untyped = storage._untyped_storage
    itemsize = torch.empty((), dtype=storage.dtype).element_size()
    check_tensor_extent(size, stride, storage_offset, untyped.nbytes(), itemsize)
    t = torch.empty((0,), dtype=storage.dtype, device=untyped.device)
    t.set_(untyped, int(storage_offset), tuple(size), tuple(stride))
    return t


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, torch.Tensor):
        raise CheckpointError(f"parameter: expected a tensor, found {type(data).__name__}")
    return torch.nn.Parameter(data, requires_grad=bool(requires_grad))


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, (bytes, bytearray)):
        raise CheckpointError(f"numpy scalar: expected a plain dtype and bytes, found {dtype!r}")
    return np.frombuffer(bytes(data), dtype=dtype, count=1)[0]


def _numpy_reconstruct(subtype, shape, dtype):
    if subtype is not np.ndarray:
        raise CheckpointError(f"numpy array: expected numpy.ndarray, found {subtype!r}")
    # The shape the file declares here is ignored: `__setstate__` sets it with the data, which must
    # then be exactly as long (a declared shape alone would allocate without bound).
    return np.ndarray.__new__(np.ndarray, (0,), dtype)


def _copyreg_reconstructor(cls, base, state):
    if not (isinstance(cls, type) and issubclass(cls, (ModulePlaceholder, AttrDict))) or base is not object:
        raise CheckpointError(f"copyreg._reconstructor: refusing to build {cls!r}")
    return cls.__new__(cls)


def _module_placeholder_class(qualified: str) -> type:
    return type(qualified.rsplit(".", 1)[-1], (ModulePlaceholder,), {"class_name": qualified})


_TORCH_MODULE_CONTAINERS = tuple(f"torch.nn.modules.container.{n}" for n in ("ModuleList", "ModuleDict", "Sequential"))


def default_globals() -> dict[str, Any]:
    """The globals an NVIDIA network pickle may name, mapped to safe stand-ins."""
    table: dict[str, Any] = {
        "collections.OrderedDict": OrderedDict,
        "builtins.set": set,
        "builtins.frozenset": frozenset,
        "builtins.slice": slice,
        "builtins.complex": complex,
        "copyreg._reconstructor": _copyreg_reconstructor,
        "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
        "torch._utils._rebuild_parameter": _rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
        "torch.storage._load_from_bytes": _load_storage_from_bytes,
        "torch.Size": torch.Size,
        "torch.device": torch.device,
        "dnnlib.EasyDict": AttrDict,
        "dnnlib.util.EasyDict": AttrDict,
        "numpy.dtype": np.dtype,
        "numpy.ndarray": np.ndarray,
    }
    for core in ("numpy.core", "numpy._core"):  # numpy 1.x and 2.x spellings
        table[f"{core}.multiarray.scalar"] = _numpy_scalar
        table[f"{core}.multiarray._reconstruct"] = _numpy_reconstruct
    for name in dir(np.dtypes) if hasattr(np, "dtypes") else ():
        if name.endswith("DType") and name != "StringDType":
            table[f"numpy.dtypes.{name}"] = getattr(np.dtypes, name)
    for name in ("float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool"):
        table[f"torch.{name}"] = getattr(torch, name)
    for name in _TORCH_MODULE_CONTAINERS:
        table[name] = _module_placeholder_class(name)
    return table


class NetworkUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` that resolves only allow-listed globals.

    extra_globals: more "module.name" → object entries (objects, not import paths, so the caller
        decides what is safe).
    placeholder_classes: "module.Name" of plain (non-persistent) module classes to keep as
        `ModulePlaceholder`s instead of importing them.
    reconstruct: called with each `PersistentObject`; its return value replaces the placeholder
        (e.g. to map a class name onto a native module). Default: keep the placeholder.
    """

    def __init__(
        self,
        file: IO[bytes],
        *,
        extra_globals: Mapping[str, Any] | None = None,
        placeholder_classes: Iterable[str] = (),
        reconstruct: Callable[[PersistentObject], Any] | None = None,
    ) -> None:
        super().__init__(file)
        self._globals = default_globals()
        self._globals.update({n: _module_placeholder_class(n) for n in placeholder_classes})
        self._globals.update(extra_globals or {})
        self._reconstruct = reconstruct

    def _persistent_obj(self, meta: Mapping[str, Any]) -> Any:
        obj = PersistentObject(meta)
        return obj if self._reconstruct is None else self._reconstruct(obj)

    def find_class(self, module: str, name: str) -> Any:
        qualified = f"{module}.{name}"
        if (module, name) == PERSISTENT_RECONSTRUCTOR:
            return self._persistent_obj
        if qualified in self._globals:
            return self._globals[qualified]
        raise CheckpointError(
            f"network pickle refers to {qualified!r}, which is not on the allow-list of tensors, containers "
            "and persistent network objects; refusing to load it (nothing from the file was executed)"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise CheckpointError(f"network pickle uses an external persistent id {pid!r}; expected none")


def load_network_pickle(source: str | os.PathLike | IO[bytes] | bytes, **options: Any) -> Any:
    """Unpickle an NVIDIA-style network pickle without executing anything from it.

    `source` is a path, an open binary file or the bytes. `options` go to `NetworkUnpickler`.
    Raises `CheckpointError` for a refused global, a truncated or corrupt file."""
    if isinstance(source, (bytes, bytearray)):
        return _unpickle(io.BytesIO(source), f"network pickle ({len(source)} bytes)", options)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise CheckpointError(f"network pickle {path!r}: expected a file, found nothing there")
        with open(path, "rb") as f:
            return _unpickle(f, path, options)
    return _unpickle(source, getattr(source, "name", "stream"), options)


def _unpickle(f: IO[bytes], label: str, options: dict[str, Any]) -> Any:
    try:
        if not f.seekable():
            f = io.BytesIO(f.read())
        check_pickle_stream(f)
        f.seek(0)
        data = NetworkUnpickler(f, **options).load()
        for _ in walk(data):  # nesting depth and references bounded before any caller recurses
            pass
        return data
    except CheckpointError as exc:
        raise CheckpointError(f"{label}: {exc}") from None
    except (
        EOFError,
        pickle.UnpicklingError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        MemoryError,
        RuntimeError,
        RecursionError,
        OSError,
    ) as exc:
        raise CheckpointError(
            f"{label}: expected a network pickle, but the file is truncated or corrupt ({type(exc).__name__}: {exc})"
        ) from None


def module_state_dict(module: ModulePlaceholder, prefix: str = "") -> dict[str, torch.Tensor]:
    """Flatten a placeholder module tree into a state dict with the original key names, in the order
    `torch.nn.Module.state_dict` uses: own parameters, own persistent buffers, then children."""
    if not isinstance(module, ModulePlaceholder):
        raise CheckpointError(f"expected a pickled network module, found {type(module).__name__}")
    out: dict[str, torch.Tensor] = {}
    state = module.state
    for name, p in (state.get("_parameters") or {}).items():
        if p is not None:
            out[prefix + name] = _tensor(p, prefix + name)
    skip = set(state.get("_non_persistent_buffers_set") or ())
    for name, b in (state.get("_buffers") or {}).items():
        if b is not None and name not in skip:
            out[prefix + name] = _tensor(b, prefix + name)
    for name, child in module.children.items():
        out.update(module_state_dict(child, prefix + name + "."))
    return out


def _tensor(value: Any, key: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise CheckpointError(f"{key}: expected a tensor, found {type(value).__name__}")
    return value.detach().clone() if isinstance(value, torch.nn.Parameter) else value.detach()
