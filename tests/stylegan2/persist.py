"""Writing NVIDIA-style network pickles from our own modules, for tests: each module becomes a
`torch_utils.persistence` persistent object carrying `module_src` text, as NVIDIA's pickles do.
A stand-in `torch_utils.persistence` module is installed only while pickling."""

from __future__ import annotations

import pickle
import sys
import types
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch


@contextmanager
def fake_persistence():
    """Installs `torch_utils.persistence._reconstruct_persistent_obj` so `pickle` can name it."""

    def _reconstruct_persistent_obj(meta):  # never called by the code under test
        raise AssertionError("the real reconstructor must not run")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    pkg, mod = types.ModuleType("torch_utils"), types.ModuleType("torch_utils.persistence")
    mod._reconstruct_persistent_obj = _reconstruct_persistent_obj
    pkg.persistence = mod
    dnnlib, util = types.ModuleType("dnnlib"), types.ModuleType("dnnlib.util")
    util.EasyDict = EasyDict
    dnnlib.util = util
    fakes = {"torch_utils": pkg, "torch_utils.persistence": mod, "dnnlib": dnnlib, "dnnlib.util": util}
    saved = {k: sys.modules.get(k) for k in fakes}
    sys.modules.update(fakes)
    try:
        yield _reconstruct_persistent_obj
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


class EasyDict(dict):
    """Pickles as `dnnlib.util.EasyDict`, the dict NVIDIA's training code passes as init kwargs."""


EasyDict.__module__ = "dnnlib.util"


class Persistent:
    """Pickles as `_reconstruct_persistent_obj(meta)` like NVIDIA's persistent classes."""

    def __init__(self, class_name: str, state: dict[str, Any], module_src: str):
        self.meta = dict(type="class", version=6, module_src=module_src, class_name=class_name, state=state)

    def __reduce__(self):
        return (sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj, (self.meta,))


def persist_module(
    module: torch.nn.Module,
    class_name: str,
    *,
    module_src: str,
    init_kwargs: dict | None = None,
    renames: dict[str, str] | None = None,
) -> Persistent:
    """A torch-1.x-style persistent object tree (OrderedDict `_parameters`/`_buffers`/`_modules`,
    numpy float64 gains) holding `module`'s tensors."""
    renames = renames or {}
    children = OrderedDict(
        (renames.get(name, name), persist_module(child, type(child).__name__, module_src=module_src))
        for name, child in module.named_children()
    )
    state: dict[str, Any] = {
        "training": False,
        "_parameters": OrderedDict(
            (k, None if v is None else torch.nn.Parameter(v.detach().clone(), False))
            for k, v in module._parameters.items()
        ),
        "_buffers": OrderedDict((k, v.detach().clone()) for k, v in module._buffers.items()),
        "_non_persistent_buffers_set": set(),
        "_backward_hooks": OrderedDict(),
        "_forward_hooks": OrderedDict(),
        "_forward_pre_hooks": OrderedDict(),
        "_state_dict_hooks": OrderedDict(),
        "_load_state_dict_pre_hooks": OrderedDict(),
        "_modules": children,
        "_init_args": (),
        "_init_kwargs": init_kwargs or {},
    }
    for k in ("weight_gain", "bias_gain", "act_gain"):
        if hasattr(module, k):
            state[k] = np.float64(getattr(module, k))
    return Persistent(class_name, state, module_src)


def dumps(obj: Any, *, numpy1_names: bool = False) -> bytes:
    """Pickle `obj` (protocol 3, as torch-1.x-era NVIDIA pickles); with `numpy1_names` the numpy
    globals are spelled the numpy 1.x way (`numpy.core.multiarray`)."""
    with fake_persistence():
        data = pickle.dumps(obj, protocol=3)
    if numpy1_names:
        data = data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    return data
