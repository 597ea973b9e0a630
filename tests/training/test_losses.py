import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lsw_core.errors import LswError
from lsw_core.evaluation.metrics import id_retrieval, pose_error_deg
from lsw_core.mixing import editing, latents
from lsw_core.training.losses import identity_loss, latent_penalty


@settings(max_examples=30, deadline=None)
@given(b=st.integers(1, 8), d=st.integers(2, 16), seed=st.integers(0, 1000))
def test_identity_loss_is_one_minus_cosine_in_0_2(b, d, seed):
    g = torch.Generator().manual_seed(seed)
    a, c = torch.randn(b, d, generator=g), torch.randn(b, d, generator=g)
    loss = identity_loss(a, c)
    assert 0 <= loss <= 2
    assert identity_loss(a, a) == pytest.approx(0, abs=1e-6)
    assert identity_loss(a, -a) == pytest.approx(2, abs=1e-6)


def test_latent_penalty_is_the_mean_squared_error():
    t, s = torch.zeros(2, 18, 512), torch.full((2, 18, 512), 0.5)
    assert latent_penalty(t, s).item() == pytest.approx(0.25)


def test_id_retrieval_counts_nearest_own_source():
    sources = torch.eye(4)
    swaps = torch.tensor([[1.0, 0.1, 0, 0], [0, 1, 0, 0], [1, 0, 0.2, 0], [0, 0, 0, 1]])
    assert id_retrieval(sources, swaps) == 0.75
    assert pose_error_deg(torch.zeros(2, 3), torch.tensor([[3.0, 4, 0], [0, 0, 0]])) == 2.5


def test_latent_spaces_round_trip_wplus_and_refuse_z():
    ws = torch.randn(2, 18, 8)
    assert latents.from_wplus(ws, "w+") is ws and latents.from_wplus(ws, "w").shape == (2, 1, 8)
    with pytest.raises(LswError, match="Z-space mixer"):
        latents.from_wplus(ws, "z")
    with pytest.raises(LswError, match="latent space"):
        latents.check_space("s")


def test_direction_editing_moves_only_the_chosen_rows(tmp_path):
    import numpy as np

    np.save(tmp_path / "d.npy", np.ones((1, 8), dtype=np.float32))
    d = editing.load_direction(str(tmp_path / "d.npy"), 8)
    assert d.norm().item() == pytest.approx(1)
    ws = torch.zeros(1, 6, 8)
    moved = editing.apply_direction(ws, d, 2.0, rows=range(0, 2))
    assert torch.allclose(moved[0, :2], 2 * d.expand(2, 8)) and moved[0, 2:].abs().sum() == 0
    with pytest.raises(LswError, match="expected a direction with 4 values"):
        editing.load_direction(str(tmp_path / "d.npy"), 4)
