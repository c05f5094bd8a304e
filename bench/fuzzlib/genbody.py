"""Generating statements and chain items, tracking the current shape.

Every generated statement is simulated (``items.py``) from the state before
it; a statement that would make the program invalid is drawn again, unless
the program is deliberately off, when a fraction of calls break a rule and
are kept.  ``Bridges`` map one shape onto another with plain layers, so
residual bodies, merge branches, dense units and repeat bodies can be free
and still fit together.
"""
from __future__ import annotations

import math
import random
from typing import Callable, Optional

from netdsl.ops.registry import all_ops, get_op

from . import argvalues
from .context import ARG_ROLES, Ctx, make_label
from .exprs import E, lit
from .items import Call, Chain, Group, Invalid, Item, Suspect, Val

MAX_ELEMENTS = 100_000  # per sample, per value: keeps torch runs fast


def bridge(src: Val, target: tuple, keep_channels: bool = False) -> list[Item]:
    """Layers taking ``src`` to ``target`` (or only its spatial sizes)."""
    shape = src.shape
    if keep_channels and len(shape) == len(target):
        target = (shape[0], *target[1:])
    if shape == target:
        return []
    if len(shape) == len(target) and len(shape) >= 2:
        items: list[Item] = []
        if shape[1:] != target[1:]:
            spatial = tuple(target[1:])
            size = lit(spatial[0] if len(set(spatial)) == 1 else spatial)
            if all(t <= s for t, s in zip(target[1:], shape[1:])):
                items.append(Call("adaptive_avgpool", [size]))
            else:
                items.append(Call("upsample", [], [("size", size)]))
        if shape[0] != target[0]:
            items.append(Call("conv", [lit(target[0]), lit(1)]))
        return items
    if len(shape) == 1 and len(target) == 1:
        return [Call("linear", [lit(target[0])])]
    items = [Call("flatten")] if len(shape) > 1 else []
    items.append(Call("linear", [lit(math.prod(target))]))
    if len(target) > 1:
        items.append(Call("reshape", [lit(tuple(target))]))
    return items


def small_enough(val: Optional[Val]) -> bool:
    return val is None or math.prod(val.shape) <= MAX_ELEMENTS


class BodyGen:
    """Statement and item generation; ``ProgramGen`` adds blocks and networks."""

    def __init__(self, rng: random.Random, off_rate: float = 0.0, edge_rate: float = 0.0):
        self.rng = rng
        self.off_rate = off_rate      # probability that a call breaks a rule
        self.edge_rate = edge_rate    # probability that a call uses a boundary value
        self.off = False              # the program is deliberately invalid
        self.suspect = False          # an op's shape rule crashed while generating
        self.inplace = False          # some op got inplace=true (by keyword or position)
        self.edgy = False             # a boundary value was kept: limits may still refuse it
        self.ops_left = rng.randint(6, 40)
        self.counter = 0
        # a learned tensor needs a label (`param NAME: [...]`), which generic calls may lack
        self.single_ops = [s for s in all_ops() if s.arity == 1 and s.name != "parameter"]

    def fresh(self) -> int:
        self.counter += 1
        return self.counter

    # ------------------------------------------------------------- retry loop
    def attempt(self, ctx: Ctx, cur: Optional[Val], make: Callable, tries: int = 8):
        """Draw a statement with ``make`` until it simulates validly; (stmt, new value)."""
        values = ctx.state.values
        for _ in range(tries):
            snapshot, stmt = dict(values), None
            try:
                stmt = make()
                values.clear()
                values.update(snapshot)
                out = stmt.simulate(ctx.state, cur)
            except Invalid:
                values.clear()
                values.update(snapshot)
                continue
            except Suspect:
                values.clear()
                values.update(snapshot)
                self.suspect, self.ops_left = True, 0
                return stmt, cur
            if small_enough(out):
                return stmt, out
            values.clear()
            values.update(snapshot)
        return None, cur

    # ------------------------------------------------------------- bodies
    def body(self, ctx: Ctx, cur: Optional[Val], count: int) -> tuple[list, Optional[Val]]:
        stmts = []
        for _ in range(count):
            if self.ops_left <= 0 and stmts:
                break
            stmt, cur = self.attempt(ctx, cur, lambda: self.statement(ctx, cur))
            if stmt is not None:
                stmts.append(stmt)
        return stmts, cur

    def statement(self, ctx: Ctx, cur: Optional[Val]):
        from .items import Bind, Ref
        roll = self.rng.random()
        if roll < 0.08 and ctx.depth < 3:
            return self.if_statement(ctx, cur)
        if roll < 0.16:
            chain = self.chain(ctx, cur)
            return Bind(f"v{self.fresh()}", chain)
        if roll < 0.21 and ctx.state.values:
            start = Ref(self.rng.choice(sorted(ctx.state.values)))
            rest = self.chain(ctx, ctx.state.values[start.name], 2)
            return Chain([start] + rest.items)
        if roll < 0.26 and ctx.network and ctx.depth == 0:
            return self.output_tap(ctx, cur)
        return self.chain(ctx, cur)

    def chain(self, ctx: Ctx, cur: Optional[Val], most: int = 3) -> Chain:
        """1..most items; each simulated as it is drawn so the next fits."""
        items = []
        for _ in range(self.rng.randint(1, most)):
            item, out = self.attempt(ctx, cur, lambda: self.item(ctx, cur))
            if item is None or (items and _opens_with_brace(item)):
                break  # `relu { ... }` would read as a call with branches
            items.append(item)
            cur = out
            if self.ops_left <= 0:
                break
        if not items:
            items.append(Call("identity"))
        return Chain(items)

    def item(self, ctx: Ctx, cur: Val) -> Item:
        kinds = [("op", 55), ("block", 9)]
        if ctx.depth < 3:
            kinds += [("group", 4), ("repeat", 6), ("residual", 7), ("merge", 7), ("dense", 3),
                      ("matmul", 1)]
        kind = self.rng.choices([k for k, _ in kinds], [w for _, w in kinds])[0]
        if kind == "op" or cur is None:
            return self.op_call(ctx, cur)
        return getattr(self, kind)(ctx, cur)

    # ------------------------------------------------------------- op calls
    def pick_op(self, cur: Val):
        rank = len(cur.shape)
        if cur.dtype != "float32" and self.rng.random() > self.off_rate:
            return get_op("embedding")
        fitting = [s for s in self.single_ops if not s.input_rank or rank in s.input_rank]
        return self.rng.choice(fitting)

    def op_call(self, ctx: Ctx, cur: Val) -> Item:
        if cur is None:
            raise Invalid("no input")
        self.ops_left -= 1
        spec = self.pick_op(cur)
        values = argvalues.valid_values(spec, cur.shape, self.rng)
        for arg_name in list(values):
            role = ARG_ROLES.get(arg_name)
            if role and ctx.roles.get(role) and self.rng.random() < 0.5:
                values[arg_name] = self.rng.choice(ctx.roles[role])
        self.inplace = self.inplace or values.get("inplace") is True
        pos, kw = argvalues.arrange(spec, values, self.rng)
        call = Call(spec.name if self.rng.random() < 0.9 else self.rng.choice((spec.name, *spec.aliases)),
                    pos, kw, label=self.maybe_label(ctx))
        roll = self.rng.random()
        if roll < self.off_rate:
            call.pos, call.kw = argvalues.break_call(spec, call.pos, call.kw, self.rng)
            return self.mark_off(call)
        if roll < self.off_rate + self.edge_rate:
            return self.edge_call(spec, call, ctx, cur)
        return call

    def edge_call(self, spec, call: Call, ctx: Ctx, cur: Val) -> Item:
        """One argument on or past its declared edge; kept whether or not it is valid."""
        args = list(argvalues.all_args(spec))
        arg = self.rng.choice(args)
        value = argvalues.boundary_value(arg, self.rng)
        if value is None:
            return call
        keywords = [(a.name, e) for a, e in zip(spec.args, call.pos)] + call.kw
        call.pos = []
        call.kw = [(k, e) for k, e in keywords if k != arg.name] + [(arg.name, value)]
        self.edgy = True
        try:
            call.simulate(ctx.state, cur)
        except Invalid:
            return self.mark_off(call)
        return call

    def mark_off(self, item: Item) -> Item:
        """Keep an item that netdsl should reject; the chain goes on as if it were not there."""
        self.off = True
        item.off = True
        return item

    def maybe_label(self, ctx: Ctx, probability: float = 0.25):
        if self.rng.random() >= probability:
            return None
        return make_label(ctx, self.fresh(), self.rng)

    def to_shape(self, ctx: Ctx, cur: Val, target: tuple, keep_channels: bool = False) -> list[Item]:
        """A short free chain from ``cur``, then layers that bring it to ``target``."""
        chain = self.chain(ctx, cur, 2)
        out = Chain(chain.items).simulate(ctx.state, cur)
        return chain.items + bridge(out, target, keep_channels)

    def as_group(self, ctx: Ctx, items: list[Item], scoped: bool) -> Item:
        label = make_label(ctx, self.fresh(), self.rng) if scoped else None
        return Group([Chain(items)], label=label)


def literal_count(rng: random.Random) -> E:
    return lit(rng.choice([0, 1, 1, 2, 2, 3]))


def _opens_with_brace(item: Item) -> bool:
    return isinstance(item, Group) and item.label is None
