"""Evaluate netdsl expressions: a closed interpreter, never Python's eval.

Values are ints, floats, bools, strings, None, tuples, initializer specs
(dicts) and ``ShapeView`` (the ``in`` of a block: the incoming tensor).
"""
from __future__ import annotations

import math
import operator
from typing import Any, Callable, Mapping

from . import ast, limits
from .errors import ArgumentError, NetdslError, UnknownName, suggest


class ShapeView:
    """What a block sees of its incoming tensor: ``in.channels``, ``in.shape`` ..."""

    def __init__(self, shape: tuple[int, ...]):
        self.shape = tuple(shape)

    def attribute(self, name: str):
        s = self.shape
        table = {
            "shape": lambda: s, "rank": lambda: len(s), "channels": lambda: s[0],
            "features": lambda: s[-1], "length": lambda: s[-1],
            "height": lambda: s[-2], "width": lambda: s[-1], "depth": lambda: s[-3],
        }
        if name not in table:
            raise UnknownName(f"'in' has no attribute '{name}'", hint=_did_you_mean(name, table))
        try:
            return table[name]()
        except IndexError:
            raise ArgumentError(f"in.{name} is undefined for an input of shape {list(s)}") from None

    def __repr__(self) -> str:
        return f"<input {list(self.shape)}>"


def _did_you_mean(name, options):
    guess = suggest(name, options)
    return f"did you mean '{guess}'?" if guess else None


# ---------------------------------------------------------------- initializers
#: name → allowed keyword arguments (with defaults), mirroring torch.nn.init.
INITIALIZERS: dict[str, dict[str, Any]] = {
    "kaiming_normal": {"a": 0.0, "mode": "fan_in", "nonlinearity": "leaky_relu"},
    "kaiming_uniform": {"a": 0.0, "mode": "fan_in", "nonlinearity": "leaky_relu"},
    "xavier_normal": {"gain": 1.0},
    "xavier_uniform": {"gain": 1.0},
    "normal": {"mean": 0.0, "std": 1.0},
    "trunc_normal": {"mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0},
    "uniform": {"a": 0.0, "b": 1.0},
    "constant": {"val": 0.0},
    "zeros": {},
    "ones": {},
    "orthogonal": {"gain": 1.0},
}


def make_initializer(name: str, args: list, kwargs: dict) -> dict:
    allowed = INITIALIZERS[name]
    keys = list(allowed)
    if len(args) > len(keys):
        raise ArgumentError(f"{name}() takes at most {len(keys)} positional argument(s)")
    spec = dict(allowed)
    spec.update(zip(keys, args))
    for key, value in kwargs.items():
        if key not in allowed:
            raise UnknownName(f"{name}() has no argument '{key}'", hint=_did_you_mean(key, keys))
        spec[key] = value
    return {"init": name, **spec}


def _builtin(fn: Callable, name: str):
    def call(args, kwargs):
        if kwargs:
            raise ArgumentError(f"{name}() takes no keyword arguments")
        return fn(*args)
    return call


BUILTINS: dict[str, Callable] = {
    "min": _builtin(min, "min"), "max": _builtin(max, "max"), "abs": _builtin(abs, "abs"),
    "int": _builtin(int, "int"), "float": _builtin(float, "float"),
    "round": _builtin(round, "round"), "len": _builtin(len, "len"),
    "sum": _builtin(lambda *xs: sum(xs[0]) if len(xs) == 1 else sum(xs), "sum"),
    "sqrt": _builtin(math.sqrt, "sqrt"), "ceil": _builtin(math.ceil, "ceil"),
    "floor": _builtin(math.floor, "floor"),
    **{name: (lambda args, kwargs, _n=name: make_initializer(_n, args, kwargs)) for name in INITIALIZERS},
}

_BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
           "//": operator.floordiv, "%": operator.mod, "**": operator.pow}
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}


class Evaluator:
    """Evaluates expressions in an environment of names."""

    def __init__(self, env: Mapping[str, Any]):
        self.env = env

    def eval(self, node: ast.Expr) -> Any:
        try:
            return self._eval(node)
        except NetdslError as err:
            raise err.located(node.span)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, IndexError) as err:
            raise ArgumentError(f"cannot evaluate expression: {err}", node.span) from None

    def _eval(self, node: ast.Expr) -> Any:
        method = getattr(self, "_" + type(node).__name__)
        return method(node)

    def _Literal(self, node):
        return _bounded(node.value, node.span)

    def _Name(self, node):
        if node.name in self.env:
            return self.env[node.name]
        raise UnknownName(f"undefined name '{node.name}'", node.span,
                          hint=_did_you_mean(node.name, list(self.env)))

    def _TupleExpr(self, node):
        limits.check_sequence(len(node.items), node.span)
        return tuple(self._eval(item) for item in node.items)

    def _Unary(self, node):
        value = self._eval(node.operand)
        if node.op == "not":
            return not value
        _numeric(value, node.op, node.operand)
        return _bounded(-value if node.op == "-" else +value, node.span)

    def _Binary(self, node):
        left, right = self._eval(node.left), self._eval(node.right)
        if node.op == "+" and isinstance(left, tuple) and isinstance(right, tuple):
            limits.check_sequence(len(left) + len(right), node.span)
            return left + right
        if node.op == "*" and isinstance(left, tuple) and _is_int(right):
            limits.check_sequence(len(left) * max(right, 0), node.span)
            return left * right
        _numeric(left, node.op, node.left)
        _numeric(right, node.op, node.right)
        if node.op in ("/", "//", "%") and right == 0:
            raise ArgumentError("division by zero", node.right.span)
        if node.op == "**":
            limits.check_power(left, right, node.span)
        return _bounded(_BINARY[node.op](left, right), node.span)

    def _Compare(self, node):
        values = [self._eval(o) for o in node.operands]
        return all(_COMPARE[op](a, b) for op, a, b in zip(node.ops, values, values[1:]))

    def _BoolOp(self, node):
        if node.op == "and":
            return all(self._eval(o) for o in node.operands)
        return any(self._eval(o) for o in node.operands)

    def _Conditional(self, node):
        return self._eval(node.then) if self._eval(node.cond) else self._eval(node.otherwise)

    def _Attribute(self, node):
        target = self._eval(node.target)
        if isinstance(target, ShapeView):
            return target.attribute(node.attr)
        raise ArgumentError(f"{target!r} has no attribute '{node.attr}'", node.span)

    def _Subscript(self, node):
        target, index = self._eval(node.target), self._eval(node.index)
        if not isinstance(target, tuple) or not _is_int(index):
            raise ArgumentError(f"cannot index {target!r} with {index!r}", node.span)
        return target[index]

    def _FuncCall(self, node):
        fn = BUILTINS.get(node.func)
        if fn is None:
            raise UnknownName(f"unknown function '{node.func}'", node.span,
                              hint=_did_you_mean(node.func, BUILTINS))
        args = [self._eval(a) for a in node.args.positional]
        kwargs = {k: self._eval(v) for k, v, _ in node.args.keywords}
        return _bounded(fn(args, kwargs), node.span)


def _bounded(value, span):
    """Every number an expression makes is finite and, if an integer, within limits."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return limits.check_int(value, span)
    if isinstance(value, float) and not math.isfinite(value):
        raise ArgumentError(f"expression gives {value!r}; numbers must be finite", span)
    if isinstance(value, complex):
        raise ArgumentError("expression gives a complex number", span)
    return value


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _numeric(value, op, node) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ArgumentError(f"operator '{op}' needs numbers, got {value!r}", node.span)
