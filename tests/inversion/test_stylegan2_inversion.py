"""The inverters are generic: on a small randomly initialised StyleGAN2 they optimise the noise
buffers on a copy and PTI tunes a copy of the weights, leaving the caller's generator as it was."""

from __future__ import annotations

import pytest
import torch

from lsw_core.inversion import ProjectionConfig, TuningConfig, apply_delta, parameter_delta, project, tune
from lsw_core.inversion.loss import noise_buffers
from lsw_core.plugins import load_generator
from lsw_lpips.fallback import PixelSSIM

pytest.importorskip("lsw_stylegan2.loaders", reason="the stylegan2 backend is not installed")


def test_projection_and_tuning_on_a_small_stylegan2():
    G = load_generator(
        "stylegan2", img_resolution=16, w_dim=32, z_dim=32,
        synthesis_kwargs={"channel_base": 256, "channel_max": 16, "num_fp16_res": 0, "conv_clamp": None},
    )  # fmt: skip
    before = {k: v.clone() for k, v in G.state_dict().items()}
    noise_before = {k: v.clone() for k, v in noise_buffers(G).items()}
    with torch.no_grad():
        images = G.synthesis(G.mapping(torch.randn(2, 32, generator=torch.Generator().manual_seed(0))))
    pivots = project(G, images, ProjectionConfig(steps=4, w_avg_samples=64), PixelSSIM())
    assert noise_buffers(pivots.generator) and any(
        not torch.equal(buf, noise_before[name]) for name, buf in noise_buffers(pivots.generator).items()
    )
    tuned = tune(G, pivots, images, TuningConfig(steps=3), PixelSSIM())
    delta = parameter_delta(G, tuned.generator)
    assert any(name.endswith("noise_const") for name in delta) and any(name.endswith("weight") for name in delta)
    rebuilt = apply_delta(G, delta)
    with torch.no_grad():
        assert torch.allclose(rebuilt.synthesis(tuned.ws), tuned.generator.synthesis(tuned.ws), atol=1e-5)
    assert all(torch.equal(v, before[k]) for k, v in G.state_dict().items())
    assert all(torch.equal(v, noise_before[k]) for k, v in noise_buffers(G).items())
