"""`StyleGAN2Generator`: NVIDIA's Generator module tree behind lsw-core's `Generator` interface."""

from __future__ import annotations

import copy
from typing import Any

import torch

from lsw_core.errors import CheckpointError
from lsw_core.formats.bounds import MAX_DEPTH, MAX_RESOLUTION, MAX_WIDTH, check_count, check_int, check_resolution
from lsw_core.interfaces import Generator, TrainingDefaults, layer_groups_from_resolutions
from lsw_stylegan2.networks import ARCHITECTURES, MappingNetwork, SynthesisNetwork

MAPPING_KWARGS = {"num_layers", "embed_features", "layer_features", "activation", "lr_multiplier", "w_avg_beta"}
SYNTHESIS_KWARGS = {
    "channel_base",
    "channel_max",
    "num_fp16_res",
    "conv_clamp",
    "architecture",
    "resample_filter",
    "use_noise",
    "activation",
    "kernel_size",
    "fp16_channels_last",
}
TOP_KWARGS = {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs"}


def validate_init_kwargs(init_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Check NVIDIA `Generator` init kwargs and return a normalised copy; raise `CheckpointError`
    naming what was found and what was expected."""
    if not isinstance(init_kwargs, dict):
        raise CheckpointError(
            f"init_kwargs: expected a dict of NVIDIA Generator arguments, found {type(init_kwargs).__name__}"
        )
    kw = _plain(copy.deepcopy(init_kwargs))
    kw.pop("class_name", None)
    missing = {"z_dim", "w_dim", "img_resolution"} - set(kw)
    unknown = set(kw) - TOP_KWARGS
    if missing or unknown:
        raise CheckpointError(
            f"init_kwargs: expected StyleGAN2 Generator arguments {sorted(TOP_KWARGS)}; "
            f"missing {sorted(missing)}, unknown {sorted(unknown)} (is this another architecture?)"
        )
    kw["mapping_kwargs"] = dict(kw.get("mapping_kwargs") or {})
    kw["synthesis_kwargs"] = dict(kw.get("synthesis_kwargs") or {})
    for name, allowed in (("mapping_kwargs", MAPPING_KWARGS), ("synthesis_kwargs", SYNTHESIS_KWARGS)):
        extra = set(kw[name]) - allowed
        if extra:
            raise CheckpointError(
                f"init_kwargs.{name}: unknown arguments {sorted(extra)}; expected a subset of {sorted(allowed)}"
            )
    if kw.get("c_dim", 0):
        raise CheckpointError(f"expected an unconditional generator (c_dim=0), found c_dim={kw['c_dim']}")
    if kw.get("img_channels", 3) != 3:
        raise CheckpointError(f"expected an RGB generator (img_channels=3), found img_channels={kw['img_channels']}")
    if kw["mapping_kwargs"].get("w_avg_beta", 0.995) is None:
        raise CheckpointError("expected a mapping network that tracks w_avg (w_avg_beta not None)")
    if kw["mapping_kwargs"].get("embed_features") not in (None, 0, kw["w_dim"]):
        raise CheckpointError("embed_features is only used by conditional generators; expected none")
    arch = kw["synthesis_kwargs"].get("architecture", "skip")
    if arch not in ARCHITECTURES:
        raise CheckpointError(f"synthesis architecture: expected one of {ARCHITECTURES}, found {arch!r}")
    _check_bounds(kw)
    return kw


def _check_bounds(kw: dict[str, Any]) -> None:
    """Sizes within sane ranges, so a crafted file cannot ask for a network of terabytes."""
    for name in ("z_dim", "w_dim"):
        kw[name] = check_int(f"init_kwargs.{name}", kw[name], 1, MAX_WIDTH)
    kw["img_resolution"] = check_resolution("init_kwargs.img_resolution", kw["img_resolution"])
    mapping, synthesis = kw["mapping_kwargs"], kw["synthesis_kwargs"]
    bounds = (
        (mapping, "mapping_kwargs", "num_layers", 1, MAX_DEPTH),
        (mapping, "mapping_kwargs", "layer_features", 1, MAX_WIDTH),
        (synthesis, "synthesis_kwargs", "channel_base", 1, MAX_WIDTH * MAX_RESOLUTION),
        (synthesis, "synthesis_kwargs", "channel_max", 1, MAX_WIDTH),
        (synthesis, "synthesis_kwargs", "num_fp16_res", 0, MAX_DEPTH),
        (synthesis, "synthesis_kwargs", "kernel_size", 1, 7),
    )
    for where, group, key, low, high in bounds:
        if where.get(key) is not None:
            where[key] = check_int(f"init_kwargs.{group}.{key}", where[key], low, high)
    check_count(parameter_count(kw), what="StyleGAN2 generator")


def parameter_count(kw: dict[str, Any]) -> int:
    """Parameters and buffers of the generator `kw` describes (within a few per cent), by formula."""
    mapping, synthesis = kw["mapping_kwargs"], kw["synthesis_kwargs"]
    z, w = kw["z_dim"], kw["w_dim"]
    layers = mapping.get("num_layers", 8)
    features = [z] + [mapping.get("layer_features") or w] * (layers - 1) + [w]
    count = sum(a * b + b for a, b in zip(features, features[1:])) + w
    base, cap, k = (
        synthesis.get("channel_base", 32768),
        synthesis.get("channel_max", 512),
        synthesis.get("kernel_size", 3),
    )
    previous = 0
    res = 4
    while res <= kw["img_resolution"]:
        c = min(base // res, cap)
        convs = [(previous, c), (c, c)] if previous else [(c, c)]
        count += c * 16 if not previous else 0  # the learned constant
        count += sum(w * a + a + b * a * k * k + b + res * res + 1 for a, b in convs)
        count += w * c + c + 3 * c + 3 + previous * c  # toRGB, and a resnet skip at most
        previous, res = c, res * 2
    return count


class StyleGAN2Generator(Generator):
    """StyleGAN2 (stylegan2-ada-pytorch layout). Built from NVIDIA's `Generator` init kwargs; its
    `state_dict()` has NVIDIA's key names (`mapping.fc0.weight`, `synthesis.b4.const`, ...).

    force_fp32: run the fp16 resolutions in fp32. None (default): fp32 on CPU, fp16 on CUDA.
    """

    camera = None
    #: The authors' sampling: ψ = 0.5 on the first 8 rows; components are the user's checkpoints.
    training_defaults = TrainingDefaults(truncation_psi=0.5, truncation_cutoff=8)

    def __init__(
        self,
        *,
        z_dim: int,
        w_dim: int,
        img_resolution: int,
        c_dim: int = 0,
        img_channels: int = 3,
        mapping_kwargs: dict | None = None,
        synthesis_kwargs: dict | None = None,
        force_fp32: bool | None = None,
    ) -> None:
        super().__init__()
        kw = validate_init_kwargs(
            dict(
                z_dim=z_dim,
                c_dim=c_dim,
                w_dim=w_dim,
                img_resolution=img_resolution,
                img_channels=img_channels,
                mapping_kwargs=mapping_kwargs,
                synthesis_kwargs=synthesis_kwargs,
            )
        )
        self.init_kwargs = kw
        syn = dict(kw["synthesis_kwargs"])
        syn.pop("fp16_channels_last", None)  # a memory-layout hint only
        mapping = dict(kw["mapping_kwargs"])
        for unused in ("embed_features", "w_avg_beta"):
            mapping.pop(unused, None)
        self.z_dim, self.w_dim, self.resolution = z_dim, w_dim, img_resolution
        self.force_fp32 = force_fp32
        self.synthesis_net = SynthesisNetwork(w_dim=w_dim, img_resolution=img_resolution, img_channels=3, **syn)
        self.num_ws = self.synthesis_net.num_ws
        self.mapping_net = MappingNetwork(z_dim=z_dim, w_dim=w_dim, num_ws=self.num_ws, **mapping)

    # NVIDIA's key names are `mapping.*` / `synthesis.*`, but `mapping`/`synthesis` are the interface's
    # methods here, so the submodules are renamed on the way in and out of state dicts.
    _RENAMES = (("mapping.", "mapping_net."), ("synthesis.", "synthesis_net."))

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        sd = super().state_dict(*args, **kwargs)
        return type(sd)((_rename(k, self._RENAMES, reverse=True), v) for k, v in sd.items())

    def load_state_dict(self, state_dict: dict[str, torch.Tensor], strict: bool = True, assign: bool = False):
        return super().load_state_dict(
            {_rename(k, self._RENAMES): v for k, v in state_dict.items()}, strict=strict, assign=assign
        )

    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping_net.w_avg

    @property
    def layer_groups(self) -> dict[str, range]:
        return layer_groups_from_resolutions(self.synthesis_net.row_resolutions())

    def set_activation_checkpointing(self, enabled: bool) -> None:
        """Recompute each synthesis block in the backward pass instead of storing its activations."""
        self.synthesis_net.checkpoint_blocks = bool(enabled)

    def _mapping(self, z: torch.Tensor, *, truncation_psi: float, truncation_cutoff: int | None) -> torch.Tensor:
        return self.mapping_net(z, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)

    def _synthesis(
        self,
        ws: torch.Tensor,
        *,
        camera: Any,
        noise_mode: str,
        force_fp32: bool | None = None,
        fused: bool | None = None,
    ) -> torch.Tensor:
        if force_fp32 is None:
            force_fp32 = self.force_fp32 if self.force_fp32 is not None else ws.device.type != "cuda"
        return self.synthesis_net(ws, force_fp32=force_fp32, noise_mode=noise_mode, fused=fused)


def _plain(value: Any) -> Any:
    """JSON-able copy: numpy scalars → Python numbers, tuples → lists, dict subclasses → dicts."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


def _rename(key: str, renames: tuple[tuple[str, str], ...], reverse: bool = False) -> str:
    for a, b in renames:
        src, dst = (b, a) if reverse else (a, b)
        if key.startswith(src):
            return dst + key[len(src) :]
    return key
