"""Loading StyleNeRF generators without executing anything from the checkpoint.

Accepted: an official network pickle (`G_ema` is read through the restricted unpickler; omegaconf
`DictConfig`/`ListConfig` init kwargs are rebuilt as plain dicts/lists without importing omegaconf),
a plain torch file `{"init_kwargs", "state_dict"}` with the reference's key names, and the lsw
generator folder (`config.json` + `model.safetensors`, written by `lsw convert` / `save_generator`;
folders of the older "lsw-stylenerf" format load too).
"""

from __future__ import annotations

import os
import re
import zipfile
from typing import Any

import torch

from lsw_core.errors import CheckpointError
from lsw_core.formats import netpickle
from lsw_core.formats.artifacts import load_checked
from lsw_core.formats.bounds import MAX_DEPTH, MAX_WIDTH, check_count, check_int, check_resolution
from lsw_core.formats.generator_folder import read_generator_folder
from lsw_core.formats.torchfile import load_torch_file
from lsw_stylenerf.config import StyleNeRFConfig
from lsw_stylenerf.generator import StyleNeRFGenerator

BACKEND = "stylenerf"
_PREFIXES = {"mapping.": "mapping_network.", "synthesis.": "synthesis_network."}


# --------------------------------------------------------------------------------------------------
# omegaconf containers as data


class _OmegaRecord:
    """Stand-in for an omegaconf container, node or metadata object: keeps its pickled state only."""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        if not isinstance(state, dict):
            raise CheckpointError(f"omegaconf object: expected a dict state, found {type(state).__name__}")
        self.__dict__["state"] = state


class _DictConfig(_OmegaRecord):
    pass


class _ListConfig(_OmegaRecord):
    pass


class _ValueNode(_OmegaRecord):
    pass


_ANY = object()  # typing.Any as a marker


def omegaconf_globals() -> dict[str, Any]:
    """Allow-listed globals of pickled omegaconf configs, mapped to inert stand-ins."""
    table: dict[str, Any] = {
        "omegaconf.dictconfig.DictConfig": _DictConfig,
        "omegaconf.listconfig.ListConfig": _ListConfig,
        "omegaconf.base.ContainerMetadata": _OmegaRecord,
        "omegaconf.base.Metadata": _OmegaRecord,
        "typing.Any": _ANY,
        "collections.defaultdict": _defaultdict,
    }
    for node in (
        "AnyNode",
        "StringNode",
        "IntegerNode",
        "FloatNode",
        "BooleanNode",
        "BytesNode",
        "PathNode",
        "EnumNode",
        "ValueNode",
    ):
        table[f"omegaconf.nodes.{node}"] = _ValueNode
    for name in ("dict", "list", "tuple", "int", "float", "str", "bool", "bytes"):
        table[f"builtins.{name}"] = _type_marker(name)
    return table


def _defaultdict(factory: Any = None) -> dict:
    return {}  # the factory is not called: only the metadata's resolver cache is pickled this way


def _type_marker(name: str) -> type:
    # Type annotations of omegaconf metadata (object_type, key_type ...): kept as inert markers.
    return type(f"{name}_type", (), {})


_INTERPOLATION = re.compile(r"^\$\{([A-Za-z0-9_.]+)\}$")


def to_plain(obj: Any, _depth: int = 0) -> Any:
    """Pickled omegaconf containers (and nested dicts/lists) → plain dicts, lists and values.

    A value that is a plain interpolation `${a.b}` is looked up from the root of the pickled config
    tree; one that cannot be resolved there stays the string it is."""
    if _depth > 64:
        raise CheckpointError("omegaconf config: interpolations nested too deeply (a cycle?)")
    if isinstance(obj, _DictConfig):
        content = obj.state.get("_content")
        if content is None or isinstance(content, str):
            return None
        return {k: to_plain(_resolve(v, obj), _depth + 1) for k, v in content.items()}
    if isinstance(obj, _ListConfig):
        content = obj.state.get("_content")
        if content is None or isinstance(content, str):
            return None
        return [to_plain(_resolve(v, obj), _depth + 1) for v in content]
    if isinstance(obj, _ValueNode):
        return to_plain(obj.state.get("_val"), _depth + 1)
    if isinstance(obj, dict):
        return {k: to_plain(v, _depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v, _depth + 1) for v in obj]
    return obj


def _resolve(node: Any, container: _OmegaRecord) -> Any:
    value = node.state.get("_val") if isinstance(node, _ValueNode) else node
    match = _INTERPOLATION.match(value) if isinstance(value, str) else None
    if match is None:
        return node
    root, seen = container, 0
    while isinstance(root.state.get("_parent"), _OmegaRecord) and seen < 64:
        root, seen = root.state["_parent"], seen + 1
    target: Any = root
    for key in match.group(1).split("."):
        content = target.state.get("_content") if isinstance(target, (_DictConfig, _ListConfig)) else None
        if isinstance(content, dict) and key in content:
            target = content[key]
        elif isinstance(content, list) and key.isdigit() and int(key) < len(content):
            target = content[int(key)]
        else:
            return node
    return target


# --------------------------------------------------------------------------------------------------
# readers


def build(init_kwargs: dict[str, Any], state_dict: dict[str, torch.Tensor] | None, source: str) -> StyleNeRFGenerator:
    """A generator from reference-style init kwargs and (reference- or our-keyed) weights."""
    if not isinstance(init_kwargs, dict):
        raise CheckpointError(f"{source}: expected StyleNeRF init kwargs as a dict, found {type(init_kwargs).__name__}")
    if state_dict is not None:
        _fill_mapping_layers(init_kwargs, state_dict)
    try:
        _check_bounds(init_kwargs, source)
        config = StyleNeRFConfig.from_init_kwargs(init_kwargs)
    except (ValueError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{source}: could not read the StyleNeRF init kwargs ({exc})") from None
    check_count(_parameter_bound(config), what="StyleNeRF generator", source=source)
    G = StyleNeRFGenerator(config, init_kwargs)
    if state_dict is not None:
        load_weights(G, state_dict, source)
    return G.eval().requires_grad_(False)


def _parameter_bound(config: StyleNeRFConfig) -> int:
    """An upper bound of the generator's parameters, by formula (every upsampler block at its widest,
    two 3×3 modulated convolutions and a toRGB; both NeRF MLPs; the mapping network)."""
    syn, w = config.synthesis, config.w_dim
    count = sum(
        2 * (w + 9 * syn.channels(r) + 1) * syn.channels(r) + w * syn.channels(r) for r in syn.block_resolutions
    )
    count += 2 * (w + 9 * syn.rgb_out_dim + 1) * syn.rgb_out_dim  # the volume's feature convolutions
    for nerf in (syn.foreground, syn.background):
        hidden = int(nerf["hidden_size"])
        count += (int(nerf["n_blocks"]) + 2) * (w + 2 * hidden + 64) * (hidden + syn.rgb_out_dim)
    width = max(config.mapping_layer_features or w, w, config.z_dim)
    return count + (config.mapping_layers + 1) * (width + 1) * width


def _check_bounds(kw: dict[str, Any], source: str) -> None:
    """Sizes within sane ranges, so a crafted file cannot ask for a network of terabytes."""
    syn = kw.get("synthesis_kwargs") or {}
    nested = {
        "mapping_kwargs": kw.get("mapping_kwargs") or {},
        "synthesis_kwargs": syn,
        "synthesis_kwargs.renderer_kwargs": syn.get("renderer_kwargs") or {},
        "synthesis_kwargs.foreground_kwargs": syn.get("foreground_kwargs") or {},
        "synthesis_kwargs.background_kwargs": syn.get("background_kwargs") or {},
    }
    bounds = (
        ("", "z_dim", 1, MAX_WIDTH),
        ("", "w_dim", 1, MAX_WIDTH),
        ("mapping_kwargs", "num_layers", 1, MAX_DEPTH),
        ("mapping_kwargs", "layer_features", 1, MAX_WIDTH),
        ("synthesis_kwargs", "channel_max", 1, MAX_WIDTH),
        ("synthesis_kwargs", "rgb_out_dim", 1, MAX_WIDTH),
        ("synthesis_kwargs", "z_dim_bg", 0, MAX_WIDTH),
        ("synthesis_kwargs.renderer_kwargs", "n_ray_samples", 1, 1024),
        ("synthesis_kwargs.renderer_kwargs", "n_bg_samples", 0, 1024),
        ("synthesis_kwargs.foreground_kwargs", "hidden_size", 1, MAX_WIDTH),
        ("synthesis_kwargs.foreground_kwargs", "n_blocks", 1, MAX_DEPTH),
        ("synthesis_kwargs.background_kwargs", "hidden_size", 1, MAX_WIDTH),
        ("synthesis_kwargs.background_kwargs", "n_blocks", 1, MAX_DEPTH),
    )
    for group, key, low, high in bounds:
        where = kw if not group else nested[group]
        if isinstance(where, dict) and where.get(key) is not None:
            check_int(f"init_kwargs.{group + '.' if group else ''}{key}", where[key], low, high, source=source)
    check_resolution("init_kwargs.img_resolution", kw.get("img_resolution"), low=64, source=source)
    if syn.get("resolution_vol") is not None:
        check_resolution("init_kwargs.synthesis_kwargs.resolution_vol", syn["resolution_vol"], high=512, source=source)


def _fill_mapping_layers(init_kwargs: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> None:
    # The FFHQ config sets the mapping depth by interpolation (${spec.map}); a pickle may keep it
    # unresolved. The weights say how many layers there are.
    mapping = init_kwargs.setdefault("mapping_kwargs", {}) or {}
    init_kwargs["mapping_kwargs"] = mapping
    if not isinstance(mapping.get("num_layers"), int):
        layers = {k.split(".")[1] for k in state_dict if re.match(r"^(mapping|mapping_network)\.fc\d+\.weight$", k)}
        if layers:
            mapping["num_layers"] = len(layers)


def load_weights(G: StyleNeRFGenerator, state_dict: dict[str, torch.Tensor], source: str) -> None:
    renamed = {}
    for key, value in state_dict.items():
        for old, new in _PREFIXES.items():
            if key.startswith(old):
                key = new + key[len(old) :]
        renamed[key] = value
    alpha = float(renamed.get("synthesis_network.alpha", torch.tensor(-1.0)))
    if not (alpha == -1 or alpha >= 1):
        raise CheckpointError(
            f"{source}: saved during progressive growing (alpha={alpha:g}); expected a finished generator (alpha 1)"
        )
    load_checked(G, renamed, source=source, what="the StyleNeRF architecture of its config")


def read_pickle(path: str) -> StyleNeRFGenerator:
    data = netpickle.load_network_pickle(path, extra_globals=omegaconf_globals(), placeholder_classes=_TORCH_MODULES)
    if not isinstance(data, dict) or "G_ema" not in data:
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"{path}: expected a network pickle with 'G_ema', found {found}")
    G_ema = data["G_ema"]
    if not isinstance(G_ema, netpickle.ModulePlaceholder):
        raise CheckpointError(f"{path}: 'G_ema' is not a pickled network")
    kwargs = to_plain(dict(G_ema.state.get("_init_kwargs") or {}))
    args = to_plain(list(G_ema.state.get("_init_args") or ()))
    for name, value in zip(("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"), args):
        kwargs.setdefault(name, value)
    return build(kwargs, netpickle.module_state_dict(G_ema), path)


def read_torch_file(path: str) -> StyleNeRFGenerator:
    data = load_torch_file(path, "StyleNeRF torch file (expected 'init_kwargs' and 'state_dict')")
    if not isinstance(data, dict) or not {"init_kwargs", "state_dict"} <= set(data):
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"{path}: expected a dict with 'init_kwargs' and 'state_dict', found {found}")
    return build(dict(data["init_kwargs"]), dict(data["state_dict"]), path)


def read_folder(path: str) -> StyleNeRFGenerator:
    init_kwargs, state = read_generator_folder(path, BACKEND)
    return build(init_kwargs, state, path)


def load_stylenerf(checkpoint: str | os.PathLike | None = None, **options: Any) -> StyleNeRFGenerator:
    """Load a StyleNeRF generator: pickle (`.pkl`), torch file, or folder. Without a checkpoint, a
    randomly initialised FFHQ-architecture generator (`resolution`, `z_dim`, `w_dim`, `seed` options)."""
    if checkpoint is None:
        from lsw_stylenerf.presets import ffhq_init_kwargs

        seed = options.pop("seed", 0)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return build(ffhq_init_kwargs(**options), None, "random init")
    if options:
        raise CheckpointError(f"stylenerf: options {sorted(options)} only apply without a checkpoint")
    path = os.fspath(checkpoint)
    if os.path.isdir(path):
        return read_folder(path)
    if not os.path.isfile(path):
        raise CheckpointError(
            f"StyleNeRF checkpoint {path!r}: expected a .pkl, a torch file or a folder, found nothing there"
        )
    if zipfile.is_zipfile(path):  # torch.save's format
        return read_torch_file(path)
    return read_pickle(path)


_TORCH_MODULES = tuple(
    f"torch.nn.modules.{m}"
    for m in (
        "linear.Linear",
        "linear.Identity",
        "conv.Conv2d",
        "activation.ReLU",
        "activation.LeakyReLU",
        "activation.Sigmoid",
        "activation.Tanh",
        "container.ModuleDict",
        "container.ParameterList",
        "container.ParameterDict",
        "pooling.AvgPool2d",
        "normalization.LayerNorm",
        "flatten.Flatten",
    )
)
