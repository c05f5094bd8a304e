"""Text → ``netdsl.ast.Module``.

The Lark LALR parser is built once per process and cached on disk by Lark, so
a cold ``netdsl summarize`` does not pay for grammar analysis.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, v_args
from lark.visitors import Transformer_NonRecursive
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from . import ast, limits
from .errors import LimitError, NetdslError, ParseError, SourceRegistry, Span

GRAMMAR = Path(__file__).with_name("grammar.lark")
_JOINERS = {"else", "elif", "shortcut"}
_OPENERS, _CLOSERS = {"LPAR", "LSQB"}, {"RPAR", "RSQB"}
_ALL_OPENERS, _ALL_CLOSERS = _OPENERS | {"LBRACE"}, _CLOSERS | {"RBRACE"}


class _NewlineFilter:
    """Drops newlines inside brackets and before continuation keywords, and
    enforces the limits that must hold before a tree is built: bracket
    nesting and string-literal length."""

    always_accept = ("_NL",)

    def process(self, stream):
        depth, nesting, pending = 0, 0, None
        for tok in stream:
            if tok.type == "_NL":
                if depth == 0 and pending is None:
                    pending = tok
                continue
            if pending is not None and not (tok.value in _JOINERS and tok.type != "STRING"):
                yield pending
            pending = None
            depth = max(depth + (tok.type in _OPENERS) - (tok.type in _CLOSERS), 0)
            nesting = max(nesting + (tok.type in _ALL_OPENERS) - (tok.type in _ALL_CLOSERS), 0)
            _check_token(tok, nesting)
            yield tok
        if pending is not None:
            yield pending


def _check_token(tok: Token, nesting: int) -> None:
    active = limits.current()
    if nesting > active.nesting:
        raise _LimitInLexer(limits.exceeded("nesting", f"brackets nested {nesting} deep",
                                            Span("", tok.line, tok.column)))
    if tok.type == "STRING" and len(tok) > active.literal_chars:
        raise _LimitInLexer(limits.exceeded("literal_chars", f"a string literal of {len(tok):,} characters",
                                            Span("", tok.line, tok.column), suggested=len(tok)))


class _LimitInLexer(Exception):
    """Carries a LimitError out of Lark's lexer (Lark would wrap a NetdslError)."""

    def __init__(self, error: LimitError):
        super().__init__(error.message)
        self.error = error


@lru_cache(maxsize=None)
def _lark(start: str = "start") -> Lark:
    return Lark(GRAMMAR.read_text(), parser="lalr", lexer="basic", postlex=_NewlineFilter(),
                propagate_positions=True, maybe_placeholders=True, start=start,
                cache=True)


def parse(text: str, filename: str = "<string>") -> ast.Module:
    """Parse one file's text into an AST module."""
    text = normalize_newlines(text)
    if len(text) > limits.current().file_bytes:
        SourceRegistry.add(filename, text[:1000].split("\n", 1)[0])  # quote this file's first line
        raise limits.exceeded("file_bytes", f"{filename} has {len(text):,} characters",
                              Span(filename, 1, 1), suggested=len(text))
    SourceRegistry.add(filename, text)
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, filename) from None
    except _LimitInLexer as exc:
        raise _in_file(exc.error, filename) from None
    return _transform(_ToAst(filename), tree)


def normalize_newlines(text: str) -> str:
    """Text as the lexer reads it: no byte-order mark, ``\r\n`` and a lone ``\r``
    (old Mac files) as ``\n``, like Python's universal newlines."""
    text = text[1:] if text.startswith("\ufeff") else text
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _transform(transformer: "_ToAst", tree):
    try:
        return transformer.transform(tree)
    except VisitError as exc:  # Lark wraps exceptions raised in transformers
        if isinstance(exc.orig_exc, NetdslError):
            raise exc.orig_exc from None
        raise


def _in_file(error: NetdslError, filename: str, line: int = 1, column: int = 1) -> NetdslError:
    """Point ``error`` into ``filename``; text embedded at ``line:column`` shifts its span."""
    if error.span is not None:
        at_start = error.span.line == 1
        error.span = Span(filename, error.span.line + line - 1,
                          error.span.column + (column - 1 if at_start else 0))
    return error


def parse_expr(text: str, filename: str, line: int, column: int) -> ast.Expr:
    """Parse an expression embedded in a label, e.g. the ``i+1`` of ``layer{i+1}:``."""
    try:
        tree = _lark("expr").parse(text)
    except UnexpectedInput as exc:
        span = Span(filename, line, column + (exc.column or 1) - 1)
        raise ParseError(f"bad expression in label: {text!r}", span) from None
    except _LimitInLexer as exc:
        raise _in_file(exc.error, filename, line, column) from None
    return _transform(_ToAst(filename, line_offset=line - 1, column_offset=column - 1), tree)


def _syntax_error(exc: UnexpectedInput, text: str, filename: str) -> ParseError:
    line, column = exc.line or 1, exc.column or 1
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        line = text.count("\n") + 1
        column = len(text.rsplit("\n", 1)[-1]) + 1
        return ParseError("unexpected end of file (is a '}' or ')' missing?)", Span(filename, line, column))
    if isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        return ParseError(f"unexpected character {char!r}", Span(filename, line, column))
    token = exc.token
    shown = "end of line" if token.type == "_NL" else repr(str(token))
    expected = _describe_expected(getattr(exc, "expected", set()))
    end = column + max(len(str(token)), 1) if token.type != "_NL" else column + 1
    return ParseError(f"unexpected {shown}{expected}", Span(filename, line, column, line, end))


_TERMINAL_WORDS = {"NAME": "a name", "NUMBER": "a number", "STRING": "a string",
                   "LABEL": "a label", "RBRACE": "'}'", "RPAR": "')'", "RSQB": "']'",
                   "LBRACE": "'{'", "LPAR": "'('", "COMMA": "','", "EQUAL": "'='",
                   "COLON": "':'", "_NL": "a new line"}


def _describe_expected(expected: set) -> str:
    words = sorted({_TERMINAL_WORDS.get(t, t.lower()) for t in expected if not t.startswith("__")})
    if not words or len(words) > 6:
        return ""
    return "; expected " + ", ".join(words)


def _span(meta, filename: str, dl: int = 0, dc: int = 0) -> Span:
    if getattr(meta, "empty", True):
        return Span(filename, 1, 1)
    col = meta.column + (dc if meta.line == 1 else 0)
    end_col = meta.end_column + (dc if meta.end_line == 1 else 0)
    return Span(filename, meta.line + dl, col, meta.end_line + dl, end_col)


def _tok_span(tok: Token, filename: str) -> Span:
    return Span(filename, tok.line, tok.column, tok.end_line, tok.end_column)


def _number(text: str):
    clean = text.replace("_", "")
    if re.fullmatch(r"\d+", clean):
        return int(clean)
    return float(clean)


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


@v_args(meta=True)
class _ToAst(Transformer_NonRecursive):  # no recursion: deep input cannot overflow the stack
    """Parse tree → AST dataclasses.  One method per grammar rule."""

    def __init__(self, filename: str, line_offset: int = 0, column_offset: int = 0):
        super().__init__()
        self.file, self.dl, self.dc = filename, line_offset, column_offset

    def _s(self, meta) -> Span:
        return _span(meta, self.file, self.dl, self.dc)

    # ---------------------------------------------------------- definitions
    def start(self, meta, children):
        imports = [c for c in children if isinstance(c, ast.Import)]
        blocks = [c for c in children if isinstance(c, ast.BlockDef)]
        return ast.Module(self.file, imports, blocks)

    def import_def(self, meta, children):
        return ast.Import(_unquote(children[0]), self._s(meta))

    def block_def(self, meta, children, network=False):
        name, params, body = children
        return ast.BlockDef(str(name), params or [], body, self._s(meta), is_network=network)

    def network_def(self, meta, children):
        return self.block_def(meta, children, network=True)

    def param_list(self, meta, children):
        return [c for c in children if c is not None]

    def param(self, meta, children):
        *names, default = children
        name, type_name = (names[0], None) if len(names) == 1 else (self._plain_label(names[0]), names[1])
        return ast.Param(str(name), str(type_name) if type_name else None, default, self._s(meta))

    def body(self, meta, children):
        return [c for c in children if c is not None]

    # ---------------------------------------------------------- statements
    def chain(self, meta, children):
        return ast.Chain(self._s(meta), list(children))

    def bind_stmt(self, meta, children):
        return ast.Bind(self._s(meta), str(children[0]), children[1])

    def input_stmt(self, meta, children):
        label, shape, dtype = children
        name = self._plain_label(label) if label else None
        return ast.Input(self._s(meta), name, shape, str(dtype) if dtype else None)

    def output_stmt(self, meta, children):
        name, args, chain = children
        return ast.Output(self._s(meta), str(name), args or ast.Args(), chain)

    def expect_stmt(self, meta, children):
        return ast.Expect(self._s(meta), children[0])

    def param_stmt(self, meta, children):
        label, shape, *options = children
        return ast.ParamDecl(self._s(meta), self._label(label), shape, options)

    def param_option(self, meta, children):
        name, value = children
        return (str(name), value, _tok_span(name, self.file))

    def if_stmt(self, meta, children):
        cond, body, *rest = children
        otherwise = rest.pop() if rest and not isinstance(rest[-1], tuple) else None
        branches = [(cond, body)] + [c for c in rest if isinstance(c, tuple)]
        return ast.If(self._s(meta), branches, otherwise)

    def elif_clause(self, meta, children):
        return (children[0], children[1])

    # ---------------------------------------------------------- chain items
    def item(self, meta, children):
        label_tok, element = children
        label = self._label(label_tok) if label_tok is not None else None
        return ast.Item(label, element, self._s(meta))

    def _plain_label(self, tok: Token) -> str:
        """The name of ``name:`` where only an identifier may stand (inputs, parameters)."""
        text = str(tok)[:-1]
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
            raise ParseError(f"{text} cannot name this: a name here is letters, digits and _",
                             _tok_span(tok, self.file))
        return text

    def _label(self, tok: Token) -> ast.Label:
        text, parts = str(tok)[:-1], []
        quoted = text.startswith('"')
        text = text[1:-1] if quoted else text
        for match in re.finditer(r"\{([^{}]*)\}|[^{}]+", text):
            if match.group(1) is None:
                parts.append(match.group(0))
            else:
                col = tok.column + match.start(1) + quoted
                parts.append(parse_expr(match.group(1), self.file, tok.line, col))
        span = Span(self.file, tok.line, tok.column, tok.line, tok.column + len(text))
        return ast.Label(parts, span, quoted)

    def call(self, meta, children):
        name, args, body = children
        for stmt in body or ():  # `concat { {a b} {c} }`: those braces only delimit branches
            if isinstance(stmt, ast.Chain) and len(stmt.items) == 1 and stmt.items[0].label is None:
                if isinstance(stmt.items[0].element, ast.Group):
                    stmt.items[0].element.branch = True
        return ast.Call(self._s(meta), str(name), args or ast.Args(), body)

    def inline_call(self, meta, children):
        name, args = children
        return ast.Call(self._s(meta), str(name), args or ast.Args(), None, inline=True)

    def group(self, meta, children):
        return ast.Group(self._s(meta), children[0])

    def repeat(self, meta, children):
        count, var, body = children
        return ast.Repeat(self._s(meta), count, str(var) if var else None, body)

    def residual(self, meta, children):
        args, cond, body, shortcut = children
        node = ast.Residual(self._s(meta), args or ast.Args(), body, cond=cond)
        if shortcut is not None:
            node.shortcut_if, node.shortcut, node.shortcut_span = shortcut
        return node

    def residual_if(self, meta, children):
        return children[0]

    def shortcut(self, meta, children):
        cond, body = children
        return (cond, body, self._s(meta))

    def dense(self, meta, children):
        inner = children[0]
        if isinstance(inner, ast.Repeat):
            return ast.Dense(self._s(meta), [], inner)
        return ast.Dense(self._s(meta), inner)

    def ref(self, meta, children):
        return ast.Ref(self._s(meta), str(children[0]))

    def call_args(self, meta, children):
        args = ast.Args()
        for kind, *value in (c for c in children if c is not None):
            if kind == "pos":
                if args.keywords:
                    raise ParseError("positional argument after keyword argument", value[0].span)
                args.positional.append(value[0])
            else:
                args.keywords.append(tuple(value))
        return args

    def positional_arg(self, meta, children):
        return ("pos", children[0])

    def keyword_arg(self, meta, children):
        name, value = children
        return ("kw", str(name), value, _tok_span(name, self.file))

    # ---------------------------------------------------------- expressions
    def conditional(self, meta, c):
        return ast.Conditional(self._s(meta), c[0], c[1], c[2])

    def or_op(self, meta, c):
        return ast.BoolOp(self._s(meta), "or", list(c))

    def and_op(self, meta, c):
        return ast.BoolOp(self._s(meta), "and", list(c))

    def not_op(self, meta, c):
        return ast.Unary(self._s(meta), "not", c[0])

    def compare(self, meta, c):
        return ast.Compare(self._s(meta), list(c[0::2]), [str(t) for t in c[1::2]])

    def binary(self, meta, c):
        left = c[0]
        for op, right in zip(c[1::2], c[2::2]):
            left = ast.Binary(self._s(meta), str(op), left, right)
        return left

    def unary(self, meta, c):
        return ast.Unary(self._s(meta), str(c[0]), c[1])

    def power_op(self, meta, c):
        return ast.Binary(self._s(meta), "**", c[0], c[2])

    def attribute(self, meta, c):
        return ast.Attribute(self._s(meta), c[0], str(c[1]))

    def subscript(self, meta, c):
        return ast.Subscript(self._s(meta), c[0], c[1])

    def func_call(self, meta, c):
        return ast.FuncCall(self._s(meta), str(c[0]), c[1])

    def number(self, meta, c):
        return ast.Literal(self._s(meta), _number(str(c[0])))

    def string(self, meta, c):
        return ast.Literal(self._s(meta), _unquote(str(c[0])))

    def true(self, meta, c):
        return ast.Literal(self._s(meta), True)

    def false(self, meta, c):
        return ast.Literal(self._s(meta), False)

    def none(self, meta, c):
        return ast.Literal(self._s(meta), None)

    def name(self, meta, c):
        return ast.Name(self._s(meta), str(c[0]))

    def output_name(self, meta, c):
        return ast.Name(self._s(meta), "output")

    def input_name(self, meta, c):
        return ast.Name(self._s(meta), "input")

    def tuple(self, meta, c):
        return ast.TupleExpr(self._s(meta), [x for x in c if x is not None])

    def list(self, meta, c):
        return ast.TupleExpr(self._s(meta), [x for x in c if x is not None], is_list=True)
