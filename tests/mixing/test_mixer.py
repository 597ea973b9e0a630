import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from lsw_core import ShapeError
from lsw_core.mixing.mixer import LatentMixer, layer_widths


def authors_row(w_dim: int) -> nn.Sequential:
    """One row of the authors' LatentMixerSep, written out as in their code."""
    (a, b), (c, d), (e, f), (g, h), (i, j) = layer_widths(w_dim)
    return nn.Sequential(
        nn.Linear(a, b),
        nn.SiLU(),
        nn.Linear(c, d),
        nn.SiLU(),
        nn.Linear(e, f),
        nn.SiLU(),
        nn.Linear(g, h),
        nn.SiLU(),
        nn.Linear(i, j),
    )


def per_row_reference(rows: list[nn.Sequential], source, target, coefficient=1.0):
    out = [row(torch.cat([source[:, r], target[:, r]], dim=1)) for r, row in enumerate(rows)]
    return torch.stack(out, dim=1) + coefficient * target


def test_parameter_count_matches_the_paper():
    mixer = LatentMixer(num_rows=18)
    assert sum(p.numel() for p in mixer.parameters()) == 18 * 3_149_312


def test_wrong_latent_shape_names_the_expected_shape():
    mixer = LatentMixer(num_rows=4, w_dim=16)
    with pytest.raises(ShapeError, match=r"expected shape \[B, 4, 16\], got \[2, 18, 16\]"):
        mixer(torch.zeros(2, 18, 16), torch.zeros(2, 18, 16))


@settings(max_examples=15, deadline=None)
@given(rows=st.integers(1, 6), w_dim=st.sampled_from([4, 8, 24]), batch=st.integers(1, 5), coef=st.floats(0, 2))
def test_batched_rows_equal_independent_rows(rows, w_dim, batch, coef):
    torch.manual_seed(rows * 100 + w_dim)
    mixer = LatentMixer(num_rows=rows, w_dim=w_dim, residual_coefficient=coef)
    s, t = torch.randn(batch, rows, w_dim), torch.randn(batch, rows, w_dim)
    out = mixer(s, t)
    assert out.shape == (batch, rows, w_dim)
    # Row r of the output depends only on row r of the inputs.
    s2 = s.clone()
    s2[:, 0] += 1
    changed = (mixer(s2, t) - out).abs().amax(dim=(0, 2)) > 0
    assert changed[0] and not changed[1:].any()


def test_zero_last_layer_returns_the_scaled_target():
    mixer = LatentMixer(num_rows=3, w_dim=8, residual_coefficient=0.7)
    with torch.no_grad():
        mixer.weights[-1].zero_()
        mixer.biases[-1].zero_()
    t = torch.randn(2, 3, 8)
    torch.testing.assert_close(mixer(torch.randn(2, 3, 8), t), 0.7 * t)
