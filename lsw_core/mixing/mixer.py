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

A mixer owns its file: `save_pretrained(folder, ...)` writes `config.json` (the constructor
arguments, plus what it was trained for: backend, latent space and layout, training settings) and
`mixer.safetensors`; `LatentMixer.from_pretrained(folder)` rebuilds it, of the kind the folder names.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lsw_core.checks import check_shape
from lsw_core.errors import CheckpointError, LswError, SettingError
from lsw_core.formats.artifacts import CONFIG_NAME, load_checked, read_tensors, write_folder
from lsw_core.formats.artifacts import read_config as read_folder_config
from lsw_core.formats.bounds import MAX_WIDTH, check_count, check_int
from lsw_core.interfaces import LatentLayout
from lsw_core.validators import check, choice, integer, number, text

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


def mixer_size(num_rows: int, w_dim: int, depth: int = DEFAULT_DEPTH, *, gated: bool = False) -> int:
    """Parameters of a mixer of this shape (weights, biases and, gated, the gates)."""
    per_row = sum(fan_in * fan_out + fan_out for fan_in, fan_out in layer_widths(w_dim, depth))
    return num_rows * (per_row + (w_dim * w_dim if gated else 0))


def check_mixer_size(num_rows: int, w_dim: int, depth: int = DEFAULT_DEPTH, *, gated: bool = False,
                     source: str = "") -> None:  # fmt: skip
    """Refuse, before building it, a mixer wider than `MAX_WIDTH` or of more than `MAX_PARAMETERS`
    (`lsw_core.formats.bounds`): what a damaged or crafted config or checkpoint could ask for."""
    check_int("w_dim", w_dim, 1, MAX_WIDTH, source=source)
    check_int("num_rows", num_rows, 1, MAX_WIDTH, source=source)
    check_count(mixer_size(num_rows, w_dim, depth, gated=gated), what="mixer", source=source)


def check_depth(depth: int) -> int:
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        raise LswError(f"mixer depth: expected a whole number of layers in 1..{MAX_DEPTH}, got {depth!r}")
    return depth


class LatentMixer(nn.Module):
    """Latent mixer over `num_rows` rows of width `w_dim` (18×512 for StyleGAN2's W+, 1×512 for Z/W)."""

    kind = "paper"

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

    # --- the folder it lives in ------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this mixer, as `config.json` names them."""
        return {
            "num_rows": self.num_rows,
            "w_dim": self.w_dim,
            "residual_coefficient": self.residual_coefficient,
            "mixer_depth": self.depth,
        }

    def save_pretrained(
        self, folder: str | os.PathLike, *, backend: str, layout: LatentLayout, space: str = "w+", **metadata: Any
    ) -> dict[str, Any]:
        """Write `mixer.safetensors` then `config.json` into `folder`, each atomically: this mixer's
        `config`, the generator `backend` and latent `layout` it mixes codes of, the latent `space`
        ("w+", "w" or "z") and `metadata` (e.g. `training`, `step`). Returns the config written."""
        if space not in LATENT_SPACES:
            raise CheckpointError(f"latent space: expected one of {LATENT_SPACES}, got {space!r}")
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "backend": backend,
            "latent_space": space,
            "latent_layout": {"num_ws": layout.num_ws, "w_dim": layout.w_dim},
            **self.config,
            **metadata,
        }
        write_folder(folder, config, self.state_dict(), WEIGHTS_NAME)
        return config

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> LatentMixer:
        """The mixer saved in `folder` by `save_pretrained`, of the kind its config names."""
        folder = Path(folder)
        config = read_mixer_config(folder)
        kind = config.get("mixer_kind", "paper")
        options = {"gate_init": config["gate_init"]} if "gate_init" in config else {}
        mixer = make_mixer(
            kind,
            num_rows=config["num_rows"],
            w_dim=config["w_dim"],
            residual_coefficient=config["residual_coefficient"],
            depth=config.get("mixer_depth", DEFAULT_DEPTH),  # folders from before depth was a setting have 5
            **options,
        )
        tensors = read_tensors(folder / WEIGHTS_NAME, "mixer weights")
        what = f"its config ({config['num_rows']} rows × {config['w_dim']})"
        return load_checked(mixer, tensors, source=str(folder / WEIGHTS_NAME), what=what)


class GatedLatentMixer(LatentMixer):
    """A mixer that starts from interpolation: l_swap = l_t + (l_s − l_t)·G + F(l_s, l_t).

    The paper's mixer starts from l_swap ≈ l_t + F(l_s, l_t) with F random, and must discover which
    way the source lies from the identity loss alone. Against a real embedder that gradient is nearly
    orthogonal to l_s − l_t (cosine ≈ 0.05 measured at the target on a face DCGAN with dlib), so the
    mixer drifts along directions that fool the embedder instead. Here every row carries a learned
    linear gate G [w, w] starting at g0·I, i.e. the interpolation l_t + g0·(l_s − l_t), which already
    moves the face towards the source; training reshapes G into the subspace that carries identity
    (keeping the rest of the target) while F, its last layer zero at the start, adds what is not
    linear. The residual form of the paper is kept: F is the paper's MLP on cat(l_s, l_t), plus the
    target."""

    kind = "gated"

    def __init__(self, *, num_rows: int, w_dim: int = 512, gate_init: float = 0.5, **kwargs: Any) -> None:
        super().__init__(num_rows=num_rows, w_dim=w_dim, **kwargs)
        self.gate_init = gate_init
        self.gate = nn.Parameter(gate_init * torch.eye(w_dim).repeat(num_rows, 1, 1))
        with torch.no_grad():
            self.weights[-1].zero_()
            self.biases[-1].zero_()

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        mixed = super().forward(source, target)
        delta = (source - target).transpose(0, 1)  # [rows, B, w]
        return mixed + torch.bmm(delta, self.gate).transpose(0, 1)

    @property
    def config(self) -> dict[str, Any]:
        return {**super().config, "mixer_kind": "gated", "gate_init": self.gate_init}


MIXER_KINDS = ("paper", "gated")


def make_mixer(
    kind: str,
    *,
    num_rows: int,
    w_dim: int,
    residual_coefficient: float = 1.0,
    depth: int = DEFAULT_DEPTH,
    **options: Any,
) -> LatentMixer:
    """A new mixer of `kind` ("paper": `LatentMixer`; "gated": `GatedLatentMixer`, option `gate_init`)."""
    shape = {"num_rows": num_rows, "w_dim": w_dim, "residual_coefficient": residual_coefficient, "depth": depth}
    if kind == "paper":
        return LatentMixer(**shape)
    if kind == "gated":
        return GatedLatentMixer(**shape, **options)
    raise CheckpointError(f"mixer kind: expected one of {MIXER_KINDS}, got {kind!r}")


# --- the folder format ---------------------------------------------------------------------------

FORMAT = "lsw-mixer"
FORMAT_VERSION = 1
WEIGHTS_NAME = "mixer.safetensors"
LATENT_SPACES = ("w+", "w", "z")

_CONFIG_FIELDS = {
    "backend": text(),
    "latent_space": choice(*LATENT_SPACES),
    "num_rows": integer(gt=0),
    "w_dim": integer(gt=0),
    "residual_coefficient": number(),
}


def read_mixer_config(folder: str | os.PathLike) -> dict[str, Any]:
    """The checked `config.json` of a mixer folder: every field the mixer is rebuilt from, by name.
    The `training` section, when present, must be an object; what it holds is the trainer's to check."""
    config = read_folder_config(folder, (FORMAT,), what="a mixer folder", weights_name=WEIGHTS_NAME)
    try:
        _check_config(config)
    except LswError as exc:
        raise CheckpointError(f"{Path(folder) / CONFIG_NAME}: {exc}") from None
    return config


def _check_config(config: dict) -> None:
    for name, validator in _CONFIG_FIELDS.items():
        if name not in config:
            raise SettingError(f"{name}: missing")
        check(name, config[name], validator)
    layout = config.get("latent_layout")
    if not isinstance(layout, dict):
        raise SettingError(f"latent_layout: expected {{'num_ws': N, 'w_dim': N}}, got {layout!r}")
    for name in ("num_ws", "w_dim"):
        check(f"latent_layout.{name}", layout.get(name), integer(gt=0))
    if "step" in config:
        check("step", config["step"], integer(ge=0))
    if "mixer_depth" in config:  # absent in folders from before depth was a setting: depth 5
        check("mixer_depth", config["mixer_depth"], integer(ge=1, le=MAX_DEPTH))
    if "mixer_kind" in config:
        check("mixer_kind", config["mixer_kind"], choice(*MIXER_KINDS))
    if "gate_init" in config:
        check("gate_init", config["gate_init"], number())
    if "training" in config and not isinstance(config["training"], dict):
        raise SettingError(f"training: expected a JSON object of settings, got {config['training']!r}")
    check_mixer_size(config["num_rows"], config["w_dim"], config.get("mixer_depth", DEFAULT_DEPTH),
                     gated=config.get("mixer_kind") == "gated")  # fmt: skip
