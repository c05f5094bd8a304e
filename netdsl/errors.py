"""One exception family for everything netdsl reports about user input.

Library code raises these; only the CLI prints them (``format()``) and turns
``exit_code`` into the process status.  Every error can carry a source span
(file, line, column), the chain of block calls that led to it, and a
did-you-mean hint, all as structured fields so tests can assert them.
"""
from __future__ import annotations

import difflib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable, Optional


@dataclass(frozen=True)
class Span:
    """A region of one source file; lines and columns count from 1."""

    file: str
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Frame:
    """One block call on the way to an error: ``block`` was called at ``span``."""

    block: str
    span: Optional[Span]


class SourceRegistry:
    """Remembers the text of recently parsed files so errors can quote them.

    Lines are split at ``\n`` only, as the lexer counts them (the parser turns
    ``\r\n`` and a lone ``\r`` into ``\n`` first).  The most recent files are
    kept, up to ``KEEP_CHARS`` characters, so a long session does not hold
    every text it ever parsed."""

    KEEP_CHARS = 64 << 20
    _texts: "OrderedDict[str, str]" = OrderedDict()

    @classmethod
    def add(cls, name: str, text: str) -> None:
        cls._texts.pop(name, None)
        cls._texts[name] = text
        kept = sum(map(len, cls._texts.values()))
        while kept > cls.KEEP_CHARS and len(cls._texts) > 1:
            kept -= len(cls._texts.popitem(last=False)[1])

    @classmethod
    def line(cls, name: str, line: int) -> Optional[str]:
        text = cls._texts.get(name)
        if text is None or line < 1:
            return None
        lines = text.split("\n", line)
        return lines[line - 1] if line <= len(lines) else None


def suggest(name: str, candidates: Iterable[str]) -> Optional[str]:
    """The closest candidate to ``name``, for a did-you-mean hint."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return matches[0] if matches else None


class NetdslError(Exception):
    """Root of all netdsl errors about user input."""

    exit_code = 1
    kind = "error"

    def __init__(self, message: str, span: Optional[Span] = None, *,
                 hint: Optional[str] = None, trace: tuple[Frame, ...] = ()):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint
        self.trace = tuple(trace)

    def located(self, span: Optional[Span], trace: tuple[Frame, ...] = ()) -> "NetdslError":
        """Fill in a location (and block trace) if the raiser did not know it."""
        if self.span is None:
            self.span = span
        if not self.trace:
            self.trace = tuple(trace)
        return self

    def __str__(self) -> str:
        return self.format()

    def format(self) -> str:
        where = f"{self.span}: " if self.span else ""
        out = [f"{where}{self.kind}: {self.message}"]
        out += _snippet(self.span)
        out += _trace_lines(self.trace)
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)


#: frames shown at each end of a long block trace (a deep recursion)
TRACE_ENDS = 6


def _trace_lines(trace: tuple[Frame, ...]) -> list[str]:
    lines = []
    for frame in reversed(trace):
        at = f" at {frame.span}" if frame.span else ""
        lines.append(f"  in block '{frame.block}' called{at}")
    if len(lines) > 2 * TRACE_ENDS + 1:
        hidden = len(lines) - 2 * TRACE_ENDS
        lines[TRACE_ENDS:-TRACE_ENDS] = [f"  ... {hidden} more calls ..."]
    return lines


def _snippet(span: Optional[Span]) -> list[str]:
    if span is None:
        return []
    text = SourceRegistry.line(span.file, span.line)
    if text is None:
        return []
    width = 1
    if span.end_line == span.line and span.end_column > span.column:
        width = span.end_column - span.column
    gutter = f"{span.line:>4} | "
    caret = " " * (len(gutter) + span.column - 1) + "^" * width
    return [gutter + text.rstrip(), caret]


class ParseError(NetdslError):
    """The text is not valid netdsl syntax."""

    exit_code = 3
    kind = "syntax error"


class UnknownName(NetdslError):
    """An unknown op, block, argument, parameter or value name."""

    exit_code = 4
    kind = "name error"


class ArgumentError(NetdslError):
    """An argument of the wrong type, value or number."""

    exit_code = 5
    kind = "argument error"


class ShapeError(NetdslError):
    """Shapes that do not fit: mismatched add/concat, non-positive sizes."""

    exit_code = 6
    kind = "shape error"


class ImportFailure(NetdslError):
    """An import that cannot be found or that imports itself in a cycle."""

    exit_code = 7
    kind = "import error"


class ExpectationError(NetdslError):
    """An ``expect`` statement that does not hold."""

    exit_code = 8
    kind = "expectation failed"


class UsageError(NetdslError):
    """Bad use of the command line or the Python API."""

    exit_code = 2
    kind = "usage error"


class BackendError(NetdslError):
    """A backend cannot do its work (missing tool, unsupported output)."""

    exit_code = 9
    kind = "backend error"


class LimitError(NetdslError):
    """Input that would take more work, memory or nesting than a limit allows.

    The message names the limit (``netdsl.limits.Limits`` field) and how to raise it."""

    exit_code = 10
    kind = "limit exceeded"


class InternalError(NetdslError):
    """A bug in netdsl itself: an exception no rule anticipated."""

    exit_code = 70
    kind = "internal error"


#: Exit status of each family, for ``docs/errors.md`` and the CLI's help.
EXIT_CODES = {
    0: "success",
    1: "other netdsl error",
    2: "usage error (command line or API misuse)",
    3: "syntax error",
    4: "name error (unknown op, block, argument or value)",
    5: "argument error (wrong type, value or count)",
    6: "shape error",
    7: "import error",
    8: "expectation failed",
    9: "backend error (missing tool, refused build, generated code check)",
    10: "limit exceeded (size, work, nesting; raise it with --limit)",
    70: "internal error: a netdsl bug, please report it",
}


__all__ = [
    "Span", "Frame", "SourceRegistry", "suggest", "NetdslError", "ParseError",
    "UnknownName", "ArgumentError", "ShapeError", "ImportFailure",
    "ExpectationError", "UsageError", "BackendError", "LimitError", "InternalError", "EXIT_CODES",
]
