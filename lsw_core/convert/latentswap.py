"""The LatentSwap authors' released model (a PyTorch Lightning checkpoint of their `LatentSwap`
module) → an lsw mixer folder that `Swapper.from_folder` loads.

Their `state_dict` holds `identity_mixer.*` (W+: `mixer.<row>.<0|2|4|6|8>.<weight|bias>`, one
`LatentMixerSep` row per W+ row; Z and W: one `nn.Sequential` `<0|2|4|6|8>.<weight|bias>`),
`style_gan.*` (NVIDIA's FFHQ G_ema), `identity_embedder.*` (the Smooth-Swap embedder) and `g_loss.*`
(the loss, with its 3DMM network; not needed to swap and not converted). The folder written:

    OUT/config.json, OUT/mixer.safetensors   the mixer (an lsw mixer folder)
    OUT/generator/                           the StyleGAN2 generator (lsw generator folder), if present
    OUT/smoothswap.pth                       the embedder's state dict (`smoothswap` reads it), if present

The authors sample W+ codes with ψ = 0.5 on the first 8 rows; their Z and W mixers read raw z or
the untruncated w and always add the target with coefficient 1. Their W+ residual coefficient is
`hp.identity_mixer.residual_coefficient` when the hyper-parameters carry it, else 1.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from lsw_core.errors import CheckpointError, LswError
from lsw_core.formats.artifacts import check_finite_weights, save_torch, write_together
from lsw_core.formats.generator_folder import save_generator
from lsw_core.formats.lightning import plain_config, read_lightning_checkpoint
from lsw_core.interfaces import LatentLayout
from lsw_core.mixing.mixer import DEFAULT_DEPTH, LatentMixer, check_mixer_size, layer_widths
from lsw_core.plugins import load_generator
from lsw_core.training.config import TrainConfig
from lsw_core.validators import check, integer, number, optional, text

#: The authors' Lightning checkpoints store the mixer under this attribute name.
AUTHORS_PREFIX = "identity_mixer."
GENERATOR_PREFIX = "style_gan."
EMBEDDER_PREFIX = "identity_embedder."
GENERATOR_FOLDER = "generator"
EMBEDDER_FILE = "smoothswap.pth"
#: FFHQ config-f's W+ layout, assumed for a Z/W mixer whose file carries no generator.
FFHQ_LAYOUT = LatentLayout(num_ws=18, w_dim=512)
_AUTHORS_SPACES = {"wp": "w+", "w": "w", "z": "z"}


def convert_latentswap(path: str | os.PathLike, out: str | os.PathLike, *, space: str | None = None) -> dict[str, Any]:
    """Convert the authors' Lightning checkpoint at `path` into the folder `out`; returns the
    written mixer folder's config. `space` ("z" or "w") is needed only for a one-row mixer whose
    file does not record `hp.latent_type` (Z and W mixers have the same keys and shapes)."""
    ckpt = read_lightning_checkpoint(path)
    hp = _hyper_parameters(ckpt)
    parts = _split(ckpt["state_dict"], path)
    rows = authors_rows(parts[AUTHORS_PREFIX])
    if len(rows[0]) != DEFAULT_DEPTH:
        raise CheckpointError(
            f"{path}: the authors' mixer has {DEFAULT_DEPTH} Linear layers per row (indices 0,2,4,6,8); "
            f"found {len(rows[0])}"
        )
    space = _space(path, len(rows), hp, space)
    residual = _residual_coefficient(path, hp) if space == "w+" else 1.0
    step = _recorded(path, ckpt, "global_step", integer(ge=0), 0)
    epoch = _recorded(path, ckpt, "epoch", optional(integer(ge=0)), None)
    version = _recorded(path, ckpt, "pytorch-lightning_version", optional(text()), None)
    for prefix, part in parts.items():  # nothing is written from a file with NaN or infinite weights
        check_finite_weights({prefix + k: v for k, v in part.items()}, str(path))
    try:
        mixer = mixer_from_authors(parts[AUTHORS_PREFIX], residual_coefficient=residual)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    with write_together():  # the folder is written whole, or not at all
        out = Path(out)
        extra: dict[str, Any] = {}
        layout = LatentLayout(num_ws=len(rows), w_dim=mixer.w_dim) if space == "w+" else FFHQ_LAYOUT
        if parts[GENERATOR_PREFIX]:
            try:
                G = load_generator("stylegan2", state_dict=parts[GENERATOR_PREFIX])
            except CheckpointError as exc:
                raise CheckpointError(f"{path}: {GENERATOR_PREFIX}*: {exc}") from None
            if space == "w+" and G.num_ws != len(rows):
                raise CheckpointError(
                    f"{path}: the mixer has {len(rows)} rows but its generator has {G.num_ws} W+ rows"
                )
            if mixer.w_dim != (G.w_dim if space != "z" else G.z_dim):
                raise CheckpointError(f"{path}: the mixer's width {mixer.w_dim} does not fit its generator ({G.w_dim})")
            save_generator(G, out / GENERATOR_FOLDER)
            layout = G.latent_layout
            extra["generator_checkpoint"] = GENERATOR_FOLDER
        if parts[EMBEDDER_PREFIX]:
            embedder = {k: v.clone() for k, v in parts[EMBEDDER_PREFIX].items()}
            save_torch(out / EMBEDDER_FILE, embedder)
            extra["embedder_checkpoint"] = EMBEDDER_FILE

        psi, cutoff = (0.5, 8) if space == "w+" else (1.0, None)
        training = TrainConfig(
            generator="stylegan2",
            embedder="smoothswap",
            space=space,
            truncation_psi=psi,
            truncation_cutoff=cutoff,
            residual_coefficient=residual,
        ).to_dict()
        return mixer.save_pretrained(
            out,
            backend="stylegan2",
            layout=layout,
            space=space,
            step=step,
            training=training,
            converted_from={
                "format": "latentswap-lightning",
                "file": Path(path).name,
                "epoch": epoch,
                "pytorch_lightning_version": version,
                "hyper_parameters": hp or None,
            },
            **extra,
        )


def _split(state_dict: dict[str, torch.Tensor], path: Any) -> dict[str, dict[str, torch.Tensor]]:
    """The state dict's tensors by sub-module prefix; `g_loss.*` is dropped, anything else refused."""
    parts: dict[str, dict[str, torch.Tensor]] = {AUTHORS_PREFIX: {}, GENERATOR_PREFIX: {}, EMBEDDER_PREFIX: {}}
    unknown = []
    for key, value in state_dict.items():
        prefix = next((p for p in parts if key.startswith(p)), None)
        if prefix is not None:
            parts[prefix][key[len(prefix) :]] = value
        elif not key.startswith("g_loss."):
            unknown.append(key)
    if unknown:
        raise CheckpointError(
            f"{path}: unexpected keys {unknown[:3]} in a LatentSwap checkpoint; expected "
            "identity_mixer.*, style_gan.*, identity_embedder.* and g_loss.*"
        )
    if not parts[AUTHORS_PREFIX]:
        raise CheckpointError(f"{path}: no 'identity_mixer.*' weights: not a LatentSwap checkpoint")
    return parts


def _recorded(path: Any, ckpt: dict[str, Any], name: str, validator: Any, default: Any) -> Any:
    """The checkpoint's top-level entry `name` checked by `validator` (`default` when absent)."""
    value = ckpt.get(name, default)
    try:
        check(name, value, validator)
    except LswError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    return value


def _residual_coefficient(path: Any, hp: dict[str, Any]) -> float:
    """`hp.identity_mixer.residual_coefficient` (1 when not recorded), checked."""
    section = hp.get("identity_mixer", {})
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise CheckpointError(f"{path}: hyper_parameters.identity_mixer: expected an object, got {section!r}")
    value = section.get("residual_coefficient", 1.0)
    try:
        check("hyper_parameters.identity_mixer.residual_coefficient", value, number())
    except LswError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    return float(value)


def _hyper_parameters(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The `hp` the authors' module was built with, as plain dicts ({} when not saved)."""
    hp = plain_config(ckpt.get("hyper_parameters"))
    if isinstance(hp, dict) and isinstance(hp.get("hp"), dict):  # save_hyperparameters() of `__init__(self, hp)`
        hp = hp["hp"]
    return hp if isinstance(hp, dict) else {}


def _space(path: Any, num_rows: int, hp: dict[str, Any], requested: str | None) -> str:
    if hp.get("latent_type") is not None and not isinstance(hp.get("latent_type"), str):
        raise CheckpointError(
            f"{path}: hyper_parameters.latent_type: expected 'wp', 'w' or 'z', got {hp['latent_type']!r}"
        )
    recorded = _AUTHORS_SPACES.get(hp.get("latent_type")) if isinstance(hp.get("latent_type"), str) else None
    if num_rows > 1:
        found = "w+"
    elif recorded in ("z", "w"):
        found = recorded
    elif requested in ("z", "w"):
        return requested
    else:
        raise LswError(
            f"{path}: a one-row (Z or W) mixer whose file does not record hp.latent_type; "
            "say which with --space z or --space w"
        )
    if requested is not None and requested != found:
        raise LswError(f"{path}: --space {requested} given, but the checkpoint holds a {found.upper()} mixer")
    return found


# --- the authors' key layout ---------------------------------------------------------------------


def load_authors_state_dict(mixer: LatentMixer, state_dict: dict[str, torch.Tensor]) -> None:
    """Load weights saved by the authors' code: `mixer.{row}.{0,2,4,6,8}.{weight,bias}` for W+
    (`LatentMixerSep`) or `{0,2,4,6,8}.{weight,bias}` for the one-row Z/W mixer (an
    `nn.Sequential` of Linear and SiLU, so Linear layers sit at even indices; other depths have
    more or fewer), with or without the Lightning prefix `identity_mixer.`."""
    rows = authors_rows(state_dict)
    if len(rows) != mixer.num_rows:
        raise CheckpointError(f"authors' mixer checkpoint has {len(rows)} rows; this mixer has {mixer.num_rows}")
    if len(rows[0]) != mixer.depth:
        raise CheckpointError(f"authors' mixer checkpoint has {len(rows[0])} layers; this mixer has {mixer.depth}")
    with torch.no_grad():
        for layer, (fan_in, fan_out) in enumerate(layer_widths(mixer.w_dim, mixer.depth)):
            for r, row in enumerate(rows):
                w, b = row[2 * layer]["weight"], row[2 * layer]["bias"]
                if tuple(w.shape) != (fan_out, fan_in) or tuple(b.shape) != (fan_out,):
                    raise CheckpointError(
                        f"authors' mixer layer {2 * layer} of row {r}: expected weight [{fan_out}, {fan_in}] "
                        f"and bias [{fan_out}], got {list(w.shape)} and {list(b.shape)}"
                    )
                mixer.weights[layer][r].copy_(w.t())
                mixer.biases[layer][r, 0].copy_(b)


def mixer_from_authors(state_dict: dict[str, torch.Tensor], residual_coefficient: float = 1.0) -> LatentMixer:
    """A `LatentMixer` of the shape an authors'-layout state dict holds, with its weights."""
    rows = authors_rows(state_dict)
    first = rows[0][0]["weight"]
    if first.ndim != 2 or first.shape[1] % 2:
        raise CheckpointError(f"authors' mixer layer 0: expected a weight [2w, 2w], got {list(first.shape)}")
    check_mixer_size(len(rows), first.shape[1] // 2, len(rows[0]))  # before building it
    mixer = LatentMixer(
        num_rows=len(rows),
        w_dim=first.shape[1] // 2,
        residual_coefficient=residual_coefficient,
        depth=len(rows[0]),
    )
    load_authors_state_dict(mixer, state_dict)
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
