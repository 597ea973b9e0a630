"""Writes files in the layout of the LatentSwap authors' released model, for the converter's tests.

How a file is made: the authors train their `LatentSwap` LightningModule and Lightning's
`ModelCheckpoint` saves it with `torch.save` (zip format). This writer builds the same top-level
dict and saves it the same way:

- `state_dict`: `identity_mixer.*` from an `nn.ModuleList` of per-row `nn.Sequential(Linear, SiLU,
  Linear, SiLU, Linear, SiLU, Linear, SiLU, Linear)` (the authors' `LatentMixerSep`, attribute
  `mixer`) for W+, or one such `nn.Sequential` for Z/W; `style_gan.*` from a StyleGAN2 generator in
  NVIDIA's key names (a small config, random weights); optionally `identity_embedder.*` (the
  Smooth-Swap net, random weights; its architecture has one size) and `g_loss.*` (random tensors
  standing for the loss's 3DMM network `f_3d`);
- Lightning's `epoch`, `global_step`, `pytorch-lightning_version`, `optimizer_states` (an AdamW
  state of the mixer), `lr_schedulers`, `callbacks`, and `hyper_parameters` holding the authors'
  `hp` as an omegaconf `DictConfig`, pickled under omegaconf's own class names
  (`omegaconf.dictconfig.DictConfig`, `omegaconf.nodes.AnyNode`, `omegaconf.base.ContainerMetadata`,
  ...) and Lightning's `AttributeDict`. Neither package is installed: stand-in classes with those
  module paths and omegaconf's pickled state (`_metadata`, `_parent`, `_content` / `_val`) are
  registered in `sys.modules` only while saving, so the reader must cope with classes it cannot
  import — as it must with the real file.
"""

from __future__ import annotations

import sys
import types
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

SMALL_G = {
    "z_dim": 32,
    "w_dim": 32,
    "img_resolution": 32,
    "c_dim": 0,
    "img_channels": 3,
    "mapping_kwargs": {"num_layers": 2},
    "synthesis_kwargs": {"channel_base": 512, "channel_max": 32, "num_fp16_res": 4, "conv_clamp": 256},
}


def authors_row(w: int) -> nn.Sequential:
    """One row of the authors' mixer (their code: 1024, 1024, 512, 512, 512 for w = 512)."""
    return nn.Sequential(
        nn.Linear(2 * w, 2 * w), nn.SiLU(), nn.Linear(2 * w, 2 * w), nn.SiLU(), nn.Linear(2 * w, w), nn.SiLU(),
        nn.Linear(w, w), nn.SiLU(), nn.Linear(w, w),
    )  # fmt: skip


def authors_mixer(space: str, num_ws: int, w: int) -> nn.Module:
    """The authors' `identity_mixer`: `LatentMixerSep` (a ModuleList `mixer`) for W+, else one row."""
    if space == "w+":
        module = nn.Module()
        module.mixer = nn.ModuleList(authors_row(w) for _ in range(num_ws))
        return module
    return authors_row(w)


def lightning_dict(
    *,
    space: str = "w+",
    generator_state: dict[str, torch.Tensor],
    num_ws: int,
    w: int,
    residual_coefficient: float | None = None,
    latent_type_recorded: bool = True,
    embedder_state: dict[str, torch.Tensor] | None = None,
    seed: int = 0,
) -> tuple[dict[str, Any], nn.Module]:
    """(the checkpoint dict, the authors' mixer module it holds)."""
    torch.manual_seed(seed)
    mixer = authors_mixer(space, num_ws, w)
    for p in mixer.parameters():  # larger than nn.Linear's init so that the mixer visibly changes codes
        p.data.mul_(3)
    state: dict[str, torch.Tensor] = {f"identity_mixer.{k}": v for k, v in mixer.state_dict().items()}
    state.update({f"style_gan.{k}": v.clone() for k, v in generator_state.items()})
    state.update({f"identity_embedder.{k}": v.clone() for k, v in (embedder_state or {}).items()})
    state["g_loss.f_3d.conv1.weight"] = torch.randn(8, 3, 3, 3)
    state["g_loss.f_3d.fc.bias"] = torch.randn(257)
    params = list(mixer.parameters())
    hp: dict[str, Any] = {
        "style_gan": {"checkpoint_path": "ffhq.pkl", "batch_size": 32, "args": {"size": 1024}},
        "embedder": {"checkpoint_path": "smoothswap.ckpt"},
        "loss": {"lp_weight": 100.0, "shape_weight": 0.1},
        "optimizer": {"target": "torch.optim.AdamW", "params": {"lr": 1e-4}},
    }
    if latent_type_recorded:
        hp["latent_type"] = {"w+": "wp", "w": "w", "z": "z"}[space]
    if residual_coefficient is not None:
        hp["identity_mixer"] = {"residual_coefficient": residual_coefficient}
    ckpt = {
        "epoch": 3,
        "global_step": 12345,
        "pytorch-lightning_version": "1.6.5",
        "state_dict": state,
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 4}}}},
        "callbacks": {"ModelCheckpoint{'monitor': None}": {"best_model_path": "", "dirpath": "ckpt/"}},
        "optimizer_states": [
            {
                "state": {
                    i: {"step": torch.tensor(12345.0), "exp_avg": torch.zeros_like(p)} for i, p in enumerate(params)
                },
                "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999), "params": list(range(len(params)))}],
            }
        ],
        "lr_schedulers": [],
        "hparams_name": "hp",
        "hyper_parameters": _attribute_dict({"hp": _dict_config(hp)}),
    }
    return ckpt, mixer


def save_lightning(ckpt: dict[str, Any], path: Path) -> None:
    """`torch.save` as Lightning does, with omegaconf's and Lightning's class names importable."""
    with _stand_in_modules():
        torch.save(ckpt, path)


# --- omegaconf and Lightning as they pickle, without either package -------------------------------


class _Metadata:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


class _ContainerMetadata(_Metadata):
    pass


class _Node:
    """omegaconf.nodes.AnyNode: pickles `_metadata`, `_parent`, `_val`."""

    def __init__(self, value: Any, key: str, parent: Any) -> None:
        self.__dict__.update(
            _metadata=_Metadata(ref_type=Any, object_type=None, optional=True, key=key, flags={}),
            _parent=parent,
            _val=value,
        )


class _DictConfig:
    """omegaconf.dictconfig.DictConfig: pickles `_metadata`, `_parent`, `_content` (minus the flags cache)."""

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_flags_cache"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


def _dict_config(data: dict[str, Any], key: str | None = None, parent: Any = None) -> _DictConfig:
    node = _DictConfig()
    meta = _ContainerMetadata(
        ref_type=Any, object_type=dict, optional=True, key=key, flags={}, key_type=Any, element_type=Any
    )
    content = {k: _dict_config(v, k, node) if isinstance(v, dict) else _Node(v, k, node) for k, v in data.items()}
    node.__dict__.update(_metadata=meta, _parent=parent, _content=content, _flags_cache={})
    return node


class _AttributeDict(dict):
    pass


def _attribute_dict(data: dict[str, Any]) -> _AttributeDict:
    return _AttributeDict(data)


_STAND_INS = {
    "omegaconf.dictconfig": {"DictConfig": _DictConfig},
    "omegaconf.nodes": {"AnyNode": _Node},
    "omegaconf.base": {"Metadata": _Metadata, "ContainerMetadata": _ContainerMetadata},
    "pytorch_lightning.utilities.parsing": {"AttributeDict": _AttributeDict},
}


@contextmanager
def _stand_in_modules():
    names = sorted({".".join(m.split(".")[:i]) for m in _STAND_INS for i in range(1, m.count(".") + 2)})
    saved = {name: sys.modules.get(name) for name in names}
    for name in names:
        sys.modules[name] = types.ModuleType(name)
    for module_name, classes in _STAND_INS.items():
        for name, cls in classes.items():
            cls.__module__, cls.__qualname__, cls.__name__ = module_name, name, name
            setattr(sys.modules[module_name], name, cls)
    try:
        yield
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
