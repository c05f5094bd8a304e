"""The typed syntax tree the parser produces.  Every node carries its span.

Statements live in bodies; a chain is a list of items applied left to right to
the current value.  Expressions are a small closed set evaluated by
``netdsl.expr`` (never by Python's eval).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

from . import limits
from .errors import Span


# ------------------------------------------------------------------ expressions
@dataclass
class Expr:
    span: Span

    def __post_init__(self) -> None:
        # Depth is bounded here, as each node is built, so evaluating never
        # overflows Python's stack (``1+1+...`` written 10,000 times).
        self.depth = 1 + max((_depth(v) for k, v in vars(self).items() if k != "span"), default=0)
        if self.depth > limits.current().expr_depth:
            raise limits.exceeded("expr_depth", f"expression nested {self.depth} levels deep", self.span)


def _depth(value: Any) -> int:
    if isinstance(value, Expr):
        return value.depth
    if isinstance(value, (list, tuple)):
        return max((_depth(v) for v in value), default=0)
    if isinstance(value, Args):
        return max(_depth(value.positional), _depth([k[1] for k in value.keywords]))
    return 0


@dataclass
class Literal(Expr):
    value: Any


@dataclass
class Name(Expr):
    name: str


@dataclass
class TupleExpr(Expr):
    items: list[Expr]
    is_list: bool = False


@dataclass
class Unary(Expr):
    op: str
    operand: Expr


@dataclass
class Binary(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass
class Compare(Expr):
    operands: list[Expr]
    ops: list[str]


@dataclass
class BoolOp(Expr):
    op: str  # "and" | "or"
    operands: list[Expr]


@dataclass
class Conditional(Expr):
    then: Expr
    cond: Expr
    otherwise: Expr


@dataclass
class Attribute(Expr):
    target: Expr
    attr: str


@dataclass
class Subscript(Expr):
    target: Expr
    index: Expr


@dataclass
class FuncCall(Expr):
    func: str
    args: "Args"


@dataclass
class Args:
    positional: list[Expr] = field(default_factory=list)
    keywords: list[tuple[str, Expr, Span]] = field(default_factory=list)


# ------------------------------------------------------------------ chain items
@dataclass
class Label:
    """``name:`` or an interpolated ``denselayer{i+1}:``: text parts and exprs."""

    parts: list[Union[str, Expr]]
    span: Span
    quoted: bool = False  # `"block1-0":` may hold '-'


@dataclass
class Element:
    span: Span


@dataclass
class Call(Element):
    """An op or block call; with ``branches`` it merges parallel branches."""

    name: str
    args: Args
    branches: Optional[list["Stmt"]] = None
    inline: bool = False


@dataclass
class Group(Element):
    body: list["Stmt"]
    branch: bool = False  # braces that delimit a whole branch of a merge: no scope of their own


@dataclass
class Repeat(Element):
    count: Expr
    var: Optional[str]
    body: list["Stmt"]


@dataclass
class Residual(Element):
    args: Args
    body: list["Stmt"]
    shortcut: Optional[list["Stmt"]] = None
    shortcut_if: Optional[Expr] = None
    shortcut_span: Optional[Span] = None
    cond: Optional[Expr] = None  # `residual if cond { ... }`: add the input only when it holds


@dataclass
class Dense(Element):
    """DenseNet links: each unit sees the concat of the input and all earlier units."""

    body: list["Stmt"]
    repeat: Optional[Repeat] = None


@dataclass
class Ref(Element):
    name: str


@dataclass
class Item:
    label: Optional[Label]
    element: Element
    span: Span


# ------------------------------------------------------------------ statements
@dataclass
class Stmt:
    span: Span


@dataclass
class Chain(Stmt):
    items: list[Item]


@dataclass
class Bind(Stmt):
    name: str
    chain: Chain


@dataclass
class Input(Stmt):
    name: Optional[str]
    shape: Expr
    dtype: Optional[str]


@dataclass
class Output(Stmt):
    name: str
    args: Args
    chain: Optional[Chain]


@dataclass
class Expect(Stmt):
    expr: Expr


@dataclass
class ParamDecl(Stmt):
    """``param NAME: [shape] init=... trainable=...``: a learned tensor."""

    label: Label
    shape: Expr
    options: list[tuple[str, Expr, Span]]


@dataclass
class If(Stmt):
    branches: list[tuple[Expr, list[Stmt]]]
    otherwise: Optional[list[Stmt]]


# ------------------------------------------------------------------ definitions
@dataclass
class Param:
    name: str
    type: Optional[str]
    default: Optional[Expr]
    span: Span


@dataclass
class BlockDef:
    name: str
    params: list[Param]
    body: list[Stmt]
    span: Span
    is_network: bool = False


@dataclass
class Import:
    path: str
    span: Span


@dataclass
class Module:
    """One parsed file."""

    file: str
    imports: list[Import]
    blocks: list[BlockDef]
