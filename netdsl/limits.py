"""Limits on untrusted input: every .net file is treated like a JSON file from a stranger.

One ``Limits`` value bounds everything a file can make netdsl do: how large a
file or a string literal may be, how deeply brackets and expressions nest,
how large integers and tuples may grow, how much the elaborator may expand,
which folders imports may read, and how many bytes a torch build may ask
for.  Each check raises a located ``LimitError`` that names the limit and
how to raise it (``--limit NAME=VALUE`` on the command line, ``limits=`` in
the API).

The limits in force live in a context variable, so the evaluator, parser
and elaborator read them without threading an argument through every call:
``with using(limits): ...``.
"""
from __future__ import annotations

import contextvars
import math
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import Iterator, Optional, Sequence

from .errors import LimitError, Span, UsageError, suggest


@dataclass(frozen=True)
class Limits:
    """Bounds on what one load may cost.  Defaults sit far above the zoo's needs
    (densenet201 expands to about 2,500 nodes and 7,000 edges)."""

    file_bytes: int = 16 * 2**20          # one .net file, main or imported
    literal_chars: int = 65_536           # one string literal
    nesting: int = 64                     # (, [ and { open at once
    expr_depth: int = 200                 # operators nested inside one expression
    int_bits: int = 63                    # |integer| < 2**63, torch's int64 sizes
    sequence: int = 100_000               # items of one tuple or list value
    graph: int = 1_000_000                # expanded nodes + edges + block calls + repeat passes
    tensor_elements: int = 2**63 - 1      # elements of one tensor (one sample)
    build_bytes: Optional[int] = None     # parameter + buffer bytes a torch build may allocate;
                                          # None: the memory available on the target device
    import_roots: tuple[str, ...] = field(default=())  # more folders imports may read

    @property
    def max_int(self) -> int:
        return 2**self.int_bits - 1

    def with_options(self, options: Sequence[str]) -> "Limits":
        """``["graph=5000000", "file_bytes=64e6"]`` (the CLI's ``--limit``) applied to a copy."""
        changes = {}
        names = [f.name for f in fields(self) if f.name != "import_roots"]
        for option in options:
            key, sep, text = option.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or key not in names:
                guess = suggest(key, names)
                raise UsageError(f"--limit needs NAME=VALUE with a known limit, got {option!r}",
                                 hint=f"did you mean '{guess}'?" if guess else "limits: " + ", ".join(names))
            changes[key] = _positive_int(key, text.strip())
        return replace(self, **changes)


def _positive_int(key: str, text: str) -> int:
    try:
        value = float(text) if any(c in text for c in ".eE") else int(text.replace("_", ""))
    except ValueError:
        value = -1
    if not (isinstance(value, int) or (math.isfinite(value) and value == int(value))) or value <= 0:
        raise UsageError(f"--limit {key} needs a positive whole number, got {text!r}")
    return int(value)


DEFAULT = Limits()
_CURRENT: contextvars.ContextVar[Limits] = contextvars.ContextVar("netdsl_limits", default=DEFAULT)


def current() -> Limits:
    """The limits in force for the load under way (the defaults outside one)."""
    return _CURRENT.get()


@contextmanager
def using(limits: Optional[Limits]) -> Iterator[Limits]:
    """Make ``limits`` (or the defaults) the limits in force inside the block."""
    token = _CURRENT.set(limits or DEFAULT)
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)


def exceeded(name: str, message: str, span: Optional[Span] = None, *, suggested: Optional[int] = None) -> LimitError:
    """A ``LimitError`` for limit ``name`` that says how to raise it."""
    value = suggested if suggested is not None else max(getattr(current(), name) or 0, 1) * 10
    hint = (f"if the input is trusted, raise the limit: --limit {name}={value} on the command line, "
            f"or netdsl.load(..., limits=netdsl.Limits({name}={value}))")
    return LimitError(f"{message} (limit {name}={getattr(current(), name)})", span, hint=hint)


def check_int(value: int, span: Optional[Span] = None) -> int:
    if abs(value) > current().max_int:
        raise exceeded("int_bits", f"integer of {value.bit_length()} bits is too large", span,
                       suggested=value.bit_length())
    return value


def check_power(base, exponent, span: Optional[Span] = None) -> None:
    """Refuse ``base ** exponent`` before computing it when the result would be too large."""
    if isinstance(base, bool) or isinstance(exponent, bool):
        return
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        bits = exponent * math.log2(abs(base))
        if bits > current().int_bits:
            raise exceeded("int_bits", f"{base} ** {exponent} has about {bits:.3g} bits", span,
                           suggested=min(int(bits) + 1, 10**6))


def check_sequence(length: int, span: Optional[Span] = None) -> int:
    if length > current().sequence:
        raise exceeded("sequence", f"a tuple of {length:,} items is too long", span,
                       suggested=length)
    return length


def check_count(what: str, count: int, span: Optional[Span] = None) -> int:
    """A count that becomes that many modules or loop passes (an RNN's num_layers)."""
    if count > current().graph:
        raise exceeded("graph", f"{what} would build {count:,} layers", span, suggested=count)
    return count


class Budget:
    """The elaboration budget: one unit per expanded node, edge, block call and repeat pass."""

    def __init__(self, limits: Optional[Limits] = None):
        self.total = (limits or current()).graph
        self.spent = 0

    def spend(self, units: int, span: Optional[Span]) -> None:
        self.spent += units
        if self.spent > self.total:
            raise self._error(span)

    def expect(self, units: int, span: Optional[Span]) -> None:
        """Refuse now if work known to come (``units``, a lower bound) would not fit."""
        if self.spent + units > self.total:
            raise self._error(span, self.spent + units)

    def _error(self, span: Optional[Span], needed: Optional[int] = None):
        return exceeded("graph", f"the network expands to more than {self.total:,} nodes, edges, "
                        "block calls and repeat passes", span,
                        suggested=needed if needed and needed < 10**12 else None)


__all__ = ["Limits", "DEFAULT", "current", "using", "exceeded", "check_int", "check_power",
           "check_sequence", "check_count", "Budget"]
