"""Layout of generated source, black-style: indentation, line wrapping, comments.

Only layout: the text these functions place has already passed through
``safe.py`` (literals, names) — except comments, which are made inert here.
"""
from __future__ import annotations

import textwrap
from typing import Optional

from .safe import prose

INDENT = "    "
MAX_LINE = 88


def indent(lines: list[str], depth: int) -> list[str]:
    return [INDENT * depth + line if line else line for line in lines]


def docstring(lines: list[str], depth: int = 0) -> list[str]:
    """A docstring of prose lines (each made inert), on one line when it fits."""
    lines = [prose(line) for line in lines]
    if len(lines) == 1 and len(INDENT * depth + lines[0]) + 6 <= MAX_LINE:
        return [f'"""{lines[0]}"""']
    return [f'"""{lines[0]}', *lines[1:], '"""']


def wrap_prose(text: str, depth: int) -> list[str]:
    """``text`` made inert and wrapped at spaces only, so no escape is ever split."""
    return textwrap.wrap(prose(text), MAX_LINE - len(INDENT * depth),
                         break_long_words=False, break_on_hyphens=False)


def with_comment(lines: list[str], comment: Optional[str]) -> list[str]:
    if not comment:
        return lines
    comment = prose(comment)
    last = lines[-1] + f"  # {comment}"
    if len(INDENT * 3 + last) <= MAX_LINE:
        return lines[:-1] + [last]
    return [f"# {comment}"] + lines if len(lines) == 1 else lines[:-1] + [last]


def assign(prefix: str, expr: list[str], comment: Optional[str]) -> list[str]:
    """``prefix + expr`` (multi-line expressions continue on the next lines)."""
    lines = [prefix + expr[0]] + expr[1:]
    if len(lines) == 1 and len(INDENT * 2 + lines[0]) > MAX_LINE:
        lines = explode(lines[0])
    return with_comment(lines, comment)


def wrap_call(opening: str, expr: list[str], closing: str, comment: Optional[str]) -> list[str]:
    if len(expr) == 1:
        return assign(opening, [expr[0] + closing], comment)
    return with_comment([opening + expr[0]] + expr[1:-1] + [expr[-1] + closing], comment)


def signature_line(line: str) -> list[str]:
    return [line] if len(INDENT + line) <= MAX_LINE else explode(line)


def explode(line: str, depth: int = 2) -> list[str]:
    """A too-long call or list, black-style: one item per line, nested as needed."""
    opening = min(i for i in (line.find("("), line.find("[")) if i >= 0)
    closing = _matching_bracket(line, opening)
    lines = [line[:opening + 1]]
    for item in _split_items(line[opening + 1:closing]):
        if len(INDENT * (depth + 1) + item) >= MAX_LINE and item[-1] in ")]":
            lines += indent(explode(item + ",", depth + 1), 1)
        else:
            lines.append(INDENT + item + ",")
    return lines + [line[closing:]]


def _matching_bracket(text: str, opening: int) -> int:
    depth, quoted = 0, False
    for index in range(opening, len(text)):
        quoted = _quoted_after(text, index, quoted)
        if not quoted:
            depth += text[index] in "([{"
            depth -= text[index] in ")]}"
            if depth == 0:
                return index
    raise ValueError(f"unbalanced brackets in {text!r}")


def _split_items(inner: str) -> list[str]:
    """Top-level comma-separated items; brackets and commas inside string literals do not count."""
    items, depth, start, quoted = [], 0, 0, False
    for index, char in enumerate(inner):
        quoted = _quoted_after(inner, index, quoted)
        if quoted:
            continue
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            items.append(inner[start:index].strip())
            start = index + 1
    items.append(inner[start:].strip())
    return [item for item in items if item]


def _quoted_after(text: str, index: int, quoted: bool) -> bool:
    """Whether ``text[index]`` lies inside a double-quoted literal (``py_literal``
    writes only those, escaping ``"`` and ``\\``); an opening quote counts as inside."""
    if text[index] != '"':
        return quoted
    backslashes = 0
    while index - backslashes > 0 and text[index - backslashes - 1] == "\\":
        backslashes += 1
    return quoted if backslashes % 2 else not quoted
