"""One artifact module: one atomic write, one checked state-dict load, one weights-file format and one
folder format; files written before it (the shipped synthface networks, pivot-cache entries) load as
they are, unchanged on disk."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from lsw_core.errors import CheckpointError
from lsw_core.formats import artifacts


def test_one_atomic_write_serves_every_module():
    import lsw_core.images
    import lsw_core.mixing.latents
    import lsw_core.outputs
    import lsw_core.photo.video_io
    import lsw_core.training.run_folder

    assert lsw_core.images.atomic_write is artifacts.atomic_write is lsw_core.mixing.latents.atomic_write
    assert lsw_core.training.run_folder.save_torch is artifacts.save_torch
    assert lsw_core.training.run_folder.write_bytes is artifacts.write_bytes
    # the video writer names and publishes its temporary as every atomic write does
    assert lsw_core.photo.video_io.new_temporary is lsw_core.outputs.new_temporary is artifacts.new_temporary
    assert lsw_core.photo.video_io.publish is lsw_core.outputs.publish is artifacts.publish


def test_write_together_publishes_all_or_nothing(tmp_path):
    artifacts.write_text(tmp_path / "a.txt", "old a")
    artifacts.write_text(tmp_path / "b.txt", "old b")
    with pytest.raises(OSError), artifacts.write_together():
        artifacts.write_text(tmp_path / "a.txt", "new a")
        artifacts.atomic_write(tmp_path / "b.txt", lambda tmp: (_ for _ in ()).throw(OSError(28, "No space left")))
    assert (tmp_path / "a.txt").read_text() == "old a" and (tmp_path / "b.txt").read_text() == "old b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]  # no temporary left
    with artifacts.write_together():
        artifacts.write_text(tmp_path / "a.txt", "new a")
        assert (tmp_path / "a.txt").read_text() == "old a"  # not before the block ends
    assert (tmp_path / "a.txt").read_text() == "new a"


def test_weights_are_refused_when_not_finite_and_checked_against_their_checksum(tmp_path):
    with pytest.raises(CheckpointError, match=r"NaN or infinite weights in w \(1 of 3\); nothing was written"):
        artifacts.save_weights(tmp_path / "w.safetensors", {"w": torch.tensor([1.0, float("inf"), 2.0])}, format="t")
    assert list(tmp_path.iterdir()) == []
    path = artifacts.save_weights(tmp_path / "w.safetensors", {"w": torch.tensor([1.0, 2.0, 3.0])}, format="t")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="do not match the checksum"):
        artifacts.read_weights(path, "t", what="a test file")


def test_checked_load_names_missing_unexpected_and_misshaped_keys():
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    state = {"0.weight": torch.zeros(4, 3), "0.bias": torch.zeros(5), "2.weight": torch.zeros(1)}
    with pytest.raises(CheckpointError) as err:
        artifacts.load_checked(net, state, source="f.safetensors", what="the test net")
    message = str(err.value)
    assert message.startswith("f.safetensors: weights do not match the test net; ")
    assert "missing: 1.weight, 1.bias (2)" in message and "unexpected: 2.weight (1)" in message
    assert "wrong shape: 0.bias [5] (expected [4])" in message
    good = {k: torch.full_like(v, 0.5) for k, v in net.state_dict().items()}
    artifacts.load_checked(net, good, source="f", what="the test net")
    assert all(torch.equal(v, good[k]) for k, v in net.state_dict().items())


def test_weights_file_and_folder_round_trip(tmp_path):
    tensors = {"a": torch.arange(6.0).view(2, 3), "b": torch.tensor([1, 2], dtype=torch.int64)}
    path = artifacts.save_weights(tmp_path / "w.safetensors", tensors, format="lsw-test", config={"x": [1, 2]})
    loaded, info = artifacts.read_weights(path, "lsw-test", what="a test file")
    assert info == {"config": {"x": [1, 2]}} and all(torch.equal(loaded[k], v) for k, v in tensors.items())
    with pytest.raises(CheckpointError, match="not a other file \\(format 'lsw-test', expected 'lsw-other'\\)"):
        artifacts.read_weights(path, "lsw-other", what="a other file")
    folder = artifacts.write_folder(tmp_path / "f", {"format": "lsw-test", "n": 3}, tensors, "model.safetensors")
    config, loaded = artifacts.read_folder(
        folder, ("lsw-test",), what="a test folder", weights_name="model.safetensors"
    )
    assert config == {"format": "lsw-test", "n": 3} and torch.equal(loaded["a"], tensors["a"])
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="model.safetensors is missing"):
        artifacts.read_folder(folder, ("lsw-test",), what="a test folder", weights_name="model.safetensors")


def test_shipped_synthface_networks_load_from_their_older_format_unchanged():
    pytest.importorskip("lsw_synthface")
    from lsw_synthface.nets import EMBEDDER_FILE, REGRESSOR_FILE, build_embedder, build_shape_model, shipped_weights

    for name, build in ((EMBEDDER_FILE, build_embedder), (REGRESSOR_FILE, build_shape_model)):
        path = shipped_weights(name)
        before = hashlib.sha256(path.read_bytes()).hexdigest()
        net = build()
        raw = load_file(str(path))
        state = net.state_dict()
        assert set(raw) == set(state)
        assert all(torch.equal(state[k], v.to(state[k].dtype)) for k, v in raw.items())  # every tensor as stored
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_new_synthface_network_files_round_trip(tmp_path):
    pytest.importorskip("lsw_synthface")
    from lsw_synthface.nets import build_embedder, save_net

    net = build_embedder()
    path = save_net(net, tmp_path / "e.safetensors", metrics={"acc": 1.0})
    again = build_embedder(path)
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in net.state_dict().items())


def test_pivot_cache_entries_of_the_older_format_are_hits(tmp_path):
    from lsw_core.photo import PivotCache

    cache = PivotCache(tmp_path)
    key = cache.key(np.zeros((4, 4, 3), np.uint8), "context")
    ws = torch.randn(1, 6, 16)
    save_file({"ws": ws}, str(tmp_path / f"{key}.safetensors"), metadata={"info": json.dumps({"psnr": 30.0})})
    assert torch.equal(cache.get(key)["ws"], ws)
    cache.put(key, {"ws": ws + 1}, {"psnr": 31.0})
    assert torch.equal(cache.get(key)["ws"], ws + 1)
    (tmp_path / f"{key}.safetensors").write_bytes(b"damaged")
    assert cache.get(key) is None
