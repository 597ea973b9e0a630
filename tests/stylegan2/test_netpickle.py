"""The restricted unpickler for NVIDIA-style network pickles: what it rebuilds, and what it refuses
without any side effect."""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import lsw_core
from lsw_core.errors import CheckpointError
from lsw_core.formats.netpickle import PersistentObject, load_network_pickle, module_state_dict

from .conftest import fixture_generator
from .persist import EasyDict, Persistent, dumps, fake_persistence, persist_module

SIDE_EFFECT_SRC = "import pathlib\npathlib.Path({marker!r}).write_text('executed')\n"


def _snapshot_bytes(tmp_path, **dump_options):
    G, init_kwargs, state, ref = fixture_generator("skip32")
    marker = tmp_path / "marker"
    src = SIDE_EFFECT_SRC.format(marker=str(marker))
    g_ema = persist_module(
        G,
        "Generator",
        module_src=src,
        init_kwargs=EasyDict(init_kwargs),
        renames={"mapping_net": "mapping", "synthesis_net": "synthesis"},
    )
    data = dumps(
        {
            "G": g_ema,
            "D": None,
            "G_ema": g_ema,
            "augment_pipe": None,
            "training_set_kwargs": None,
            "progress": {"cur_nimg": np.int64(1000), "lr": np.float32(0.002)},
        },
        **dump_options,
    )
    return data, marker, G, ref


def test_torch1_layout_numpy1_names_and_side_effect_source_load_without_running_it(tmp_path):
    data, marker, G, ref = _snapshot_bytes(tmp_path, numpy1_names=True)
    assert b"numpy.core.multiarray" in data and b"pathlib" in data and b"dnnlib.util\nEasyDict" in data
    path = tmp_path / "network-snapshot.pkl"
    path.write_bytes(data)
    loaded = lsw_core.load_generator("stylegan2", checkpoint=path)
    assert not marker.exists()
    with torch.no_grad():
        assert torch.equal(loaded.synthesis(ref["ws_psi07"]), G.synthesis(ref["ws_psi07"]))
    raw = load_network_pickle(path)
    assert raw["augment_pipe"] is None and raw["training_set_kwargs"] is None
    assert raw["progress"]["lr"] == np.float32(0.002) and isinstance(raw["progress"]["cur_nimg"], np.int64)
    g = raw["G_ema"]
    assert isinstance(g, PersistentObject) and g.class_name == "Generator" and "pathlib" in g.module_src
    assert g.init_kwargs["synthesis_kwargs"]["architecture"] == "skip"
    assert set(module_state_dict(g)) == set(G.state_dict())
    assert not marker.exists()


def test_numpy2_names_and_protocol_4(tmp_path):
    g = Persistent(
        "Layer",
        {
            "_parameters": {"w": torch.nn.Parameter(torch.arange(6.0).reshape(2, 3))},
            "_buffers": {"b": torch.ones(2)},
            "_modules": {},
            "gain": np.float32(0.5),
            "dtype": np.dtype("float16"),
            "arr": np.arange(4),
        },
        "pass\n",
    )
    with fake_persistence():
        data = pickle.dumps(OrderedDict(net=g), protocol=4)
    assert b"numpy._core" in data or b"numpy.core" in data
    net = load_network_pickle(data)["net"]
    assert net.gain == np.float32(0.5) and net.dtype == np.dtype("float16") and net.arr.tolist() == [0, 1, 2, 3]
    assert torch.equal(module_state_dict(net)["w"], torch.arange(6.0).reshape(2, 3))


class _SystemCall:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_reduce_calling_os_system_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    data = pickle.dumps({"G_ema": _SystemCall(f"touch {marker}")})
    with pytest.raises(CheckpointError, match=r"'(posix|nt|os)\.system'.*refusing"):
        load_network_pickle(data)
    path = tmp_path / "evil.pkl"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match="system"):
        lsw_core.load_generator("stylegan2", checkpoint=path)
    assert not marker.exists()


@pytest.mark.parametrize("target", [(eval, ("1+1",)), (getattr, ("x", "upper")), (pickle.loads, (b"N.",))])
def test_unknown_globals_are_refused_by_name(target):
    class Evil:
        def __reduce__(self):
            return target

    with pytest.raises(CheckpointError, match=f"{target[0].__name__}.*not on the allow-list"):
        load_network_pickle(pickle.dumps(Evil()))


def test_torch_storage_bytes_are_loaded_with_weights_only():
    """A storage's bytes are a nested torch.save stream; a malicious one must not reach pickle."""
    nested = pickle.dumps(_SystemCall("true"))
    data = pickle.dumps(torch.ones(2))
    # Rebuild the pickle with the storage bytes swapped for the malicious stream.
    import io

    class Swap(pickle.Pickler):
        def reducer_override(self, obj):
            if isinstance(obj, torch.storage.TypedStorage):
                from torch.storage import _load_from_bytes

                return (_load_from_bytes, (nested,))
            return NotImplemented

    buf = io.BytesIO()
    Swap(buf).dump(torch.ones(2))
    assert data != buf.getvalue()
    with pytest.raises(CheckpointError, match="storage could not be read safely"):
        load_network_pickle(buf.getvalue())


def test_truncated_and_non_pickle_files_fail_clearly(tmp_path):
    data, _, _, _ = _snapshot_bytes(tmp_path)
    path = tmp_path / "cut.pkl"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        lsw_core.load_generator("stylegan2", checkpoint=path)
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_network_pickle(b"this is not a pickle")


def test_extra_globals_and_reconstruct_hook():
    class Custom:
        def __reduce__(self):
            return (_make_thing, (3,))

    data = pickle.dumps([Custom()])
    with pytest.raises(CheckpointError, match="_make_thing"):
        load_network_pickle(data)
    name = f"{_make_thing.__module__}._make_thing"
    assert load_network_pickle(data, extra_globals={name: lambda n: n * 2}) == [6]
    with fake_persistence():
        data = pickle.dumps(Persistent("Net", {"x": 1}, "src"))
    assert load_network_pickle(data, reconstruct=lambda obj: (obj.class_name, obj.x)) == ("Net", 1)


def _make_thing(n):
    return n


def test_plain_torch_containers_become_placeholders():
    seq = torch.nn.Sequential(torch.nn.Linear(2, 3))
    holder = Persistent("Net", {"_modules": {"body": seq}}, "src")
    with fake_persistence():
        data = pickle.dumps(holder)
    with pytest.raises(CheckpointError, match="torch.nn.modules.linear.Linear"):
        load_network_pickle(data)
    net = load_network_pickle(data, placeholder_classes=["torch.nn.modules.linear.Linear"])
    sd = module_state_dict(net)
    assert torch.equal(sd["body.0.weight"], seq[0].weight) and torch.equal(sd["body.0.bias"], seq[0].bias)


def test_tensor_layout_past_its_storage_is_refused():
    class Oversized:
        def __reduce__(self):
            from torch._utils import _rebuild_tensor_v2

            return (_rebuild_tensor_v2, (torch.ones(3).storage(), 0, (100,), (1,), False, OrderedDict()))

    with pytest.raises(CheckpointError, match="past its storage of 3 elements"):
        load_network_pickle(pickle.dumps(Oversized()))


def test_persistent_object_of_another_class_with_side_effect_source_is_refused(tmp_path):
    marker = tmp_path / "marker"
    evil = Persistent(
        "Backdoor",
        {"_modules": {}, "payload": _SystemCall(f"touch {marker}")},
        SIDE_EFFECT_SRC.format(marker=str(marker)),
    )
    path = tmp_path / "evil.pkl"
    path.write_bytes(dumps({"G_ema": evil}))
    with pytest.raises(CheckpointError, match="system"):  # the payload's global is refused first
        lsw_core.load_generator("stylegan2", checkpoint=path)
    harmless = Persistent("Backdoor", {"_modules": {}}, SIDE_EFFECT_SRC.format(marker=str(marker)))
    path.write_bytes(dumps({"G_ema": harmless}))
    with pytest.raises(CheckpointError, match="expected G_ema to be a StyleGAN2 'Generator', found 'Backdoor'"):
        lsw_core.load_generator("stylegan2", checkpoint=path)
    assert not marker.exists()
