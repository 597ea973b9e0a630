"""The custom ops: the pure-torch references against their definitions, the gradient identity the
CUDA backward relies on, and (on a GPU) the CUDA kernels against the references."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lsw_stylegan2.ops import bias_act, bias_act_reference, setup_filter, upfirdn2d, upfirdn2d_reference
from lsw_stylegan2.ops.upfirdn2d import upfirdn2d_adjoint_params

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="CUDA kernels need a CUDA device; none is available here")


def _brute_upfirdn2d(x, f, up, down, pads, flip_filter, gain):
    """The definition, one output sample at a time."""
    px0, px1, py0, py1 = pads
    n, c, h, w = x.shape
    fh, fw = f.shape
    k = f if flip_filter else f.flip([0, 1])
    oh = (h * up + py0 + py1 - fh) // down + 1
    ow = (w * up + px0 + px1 - fw) // down + 1
    y = torch.zeros(n, c, oh, ow, dtype=torch.float64)
    for oy in range(oh):
        for ox in range(ow):
            for ky in range(fh):
                for kx in range(fw):
                    uy, ux = oy * down + ky - py0, ox * down + kx - px0
                    if uy < 0 or ux < 0 or uy % up or ux % up or uy // up >= h or ux // up >= w:
                        continue
                    y[:, :, oy, ox] += x[:, :, uy // up, ux // up].double() * float(k[ky, kx]) * gain
    return y


params = st.tuples(
    st.integers(1, 3),
    st.integers(1, 2),
    st.lists(st.integers(-2, 3), min_size=4, max_size=4),
    st.integers(1, 4),
    st.integers(1, 4),
    st.booleans(),
    st.integers(3, 6),
)


@settings(max_examples=25, deadline=None)
@given(params)
def test_upfirdn2d_reference_matches_definition(p):
    up, down, pads, fh, fw, flip, size = p
    assume(size * up + pads[2] + pads[3] >= fh and (size + 1) * up + pads[0] + pads[1] >= fw)
    x = torch.randn(1, 2, size, size + 1)
    f = torch.rand(fh, fw) + 0.1
    ref = upfirdn2d_reference(x, f, up=up, down=down, padding=pads, flip_filter=flip, gain=1.5)
    want = _brute_upfirdn2d(x, f, up, down, pads, flip, 1.5)
    assert ref.shape == want.shape
    assert torch.allclose(ref.double(), want, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(params)
def test_upfirdn2d_gradient_is_the_adjoint_upfirdn2d(p):
    up, down, pads, fh, fw, flip, size = p
    assume(size * up + pads[2] + pads[3] >= fh and (size + 1) * up + pads[0] + pads[1] >= fw)
    x = torch.randn(1, 2, size, size + 1, dtype=torch.float64, requires_grad=True)
    f = torch.rand(fh, fw, dtype=torch.float64) + 0.1
    y = upfirdn2d_reference(x, f, up=up, down=down, padding=pads, flip_filter=flip)
    dy = torch.randn_like(y)
    (grad,) = torch.autograd.grad(y, x, dy)
    a_up, a_down, a_pads, a_flip = upfirdn2d_adjoint_params(x.shape, y.shape, f.shape, up, down, tuple(pads), flip)
    adj = upfirdn2d_reference(dy, f, up=a_up, down=a_down, padding=a_pads, flip_filter=a_flip)
    assert adj.shape == grad.shape
    assert torch.allclose(adj, grad, atol=1e-10)


def test_setup_filter_is_normalised_outer_product():
    f = setup_filter([1, 3, 3, 1])
    assert f.shape == (4, 4) and math.isclose(f.sum().item(), 1.0, rel_tol=1e-6)
    assert torch.allclose(f, torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1])) / 64)


@settings(max_examples=20, deadline=None)
@given(
    st.sampled_from(["linear", "relu", "lrelu", "tanh", "sigmoid", "swish"]),
    st.floats(0.5, 2.0),
    st.one_of(st.none(), st.floats(0.1, 3.0)),
    st.integers(0, 2),
)
def test_bias_act_reference_matches_definition(act, gain, clamp, dim):
    x = torch.randn(3, 4, 5)
    b = torch.randn(x.shape[dim])
    shape = [1, 1, 1]
    shape[dim] = -1
    v = x + b.reshape(shape)
    f = {
        "linear": lambda t: t,
        "relu": torch.relu,
        "lrelu": lambda t: torch.where(t > 0, t, 0.2 * t),
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "swish": lambda t: t * torch.sigmoid(t),
    }[act]
    want = f(v) * gain
    if clamp is not None:
        want = want.clamp(-clamp, clamp)
    got = bias_act_reference(x, b, dim=dim, act=act, gain=gain, clamp=clamp)
    assert torch.allclose(got, want, atol=1e-6)
    x_before = x.clone()
    with torch.no_grad():  # the in-place inference path: same values, input untouched
        fast = bias_act(x, b, dim=dim, act=act, gain=gain, clamp=clamp)
        fast_nob = bias_act(x, None, dim=dim, act=act, gain=gain, clamp=clamp)
    assert torch.equal(fast, got) and torch.equal(x, x_before)
    assert torch.equal(fast_nob, bias_act_reference(x, None, dim=dim, act=act, gain=gain, clamp=clamp))


def test_cpu_tensors_use_the_reference_and_cuda_impl_needs_cuda():
    x = torch.randn(1, 2, 5, 5)
    f = setup_filter([1, 3, 3, 1])
    assert torch.equal(
        upfirdn2d(x, f, up=2, padding=[2, 1, 2, 1]), upfirdn2d_reference(x, f, up=2, padding=[2, 1, 2, 1])
    )
    with pytest.raises(ValueError, match="needs a CUDA tensor"):
        upfirdn2d(x, f, impl="cuda")


@needs_cuda
@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize(
    "act,clamp",
    [
        ("lrelu", None),
        ("lrelu", 0.5),
        ("linear", 256),
        ("tanh", None),
        ("swish", 1.0),
        ("sigmoid", None),
        ("relu", None),
    ],
)
def test_bias_act_cuda_matches_reference(act, clamp, dtype):
    x = torch.randn(4, 8, 9, 7, device="cuda", dtype=dtype, requires_grad=True)
    b = torch.randn(8, device="cuda", dtype=dtype, requires_grad=True)
    y_ref = bias_act(x, b, act=act, gain=1.3, clamp=clamp, impl="ref")
    y_cuda = bias_act(x, b, act=act, gain=1.3, clamp=clamp, impl="cuda")
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    assert torch.allclose(y_cuda.float(), y_ref.float(), atol=tol)
    dy = torch.randn_like(y_ref)
    g_ref = torch.autograd.grad(y_ref, [x, b], dy)
    g_cuda = torch.autograd.grad(y_cuda, [x, b], dy)
    for a, r in zip(g_cuda, g_ref):
        assert torch.allclose(a.float(), r.float(), atol=tol * 10, rtol=tol)


@needs_cuda
@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize(
    "up,down,pads,flip",
    [
        (2, 1, [2, 1, 2, 1], False),
        (1, 2, [1, 1, 1, 1], False),
        (1, 1, [1, 2, 0, 1], True),
        (2, 1, [1, 1, 1, 1], False),
        (3, 2, [-1, 2, 0, -1], True),
    ],
)
def test_upfirdn2d_cuda_matches_reference(up, down, pads, flip, dtype):
    x = torch.randn(2, 5, 16, 13, device="cuda", dtype=dtype, requires_grad=True)
    f = setup_filter([1, 3, 3, 1]).cuda()
    kw = dict(up=up, down=down, padding=pads, flip_filter=flip, gain=up * up)
    y_ref = upfirdn2d(x, f, impl="ref", **kw)
    y_cuda = upfirdn2d(x, f, impl="cuda", **kw)
    tol = 1e-5 if dtype == torch.float32 else 1e-2
    assert torch.allclose(y_cuda.float(), y_ref.float(), atol=tol)
    dy = torch.randn_like(y_ref)
    (g_ref,) = torch.autograd.grad(y_ref, x, dy)
    (g_cuda,) = torch.autograd.grad(y_cuda, x, dy)
    assert torch.allclose(g_cuda.float(), g_ref.float(), atol=tol * 10)


@needs_cuda
@pytest.mark.gpu
def test_generator_on_cuda_matches_cpu_reference():
    from .conftest import fixture_generator

    G, _, _, ref = fixture_generator("skip32")
    G = copy.deepcopy(G)
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False  # full fp32 for parity
    try:
        with torch.no_grad():
            img = G.cuda().synthesis(ref["ws_psi07"].cuda(), force_fp32=True)
            half = G.synthesis(ref["ws_psi07"].cuda(), force_fp32=False)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    assert (img.cpu() - ref["img"]).abs().max() <= 1e-4
    assert half.dtype == torch.float32 and (half.cpu() - ref["img"]).abs().max() <= 0.1
