"""AST → IR: expand blocks, repeats, residuals, branches and dense links into a
``netdsl.ir.Graph`` (networkx-like) whose nodes are single ops with resolved
arguments.

Shapes are inferred while elaborating (blocks may ask ``in.channels``), by the
same rule the shape pass uses.  Each node records its module scope, its
source span and the chain of block calls that produced it.
"""
from __future__ import annotations

from collections import ChainMap
from dataclasses import dataclass, replace
from math import prod
from typing import Any, Optional

from . import ast, limits
from .analysis.shapes import infer_dtype, infer_shape
from .errors import ArgumentError, Frame, NetdslError, ShapeError, Span, UnknownName, suggest
from .expr import Evaluator, ShapeView
from .ir import Graph
from .ops.initializers import is_finite_number
from .ops.registry import OpSpec, bind_args, get_op, op_names
from .program import Program
from .scopes import Scope, ScopeInfo, check_label
from .shape_hints import residual_hint
from .typecheck import bind_block_args
from .workload import MAX_DEPTH, MAX_LEVELS, Workload

DTYPES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "bool")


@dataclass
class Ctx:
    """Where a statement runs: expression names, value names, scope, call trace."""

    env: dict
    values: dict
    scope: Scope
    trace: tuple[Frame, ...] = ()
    in_network: bool = False
    in_shape: Optional[tuple] = None  # the enclosing block's input: `in` in expressions

    def evaluator(self, graph: Graph, cur: Optional[int]) -> Evaluator:
        names = {"in": ShapeView(self.in_shape)} if self.in_shape is not None else {}
        return Evaluator(ChainMap(names, self.env))


def elaborate(program: Program, network: Optional[str] = None,
              params: Optional[dict[str, Any]] = None,
              input_shapes: Optional[dict[str, tuple]] = None) -> Graph:
    """Build the IR graph of one network of ``program``."""
    definition = program.network(network)
    return _Elaborator(program, input_shapes or {}).network(definition, params or {})


class _Elaborator:
    def __init__(self, program: Program, input_shapes: dict):
        self.program = program
        self.input_shapes = input_shapes
        self.graph = Graph()
        self.depth = 0
        self.levels = 0
        self.output_spans: dict[str, Span] = {}  # where each output was declared
        self.budget = limits.Budget()
        self.workload = Workload(program)  # lower bounds: refuse hopeless expansions at once

    # ------------------------------------------------------------- network
    def network(self, definition: ast.BlockDef, overrides: dict) -> Graph:
        g = self.graph
        env = bind_block_args(definition, [], overrides, Evaluator({}), caller=None)
        scopes = {(): ScopeInfo((), definition.name, env, definition.span)}
        g.graph.update(name=definition.name, file=definition.span.file, params=dict(env),
                       inputs=[], outputs=[], expects=[], scopes=scopes)
        ctx = Ctx(dict(env), {}, Scope(scopes[()], scopes), in_network=True)
        cur = self.body(definition.body, ctx, None)
        self._finish_outputs(definition, cur)
        g.graph["work"] = self.budget.spent  # units of the `graph` limit this network used
        return g

    def _finish_outputs(self, definition: ast.BlockDef, cur: Optional[int]) -> None:
        g = self.graph
        if not g.graph["inputs"]:
            raise ShapeError(f"network '{definition.name}' declares no input "
                             "(add e.g. `input [3, 224, 224]`)", definition.span)
        last = definition.body[-1] if definition.body else None
        if not isinstance(last, ast.Output):
            if "out" in self.output_spans:
                raise ArgumentError("an output named 'out' clashes with the network's main output "
                                    "(the end of the chain, which is named 'out')", self.output_spans["out"],
                                    hint="rename this output, or make it the network's last statement")
            g.graph["outputs"].insert(0, {"name": "out", "node": cur, "weight": 1.0, "aux": False})
        if all(o["aux"] for o in g.graph["outputs"]):
            raise ArgumentError("every output is auxiliary (aux=true): eval mode would return nothing",
                                self.output_spans[g.graph["outputs"][0]["name"]],
                                hint="the main output is the end of the chain or an output without aux=true")

    # ------------------------------------------------------------- statements
    def body(self, stmts: list[ast.Stmt], ctx: Ctx, cur: Optional[int]) -> Optional[int]:
        if self.levels >= MAX_LEVELS and stmts:
            raise ArgumentError(f"blocks, repeats, ifs and groups nest more than {MAX_LEVELS} deep "
                                "as they expand (a recursive block?)", stmts[0].span)
        self.levels += 1
        try:
            for stmt in stmts:
                cur = self.statement(stmt, ctx, cur)
            return cur
        finally:
            self.levels -= 1

    def statement(self, stmt: ast.Stmt, ctx: Ctx, cur: Optional[int]) -> Optional[int]:
        try:
            return getattr(self, "stmt_" + type(stmt).__name__)(stmt, ctx, cur)
        except NetdslError as err:
            raise err.located(stmt.span, ctx.trace)

    def stmt_Chain(self, stmt: ast.Chain, ctx: Ctx, cur):
        for item in stmt.items:
            cur = self.item(item, ctx, cur)
        return cur

    def stmt_Bind(self, stmt: ast.Bind, ctx: Ctx, cur):
        cur = self.stmt_Chain(stmt.chain, ctx, cur)
        ctx.values[stmt.name] = cur
        return cur

    def stmt_Input(self, stmt: ast.Input, ctx: Ctx, cur):
        self._network_only(stmt, ctx, "input")
        name = stmt.name or "x"
        first = not self.graph.graph["inputs"]
        override = self.input_shapes.get(name) or (self.input_shapes.get(None) if first else None)
        shape = ctx.evaluator(self.graph, None).eval(stmt.shape)
        if override:
            _check_override(name, tuple(override), shape, stmt)
            shape = tuple(override)
        dtype = stmt.dtype or "float32"
        _check_input(name, shape, dtype, stmt)
        node = self._add_node("input", {}, [], tuple(shape), ctx, stmt.span, name=None)
        self.graph.nodes[node].update(label=name, dtype=dtype)
        self.graph.graph["inputs"].append({"name": name, "node": node, "dtype": dtype})
        ctx.values[name] = node
        return node

    def stmt_Output(self, stmt: ast.Output, ctx: Ctx, cur):
        self._network_only(stmt, ctx, "output")
        kwargs = {k: ctx.evaluator(self.graph, cur).eval(v) for k, v, _ in stmt.args.keywords}
        unknown = set(kwargs) - {"weight", "aux"}
        if unknown or stmt.args.positional:
            raise ArgumentError("output takes only weight=<loss weight> and aux=<true|false>", stmt.span)
        aux = kwargs.get("aux", False)
        if not isinstance(aux, bool):
            raise ArgumentError(f"output aux= must be true or false, got {aux!r}", stmt.span)
        node = self.stmt_Chain(stmt.chain, ctx, cur) if stmt.chain else cur
        self._require_value(node, stmt)
        if stmt.name in self.output_spans:
            raise ArgumentError(f"output '{stmt.name}' is declared twice (first at "
                                f"{self.output_spans[stmt.name]})", stmt.span,
                                hint="each output needs its own name (an output inside a repeat is declared once per pass)")
        self.output_spans[stmt.name] = stmt.span
        ctx.values[stmt.name] = node
        weight = _loss_weight(kwargs.get("weight", 1.0), stmt.span)
        self.graph.graph["outputs"].append({"name": stmt.name, "node": node, "weight": weight, "aux": aux})
        return cur  # outputs are taps: the main chain goes on from where it was

    def stmt_Expect(self, stmt: ast.Expect, ctx: Ctx, cur):
        self._network_only(stmt, ctx, "expect")
        self.graph.graph["expects"].append({"expr": stmt.expr, "env": dict(ctx.env), "span": stmt.span})
        return cur

    def stmt_ParamDecl(self, stmt: ast.ParamDecl, ctx: Ctx, cur):
        """A learned tensor: a named ``parameter`` node read by ``@name``; a tap,
        like ``output``, so the chain goes on from where it was."""
        self._require_value(cur, stmt)  # its batch comes from the value it is declared on
        evaluator = ctx.evaluator(self.graph, cur)
        keywords = {}
        for key, expr, span in stmt.options:
            if key in keywords:
                raise ArgumentError(f"param option '{key}' given twice", span)
            keywords[key] = evaluator.eval(expr)
        shape = evaluator.eval(stmt.shape)
        args = bind_args(get_op("parameter"), [shape], keywords)
        name = self._label(stmt.label, ctx, cur)
        ctx.values[name] = self._add_node("parameter", args, [cur], None, ctx, stmt.span, name=name)
        return cur

    def stmt_If(self, stmt: ast.If, ctx: Ctx, cur):
        evaluator = ctx.evaluator(self.graph, cur)
        for cond, body in stmt.branches:
            if evaluator.eval(cond):
                return self.body(body, ctx, cur)
        return self.body(stmt.otherwise, ctx, cur) if stmt.otherwise else cur

    def _network_only(self, stmt, ctx: Ctx, what: str) -> None:
        if not ctx.in_network:
            raise ArgumentError(f"'{what}' is allowed only in a network, not inside a block", stmt.span)

    def _require_value(self, cur, where) -> None:
        if cur is None:
            raise ShapeError("no input yet: declare `input [...]` first", where.span)

    # ------------------------------------------------------------- items
    def item(self, item: ast.Item, ctx: Ctx, cur):
        label = self._label(item.label, ctx, cur) if item.label else None
        element = item.element
        try:
            out = getattr(self, "el_" + type(element).__name__)(element, ctx, cur, label)
        except NetdslError as err:
            raise err.located(element.span, ctx.trace)
        if label is not None:
            ctx.values[label] = out
        return out

    def _label(self, label: ast.Label, ctx: Ctx, cur) -> str:
        evaluator = ctx.evaluator(self.graph, cur)
        text = "".join(p if isinstance(p, str) else str(evaluator.eval(p)) for p in label.parts)
        return check_label(text, label.span, label.quoted)

    def _scoped(self, label, ctx: Ctx, span, run, block=None, args=None):
        """Run ``run(ctx)`` in a new child scope if labelled, else in place."""
        if label is None:
            return run(ctx)
        inner = replace(ctx, scope=ctx.scope.child(label, span, block, args))
        return run(inner)

    def el_Ref(self, el: ast.Ref, ctx: Ctx, cur, label):
        if el.name not in ctx.values:
            guess = suggest(el.name, ctx.values)
            raise UnknownName(f"no value named '{el.name}' here", el.span,
                              hint=f"did you mean '@{guess}'?" if guess else None)
        return ctx.values[el.name]

    def el_Group(self, el: ast.Group, ctx: Ctx, cur, label):
        if label is None and not el.branch:  # as nn.Sequential nests: the group takes the next position
            return self.body(el.body, replace(ctx, scope=ctx.scope.child(None, el.span)), cur)
        return self._scoped(label, ctx, el.span, lambda c: self.body(el.body, c, cur))

    def el_Repeat(self, el: ast.Repeat, ctx: Ctx, cur, label):
        count = ctx.evaluator(self.graph, cur).eval(el.count)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ArgumentError(f"repeat count must be a non-negative integer, got {count!r}", el.count.span)
        self.budget.expect(self.workload.repeat(count, el.body, ctx.env, el.var), el.count.span)

        def run(c: Ctx):
            value = cur
            for i in range(count):
                self.budget.spend(1, el.span)
                env = {**c.env, el.var: i} if el.var else c.env
                value = self.body(el.body, replace(c, env=env), value)
            return value
        return self._scoped(label, ctx, el.span, run)

    def el_Residual(self, el: ast.Residual, ctx: Ctx, cur, label):
        self._require_value(cur, el)
        if el.args.positional or el.args.keywords:
            raise ArgumentError("residual takes no arguments", el.span)

        def run(c: Ctx):
            main = self.body(el.body, c, cur)
            if el.cond is not None and not c.evaluator(self.graph, cur).eval(el.cond):
                return main  # `residual if cond`: without the condition, just the body
            shortcut = cur
            if el.shortcut is not None and (el.shortcut_if is None or c.evaluator(self.graph, cur).eval(el.shortcut_if)):
                shortcut = self.body(el.shortcut, c, cur)
            try:
                return self._merge("add", {}, [main, shortcut], c, el.span)
            except ShapeError as err:
                shapes = [self.graph.nodes[n]["shape"] for n in (main, shortcut)]
                err.hint = err.hint or residual_hint(*shapes, el.shortcut is not None)
                raise
        return self._scoped(label, ctx, el.span, run)

    def el_Dense(self, el: ast.Dense, ctx: Ctx, cur, label):
        self._require_value(cur, el)

        def run(c: Ctx):
            features = [cur]
            for unit_ctx, unit in self._dense_units(el, c, cur):
                entry = features[0] if len(features) == 1 else self._merge("concat", {}, features, c, el.span)
                features.append(self.body(unit, unit_ctx, entry))
            return self._merge("concat", {}, features, c, el.span)
        return self._scoped(label, ctx, el.span, run)

    def _dense_units(self, el: ast.Dense, ctx: Ctx, cur):
        if el.repeat is None:
            return [(ctx, [stmt]) for stmt in el.body]
        rep = el.repeat
        count = ctx.evaluator(self.graph, cur).eval(rep.count)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ArgumentError(f"repeat count must be a non-negative integer, got {count!r}", rep.count.span)
        self.budget.expect(count * (count + 1) // 2, rep.count.span)  # the concats' edges
        return [(replace(ctx, env={**ctx.env, rep.var: i} if rep.var else ctx.env), rep.body)
                for i in range(count)]

    # ------------------------------------------------------------- calls
    def el_Call(self, el: ast.Call, ctx: Ctx, cur, label):
        self._require_value(cur, el)
        block = self.program.blocks.get(el.name)
        if block is not None:
            return self._call_block(block, el, ctx, cur, label)
        spec = get_op(el.name)
        if spec is None:
            guess = suggest(el.name, [*op_names(), *self.program.blocks])
            raise UnknownName(f"unknown op or block '{el.name}'", el.span,
                              hint=f"did you mean '{guess}'?" if guess else None)
        if el.inline:
            raise ArgumentError(f"'inline' applies to blocks; '{el.name}' is an op", el.span)
        evaluator = ctx.evaluator(self.graph, cur)
        positional = [evaluator.eval(e) for e in el.args.positional]
        keywords = _keywords(el.args, evaluator)
        args = bind_args(spec, positional, keywords)
        if spec.arity is None and (el.branches is not None or not spec.layer_on_branches):
            return self._merge_call(spec, args, el, ctx, cur, label)
        if el.branches is not None:
            raise ArgumentError(f"'{el.name}' takes no branches; only merging ops such as "
                                "concat, add and mul do", el.span)
        return self._add_node(spec.name, args, [cur], None, ctx, el.span, name=label)

    def _merge_call(self, spec: OpSpec, args, el: ast.Call, ctx: Ctx, cur, label):
        if el.branches is None:
            raise ArgumentError(f"'{spec.name}' merges branches: write {spec.name} {{ ... }} "
                                "with one branch per line", el.span)
        if spec.layer_on_branches:  # one module (attention) reading the branches; its label names it
            outs = [self.statement(_as_branch(b), ctx, cur) for b in el.branches]
            return self._add_node(spec.name, args, outs, None, ctx, el.span, name=label)

        def run(c: Ctx):
            outs = [self.statement(_as_branch(b), c, cur) for b in el.branches]
            return self._merge(spec.name, args, outs, c, el.span)
        return self._scoped(label, ctx, el.span, run)

    def _merge(self, op: str, args, inputs: list[int], ctx: Ctx, span):
        spec = get_op(op)
        bound = bind_args(spec, [], dict(args))
        return self._add_node(op, bound, inputs, None, ctx, span, name=None, functional=True)

    def _call_block(self, block: ast.BlockDef, el: ast.Call, ctx: Ctx, cur, label):
        if el.branches is not None:
            raise ArgumentError(f"block '{block.name}' takes no branches", el.span)
        if self.depth >= MAX_DEPTH:
            raise ArgumentError(f"blocks nested more than {MAX_DEPTH} deep (recursive block?)", el.span)
        evaluator = ctx.evaluator(self.graph, cur)
        positional = [evaluator.eval(e) for e in el.args.positional]
        keywords = _keywords(el.args, evaluator)
        shape = self.graph.nodes[cur]["shape"]
        env = bind_block_args(block, positional, keywords, Evaluator({"in": ShapeView(shape)}), caller=el.span)
        self.budget.spend(1, el.span)
        self.budget.expect(self.workload.block(block, env), el.span)
        frame = Frame(block.name, el.span)
        scope = ctx.scope if el.inline else ctx.scope.child(label, el.span, block.name, env)
        inner = Ctx(env, {}, scope, ctx.trace + (frame,), in_shape=shape)
        self.depth += 1
        try:
            return self.body(block.body, inner, cur)
        finally:
            self.depth -= 1

    # ------------------------------------------------------------- nodes
    def _add_node(self, op, args, inputs, shape, ctx: Ctx, span, name, functional=False) -> int:
        g = self.graph
        node = g.number_of_nodes()
        self.budget.spend(1 + len(inputs), span)
        dtype = None  # an input's is its declared one (stmt_Input sets it)
        if shape is None:
            shape = infer_shape(op, args, [g.nodes[i]["shape"] for i in inputs])
            dtype = infer_dtype(op, args, [g.nodes[i]["dtype"] for i in inputs])
        if prod(shape) > limits.current().tensor_elements:
            raise limits.exceeded("tensor_elements", f"{op} gives a tensor of {prod(shape):,} elements "
                                  f"{list(shape)}", span, suggested=prod(shape))
        if op == "parameter":  # an nn.Parameter, not a child module: it takes no position
            local = ctx.scope.allocate_attribute(name, span)
        else:
            local = None if functional or op == "input" else ctx.scope.allocate(name, span)
        path = ".".join(ctx.scope.path + (local,)) if local is not None else None
        g.add_node(node, op=op, args=args, inputs=list(inputs), shape=tuple(shape),
                   scope=ctx.scope.path, name=local, path=path, span=span, trace=ctx.trace, dtype=dtype,
                   labelled=name is not None)  # a written name, numbers (`0:`) included
        for i in inputs:
            g.add_edge(i, node)
        return node


def _keywords(args: ast.Args, evaluator: Evaluator) -> dict:
    out = {}
    for key, expr, span in args.keywords:
        if key in out:
            raise ArgumentError(f"argument '{key}' given twice", span)
        out[key] = evaluator.eval(expr)
    return out


def _as_branch(stmt: ast.Stmt) -> ast.Stmt:
    if not isinstance(stmt, (ast.Chain, ast.If)):
        raise ArgumentError("a branch must be a chain of layers", stmt.span)
    return stmt


def _check_override(name: str, override: tuple, declared, stmt: ast.Input) -> None:
    """An overridden input shape must keep the declared rank (conv etc. would silently change kind)."""
    if isinstance(declared, tuple) and len(override) != len(declared):
        raise ShapeError(f"input '{name}' is overridden with {list(override)} (rank {len(override)}), "
                         f"but the network declares {list(declared)} (rank {len(declared)})", stmt.span,
                         hint="give --input as many sizes as the declared shape, e.g. "
                              + "x".join(str(d) for d in declared))


def _check_input(name: str, shape, dtype: str, stmt: ast.Input) -> None:
    if not isinstance(shape, tuple) or not shape or not all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
        raise ShapeError(f"input '{name}' needs a shape of positive integers like [3, 224, 224], "
                         f"got {shape!r}", stmt.span)
    if dtype not in DTYPES:
        guess = suggest(dtype, DTYPES)
        raise ArgumentError(f"unknown dtype '{dtype}'", stmt.span,
                            hint=f"did you mean '{guess}'?" if guess else f"dtypes: {', '.join(DTYPES)}")


def _loss_weight(value, span) -> float:
    """An output's loss weight: a finite number >= 0 (0 keeps the output out of the loss)."""
    if isinstance(value, bool) or not is_finite_number(value) or value < 0:
        raise ArgumentError(f"output weight= must be a finite number >= 0, got {value!r}", span)
    return float(value)
