"""Option parsing shared by the subcommands; defaults and ranges come from the attrs settings classes.
Every float option refuses NaN and ±inf when it is parsed (`FiniteFloat`), and an option that has no
effect with the others given is refused (`refuse_idle`)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable
from typing import Any

import attrs
import click
from click.core import ParameterSource

from lsw_core.errors import LswError


class FiniteFloat(click.FloatRange):
    """A float option that refuses NaN and ±inf (which pass any range: NaN compares false with
    everything), optionally within a range as `click.FloatRange` takes it."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)

    @classmethod
    def bounded(
        cls, *, ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None
    ) -> FiniteFloat:
        """The type for a number within the bounds a `lsw_core.validators.number` validator takes."""
        return cls(min=gt if gt is not None else ge, max=lt if lt is not None else le, min_open=gt is not None,
                   max_open=lt is not None)  # fmt: skip


def finite(kind: click.ParamType) -> click.ParamType:
    """`kind`, refusing NaN and ±inf when it is a float type (with the same range)."""
    if isinstance(kind, FiniteFloat) or not isinstance(kind, click.types.FloatParamType):
        return kind
    if isinstance(kind, click.FloatRange):
        return FiniteFloat(kind.min, kind.max, min_open=kind.min_open, max_open=kind.max_open, clamp=kind.clamp)
    return FiniteFloat()


def finite_floats(command: click.Command) -> click.Command:
    """Make every float option of `command` (and of its subcommands) refuse NaN and ±inf: the command
    line applies this to every command it runs, plugin commands included."""
    for param in command.params:
        param.type = finite(param.type)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            finite_floats(sub)
    return command


def setting_type(cls: type, name: str) -> click.ParamType:
    """The option type of the float setting `name` of the attrs class `cls`: finite, within the bounds
    its validator (`lsw_core.validators.number`, maybe `optional`) declares."""
    bounds = getattr(getattr(attrs.fields(cls), name).validator, "bounds", {})
    return FiniteFloat.bounded(**bounds)


def given(ctx: click.Context, name: str) -> bool:
    """Whether the user gave the option `name` (rather than its default)."""
    return ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)


def flag(ctx: click.Context, name: str) -> str:
    """The option `name` as a user types it, e.g. "--reference-threshold"."""
    param = next(p for p in ctx.command.params if p.name == name)
    return "/".join(o for o in param.opts if o.startswith("--")) or param.opts[0]


def refuse_idle(ctx: click.Context, rules: Iterable[tuple[str, bool, str]]) -> None:
    """Raise a `UsageError` for the first option the user gave that has no effect: `rules` are
    (option name, whether it has none with the others given, what would give it one)."""
    for name, idle, needs in rules:
        if idle and given(ctx, name):
            raise click.UsageError(f"{flag(ctx, name)} has no effect {needs}", ctx)


def default(cls: type, name: str) -> Any:
    """The default of setting `name` of the attrs class `cls` (the single source of defaults)."""
    value = getattr(attrs.fields(cls), name).default
    return value.factory() if isinstance(value, attrs.Factory) else value


def setting_option(cls: type, *decls: str, **kwargs: Any) -> Callable:
    """A click option for a setting of the attrs class `cls`, with its default shown in --help. The
    setting is the name among `decls` (e.g. "--lambda", "lambda_lp"), else the long flag's."""
    name = next((d for d in decls if not d.startswith("-")), None)
    name = name or max(decls, key=len).lstrip("-").replace("-", "_")
    if kwargs.get("type") is float:
        kwargs["type"] = setting_type(cls, name)
    return click.option(*decls, default=default(cls, name), show_default=True, **kwargs)


def steps_batch_seed_options(cls: type) -> Callable:
    """--steps, --batch-size and --seed of a training command, with the defaults of `cls`."""

    def decorate(command: Callable) -> Callable:
        command = setting_option(cls, "--seed", type=int)(command)
        command = setting_option(cls, "--batch-size", type=int)(command)
        return setting_option(cls, "--steps", type=int, help="Training steps.")(command)

    return decorate


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """`key=value` pairs → dict; values are JSON when they parse as JSON (numbers, true, null), else
    strings. A number that is not finite (NaN, Infinity, 1e999) is refused, and so is a key given
    twice (which value was meant is not ours to guess)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LswError(f"option {pair!r}: expected KEY=VALUE")
        if key in options:
            raise LswError(f"option {pair!r}: {key} is already given; give each key once")
        try:
            options[key] = json.loads(value, parse_constant=_no_constant)
        except json.JSONDecodeError:
            options[key] = value
        except ValueError:
            raise LswError(f"option {pair!r}: expected a finite number") from None
        if isinstance(options[key], float) and not math.isfinite(options[key]):
            raise LswError(f"option {pair!r}: expected a finite number")
    return options


def option_paths(pairs: tuple[str, ...]) -> list[str]:
    """The values of KEY=VALUE options that name existing files or folders (inputs a command reads)."""
    return [v for v in parse_options(pairs).values() if isinstance(v, str) and v and os.path.exists(v)]


def component_options(checkpoint: str | None, pairs: tuple[str, ...]) -> dict[str, Any]:
    options = parse_options(pairs)
    if checkpoint is not None:
        options["checkpoint"] = checkpoint
    return options


def generator_option(
    help: str = "Generator backend (see `lsw backends`), e.g. synthface, stylegan2.", **kwargs: Any
) -> Callable:
    """`--generator` / `-g NAME`: the generator backend, as every command names it."""
    return click.option("--generator", "-g", metavar="NAME", help=help, **kwargs)


def component_choice_options(embedder_help: str, shape_model_help: str) -> Callable:
    """The identity embedder and shape model a command uses, with their weights and options:
    --embedder, --embedder-checkpoint, --embedder-option, and the same for --shape-model."""
    options = [
        click.option("--embedder", metavar="NAME", help=embedder_help),
        click.option("--embedder-checkpoint", metavar="PATH", help="Weights of the identity embedder."),
        click.option("--shape-model", metavar="NAME", help=shape_model_help),
        click.option("--shape-model-checkpoint", metavar="PATH", help="Weights of the shape model."),
        click.option("--embedder-option", "embedder_pairs", multiple=True, metavar="KEY=VALUE", help="Repeatable."),
        click.option("--shape-model-option", "shape_pairs", multiple=True, metavar="KEY=VALUE",
                     help="Repeatable, e.g. bfm=PATH."),
    ]  # fmt: skip

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def settings_options(cls: type) -> Callable:
    """Click options for the fields of the attrs settings class `cls` that declare one in their
    metadata (`{"option": {"flag": ..., "help": ..., "choices": ...}}`), default and type taken from
    the field; the command receives each under the field's name."""
    options = []
    for field in attrs.fields(cls):
        spec = field.metadata.get("option")
        if spec is None:
            continue
        extra = {k: v for k, v in spec.items() if k not in ("flag", "choices")}
        kind = click.Choice(spec["choices"]) if "choices" in spec else type(default(cls, field.name))
        kind = setting_type(cls, field.name) if kind is float else kind
        options.append(click.option(spec["flag"], field.name, type=kind, default=default(cls, field.name),
                                    show_default=True, **extra))  # fmt: skip

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def settings_from(cls: type, values: dict[str, Any]) -> Any:
    """An instance of the attrs settings class `cls` from the command's `values`, taking (removing) the
    ones `settings_options(cls)` declared; a bad value is one `SettingError` naming the option."""
    fields = {f.name: f.metadata["option"]["flag"] for f in attrs.fields(cls) if "option" in f.metadata}
    taken = {name: values.pop(name) for name in fields if name in values}
    try:
        return cls(**taken)
    except LswError as exc:
        name = str(exc).split(":", 1)[0]
        raise LswError(f"{fields.get(name, name)}{str(exc)[len(name) :]}") from None


checkpoint_option = click.option(
    "--checkpoint", metavar="PATH", type=click.Path(dir_okay=True), help="The generator's weights (e.g. ffhq.pkl)."
)
generator_options_option = click.option(
    "--generator-option",
    "generator_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Extra generator option, repeatable.",
)


def _check_device(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from lsw_core.devices import resolve_device

    resolve_device(value)  # an unknown or unavailable device fails here, before anything loads
    return value


quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
device_option = click.option(
    "--device",
    default="auto",
    show_default=True,
    callback=_check_device,
    help="Where networks run: auto (CUDA when available, else CPU), cpu, cuda, cuda:N or mps.",
)


def open_mixer(folder: str, *, backend: str | None = None, **generator_options: Any) -> Any:
    """The `Swapper` of a mixer folder as commands open it: every setting its config records is
    checked first (a damaged one is one error naming the field), then the generator is loaded."""
    from lsw_core.mixing.mixer import read_mixer_config
    from lsw_core.mixing.swapper import Swapper
    from lsw_core.training.config import recorded_training

    recorded_training(read_mixer_config(folder), folder)
    return Swapper.from_folder(folder, backend=backend, **generator_options)
