"""Reading LPIPS weights in the layouts users have on disk.

- torchvision trunks: `alexnet-owt-7be5be79.pth` / `vgg16-397923af.pth`, keys `features.<i>.weight|bias`
  (the `classifier.*` keys are ignored);
- the `lpips` package: its linear heads `weights/v0.1/{alex,vgg}.pth`, keys `lin<k>.model.1.weight`
  (`lin<k>.model.0.weight` without dropout), or a whole `lpips.LPIPS` state dict, whose trunk keys are
  `net.slice<s>.<i>.weight|bias` with `<i>` the torchvision index.

Files are `.pth` (read with `torch.load(weights_only=True)`) or `.safetensors`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from lsw_core.errors import CheckpointError
from lsw_core.formats.torchfile import load_torch_file
from lsw_lpips.networks import LPIPS

_TORCHVISION = re.compile(r"^features\.(\d+)\.(weight|bias)$")
_LPIPS_TRUNK = re.compile(r"^net\.slice\d\.(\d+)\.(weight|bias)$")
_LPIPS_HEAD = re.compile(r"^lin(\d)\.model\.[01]\.weight$")


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A flat tensor dict from a `.pth` or `.safetensors` file, without executing any code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"LPIPS weights: no file at {path}")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state = load_file(str(path))
        except (OSError, SafetensorError) as exc:
            raise CheckpointError(f"LPIPS weights {path}: cannot read it as a state dict ({exc})") from None
    else:
        state = load_torch_file(path, "LPIPS weights file")
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"LPIPS weights {path}: expected a dict of tensors, got {type(state).__name__}")
    return state


def convert_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename torchvision / `lpips` keys to ours (`features.<i>.*`, `heads.<k>`); other keys are dropped."""
    out = {}
    for key, value in state.items():
        if m := _TORCHVISION.match(key) or _LPIPS_TRUNK.match(key):
            out[f"features.{m.group(1)}.{m.group(2)}"] = value
        elif m := _LPIPS_HEAD.match(key):
            out[f"heads.{m.group(1)}"] = value
    return out


def load_lpips(trunk: str, *files: str | os.PathLike) -> LPIPS:
    """An `LPIPS` network with its trunk and linear heads filled from `files` (any mix of the layouts
    above). Raises `CheckpointError` naming what is missing or mis-shaped."""
    net = LPIPS(trunk=trunk)
    merged: dict[str, torch.Tensor] = {}
    for f in files:
        if f is not None:
            merged.update(convert_state_dict(read_state_dict(f)))
    expected = net.state_dict()
    expected_keys = {k for k in expected if k not in ("shift", "scale")}
    missing = sorted(expected_keys - merged.keys())
    if missing:
        what = []
        if any(k.startswith("features.") for k in missing):
            what.append(f"trunk weights (torchvision {'alexnet' if trunk == 'alex' else 'vgg16'} `features.*` layout)")
        if any(k.startswith("heads.") for k in missing):
            what.append(f"linear heads (the lpips package's weights/v0.1/{trunk}.pth)")
        names = [str(f) for f in files if f is not None]
        raise CheckpointError(
            f"LPIPS-{trunk}: {' and '.join(what)} missing from {names or 'no files'}:"
            f" {len(missing)} tensors, e.g. {missing[0]}"
        )
    for key in expected_keys:
        if tuple(merged[key].shape) != tuple(expected[key].shape):
            raise CheckpointError(
                f"LPIPS-{trunk}: {key} has shape {list(merged[key].shape)}, expected {list(expected[key].shape)}"
                " (weights of another network?)"
            )
    net.load_state_dict({**expected, **{k: merged[k].float() for k in expected_keys}})
    return net
