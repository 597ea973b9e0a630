"""The latent mixer F: one small MLP per latent row, l_swap = F(l_s, l_t) + c · l_t.

Per row (paper Fig. 2; the authors' `LatentSwapMixerSep`): cat(src_i, tgt_i) [2w] → Linear 2w→2w → SiLU
→ Linear 2w→2w → SiLU → Linear 2w→w → SiLU → Linear w→w → SiLU → Linear w→w, plus
`residual_coefficient` · tgt_i. With w = 512 that is 3,149,312 parameters per row.

`depth` sets the number of fully connected layers (the paper's ablation: 2, 3, 5, 7; 5 is the
paper's choice). The supplement plots these depths without listing widths, so the natural
generalisation keeps 2w in and w out: the first half of the hidden layers (rounded up) are 2w wide,
the rest w — depth 5 gives exactly the paper's 2w→2w→2w→w→w→w.

All rows run at once: weights are stacked as [rows, in, out] and every layer is one `baddbmm` over a
rows-first activation [rows, B, C], which beats both a Python loop over rows and an einsum over
[B, rows, C] on CPU (see bench/mixer.py). The Z and W variants of the paper are the same module with
one row.
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import nn

from lsw_core.checks import check_shape
from lsw_core.errors import CheckpointError, LswError

#: The authors' Lightning checkpoints store the mixer under this attribute name.
AUTHORS_PREFIX = "identity_mixer."


#: The paper's number of fully connected layers per row.
DEFAULT_DEPTH = 5
MAX_DEPTH = 16


def layer_widths(w_dim: int, depth: int = DEFAULT_DEPTH) -> list[tuple[int, int]]:
    """(in, out) of the `depth` fully connected layers for latent width `w_dim`; depth 5 is the
    paper's 2w→2w→2w→w→w→w, depth 2 is 2w→2w→w, depth 3 2w→2w→w→w, depth 7 2w→2w→2w→2w→w→w→w→w."""
    check_depth(depth)
    hidden = depth - 1
    wide = (hidden + 1) // 2
    sizes = [2 * w_dim] * (1 + wide) + [w_dim] * (hidden - wide) + [w_dim]
    return list(zip(sizes[:-1], sizes[1:]))


def check_depth(depth: int) -> int:
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        raise LswError(f"mixer depth: expected a whole number of layers in 1..{MAX_DEPTH}, got {depth!r}")
    return depth


class LatentMixer(nn.Module):
    """Latent mixer over `num_rows` rows of width `w_dim` (18×512 for StyleGAN2's W+, 1×512 for Z/W)."""

    def __init__(
        self, *, num_rows: int, w_dim: int = 512, residual_coefficient: float = 1.0, depth: int = DEFAULT_DEPTH
    ) -> None:
        super().__init__()
        self.num_rows = num_rows
        self.w_dim = w_dim
        self.residual_coefficient = residual_coefficient
        self.depth = depth
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in layer_widths(w_dim, depth):
            # nn.Linear's default initialisation, drawn independently for every row.
            bound = 1.0 / math.sqrt(fan_in)
            w = torch.empty(num_rows, fan_in, fan_out).uniform_(-bound, bound)
            b = torch.empty(num_rows, 1, fan_out).uniform_(-bound, bound)
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(b))

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """source, target [B, num_rows, w_dim] → swapped latent [B, num_rows, w_dim]."""
        check_shape("source latent", source, [None, self.num_rows, self.w_dim])
        check_shape("target latent", target, [source.shape[0], self.num_rows, self.w_dim])
        x = torch.cat([source, target], dim=2).transpose(0, 1)  # [rows, B, 2w]
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = F.silu(x)
        return x.transpose(0, 1) + self.residual_coefficient * target

    # --- the authors' checkpoint layout ------------------------------------------------------

    def load_authors_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load weights saved by the authors' code: `mixer.{row}.{0,2,4,6,8}.{weight,bias}` for W+
        (`LatentMixerSep`) or `{0,2,4,6,8}.{weight,bias}` for the one-row Z/W mixer (an
        `nn.Sequential` of Linear and SiLU, so Linear layers sit at even indices; other depths have
        more or fewer), with or without the Lightning prefix `identity_mixer.`."""
        rows = authors_rows(state_dict)
        if len(rows) != self.num_rows:
            raise CheckpointError(f"authors' mixer checkpoint has {len(rows)} rows; this mixer has {self.num_rows}")
        if len(rows[0]) != self.depth:
            raise CheckpointError(f"authors' mixer checkpoint has {len(rows[0])} layers; this mixer has {self.depth}")
        with torch.no_grad():
            for layer, (fan_in, fan_out) in enumerate(layer_widths(self.w_dim, self.depth)):
                for r, row in enumerate(rows):
                    w, b = row[2 * layer]["weight"], row[2 * layer]["bias"]
                    if tuple(w.shape) != (fan_out, fan_in) or tuple(b.shape) != (fan_out,):
                        raise CheckpointError(
                            f"authors' mixer layer {2 * layer} of row {r}: expected weight [{fan_out}, {fan_in}] "
                            f"and bias [{fan_out}], got {list(w.shape)} and {list(b.shape)}"
                        )
                    self.weights[layer][r].copy_(w.t())
                    self.biases[layer][r, 0].copy_(b)

    @classmethod
    def from_authors_state_dict(cls, state_dict: dict[str, torch.Tensor], residual_coefficient: float = 1.0):
        rows = authors_rows(state_dict)
        first = rows[0][0]["weight"]
        if first.ndim != 2 or first.shape[1] % 2:
            raise CheckpointError(f"authors' mixer layer 0: expected a weight [2w, 2w], got {list(first.shape)}")
        mixer = cls(
            num_rows=len(rows),
            w_dim=first.shape[1] // 2,
            residual_coefficient=residual_coefficient,
            depth=len(rows[0]),
        )
        mixer.load_authors_state_dict(state_dict)
        return mixer


_SEP_KEY = re.compile(r"^mixer\.(\d+)\.(\d+)\.(weight|bias)$")
_ONE_KEY = re.compile(r"^(\d+)\.(weight|bias)$")


def authors_rows(state_dict: dict[str, torch.Tensor]) -> list[dict[int, dict[str, torch.Tensor]]]:
    """Group an authors'-layout state dict into rows → layer index → {weight, bias}."""
    rows: dict[int, dict[int, dict[str, torch.Tensor]]] = {}
    for key, value in state_dict.items():
        key = key.removeprefix(AUTHORS_PREFIX)
        if m := _SEP_KEY.match(key):
            row, idx, kind = int(m[1]), int(m[2]), m[3]
        elif m := _ONE_KEY.match(key):
            row, idx, kind = 0, int(m[1]), m[2]
        else:
            raise CheckpointError(
                f"unexpected key {key!r} in an authors' mixer checkpoint; expected "
                "'[identity_mixer.]mixer.<row>.<0|2|4|6|8>.<weight|bias>' or '[identity_mixer.]<0|2|4|6|8>.<weight|bias>'"
            )
        rows.setdefault(row, {}).setdefault(idx, {})[kind] = value
    if not rows or sorted(rows) != list(range(len(rows))):
        raise CheckpointError(f"authors' mixer checkpoint: expected rows 0..N-1, found {sorted(rows)}")
    depth = len(rows[0])
    expected = list(range(0, 2 * depth, 2))
    for row, layers in rows.items():
        if sorted(layers) != expected or any(set(p) != {"weight", "bias"} for p in layers.values()):
            found = {i: sorted(p) for i, p in sorted(layers.items())}
            raise CheckpointError(
                f"authors' mixer row {row}: expected Linear layers 0,2,4,6,8 (another depth: 0,2,...,2d-2 as "
                f"in row 0), each with weight and bias; found {found}"
            )
    return [rows[r] for r in range(len(rows))]
