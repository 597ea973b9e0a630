"""Acceptance: inversion on the synthetic world recovers known latents — PSNR ≥ 30 dB at 128 px and
small oracle errors of the face parameters the pivots decode to."""

from __future__ import annotations

import pytest
import torch

from lsw_core.inversion import fast_schedule, project
from lsw_core.plugins import load, load_generator, load_inverter
from lsw_lpips.fallback import PixelSSIM

pytest.importorskip("lsw_synthface.generator", reason="the synthface backend is not installed")


@pytest.fixture(scope="module")
def world():
    G = load_generator("synthface")
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ws = G.mapping(z, truncation_psi=0.5)
        return G, ws, G.synthesis(ws)


@pytest.mark.parametrize("encoder", [False, True], ids=["from w_avg", "from the encoder"])
def test_w_projection_recovers_known_latents(world, encoder):
    G, ws, images = world
    start = load("latent_encoder", "synthface") if encoder else None
    # 50 steps from the generator's w_avg, or 30 from the shipped encoder's guess
    inv = project(G, images, fast_schedule(encoder=encoder)[0], PixelSSIM(), encoder=start)
    assert min(inv.metrics["psnr"]) >= 30.0, inv.metrics
    truth, found = G.params(ws), G.params(inv.ws)
    # identity coefficients have unit prior spread; a swap moves them by ~1–2
    assert (truth.identity - found.identity).abs().mean() < 0.35
    assert (truth.expression - found.expression).abs().mean() < 0.3
    assert (truth.pose - found.pose).abs().max() < 5.0  # degrees


def test_pti_on_a_generator_without_weights_keeps_the_pivots(world):
    G, ws, images = world
    inverter = load_inverter("pti", schedule="fast", perceptual="pixel-ssim", projection_steps=5, tuning_steps=5)
    inv = inverter.invert(G, images)
    assert inv.metrics["steps"] == 0 and "no parameters" in inv.metrics["tuning"]
    assert inv.metrics["psnr"] == pytest.approx(inv.metrics["projection_psnr"], abs=1e-4)
