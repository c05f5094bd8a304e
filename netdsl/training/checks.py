"""Checking training settings: one mechanism for every field of every section.

A config field declares its constraints in its metadata through
``setting(default, "> 0")``: a range (``"> 0"``, ``">= 1"``, ``"[0, 1)"``), the
choices of a string, or the type and range of the items of a list or mapping.
``check_settings`` walks a config, coerces each value to the type of its
field (YAML 1.1 reads ``1e-8`` as a string: numeric strings become floats)
and raises a ``UsageError`` naming the key (``optimizer.lr``) for anything
out of range — before any training starts.
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from ..errors import UsageError, suggest

_RANGE = re.compile(r"^\s*(?:(>=|>)\s*(\S+)|([\[(])\s*(\S+)\s*,\s*(\S+)\s*([\])]))\s*$")


@dataclass(frozen=True)
class Bounds:
    """A range of finite numbers, written as in the docs: ``> 0``, ``>= 1``, ``[0, 1)``."""

    text: str
    low: Optional[float] = None
    high: Optional[float] = None
    open_low: bool = False
    open_high: bool = False

    @classmethod
    def parse(cls, text: str) -> "Bounds":
        match = _RANGE.match(text)
        if not match:
            raise ValueError(f"not a range: {text!r}")
        op, low, left, low2, high, right = match.groups()
        if op:
            return cls(text, float(low), None, op == ">")
        return cls(text, float(low2), float(high), left == "(", right == ")")

    def holds(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or self.open_low and value == self.low):
            return False
        return self.high is None or value < self.high or not self.open_high and value == self.high

    def __str__(self) -> str:
        return self.text if self.text.startswith(">") else f"in {self.text}"


def setting(default: Any = None, bounds: Optional[str] = None, *, factory=None,
            choices: Sequence[str] = (), item: Optional[type] = None,
            item_bounds: Optional[str] = None):
    """A dataclass field with its constraints (see the module docstring)."""
    meta = {"bounds": Bounds.parse(bounds) if bounds else None, "choices": tuple(choices),
            "item": item, "item_bounds": Bounds.parse(item_bounds) if item_bounds else None}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def choice_hint(value: str, choices) -> str:
    """A did-you-mean for a misspelt choice, else the list of choices."""
    guess = suggest(value, choices)
    return f"did you mean '{guess}'?" if guess else f"choose from {', '.join(choices)}"


# ------------------------------------------------------------ types
_OPTIONAL = {"Optional[float]": float, "Optional[int]": int, "Optional[str]": str}


def field_type(f: dataclasses.Field) -> Optional[type]:
    """The scalar type of a field (``Optional[float]`` → float), None for sections."""
    if f.type in _OPTIONAL:
        return _OPTIONAL[f.type]
    return {"int": int, "float": float, "str": str, "bool": bool,
            "list": list, "dict": dict}.get(str(f.type))


def coerce(value: Any, kind: Optional[type], key: str) -> Any:
    """``value`` as a ``kind``: ints and numeric strings become floats; else a UsageError."""
    if value is None or kind is None:
        return value
    if kind is float and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            pass
    elif isinstance(value, kind) and (kind is bool) == isinstance(value, bool):
        return value
    raise UsageError(f"training setting '{key}' must be {_NAMES.get(kind, kind.__name__)}, "
                     f"got {value!r}")


_NAMES = {float: "a number", int: "int", bool: "true or false", str: "a string",
          list: "a list", dict: "a mapping"}


def check_number(value: Any, bounds: Optional[Bounds], key: str) -> None:
    if bounds is not None and value is not None and not bounds.holds(value):
        what = "an integer" if isinstance(value, int) else "a finite number"
        raise UsageError(f"training setting '{key}' must be {what} {bounds}, got {value!r}")


# ------------------------------------------------------------ walking a config
def check_settings(config: Any, where: str = "") -> None:
    """Coerce and check every field of the dataclass ``config`` and its sections, in place."""
    for f in dataclasses.fields(config):
        value, key = getattr(config, f.name), f"{where}{f.name}"
        if dataclasses.is_dataclass(value):
            check_settings(value, f"{key}.")
            continue
        value = coerce(value, field_type(f), key)
        meta = f.metadata
        if meta.get("choices") and value is not None:
            value = check_choice(value, meta["choices"], key)
        check_number(value, meta.get("bounds"), key)
        if meta.get("item"):
            value = _check_items(value, meta["item"], meta.get("item_bounds"), key)
        setattr(config, f.name, value)


def check_choice(value: str, choices: Sequence[str], key: str) -> str:
    if value.lower() in choices:
        return value.lower()
    raise UsageError(f"training setting '{key}' cannot be '{value}'", hint=choice_hint(value, choices))


def _check_items(value, kind: type, bounds: Optional[Bounds], key: str):
    """Each element of a list (or value of a mapping) coerced to ``kind`` and checked."""
    if isinstance(value, dict):
        return {k: _check_item(v, kind, bounds, f"{key}.{k}") for k, v in value.items()}
    return [_check_item(v, kind, bounds, f"{key}[{i}]") for i, v in enumerate(value)]


def _check_item(value, kind: type, bounds: Optional[Bounds], key: str):
    if value is None:
        raise UsageError(f"training setting '{key}' is empty")
    value = coerce(value, kind, key)
    check_number(value, bounds, key)
    return value


# ------------------------------------------------------------ devices
def check_device(name: str, key: str = "device") -> None:
    """``auto``, or a device torch can name and that this machine has (``cuda:1``, ``mps``)."""
    if name == "auto":
        return
    import torch
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise UsageError(f"training setting '{key}': unknown device '{name}'",
                         hint="auto, cpu, cuda, cuda:N or mps") from None
    backend = getattr(torch, device.type, None) if device.type != "mps" else torch.backends.mps
    if device.type != "cpu" and not (backend and hasattr(backend, "is_available")
                                     and backend.is_available()):
        raise UsageError(f"training setting '{key}': device {name} asked for, but this machine "
                         f"(as torch sees it) has no {device.type.upper()} device",
                         hint="use --device auto or --device cpu")
    count = getattr(backend, "device_count", None)
    if device.index is not None and count and device.index >= count():
        raise UsageError(f"training setting '{key}': device {name} asked for, but torch sees "
                         f"{count()} {device.type} device(s)", hint=f"use {device.type}:0")
