"""The two CNNs and their weight files, on random weights (no world needed)."""

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from lsw_core.errors import CheckpointError, LswError, ShapeError
from lsw_synthface.nets import (
    BackboneConfig,
    SynthFaceEmbedder,
    SynthFaceShapeModel,
    build_embedder,
    build_shape_model,
    load_net,
    read_config,
    resample,
    save_net,
)

torch.set_num_threads(1)
SMALL = BackboneConfig(input_size=32, widths=(8, 16), hidden=32)


@settings(max_examples=15, deadline=None)
@given(size=st.integers(8, 160), batch=st.integers(1, 3))
def test_embedder_takes_any_size_and_returns_unit_vectors(size, batch):
    torch.manual_seed(0)
    net = SynthFaceEmbedder(dim=16, backbone=SMALL)
    emb = net(torch.rand(batch, 3, size, size) * 2 - 1)
    assert emb.shape == (batch, 16)
    assert torch.allclose(emb.norm(dim=1), torch.ones(batch), atol=1e-5)


def test_a_mirror_embedder_embeds_an_image_and_its_mirror_image_alike(tmp_path):
    torch.manual_seed(0)
    net = SynthFaceEmbedder(dim=16, backbone=SMALL, mirror=True).eval()
    x = torch.rand(2, 3, 48, 48) * 2 - 1
    torch.testing.assert_close(net(x), net(x.flip(-1)))
    plain = SynthFaceEmbedder(dim=16, backbone=SMALL)
    plain.load_state_dict(net.state_dict())
    assert not torch.allclose(plain(x), plain(x.flip(-1)), atol=1e-3)
    loaded = build_embedder(save_net(net, tmp_path / "e.safetensors"))
    assert loaded.mirror and read_config(tmp_path / "e.safetensors")["mirror"] is True


@settings(max_examples=10, deadline=None)
@given(size=st.integers(8, 160))
def test_regressor_takes_any_size(size):
    net = SynthFaceShapeModel(identity_dim=5, expression_dim=4, backbone=SMALL)
    assert net(torch.zeros(2, 3, size, size)).shape == (2, 5 + 4 + 3)


def test_resample_is_area_average_when_shrinking_by_an_integer_factor():
    x = torch.randn(2, 3, 128, 128)
    assert torch.allclose(resample(x, 64), torch.nn.functional.avg_pool2d(x, 2), atol=1e-6)
    assert resample(x, 128) is x
    assert resample(x, 200).shape[-2:] == (200, 200)


def test_wrong_input_shape_is_a_clear_error():
    net = SynthFaceEmbedder(dim=16, backbone=SMALL)
    with pytest.raises(ShapeError, match=r"expected shape \[B, 3, \*, \*\], got \[3, 64, 64\]"):
        net(torch.zeros(3, 64, 64))


def test_gradient_reaches_the_input():
    torch.manual_seed(0)
    net = SynthFaceEmbedder(dim=16, backbone=SMALL).requires_grad_(False)
    x = (torch.rand(2, 3, 64, 64) * 2 - 1).requires_grad_(True)
    (1 - (net(x[:1]) * net(x[1:])).sum()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0 and torch.isfinite(x.grad).all()


def test_fuse_keeps_source_identity_and_target_rest():
    net = SynthFaceShapeModel(identity_dim=5, expression_dim=4, backbone=SMALL)
    s, t = torch.randn(3, 12), torch.randn(3, 12)
    fused = net.fuse(s, t)
    parts = net.parts(fused)
    assert torch.equal(parts["identity"], s[:, :5])
    assert torch.equal(parts["expression"], t[:, 5:9])
    assert torch.equal(parts["pose"], t[:, 9:])


def test_weights_round_trip_in_half_precision(tmp_path):
    torch.manual_seed(0)
    net = SynthFaceShapeModel(identity_dim=5, expression_dim=4, backbone=SMALL)
    net.coeff_mean.fill_(0.5)
    net.coeff_std.fill_(2.0)
    path = save_net(net, tmp_path / "r.safetensors")
    assert [p.name for p in tmp_path.iterdir()] == ["r.safetensors"]  # no temporary left behind
    assert read_config(path) == json.loads(json.dumps(net.config()))
    loaded = build_shape_model(path)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    torch.testing.assert_close(loaded(x), net(x), atol=2e-2, rtol=1e-2)
    assert torch.equal(loaded.coeff_std, torch.full((12,), 2.0))


def test_loading_into_another_architecture_says_what_differs(tmp_path):
    path = save_net(SynthFaceEmbedder(dim=16, backbone=SMALL), tmp_path / "e.safetensors")
    with pytest.raises(CheckpointError, match="dim: file has 16, network has 32"):
        load_net(SynthFaceEmbedder(dim=32, backbone=SMALL), path)


def test_bad_weight_files_are_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        build_embedder(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="expected a safetensors file"):
        build_embedder(junk)
    bare = tmp_path / "bare.safetensors"
    save_file({"x": torch.zeros(1)}, str(bare))
    with pytest.raises(CheckpointError, match="'config'"):
        build_embedder(bare)
    path = save_net(SynthFaceEmbedder(dim=16, backbone=SMALL), tmp_path / "e.safetensors")
    with pytest.raises(LswError, match="expected no options"):
        build_embedder(path, dim=3)
