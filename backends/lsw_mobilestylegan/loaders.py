"""Loading MobileStyleGAN; nothing here runs code stored in a file.

Accepted `checkpoint=`:
- None: the OpenVINO IR files of the installed `random-face` wheel (`pip install --no-deps random-face`);
- a folder with `MappingNetwork.{xml,bin}` and `SynthesisNetwork.{xml,bin}` (OpenVINO IR), read by
  `lsw_mobilestylegan.ir` and `lsw_mobilestylegan.graph`;
- the original project's PyTorch checkpoint (`mobilestylegan_ffhq.ckpt`: `mapping_net.*`, `student.*`),
  read with `torch.load(weights_only=True)`, demodulation folded into the weights;
- the lsw folder format (`config.json` + `model.safetensors`), written by `lsw convert`.
"""

from __future__ import annotations

import importlib.metadata
import math
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from lsw_core.errors import CheckpointError, LswError
from lsw_core.formats import artifacts
from lsw_core.formats.generator_folder import is_generator_folder, read_generator_folder
from lsw_core.formats.torchfile import load_torch_file
from lsw_mobilestylegan.generator import MobileStyleGANGenerator, validate_init_kwargs
from lsw_mobilestylegan.graph import read_mapping, read_synthesis
from lsw_mobilestylegan.ir import read_ir

BACKEND = "mobilestylegan"
WHEEL = "random-face"
IR_FILES = ("MappingNetwork", "SynthesisNetwork")
# torch.save's legacy (non-zip) format starts with a pickled magic number.
_LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19."
#: Keys of the original checkpoint's student network that the image does not use: the wavelet images
#: of the earlier blocks (distillation targets), the inverse wavelet transforms' fixed filters.
_UNUSED = re.compile(r"^(to_img1\..*|layers\.\d+\.to_img\..*|(.*\.)?idwt\..*|device_info)$")


def wheel_ir_folder() -> Path:
    """The folder of the IR files in the installed `random-face` wheel (its package is never imported)."""
    try:
        dist = importlib.metadata.distribution(WHEEL)
    except importlib.metadata.PackageNotFoundError:
        raise LswError(
            f"the mobilestylegan generator reads its weights from the {WHEEL!r} wheel, which is not installed: "
            f"`pip install --no-deps {WHEEL}` (or pass checkpoint= an IR folder, the original checkpoint or an lsw folder)"
        ) from None
    folder = Path(str(dist.locate_file("random_face/data")))
    if not all((folder / f"{name}.{ext}").is_file() for name in IR_FILES for ext in ("xml", "bin")):
        raise LswError(
            f"the installed {WHEEL!r} wheel has no IR files in {folder}; reinstall it: `pip install --no-deps --force-reinstall {WHEEL}`"
        )
    return folder


def is_ir_folder(path: Path) -> bool:
    return path.is_dir() and all((path / f"{name}.xml").is_file() for name in IR_FILES)


def read_ir_folder(folder: str | os.PathLike) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(init_kwargs, state dict without w_avg) of the two IR graphs in `folder`."""
    folder = Path(folder)
    mapping_kw, mapping = read_mapping(read_ir(folder / "MappingNetwork.xml"))
    synthesis_kw, synthesis = read_synthesis(read_ir(folder / "SynthesisNetwork.xml"))
    if synthesis_kw["w_dim"] != mapping_kw["w_dim"]:
        raise CheckpointError(
            f"{folder}: the mapping makes w of {mapping_kw['w_dim']} dims, the synthesis reads {synthesis_kw['w_dim']}"
        )
    init_kwargs = {**mapping_kw, "channels": synthesis_kw["channels"]}
    state = {
        **{f"mapping_net.{k}": v for k, v in mapping.items()},
        **{f"synthesis_net.{k}": v for k, v in synthesis.items()},
    }
    return init_kwargs, state


def from_original(
    data: Any, *, source: str, lr_multiplier: float = 0.01, noise_seed: int = 0
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(init_kwargs, state dict without w_avg) of the original project's checkpoint: a Lightning
    checkpoint `{"state_dict": ...}` or its state dict, with `mapping_net.layers.{1…}` (EqualLinear,
    learning-rate multiplier `lr_multiplier`, not stored) and `student.*` (the 2021 MobileStyleGAN, the
    one the random-face wheel exports). Demodulation is folded into the convolution weights, the
    noise strengths kept, and the constant noise drawn N(0, 1) in float64 from `noise_seed`, layer by
    layer in the order they run."""
    state = data.get("state_dict", data) if isinstance(data, dict) else None
    if not isinstance(state, dict) or not any(str(k).startswith("student.") for k in state):
        found = sorted(map(str, state))[:6] if isinstance(state, dict) else type(data).__name__
        raise CheckpointError(
            f"{source}: expected the MobileStyleGAN checkpoint (keys 'student.*', 'mapping_net.*'), found {found}"
        )
    tensors = {str(k): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    student = {k[len("student.") :]: v.to(torch.float32) for k, v in tensors.items() if k.startswith("student.")}
    layers = sorted(int(m.group(1)) for k in tensors if (m := re.fullmatch(r"mapping_net\.layers\.(\d+)\.weight", k)))
    if not layers or layers != list(range(1, len(layers) + 1)):
        raise CheckpointError(f"{source}: expected mapping layers mapping_net.layers.1 … .N, found {layers}")
    out: dict[str, torch.Tensor] = {}
    for j in layers:
        weight, bias = (
            tensors[f"mapping_net.layers.{j}.weight"].to(torch.float64),
            tensors.get(f"mapping_net.layers.{j}.bias"),
        )
        if weight.ndim != 2 or bias is None or tuple(bias.shape) != (weight.shape[0],):
            raise CheckpointError(f"{source}: mapping_net.layers.{j}: expected a weight [out, in] and a bias [out]")
        out[f"mapping_net.fc{j - 1}.weight"] = (weight * (lr_multiplier / math.sqrt(weight.shape[1]))).float()
        out[f"mapping_net.fc{j - 1}.bias"] = (bias.to(torch.float64) * lr_multiplier).float()
    blocks = 0
    while f"layers.{blocks}.conv1.bias" in student:
        blocks += 1
    try:
        channels = [student["input.input"].shape[1]] + [
            student[f"layers.{i}.conv2.bias"].shape[1] for i in range(blocks)
        ]
    except (KeyError, IndexError):
        raise CheckpointError(f"{source}: expected student.input.input and student.layers.<i>.conv2.bias") from None
    init_kwargs = {"z_dim": out["mapping_net.fc0.weight"].shape[1], "w_dim": out["mapping_net.fc0.weight"].shape[0],
                   "mapping_layers": len(layers), "channels": [int(c) for c in channels]}  # fmt: skip
    gen = torch.Generator().manual_seed(noise_seed)
    used = set()

    def take(key: str) -> torch.Tensor:
        if key not in student:
            raise CheckpointError(
                f"{source}: student.{key} is missing (expected the 2021 MobileStyleGAN layout, the random-face wheel's)"
            )
        used.add(key)
        return student[key]

    def styled_conv(path: str, res: int, depthwise: bool) -> None:
        for part in ("modulation.weight", "modulation.bias"):
            out[f"synthesis_net.{path}.conv.{part}"] = take(f"{path}.conv.{part}")
        style_inv = take(f"{path}.conv.style_inv").reshape(-1).to(torch.float64)
        in_channels = style_inv.numel()
        if depthwise:
            weight_dw, pointwise = take(f"{path}.conv.weight_dw"), take(f"{path}.conv.weight_permute")
            out[f"synthesis_net.{path}.conv.weight_dw"] = weight_dw
            weight = weight_dw.to(torch.float64).transpose(0, 1) * pointwise.to(torch.float64)
            kept = pointwise
        else:
            weight = take(f"{path}.conv.weight").to(torch.float64)
            kept = weight
        if weight.ndim != 4 or weight.shape[1] != in_channels:
            raise CheckpointError(
                f"{source}: student.{path}: weights {list(weight.shape)} do not match style_inv of {in_channels}"
            )
        scale = 1 / math.sqrt(in_channels * weight.shape[2] * weight.shape[3])
        demod = ((scale * style_inv[None, :, None, None] * weight).square().sum(dim=(1, 2, 3)) + 1e-8).rsqrt()
        out[f"synthesis_net.{path}.conv.weight_demod"] = (kept.to(torch.float64) * demod[:, None, None, None]).float()
        strength = take(f"{path}.noise.weight").reshape(-1)[0].to(torch.float32)
        out[f"synthesis_net.{path}.noise.strength"] = strength.clone()
        out[f"synthesis_net.{path}.noise.const"] = (
            torch.randn(1, 1, res, res, generator=gen, dtype=torch.float64) * strength.double()
        ).float()
        out[f"synthesis_net.{path}.bias"] = take(f"{path}.bias")

    out["synthesis_net.input.input"] = take("input.input")
    styled_conv("conv1", 4, depthwise=False)
    for i in range(blocks):
        for part in ("modulation.weight", "modulation.bias"):
            out[f"synthesis_net.layers.{i}.up.{part}"] = take(f"layers.{i}.up.{part}")
        styled_conv(f"layers.{i}.conv1", 8 * 2**i, depthwise=True)
        styled_conv(f"layers.{i}.conv2", 8 * 2**i, depthwise=True)
    last = f"layers.{blocks - 1}.to_img"
    for part in ("conv.modulation.weight", "conv.modulation.bias", "conv.weight", "bias"):
        out[f"synthesis_net.{last}.{part}"] = take(f"{last}.{part}")
    unexpected = sorted(k for k in student if k not in used and not _UNUSED.match(k))
    if unexpected:
        raise CheckpointError(
            f"{source}: unexpected student keys {unexpected[:4]} ({len(unexpected)}): not the 2021 MobileStyleGAN layout"
        )
    return init_kwargs, out


def build_generator(
    init_kwargs: dict[str, Any], state: dict[str, torch.Tensor] | None, *, source: str
) -> MobileStyleGANGenerator:
    """A frozen generator from init kwargs and a state dict (`w_avg` estimated when the state has none;
    random weights when `state` is None)."""
    try:
        kw = validate_init_kwargs(init_kwargs)
    except CheckpointError as exc:
        raise CheckpointError(f"{source}: {exc}") from None
    G = MobileStyleGANGenerator(**kw)
    if state is not None:
        state = dict(state)
        estimate = "w_avg" not in state
        if estimate:
            state["w_avg"] = G.w_avg
        artifacts.load_checked(G, state, source=source, what="the MobileStyleGAN layout of its init kwargs",
                               convert=lambda v: v.to(torch.float32) if v.is_floating_point() else v)  # fmt: skip
    if state is None or estimate:
        G.update_w_avg()
    return G.eval().requires_grad_(False)


def load_mobilestylegan(
    checkpoint: str | os.PathLike | None = None, *, lr_multiplier: float = 0.01, noise_seed: int = 0
) -> MobileStyleGANGenerator:
    """The `mobilestylegan` backend's factory (see the module docstring for what `checkpoint` may be).
    `lr_multiplier` and `noise_seed` apply to the original checkpoint only (`from_original`)."""
    path = wheel_ir_folder() if checkpoint is None else Path(checkpoint)
    source = str(path)
    if path.is_dir():
        if is_generator_folder(path):
            init_kwargs, state = read_generator_folder(path, BACKEND)
        elif is_ir_folder(path):
            init_kwargs, state = read_ir_folder(path)
        else:
            raise CheckpointError(
                f"{source}: expected a generator folder (config.json), or an OpenVINO IR folder with "
                f"{' and '.join(f'{n}.xml/.bin' for n in IR_FILES)}"
            )
        return build_generator(init_kwargs, state, source=source)
    if not path.is_file():
        raise CheckpointError(f"{source}: no such checkpoint file or folder")
    with open(path, "rb") as f:
        head = f.read(len(_LEGACY_TORCH_MAGIC))
    if not (head.startswith(b"PK\x03\x04") or head.startswith(_LEGACY_TORCH_MAGIC) or zipfile.is_zipfile(path)):
        raise CheckpointError(
            f"{source}: expected the original MobileStyleGAN checkpoint (a torch file), an OpenVINO IR folder or a generator folder"
        )
    data = load_torch_file(path, "MobileStyleGAN checkpoint")
    init_kwargs, state = from_original(data, source=source, lr_multiplier=lr_multiplier, noise_seed=noise_seed)
    return build_generator(init_kwargs, state, source=source)
