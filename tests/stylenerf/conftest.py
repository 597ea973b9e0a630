from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).parent.parent / "fixtures" / "stylenerf"


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny64():
    from lsw_stylenerf.loader import load_stylenerf

    return load_stylenerf(FIXTURES / "tiny64.pt")


@pytest.fixture(scope="session")
def expected64():
    return torch.load(FIXTURES / "tiny64_expected.pt", weights_only=True)


@pytest.fixture(scope="session")
def fixtures_dir():
    return FIXTURES


@pytest.fixture(scope="session")
def small_ffhq():
    """Factory of randomly initialised FFHQ-architecture generators with narrow layers (fast on CPU)."""
    from lsw_stylenerf.loader import load_stylenerf

    def make(resolution=64, w_dim=16, seed=0):
        kw = dict(
            rgb_out_dim=8,
            channel_max=16,
            foreground_kwargs={"hidden_size": 16, "predict_rgb": True},
            background_kwargs={"hidden_size": 8, "n_blocks": 4, "inverse_sphere": True, "predict_rgb": True},
        )
        return load_stylenerf(None, resolution=resolution, z_dim=16, w_dim=w_dim, mapping_layers=2, seed=seed, **kw)

    return make
