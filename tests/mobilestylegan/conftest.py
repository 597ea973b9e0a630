"""Small MobileStyleGAN generators with random weights, and their IR files, for the backend's tests."""

from __future__ import annotations

import importlib.metadata

import pytest
import torch

from lsw_mobilestylegan.generator import MobileStyleGANGenerator

from .irwriter import write_ir

#: Two blocks (8², 16²), a 32-px image, 1 + 3 + 4 = 8 W+ rows.
SMALL = dict(z_dim=8, w_dim=8, mapping_layers=2, channels=[16, 16, 8], w_avg_samples=200)


def small_generator(seed: int = 0, **overrides) -> MobileStyleGANGenerator:
    """A frozen generator of `SMALL` widths (or `overrides`) with weights, noise and w_avg drawn from `seed`."""
    torch.manual_seed(seed)
    G = MobileStyleGANGenerator(**{**SMALL, **overrides})
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.2 * torch.randn_like(p) + (1.0 if "modulation" in name else 0.0))
        for conv in G.synthesis_net.styled_convs():
            conv.noise.strength.fill_(0.1)
            conv.noise.const.copy_(0.1 * torch.randn_like(conv.noise.const))
    G.update_w_avg()
    return G.eval().requires_grad_(False)


@pytest.fixture
def small_ir(tmp_path):
    """(generator, folder with its IR files)."""
    G = small_generator()
    return G, write_ir(G, tmp_path / "ir")


def wheel_installed() -> bool:
    try:
        importlib.metadata.distribution("random-face")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    yield
