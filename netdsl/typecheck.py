"""Binding call arguments to a block's typed parameters."""
from __future__ import annotations

from collections import ChainMap
from typing import Any, Optional

from . import ast
from .errors import ArgumentError, NetdslError, Span, UnknownName, suggest
from .expr import Evaluator

PARAM_TYPES = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "tuple": lambda v: isinstance(v, tuple),
    "init": lambda v: isinstance(v, dict) and "init" in v,
    "any": lambda v: True,
}


def bind_block_args(block: ast.BlockDef, positional: list, keywords: dict[str, Any],
                    outer: Evaluator, caller: Optional[Span]) -> dict[str, Any]:
    """Match arguments to parameters, fill defaults (which may use earlier params), check types."""
    names = [p.name for p in block.params]
    kind = "network" if block.is_network else "block"
    if len(positional) > len(names):
        raise ArgumentError(f"{kind} '{block.name}' takes {len(names)} argument(s), "
                            f"got {len(positional)}", caller)
    given = dict(zip(names, positional))
    for key, value in keywords.items():
        if key not in names:
            guess = suggest(key, names)
            raise UnknownName(f"{kind} '{block.name}' has no parameter '{key}'", caller,
                              hint=f"did you mean '{guess}'?" if guess else _param_list(names))
        if key in given:
            raise ArgumentError(f"parameter '{key}' of '{block.name}' given twice", caller)
        given[key] = value
    env: dict[str, Any] = {}
    for param in block.params:
        env[param.name] = _value_for(param, given, env, outer, block, caller)
    return env


def _value_for(param: ast.Param, given: dict, env: dict, outer: Evaluator,
               block: ast.BlockDef, caller: Optional[Span]) -> Any:
    if param.name in given:
        value = _coerce(given[param.name], param)
    elif param.default is not None:
        value = Evaluator(ChainMap(env, outer.env)).eval(param.default)
    elif caller is None and block.is_network:  # the command line or the API gives network parameters
        raise ArgumentError(f"network '{block.name}' needs a value for parameter '{param.name}'", param.span,
                            hint=f"--set {param.name}=VALUE (API: params={{'{param.name}': VALUE}})")
    else:
        raise ArgumentError(f"'{block.name}' needs argument '{param.name}'", caller)
    _check_type(param, value, block, caller)
    if param.type == "float" and isinstance(value, int):
        value = float(value)
    return value


def _coerce(value: Any, param: ast.Param) -> Any:
    """Values from the command line arrive as text: read them as netdsl literals
    (``10``, ``0.5``, ``true``, ``(5, 10, 5)``); text that is no literal stays text."""
    if not isinstance(value, str) or param.type == "str":
        return value
    if param.type == "bool" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    from .parser import parse_expr
    try:
        return Evaluator({}).eval(parse_expr(value, "<command line>", 1, 1))
    except NetdslError:
        return value


def _check_type(param: ast.Param, value: Any, block: ast.BlockDef, caller: Optional[Span]) -> None:
    if param.type is None:
        return
    check = PARAM_TYPES.get(param.type)
    if check is None:
        guess = suggest(param.type, PARAM_TYPES)
        raise UnknownName(f"unknown type '{param.type}' for parameter '{param.name}'", param.span,
                          hint=f"did you mean '{guess}'?" if guess else _param_list(PARAM_TYPES, "types"))
    if not check(value):
        raise ArgumentError(f"parameter '{param.name}' of '{block.name}' must be {param.type}, "
                            f"got {value!r}", caller or param.span)


def _param_list(names, what="parameters") -> str:
    return f"{what}: {', '.join(names)}" if names else f"it takes no {what}"
