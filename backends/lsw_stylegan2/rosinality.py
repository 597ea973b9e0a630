"""Conversion between rosinality `stylegan2-pytorch` generator state dicts and NVIDIA's layout.

The two implement the same network (config-f 'skip' generator without conv clamping); only names
and a few shapes differ: `style.{i}` ↔ `mapping.fc{i-1}`, `input.input` ↔ `synthesis.b4.const`,
`conv1`/`to_rgb1` ↔ `b4.conv1`/`b4.torgb`, `convs.{2k}`/`convs.{2k+1}`/`to_rgbs.{k}` ↔
`b{2^(k+3)}.conv0`/`conv1`/`torgb`, `noises.noise_{j}` ↔ the layers' `noise_const`,
`latent_avg` ↔ `mapping.w_avg`. Both store the up-sampling convolutions' weights the same way.
"""

from __future__ import annotations

from typing import Any

import torch

from lsw_core.errors import CheckpointError
from lsw_stylegan2.ops import setup_filter

_STYLED = {
    "conv.weight": "weight",
    "conv.modulation.weight": "affine.weight",
    "conv.modulation.bias": "affine.bias",
    "noise.weight": "noise_strength",
    "activate.bias": "bias",
}
_TORGB = {
    "conv.weight": "weight",
    "conv.modulation.weight": "affine.weight",
    "conv.modulation.bias": "affine.bias",
    "bias": "bias",
}


def _layers(num_blocks: int) -> list[tuple[str, str, dict[str, str], int | None]]:
    """(rosinality prefix, NVIDIA prefix, sub-key table, noise index) for every synthesis layer."""
    out = [("conv1", "synthesis.b4.conv1", _STYLED, 0), ("to_rgb1", "synthesis.b4.torgb", _TORGB, None)]
    for k in range(num_blocks - 1):
        res = 2 ** (k + 3)
        out += [
            (f"convs.{2 * k}", f"synthesis.b{res}.conv0", _STYLED, 2 * k + 1),
            (f"convs.{2 * k + 1}", f"synthesis.b{res}.conv1", _STYLED, 2 * k + 2),
            (f"to_rgbs.{k}", f"synthesis.b{res}.torgb", _TORGB, None),
        ]
    return out


def _nvidia_shape(name: str, t: torch.Tensor) -> torch.Tensor:
    if name in ("weight",):
        return t.squeeze(0)  # [1, O, I, k, k] → [O, I, k, k]
    if name == "noise_strength":
        return t.reshape([])
    return t.reshape(-1) if name == "bias" else t


def from_rosinality(
    g_ema: dict[str, torch.Tensor],
    latent_avg: torch.Tensor | None = None,
    *,
    lr_multiplier: float = 0.01,
    source: str = "rosinality checkpoint",
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """rosinality `g_ema` state dict (+ `latent_avg`) → (NVIDIA init kwargs, NVIDIA state dict).

    Without `latent_avg`, w_avg is estimated as the mean of 10 000 mapped z (seed 0)."""
    if not isinstance(g_ema, dict) or "input.input" not in g_ema or "style.1.weight" not in g_ema:
        found = sorted(g_ema)[:6] if isinstance(g_ema, dict) else type(g_ema).__name__
        raise CheckpointError(
            f"{source}: expected a rosinality generator state dict with 'input.input' and "
            f"'style.1.weight', found {found}"
        )
    n_mlp = sum(1 for k in g_ema if k.startswith("style.") and k.endswith(".weight"))
    w_dim = g_ema["style.1.weight"].shape[1]
    num_blocks = 1 + sum(1 for k in g_ema if k.startswith("to_rgbs.") and k.endswith(".conv.weight"))
    resolution = 2 ** (num_blocks + 1)
    channels = {4: g_ema["conv1.conv.weight"].shape[1]}
    for k in range(num_blocks - 1):
        channels[2 ** (k + 3)] = g_ema[f"convs.{2 * k}.conv.weight"].shape[1]
    channel_max = max(channels.values())
    channel_base = channels[resolution] * resolution
    if any(min(channel_base // r, channel_max) != c for r, c in channels.items()):
        raise CheckpointError(f"{source}: channel counts {channels} do not follow min(base / res, max)")
    init_kwargs = {
        "z_dim": w_dim,
        "c_dim": 0,
        "w_dim": w_dim,
        "img_resolution": resolution,
        "img_channels": 3,
        "mapping_kwargs": {"num_layers": n_mlp, "lr_multiplier": lr_multiplier},
        "synthesis_kwargs": {
            "channel_base": channel_base,
            "channel_max": channel_max,
            "num_fp16_res": 0,
            "conv_clamp": None,
            "architecture": "skip",
        },
    }
    try:
        sd: dict[str, torch.Tensor] = {}
        for i in range(n_mlp):
            sd[f"mapping.fc{i}.weight"] = g_ema[f"style.{i + 1}.weight"]
            sd[f"mapping.fc{i}.bias"] = g_ema[f"style.{i + 1}.bias"]
        sd["synthesis.b4.const"] = g_ema["input.input"].squeeze(0)
        for ros, nv, table, noise in _layers(num_blocks):
            for a, b in table.items():
                sd[f"{nv}.{b}"] = _nvidia_shape(b, g_ema[f"{ros}.{a}"])
            if noise is not None:
                sd[f"{nv}.noise_const"] = g_ema[f"noises.noise_{noise}"].reshape(
                    g_ema[f"noises.noise_{noise}"].shape[-2:]
                )
                sd[f"{nv}.resample_filter"] = setup_filter([1, 3, 3, 1])
        for r in channels:
            sd[f"synthesis.b{r}.resample_filter"] = setup_filter([1, 3, 3, 1])
    except KeyError as exc:
        raise CheckpointError(f"{source}: rosinality generator state dict lacks {exc}") from None
    if latent_avg is None:
        latent_avg = _estimate_w_avg(init_kwargs, sd)
    sd["mapping.w_avg"] = torch.as_tensor(latent_avg, dtype=torch.float32).reshape(w_dim)
    return init_kwargs, sd


def to_rosinality(
    init_kwargs: dict[str, Any], state_dict: dict[str, torch.Tensor]
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """NVIDIA 'skip' generator state dict → (rosinality `g_ema` state dict, `latent_avg`)."""
    n_mlp = init_kwargs.get("mapping_kwargs", {}).get("num_layers", 8)
    num_blocks = int(init_kwargs["img_resolution"]).bit_length() - 2
    g: dict[str, torch.Tensor] = {}
    for i in range(n_mlp):
        g[f"style.{i + 1}.weight"] = state_dict[f"mapping.fc{i}.weight"]
        g[f"style.{i + 1}.bias"] = state_dict[f"mapping.fc{i}.bias"]
    g["input.input"] = state_dict["synthesis.b4.const"].unsqueeze(0)
    for ros, nv, table, noise in _layers(num_blocks):
        for a, b in table.items():
            t = state_dict[f"{nv}.{b}"]
            if b == "weight":
                t = t.unsqueeze(0)
            elif b == "noise_strength":
                t = t.reshape(1)
            elif table is _TORGB and b == "bias":
                t = t.reshape(1, -1, 1, 1)
            g[f"{ros}.{a}"] = t
        if noise is not None:
            g[f"noises.noise_{noise}"] = state_dict[f"{nv}.noise_const"][None, None]
    return g, state_dict["mapping.w_avg"]


@torch.no_grad()
def _estimate_w_avg(init_kwargs: dict[str, Any], sd: dict[str, torch.Tensor]) -> torch.Tensor:
    from lsw_stylegan2.networks import MappingNetwork

    mapping = MappingNetwork(
        z_dim=init_kwargs["z_dim"], w_dim=init_kwargs["w_dim"], num_ws=1, **init_kwargs["mapping_kwargs"]
    )
    mapping.load_state_dict(
        {k[len("mapping.") :]: v for k, v in sd.items() if k.startswith("mapping.fc")}, strict=False
    )
    z = torch.randn(10_000, init_kwargs["z_dim"], generator=torch.Generator().manual_seed(0))
    return mapping(z)[:, 0].mean(dim=0)
