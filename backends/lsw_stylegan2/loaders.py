"""Loading StyleGAN2 checkpoints; none of these runs code stored in the file.

Accepted:
- NVIDIA network pickles (`{"G", "D", "G_ema", ...}` with persistent objects), read by
  `lsw_core.formats.netpickle` — the embedded source is never executed; `G_ema`'s init kwargs and state
  dict are rebuilt from the pickled data;
- rosinality `stylegan2-pytorch` checkpoints (`{"g_ema", "latent_avg", ...}`), converted;
- a plain torch file `{"init_kwargs": ..., "state_dict": ...}` in NVIDIA's key names;
- the lsw folder format (`config.json` + `model.safetensors`), written by `lsw convert`;
- in Python, a bare state dict (`state_dict=`), its init kwargs inferred from the tensor shapes.
"""

from __future__ import annotations

import argparse
import os
import zipfile
from pathlib import Path
from typing import Any

import torch

from lsw_core.errors import CheckpointError
from lsw_core.formats import artifacts
from lsw_core.formats.generator_folder import is_generator_folder, read_generator_folder
from lsw_core.formats.netpickle import PersistentObject, load_network_pickle, module_state_dict
from lsw_core.formats.torchfile import load_torch_file
from lsw_stylegan2.generator import StyleGAN2Generator, validate_init_kwargs
from lsw_stylegan2.rosinality import from_rosinality
from lsw_stylegan2.shapes import init_kwargs_from_shapes

BACKEND = "stylegan2"
# torch.save's legacy (non-zip) format starts with a pickled magic number.
_LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19."

#: NVIDIA's config-f (FFHQ 1024) generator arguments.
CONFIG_F = {
    "z_dim": 512,
    "c_dim": 0,
    "w_dim": 512,
    "img_resolution": 1024,
    "img_channels": 3,
    "mapping_kwargs": {"num_layers": 8},
    "synthesis_kwargs": {"channel_base": 32768, "channel_max": 512, "num_fp16_res": 4, "conv_clamp": 256},
}


def build_generator(
    init_kwargs: dict[str, Any],
    state_dict: dict[str, torch.Tensor] | None,
    *,
    source: str = "",
    force_fp32: bool | None = None,
) -> StyleGAN2Generator:
    """A frozen `StyleGAN2Generator` from NVIDIA init kwargs and a state dict in NVIDIA's key names
    (random weights when `state_dict` is None). Raises `CheckpointError` on a layout mismatch."""
    try:
        kw = validate_init_kwargs(init_kwargs)
    except CheckpointError as exc:
        raise CheckpointError(f"{source}: {exc}" if source else str(exc)) from None
    try:
        G = StyleGAN2Generator(**kw, force_fp32=force_fp32)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{source}: cannot build a StyleGAN2 generator from {kw}: {exc}") from None
    if state_dict is not None:
        load_checked(G, state_dict, source)
    return G.eval().requires_grad_(False)


def load_checked(G: StyleGAN2Generator, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """`G.load_state_dict` (in float32) that reports missing, unexpected and mis-shaped keys as one `CheckpointError`."""
    artifacts.load_checked(
        G, state_dict, source=source, what="the StyleGAN2 layout of its init kwargs",
        convert=lambda v: v.to(torch.float32) if v.is_floating_point() else v,
    )  # fmt: skip


def load_stylegan2(
    checkpoint: str | os.PathLike | None = None,
    *,
    force_fp32: bool | None = None,
    lr_multiplier: float = 0.01,
    state_dict: dict[str, torch.Tensor] | None = None,
    **init_overrides: Any,
) -> StyleGAN2Generator:
    """The `stylegan2` backend's factory. With no checkpoint: random weights, config-f unless
    `init_overrides` change it (e.g. `img_resolution=256`); `lr_multiplier` is the mapping network's,
    which rosinality checkpoints do not record. `state_dict` (NVIDIA key names, no checkpoint):
    those weights, in the architecture their shapes imply (config-f for what shapes do not fix)."""
    if state_dict is not None:
        if checkpoint is not None or init_overrides:
            raise CheckpointError("state_dict= takes neither a checkpoint nor init options: its shapes decide")
        kw = init_kwargs_from_shapes(state_dict, CONFIG_F)
        return build_generator(kw, state_dict, source="state dict", force_fp32=force_fp32)
    if checkpoint is None:
        kw = {**CONFIG_F, **init_overrides}
        return build_generator(kw, None, source="random weights", force_fp32=force_fp32)
    if init_overrides:
        raise CheckpointError(f"options {sorted(init_overrides)} only apply without a checkpoint")
    path = Path(checkpoint)
    source = str(path)
    if path.is_dir():
        if not is_generator_folder(path):
            raise CheckpointError(f"{source}: expected a generator folder with config.json, or a checkpoint file")
        init_kwargs, state = read_generator_folder(path, BACKEND)
        return build_generator(init_kwargs, state, source=source, force_fp32=force_fp32)
    if not path.is_file():
        raise CheckpointError(f"{source}: no such checkpoint file or folder")
    with open(path, "rb") as f:
        head = f.read(len(_LEGACY_TORCH_MAGIC))
    if head.startswith(b"PK\x03\x04") or zipfile.is_zipfile(path) or head.startswith(_LEGACY_TORCH_MAGIC):
        init_kwargs, state = _read_torch_file(path, lr_multiplier)
    else:
        init_kwargs, state = read_nvidia_pickle(path)
    return build_generator(init_kwargs, state, source=source, force_fp32=force_fp32)


def read_nvidia_pickle(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(init_kwargs, state_dict) of `G_ema` in an NVIDIA network pickle, without executing it."""
    data = load_network_pickle(path)
    if isinstance(data, dict) and "G_ema" in data:
        G = data["G_ema"]
    elif isinstance(data, PersistentObject):
        G = data
    else:
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"{path}: expected an NVIDIA network pickle with 'G_ema', found {found}")
    if not isinstance(G, PersistentObject) or G.class_name != "Generator":
        name = getattr(G, "class_name", type(G).__name__)
        raise CheckpointError(f"{path}: expected G_ema to be a StyleGAN2 'Generator', found {name!r}")
    if G.init_args:
        raise CheckpointError(f"{path}: expected G_ema built from keyword arguments, found positional {G.init_args}")
    return G.init_kwargs, module_state_dict(G)


def _read_torch_file(path: Path, lr_multiplier: float) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    # rosinality training checkpoints keep their argparse options beside the weights
    data = load_torch_file(path, "StyleGAN2 torch checkpoint", allow=[argparse.Namespace])
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a dict checkpoint, found {type(data).__name__}")
    if "init_kwargs" in data and "state_dict" in data:
        return dict(data["init_kwargs"]), dict(data["state_dict"])
    if "g_ema" in data:
        return from_rosinality(data["g_ema"], data.get("latent_avg"), lr_multiplier=lr_multiplier, source=str(path))
    raise CheckpointError(
        f"{path}: expected {{'init_kwargs', 'state_dict'}} (NVIDIA layout) or {{'g_ema', 'latent_avg'}} "
        f"(rosinality), found keys {sorted(map(str, data))[:8]}"
    )
