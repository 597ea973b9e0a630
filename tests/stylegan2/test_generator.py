"""The StyleGAN2 generator behind the `Generator` interface: shapes, truncation, noise modes,
training-mode gradients and layer groups."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lsw_core
from lsw_core.errors import LswError, ShapeError

from .conftest import fixture_generator


@pytest.fixture(scope="module")
def gen():
    return fixture_generator("skip32")


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3), st.floats(0.0, 1.5), st.one_of(st.none(), st.integers(0, 8)))
def test_truncation_lerps_the_first_rows_towards_w_avg(gen, batch, psi, cutoff):
    G = gen[0]
    z = torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(batch))
    with torch.no_grad():
        w = G.mapping(z)
        wt = G.mapping(z, truncation_psi=psi, truncation_cutoff=cutoff)
    rows = G.num_ws if cutoff is None else cutoff
    assert wt.shape == (batch, G.num_ws, G.w_dim)
    assert torch.allclose(wt[:, :rows], G.w_avg + psi * (w[:, :rows] - G.w_avg), atol=1e-5)
    assert torch.equal(wt[:, rows:], w[:, rows:])
    assert torch.equal(w, w[:, :1].expand_as(w))  # one w broadcast to every row


def test_fused_and_per_sample_modulation_agree(gen):
    G, _, _, ref = gen
    with torch.no_grad():
        a = G.synthesis(ref["ws_psi07"], fused=True)
        b = G.synthesis(ref["ws_psi07"], fused=False)
    assert (a - b).abs().max() <= 1e-4


def test_noise_modes(gen):
    G, _, _, ref = gen
    ws = ref["ws_psi07"][:1]
    with torch.no_grad():
        const = [G.synthesis(ws, noise_mode="const") for _ in range(2)]
        rand = [G.synthesis(ws, noise_mode="random") for _ in range(2)]
    assert torch.equal(const[0], const[1]) and not torch.equal(rand[0], rand[1])
    with pytest.raises(LswError, match="noise_mode"):
        G.synthesis(ws, noise_mode="bogus")


def test_gradients_flow_to_ws_in_training_mode(gen):
    G, _, _, ref = gen
    ws = ref["ws_psi07"].clone().requires_grad_(True)
    G.train()
    try:
        img = G.synthesis(ws, noise_mode="random")
    finally:
        G.eval()
    img.square().mean().backward()
    assert ws.grad is not None and ws.grad.abs().sum() > 0
    assert all(p.grad is None for p in G.parameters())  # loaded generators are frozen


def test_bad_inputs_fail_where_they_enter(gen):
    G = gen[0]
    with pytest.raises(ShapeError, match=r"expected shape \[B, 8, 16\]"):
        G.synthesis(torch.zeros(1, 7, 16))
    with pytest.raises(ShapeError, match="z"):
        G.mapping(torch.zeros(2, 5))
    with pytest.raises(LswError, match="2D generator"):
        G.synthesis(torch.zeros(1, 8, 16), camera=object())


def test_force_fp32_is_the_cpu_default_and_fp16_blocks_are_marked():
    G = lsw_core.load_generator(
        "stylegan2",
        img_resolution=32,
        z_dim=8,
        w_dim=8,
        synthesis_kwargs={"channel_base": 128, "channel_max": 8, "num_fp16_res": 2},
    )
    assert [b.use_fp16 for b in G.synthesis_net.blocks()] == [False, False, True, True]
    with torch.no_grad():
        img = G.synthesis(G.mapping(torch.randn(1, 8)))
    assert img.dtype == torch.float32 and torch.isfinite(img).all()


def test_layer_groups_follow_resolution_classes(gen):
    G = gen[0]  # 32 px: rows of 4²–8² are coarse, 16²–32² middle
    assert G.layer_groups["coarse"] == range(0, 4) and G.layer_groups["middle"] == range(4, 8)
    orig = fixture_generator("orig32")[0]  # no ToRGB before the last block: row 1 drives 8² already
    assert orig.synthesis_net.row_resolutions() == [4, 8, 8, 16, 16, 32, 32, 32]
    assert orig.layer_groups["coarse"] == range(0, 3)


def test_state_dict_uses_nvidia_key_names(gen):
    G, _, state, _ = gen
    assert set(G.state_dict()) == set(state)
    assert "mapping.w_avg" in state and "synthesis.b4.const" in state


def _saved_bytes(fn):
    """Bytes of the tensors autograd keeps for the backward pass of fn()."""
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, total


def test_a_render_that_needs_gradients_scales_activations(gen, monkeypatch):
    import lsw_stylegan2.networks as networks

    G, _, _, ref = gen
    seen = []
    conv = networks._conv
    monkeypatch.setattr(networks, "_conv", lambda *a, groups, **k: seen.append(groups) or conv(*a, groups=groups, **k))
    ws = ref["ws_psi07"]
    with torch.no_grad():
        fused = G.synthesis(ws)
    assert max(seen) == ws.shape[0]  # inference: one grouped convolution per layer
    seen.clear()
    per_sample = G.synthesis(ws.clone().requires_grad_(True))
    assert set(seen) == {1}  # gradients needed: shared weights, per-sample activation scaling
    assert (per_sample - fused).abs().max() <= 1e-4


def test_activation_checkpointing_keeps_gradients_and_saves_memory(gen):
    G, _, _, ref = gen
    grads, saved = [], []
    for enabled in (False, True):
        G.set_activation_checkpointing(enabled)
        ws = ref["ws_psi07"].clone().requires_grad_(True)
        torch.manual_seed(0)
        try:
            img, nbytes = _saved_bytes(lambda ws=ws: G.synthesis(ws, noise_mode="random"))
            img.square().mean().backward()
        finally:
            G.set_activation_checkpointing(False)
        grads.append(ws.grad)
        saved.append(nbytes)
    assert torch.allclose(grads[0], grads[1], rtol=1e-5, atol=1e-7)  # the same noise is replayed
    assert saved[1] < 0.5 * saved[0]
