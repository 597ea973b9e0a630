"""Option parsing shared by the subcommands; defaults come from the attrs settings classes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
import click

from lsw_core.errors import LswError


def default(cls: type, name: str) -> Any:
    """The default of setting `name` of the attrs class `cls` (the single source of defaults)."""
    value = getattr(attrs.fields(cls), name).default
    return value.factory() if isinstance(value, attrs.Factory) else value


def setting_option(cls: type, *decls: str, **kwargs: Any) -> Callable:
    """A click option for a setting of the attrs class `cls`, with its default shown in --help. The
    setting is the name among `decls` (e.g. "--lambda", "lambda_lp"), else the long flag's."""
    name = next((d for d in decls if not d.startswith("-")), None)
    name = name or max(decls, key=len).lstrip("-").replace("-", "_")
    return click.option(*decls, default=default(cls, name), show_default=True, **kwargs)


def steps_batch_seed_options(cls: type) -> Callable:
    """--steps, --batch-size and --seed of a training command, with the defaults of `cls`."""

    def decorate(command: Callable) -> Callable:
        command = setting_option(cls, "--seed", type=int)(command)
        command = setting_option(cls, "--batch-size", type=int)(command)
        return setting_option(cls, "--steps", type=int, help="Training steps.")(command)

    return decorate


def parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """`key=value` pairs → dict; values are JSON when they parse as JSON (numbers, true, null), else strings."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LswError(f"option {pair!r}: expected KEY=VALUE")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def component_options(checkpoint: str | None, pairs: tuple[str, ...]) -> dict[str, Any]:
    options = parse_options(pairs)
    if checkpoint is not None:
        options["checkpoint"] = checkpoint
    return options


def _generator_option(required: bool):
    return click.option(
        "--generator", "-g", metavar="NAME", required=required,
        help="Generator backend (see `lsw backends`), e.g. synthface, stylegan2.",
    )  # fmt: skip


generator_option = _generator_option(required=False)
required_generator_option = _generator_option(required=True)
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
