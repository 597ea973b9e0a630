"""PSNR and SSIM of reconstructions."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lsw_core.inversion import psnr, ssim


def test_psnr_of_a_known_error():
    a = torch.zeros(1, 3, 8, 8)
    b = a + 0.2  # 0.1 in [0, 1] units → MSE 0.01 → 20 dB
    assert math.isclose(float(psnr(a, b)), 20.0, rel_tol=1e-5)


@settings(max_examples=25, deadline=None)
@given(size=st.integers(11, 40), seed=st.integers(0, 1000), noise=st.floats(0.01, 1.0))
def test_ssim_is_one_for_equal_images_and_below_for_noisy(size, seed, noise):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 3, size, size, generator=g) * 2 - 1
    y = (x + noise * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    assert torch.allclose(ssim(x, x), torch.ones(2), atol=1e-5)
    s = ssim(x, y)
    assert ((s <= 1 + 1e-6) & (s >= -1)).all() and (s < 1).all()
