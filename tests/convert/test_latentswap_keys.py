"""The authors' key layout of the mixer (their `LatentMixerSep` rows and the one-row Z/W MLP), read
by the converter: the converted mixer computes exactly what their rows compute."""

import pytest
import torch

from lsw_core import CheckpointError
from lsw_core.convert.latentswap import mixer_from_authors
from tests.mixing.test_mixer import authors_row, per_row_reference


def test_authors_checkpoint_layout_gives_equal_outputs():
    torch.manual_seed(0)
    rows = [authors_row(64) for _ in range(5)]
    state = {f"identity_mixer.mixer.{r}.{k}": v for r, row in enumerate(rows) for k, v in row.state_dict().items()}
    mixer = mixer_from_authors(state, residual_coefficient=0.5)
    assert (mixer.num_rows, mixer.w_dim) == (5, 64)
    s, t = torch.randn(7, 5, 64), torch.randn(7, 5, 64)
    torch.testing.assert_close(mixer(s, t), per_row_reference(rows, s, t, 0.5), rtol=0, atol=1e-5)


def test_authors_single_mlp_layout_for_z_and_w():
    torch.manual_seed(1)
    row = authors_row(32)
    state = {f"identity_mixer.{k}": v for k, v in row.state_dict().items()}
    mixer = mixer_from_authors(state)
    s, t = torch.randn(3, 1, 32), torch.randn(3, 1, 32)
    expected = t[:, 0] + row(torch.cat([s[:, 0], t[:, 0]], dim=1))
    torch.testing.assert_close(mixer(s, t)[:, 0], expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "state, message",
    [
        ({"identity_mixer.mixer.0.0.weight": torch.zeros(2, 2)}, "expected Linear layers 0,2,4,6,8"),
        ({"encoder.conv.weight": torch.zeros(1)}, "unexpected key"),
    ],
)
def test_authors_converter_rejects_other_layouts(state, message):
    with pytest.raises(CheckpointError, match=message):
        mixer_from_authors(state)
