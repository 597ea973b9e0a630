"""NVIDIA `Generator` init kwargs recovered from the tensor shapes of a bare state dict (a StyleGAN2
saved inside another model, e.g. the LatentSwap authors' Lightning checkpoint, which keeps G_ema's
weights but not its constructor arguments).

Shapes fix z_dim, w_dim, the resolution, the mapping depth, the channel rule min(channel_base / res,
channel_max) and the output architecture. What shapes cannot tell (the mapping's learning-rate
multiplier, fp16 resolutions, the activation clamp) is taken from NVIDIA's FFHQ config-f, the
generator every released LatentSwap model was trained on.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

import torch

from lsw_core.errors import CheckpointError

_FC = re.compile(r"^mapping\.fc(\d+)\.weight$")
_BLOCK_CONV1 = re.compile(r"^synthesis\.b(\d+)\.conv1\.weight$")
_SKIP = re.compile(r"^synthesis\.b\d+\.skip\.weight$")


def init_kwargs_from_shapes(state_dict: Mapping[str, torch.Tensor], defaults: dict[str, Any]) -> dict[str, Any]:
    """Init kwargs for a StyleGAN2 generator whose state dict (NVIDIA key names) is `state_dict`;
    `defaults` (config-f) supplies what the shapes do not determine."""
    shapes = {k: tuple(v.shape) for k, v in state_dict.items()}
    fcs = sorted(int(m[1]) for k in shapes if (m := _FC.match(k)))
    blocks = sorted(int(m[1]) for k in shapes if (m := _BLOCK_CONV1.match(k)))
    if not fcs or fcs != list(range(len(fcs))) or not blocks or "synthesis.b4.const" not in shapes:
        raise CheckpointError(
            "expected a StyleGAN2 generator state dict (mapping.fc0..fcN, synthesis.b4.const, synthesis.b<res>.conv1); "
            f"found keys like {sorted(shapes)[:4]}"
        )
    resolutions = [2**i for i in range(2, blocks[-1].bit_length())]
    if blocks != resolutions:
        raise CheckpointError(f"StyleGAN2 synthesis blocks: expected resolutions {resolutions}, found {blocks}")
    z_dim = shapes["mapping.fc0.weight"][1]
    w_dim = shapes[f"mapping.fc{fcs[-1]}.weight"][0]
    channels = {res: shapes[f"synthesis.b{res}.conv1.weight"][0] for res in blocks}
    kw = copy.deepcopy(defaults)
    kw.update(z_dim=z_dim, w_dim=w_dim, img_resolution=blocks[-1])
    kw["mapping_kwargs"]["num_layers"] = len(fcs)
    kw["synthesis_kwargs"].update(_channel_rule(channels), architecture=_architecture(shapes, blocks))
    return kw


def _channel_rule(channels: dict[int, int]) -> dict[str, int]:
    """channel_base and channel_max with min(channel_base // res, channel_max) == channels[res]."""
    channel_max = max(channels.values())
    below = [(res, c) for res, c in channels.items() if c < channel_max]
    channel_base = below[0][0] * below[0][1] if below else channel_max * max(channels)
    rule = {res: min(channel_base // res, channel_max) for res in channels}
    if rule != channels:
        raise CheckpointError(
            f"StyleGAN2 channels per resolution {channels} follow no rule min(channel_base / res, channel_max)"
        )
    return {"channel_base": channel_base, "channel_max": channel_max}


def _architecture(shapes: dict[str, tuple], blocks: list[int]) -> str:
    if any(_SKIP.match(k) for k in shapes):
        return "resnet"
    if all(f"synthesis.b{res}.torgb.weight" in shapes for res in blocks):
        return "skip"
    return "orig"
