"""Expressions the generator writes: netdsl text paired with how to evaluate it.

A generated block is called again with other arguments, so the generator must
know what an argument expression such as ``c * 2`` or ``k // 2`` is worth
under any binding of the block's parameters, not just the first one.
``E.value(env)`` evaluates like netdsl's interpreter does (Python semantics
for ints, floats, bools, strings and tuples).
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable

Env = dict


@dataclass(frozen=True)
class E:
    """One expression: its source text and its value under an environment."""

    text: str
    evaluate: Callable[[Env], Any]
    atomic: bool = True  # needs no parentheses as an operand

    def value(self, env: Env) -> Any:
        return self.evaluate(env)

    def operand(self) -> str:
        return self.text if self.atomic else f"({self.text})"


def literal_text(value: Any) -> str:
    """netdsl source for a Python value (ints, floats, bools, None, strings, tuples)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        inner = ", ".join(literal_text(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, float):
        text = repr(value)
        return text if text[0] != "-" else f"({text})"
    if isinstance(value, int) and value < 0:
        return f"({value})"
    return str(value)


def lit(value: Any) -> E:
    return E(literal_text(value), lambda env, v=value: v)


def raw(text: str, value: Any = None) -> E:
    """Text the generator does not evaluate (deliberately odd values)."""
    return E(text, lambda env, v=value: v, atomic=False)


def name(identifier: str) -> E:
    return E(identifier, lambda env: env[identifier])


def in_attr(attribute: str) -> E:
    """``in.channels`` and friends, read from the block input's shape."""
    table = {"channels": 0, "features": -1, "length": -1, "height": -2, "width": -1, "depth": -3}

    def get(env):
        shape = env["in"]
        if attribute == "rank":
            return len(shape)
        if attribute == "shape":
            return tuple(shape)
        return shape[table[attribute]]
    return E(f"in.{attribute}", get)


_BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "//": operator.floordiv,
           "%": operator.mod, "/": operator.truediv, "**": operator.pow,
           "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
           ">": operator.gt, ">=": operator.ge}


def binary(op: str, left: E, right: E) -> E:
    fn = _BINARY[op]
    return E(f"{left.operand()} {op} {right.operand()}",
             lambda env: fn(left.value(env), right.value(env)), atomic=False)


def logical(op: str, left: E, right: E) -> E:
    if op == "and":
        fn = lambda env: left.value(env) and right.value(env)  # noqa: E731
    else:
        fn = lambda env: left.value(env) or right.value(env)  # noqa: E731
    return E(f"{left.operand()} {op} {right.operand()}", fn, atomic=False)


def negate(inner: E) -> E:
    return E(f"not {inner.operand()}", lambda env: not inner.value(env), atomic=False)


def conditional(cond: E, yes: E, no: E) -> E:
    return E(f"{yes.operand()} if {cond.operand()} else {no.operand()}",
             lambda env: yes.value(env) if cond.value(env) else no.value(env), atomic=False)


def function(fn_name: str, *args: E) -> E:
    impl = {"min": min, "max": max, "abs": abs, "int": int, "len": len}[fn_name]
    text = f"{fn_name}({', '.join(a.text for a in args)})"
    return E(text, lambda env: impl(*(a.value(env) for a in args)))


def tuple_of(items: list[E]) -> E:
    inner = ", ".join(i.text for i in items)
    text = f"({inner},)" if len(items) == 1 else f"({inner})"
    return E(text, lambda env: tuple(i.value(env) for i in items))


def list_of(items: list[E]) -> E:
    return E(f"[{', '.join(i.text for i in items)}]", lambda env: tuple(i.value(env) for i in items))


def initializer(call_text: str) -> E:
    """An initializer call such as ``kaiming_normal(mode="fan_out")`` (a dict in netdsl)."""
    return E(call_text, lambda env, t=call_text: {"init": t})
