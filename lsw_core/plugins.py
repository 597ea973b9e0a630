"""Plugin discovery (entry-point group `lsw_core`) and the registries the hooks fill.

`LSW_PLUGINS` restricts which entry points load: a comma-separated list of names, or empty to load
none. A plugin that fails to import, or whose hook raises, is recorded in `broken_plugins()` and
reported by `lsw backends`; it breaks nothing else.
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import attrs
import pluggy

from lsw_core import hookspecs
from lsw_core.errors import PluginError

ENTRY_POINT_GROUP = "lsw_core"
KINDS = {
    "generator": "register_generators",
    "identity_embedder": "register_identity_embedders",
    "shape_model": "register_shape_models",
    "inverter": "register_inverters",
    "aligner": "register_aligners",
    "perceptual_loss": "register_perceptual_losses",
    "latent_encoder": "register_latent_encoders",
    "judge": "register_judges",
}

hookimpl = pluggy.HookimplMarker("lsw_core")
_pm: pluggy.PluginManager | None = None
_broken: dict[str, str] = {}


@attrs.frozen
class Entry:
    name: str
    factory: Callable[..., Any]
    description: str
    plugin: str


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with entry points loaded on first use."""
    global _pm
    if _pm is None:
        _pm = pluggy.PluginManager("lsw_core")
        _pm.add_hookspecs(hookspecs)
        _load_entry_points(_pm)
    return _pm


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    allowed = os.environ.get("LSW_PLUGINS")
    allowed_names = None if allowed is None else {n.strip() for n in allowed.split(",") if n.strip()}
    found = entry_points(group=ENTRY_POINT_GROUP)
    missing = sorted((allowed_names or set()) - set(found.names))
    if missing:
        warnings.warn(
            f"LSW_PLUGINS names {', '.join(missing)}, but no such plugin is installed "
            f"(entry points of group {ENTRY_POINT_GROUP!r}: {', '.join(sorted(found.names)) or 'none'})",
            stacklevel=2,
        )
    for ep in found:
        if allowed_names is not None and ep.name not in allowed_names:
            continue
        if pm.has_plugin(ep.name):
            continue
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:  # a broken plugin is reported, never fatal
            _broken[ep.name] = f"failed to load {ep.value}: {type(exc).__name__}: {exc}"


def broken_plugins() -> dict[str, str]:
    """Plugins that failed to load or to register, with the reason."""
    plugin_manager()
    return dict(_broken)


def registry(kind: str) -> dict[str, Entry]:
    """All registered components of one kind (see `KINDS`), by name."""
    if kind not in KINDS:
        raise PluginError(f"unknown plugin kind {kind!r}; expected one of {sorted(KINDS)}")
    pm = plugin_manager()
    entries: dict[str, Entry] = {}
    for impl in getattr(pm.hook, KINDS[kind]).get_hookimpls():

        def register(name: str, factory: Callable[..., Any], description: str = "", _plugin=impl.plugin_name):
            entries[name] = Entry(name, factory, description, _plugin)

        try:
            impl.function(register=register)
        except Exception as exc:
            _broken[impl.plugin_name] = f"{KINDS[kind]} raised {type(exc).__name__}: {exc}"
    return entries


def load(kind: str, name: str, **options: Any) -> Any:
    """Build the component `name` of `kind` with the factory's `options`."""
    entries = registry(kind)
    if name not in entries:
        known = ", ".join(sorted(entries)) or "none"
        msg = f"unknown {kind.replace('_', ' ')} {name!r}; available: {known}"
        broken = broken_plugins()
        if broken:
            msg += "; broken plugins: " + ", ".join(sorted(broken)) + " (see `lsw backends`)"
        raise PluginError(msg)
    _check_options(kind, name, entries[name].factory, options)
    component = entries[name].factory(**options)
    if kind == "generator":
        component.backend_name = name
        ensure = getattr(component, "ensure_w_avg", None)
        if callable(ensure):  # an unknown (all-zero) w_avg is estimated now, before anything truncates
            ensure()
    return component


def _check_options(kind: str, name: str, factory: Callable[..., Any], options: dict[str, Any]) -> None:
    """Refuse options the factory does not take (a factory with **kwargs takes any)."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin or C factory: nothing to inspect
        return
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    known = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if "checkpoint" not in known and "checkpoint" in options and options["checkpoint"] is None:
        del options["checkpoint"]  # the default of `load_*`, not a user's choice
    unknown = [k for k in options if k not in known]
    if unknown:
        what = f"{kind.replace('_', ' ')} {name!r}"
        if "checkpoint" in unknown:
            raise PluginError(f"{what} takes no checkpoint (its options: {', '.join(known) or 'none'})")
        names = ", ".join(repr(k) for k in unknown)
        raise PluginError(f"unknown option {names} for {what}; its options: {', '.join(known) or 'none'}")


def load_generator(name: str, checkpoint: str | os.PathLike | None = None, **options: Any):
    """Load the generator backend `name` (e.g. "stylegan2", "synthface") from `checkpoint`."""
    return load("generator", name, checkpoint=checkpoint, **options)


def load_identity_embedder(name: str, checkpoint: str | os.PathLike | None = None, **options: Any):
    return load("identity_embedder", name, checkpoint=checkpoint, **options)


def load_shape_model(name: str, checkpoint: str | os.PathLike | None = None, **options: Any):
    return load("shape_model", name, checkpoint=checkpoint, **options)


def load_inverter(name: str, **options: Any):
    return load("inverter", name, **options)


def load_aligner(name: str, **options: Any):
    return load("aligner", name, **options)


def load_perceptual_loss(name: str, checkpoint: str | os.PathLike | None = None, **options: Any):
    return load("perceptual_loss", name, checkpoint=checkpoint, **options)


def load_judge(name: str, **options: Any):
    """Load the judge `name` (e.g. "sface", "dlib"), which measures swaps for `lsw eval --judge`."""
    return load("judge", name, **options)


def reset() -> None:
    """Forget loaded plugins so the next use rediscovers entry points (after installing a plugin)."""
    global _pm
    _pm = None
    _broken.clear()
