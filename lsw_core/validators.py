"""attrs validators for settings classes. Each refuses a wrong value with a `SettingError` that
names the field, what it expects and what it got; nothing is coerced (`"8"` is not a batch size).

    lr: float = attrs.field(default=1e-4, validator=number(gt=0))
    steps: int = attrs.field(default=450, validator=integer(ge=0))
    init: str = attrs.field(default="mean", validator=choice("mean", "w_avg"))
    early_stop_psnr: float | None = attrs.field(default=None, validator=optional(number(gt=0)))
"""

from __future__ import annotations

import math
import numbers
from collections import namedtuple
from collections.abc import Callable
from typing import Any

import attrs

from lsw_core.errors import SettingError

Validator = Callable[[Any, "attrs.Attribute", Any], None]


_Named = namedtuple("_Named", "name")


def check(name: str, value: Any, validator: Validator) -> None:
    """Apply `validator` to a value outside an attrs class (a field of a JSON file), naming it `name`."""
    validator(None, _Named(name), value)


def _refuse(attribute: attrs.Attribute, expected: str, value: Any) -> None:
    raise SettingError(f"{attribute.name}: expected {expected}, got {value!r} ({type(value).__name__})")


def _bounds(ge: float | None, gt: float | None, le: float | None, lt: float | None) -> str:
    parts = [f"{op} {bound}" for op, bound in ((">=", ge), (">", gt), ("<=", le), ("<", lt)) if bound is not None]
    return " and ".join(parts)


def _in_bounds(value: float, ge: float | None, gt: float | None, le: float | None, lt: float | None) -> bool:
    return (
        (ge is None or value >= ge)
        and (gt is None or value > gt)
        and (le is None or value <= le)
        and (lt is None or value < lt)
    )


def number(
    *, ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None
) -> Validator:
    """A finite real number (an int is one; a bool, a string, NaN or ±inf are not), within the bounds."""
    bounds = _bounds(ge, gt, le, lt)
    expected = f"a finite number {bounds}".rstrip()

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            _refuse(attribute, expected, value)
        if not _in_bounds(value, ge, gt, le, lt):
            _refuse(attribute, expected, value)

    check.bounds = {"ge": ge, "gt": gt, "le": le, "lt": lt}  # read by the command line's option types
    return check


def integer(*, ge: int | None = None, gt: int | None = None, le: int | None = None, lt: int | None = None) -> Validator:
    """An integer (not a bool, not 1.5 and not 2.0), within the bounds."""
    expected = f"an integer {_bounds(ge, gt, le, lt)}".rstrip()

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not _in_bounds(value, ge, gt, le, lt):
            _refuse(attribute, expected, value)

    return check


def choice(*options: Any) -> Validator:
    """One of `options`."""
    expected = "one of " + ", ".join(repr(o) for o in options)

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if type(value) not in {type(o) for o in options} or value not in options:
            _refuse(attribute, expected, value)

    return check


def text() -> Validator:
    """A non-empty string."""

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if not isinstance(value, str) or not value:
            _refuse(attribute, "a non-empty string", value)

    return check


def flag() -> Validator:
    """True or False (not 0, 1 or "yes")."""

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if not isinstance(value, bool):
            _refuse(attribute, "true or false", value)

    return check


def options() -> Validator:
    """A dict of keyword options with string keys."""

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            _refuse(attribute, "a dict of options with string keys", value)

    return check


def weights() -> Validator:
    """A dict of names (non-empty strings) to finite weights >= 0."""
    weight = number(ge=0)

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if not isinstance(value, dict) or not all(isinstance(k, str) and k for k in value):
            _refuse(attribute, "a dict of names to weights", value)
        for name, w in value.items():
            weight(instance, _Named(f"{attribute.name}[{name!r}]"), w)

    return check


def pair(item: Validator) -> Validator:
    """A 2-tuple (or list) whose items pass `item`."""

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            _refuse(attribute, "a pair of values", value)
        for v in value:
            item(instance, attribute, v)

    return check


def optional(validator: Validator) -> Validator:
    """None, or a value passing `validator`."""

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value is not None:
            validator(instance, attribute, value)

    if hasattr(validator, "bounds"):
        check.bounds = validator.bounds
    return check
