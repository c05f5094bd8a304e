"""The one gate between netdsl values and generated Python source.

Everything a generated module contains that did not come from the generator
itself — values, names, scope paths, the .net file's own name — comes from a
.net file, the command line or the API, so none of it is trusted:

- values are written as escaped literals (``py_literal``); floats Python
  cannot write back (nan, inf) as ``float("nan")``;
- prose in docstrings and comments is made inert (``prose``): printable
  ASCII only, quotes and backslashes escaped, never a line break;
- a name is used as a Python name only when it is one (``is_plain_name``)
  and shadows nothing the generated code uses (``fresh_name``); anything
  else goes through ``add_module("...")``/``getattr`` with a literal.

``validate_generated`` (netdsl/backends/pytorch/validate.py) then checks the
whole text before ``compile --check`` runs it.  No torch here.
"""
from __future__ import annotations

import builtins
import keyword
import math
from typing import Any, Iterable

from ...errors import BackendError

#: Names the generated code relies on (or may come to): never a parameter,
#: variable or class name.  Builtins included, so ``float("nan")`` and
#: ``getattr(self, "2")`` always mean what they say.
GENERATED_NAMES = frozenset({"self", "torch", "nn", "super", "build", "model"}) | frozenset(dir(builtins))

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NON_FINITE = {"nan": 'float("nan")', "inf": 'float("inf")', "-inf": 'float("-inf")'}


def py_literal(value: Any) -> str:
    """Python source that evaluates to ``value``: a constant, never code.

    Types are matched exactly (no subclasses), so no user-defined ``__repr__``
    can reach the text."""
    kind = type(value)
    if value is None or kind is bool:
        return repr(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        return float.__repr__(value) if math.isfinite(value) else _NON_FINITE[float.__repr__(value)]
    if kind is str:
        return '"' + _escape(value) + '"'
    if kind is tuple:
        items = ", ".join(py_literal(v) for v in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    if kind is list:
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if kind is dict:
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items()) + "}"
    raise BackendError(f"cannot write a {kind.__name__} value into generated source: {value!r:.80}")


def prose(text: Any) -> str:
    """``text`` made inert for a docstring or a comment: one line of printable
    ASCII in which no quote or backslash is left unescaped."""
    return _escape(str(text))


def _escape(text: str) -> str:
    return "".join(_escape_char(c) for c in text)


def _escape_char(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if " " <= char <= "~":
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def is_plain_name(name: Any) -> bool:
    """An ASCII Python identifier, no keyword, no ``__`` (which classes mangle)."""
    return (type(name) is str and name.isascii() and name.isidentifier()
            and not keyword.iskeyword(name) and not name.startswith("__"))


def is_attribute_name(name: Any) -> bool:
    """Can be written ``self.name`` (torch refuses child names starting with ``_``)."""
    return is_plain_name(name) and not name.startswith("_")


def fresh_name(base: Any, taken: Iterable[str] = ()) -> str:
    """``base`` when it is a plain name nothing else uses, else ``base_``,
    ``base__``...; text that is no name at all becomes ``v``."""
    name = base if type(base) is str and base.isascii() and base.isidentifier() else "v"
    name = "v" + name if name.startswith("__") else name
    taken = set(taken)
    while keyword.iskeyword(name) or name in GENERATED_NAMES or name in taken:
        name += "_"
    return name


def checked_name(name: Any, what: str) -> str:
    """A name netdsl itself chose (a torch argument, an initializer): refuse
    anything else rather than write it."""
    if not is_plain_name(name):
        raise BackendError(f"cannot write {what} {name!r} into generated source")
    return name


def checked_dotted(path: str) -> str:
    """A dotted path from the op registry (``torch.nn.Conv2d``), every part a plain name."""
    for part in path.split("."):
        checked_name(part, f"the path {path!r}, part")
    return path
