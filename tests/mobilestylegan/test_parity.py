"""The port against OpenVINO executing the same IR files on the same w (every W+ row equal): the
random-face wheel's FFHQ model at 1024 px, and small random generators written as IR by the tests."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import lsw_core

from .conftest import small_generator, wheel_installed
from .irwriter import write_ir

ov = pytest.importorskip("openvino", reason="parity needs OpenVINO to run the IR: pip install openvino")
needs_wheel = pytest.mark.skipif(
    not wheel_installed(), reason="the FFHQ IR files come from the random-face wheel: pip install --no-deps random-face"
)
#: OpenVINO's CPU plugin may infer in bf16 where the CPU has it; the port is compared with its f32.
CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 1}


def _compiled(folder):
    core = ov.Core()
    return [
        core.compile_model(core.read_model(str(folder / f"{n}.xml")), "CPU", CONFIG)
        for n in ("MappingNetwork", "SynthesisNetwork")
    ]


def _compare(G, folder, seeds):
    mapping, synthesis = _compiled(folder)
    worst = np.zeros(3)
    for seed in seeds:
        z = np.random.default_rng(seed).standard_normal((1, G.z_dim)).astype(np.float32)
        w = mapping(z)[0]
        ws = torch.from_numpy(w)[:, None].repeat(1, G.num_ws, 1)
        with torch.no_grad():
            w_port = G.mapping_net(torch.from_numpy(z)).numpy()
            images = [G.synthesis(ws).numpy(), G.synthesis_net(ws, reference=True).numpy()]
        image = synthesis(w)[0]
        worst = np.maximum(worst, [np.abs(w_port - w).max()] + [0] * 2)
        for port in images:
            d = np.abs(port.astype(np.float64) - image)
            worst = np.maximum(worst, [0, d.max(), d.mean()])
    return worst


def test_small_random_generators_match_openvino(tmp_path):
    for i, channels in enumerate(([16, 16, 8], [8, 12, 16, 4])):
        G = small_generator(seed=i, channels=channels)
        mapping_max, image_max, image_mean = _compare(G, write_ir(G, tmp_path / str(i)), seeds=(0, 1))
        assert mapping_max < 1e-5 and image_max < 1e-5 and image_mean < 1e-6


@functools.cache
def _ffhq():
    return lsw_core.load_generator("mobilestylegan")


@needs_wheel
@pytest.mark.slow
def test_ffhq_mapping_and_synthesis_match_openvino_at_1024px():
    """Measured (torch 2.13, OpenVINO 2026.4, AVX-512 CPU): mapping max |Δ| 5e-6; images max |Δ|
    1.3e-4, mean 7e-7."""
    from lsw_mobilestylegan.loaders import wheel_ir_folder

    G = _ffhq()
    assert (G.num_ws, G.resolution) == (23, 1024)
    mapping_max, image_max, image_mean = _compare(G, wheel_ir_folder(), seeds=(0, 1))
    assert mapping_max < 1e-4
    assert image_max <= 2e-3 and image_mean <= 1e-4


@needs_wheel
@pytest.mark.slow
def test_ffhq_w_avg_is_reproducible_and_truncation_keeps_faces_in_range():
    from lsw_mobilestylegan.generator import estimate_w_avg

    G = _ffhq()
    assert torch.equal(estimate_w_avg(G.mapping_net), G.w_avg)
    ws = G.mapping(
        torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(0)), truncation_psi=0.5, truncation_cutoff=8
    )
    with torch.no_grad():
        image = G.synthesis(ws)
    assert image.shape == (1, 3, 1024, 1024) and image.abs().max() < 1.5 and image.std() > 0.1
