"""Structures: groups, repeat, residual (with ``shortcut if``), merges with
branches, dense connections, if/elif/else and output taps."""
from __future__ import annotations

from typing import Optional

from .context import Ctx, with_loop_var
from .exprs import E, binary, lit, name
from .genbody import BodyGen, bridge, literal_count
from .items import Call, Chain, Dense, Group, If, Invalid, Output, Ref, Repeat, Residual, Val


class StructGen(BodyGen):
    # ------------------------------------------------------------- groups, repeat
    def group(self, ctx: Ctx, cur: Val):
        label = self.maybe_label(ctx, 0.5)
        inner = ctx.nested() if label is None else ctx.nested().new_scope()
        stmts, _ = self.body(inner, cur, self.rng.randint(0, 3))
        return Group(stmts, label=label)

    def free_var(self, ctx: Ctx) -> Optional[str]:
        taken = set(ctx.state.env)
        free = [v for v in ("i", "j", "k2") if v not in taken]
        return free[0] if free and self.rng.random() < 0.7 else None

    def repeat(self, ctx: Ctx, cur: Val):
        label = self.maybe_label(ctx, 0.3)
        var = self.free_var(ctx)
        count = self.rng.choice(ctx.roles.get("count") or [literal_count(self.rng)]) \
            if self.rng.random() < 0.5 else literal_count(self.rng)
        env = {**ctx.state.env, var: 0} if var else ctx.state.env
        inner = with_loop_var(ctx.nested(state=ctx.state.child(env)), var)
        stmts, out = self.body(inner, cur, self.rng.randint(1, 2))
        if out is not None and out.shape != cur.shape:
            stmts.append(Chain(bridge(out, cur.shape)))  # a shape-preserving body repeats any number of times
        return Repeat(count, var, stmts, label=label)

    # ------------------------------------------------------------- residual
    def residual(self, ctx: Ctx, cur: Val):
        label = self.maybe_label(ctx, 0.3)
        inner = ctx.nested() if label is None else ctx.nested().new_scope()
        stmts, out = self.body(inner, cur, self.rng.randint(1, 3))
        if out is None:
            raise Invalid("empty residual")
        if out.shape == cur.shape:
            return self.identity_residual(inner, cur, stmts, label)
        if self.rng.random() < 0.5:
            stmts.append(Chain(bridge(out, cur.shape)))
            return Residual(stmts, label=label)
        shortcut = [Chain(self.projection(inner, cur, out.shape))]
        return Residual(stmts, shortcut, self.true_condition(inner), label=label)

    def identity_residual(self, ctx: Ctx, cur: Val, stmts: list, label):
        roll = self.rng.random()
        if roll < 0.6:
            return Residual(stmts, label=label)
        projection = [Chain(self.projection(ctx, cur, cur.shape))]
        condition = self.false_condition(ctx) if roll < 0.85 else None
        return Residual(stmts, projection, condition, label=label)

    def projection(self, ctx: Ctx, cur: Val, target: tuple) -> list:
        items = bridge(cur, target) or [Call("identity")]
        if self.rng.random() < 0.4:
            scoped = self.as_group(ctx, items, scoped=ctx.label_vars == ())
            return [scoped]
        return items

    def conditions(self, ctx: Ctx) -> list[E]:
        found = list(ctx.roles.get("cond", []))
        found += [binary("==", name(v), lit(0)) for v in ctx.loop_vars()]
        return found + [lit(True), binary(">", lit(2), lit(1))]

    def true_condition(self, ctx: Ctx) -> Optional[E]:
        options = [c for c in self.conditions(ctx) if _holds(c, ctx)]
        return self.rng.choice(options + [None])

    def false_condition(self, ctx: Ctx) -> E:
        options = [c for c in self.conditions(ctx) if not _holds(c, ctx)]
        return self.rng.choice(options or [lit(False)])

    # ------------------------------------------------------------- merges
    def merge(self, ctx: Ctx, cur: Val):
        op = self.rng.choice(["concat", "concat", "add", "mul", "cat"])
        label = self.maybe_label(ctx, 0.3)
        inner = ctx.nested() if label is None else ctx.nested().new_scope()
        first = self.branch(inner, cur, None, op)
        first_out = Chain(first).simulate(inner.state, cur)
        branches = [first]
        for _ in range(self.rng.randint(1, 2)):
            branches.append(self.branch(inner, cur, first_out.shape, op))
        kw = []
        if op in ("concat", "cat") and self.rng.random() < 0.2:
            kw = [("dim", lit(self.rng.choice([0, -len(cur.shape)])))]
        return Call(op, [], kw, branches=branches, label=label)

    def branch(self, ctx: Ctx, cur: Val, target: Optional[tuple], op: str) -> list:
        roll = self.rng.random()
        refs = [n for n, v in ctx.state.values.items() if target is None or _fits(v.shape, target, op)]
        if roll < 0.15 and refs:
            return [Ref(self.rng.choice(sorted(refs)))]
        if roll < 0.3 and (target is None or _fits(cur.shape, target, op)):
            return [self.rng.choice([Call("identity"), Group([])])]
        if target is None:
            items = self.chain(ctx, cur, 2).items
        elif op == "mul" and len(cur.shape) >= 2 and target == cur.shape and roll < 0.45:
            items = [Call("adaptive_avgpool", [lit(1)]), Call("conv", [lit(target[0]), lit(1)]), Call("sigmoid")]
        else:
            items = self.to_shape(ctx, cur, target, keep_channels=op in ("concat", "cat"))
        if self.rng.random() < 0.3:
            return [self.as_group(ctx, items, scoped=ctx.label_vars == () and self.rng.random() < 0.6)]
        return items

    def matmul(self, ctx: Ctx, cur: Val):
        if len(cur.shape) < 2:
            raise Invalid("matmul needs rank 2")
        return Call("matmul", branches=[[Call("identity")], [Call("transpose", [lit(-1), lit(-2)])]])

    # ------------------------------------------------------------- dense
    def dense(self, ctx: Ctx, cur: Val):
        label = self.maybe_label(ctx, 0.4)
        inner = ctx.nested() if label is None else ctx.nested().new_scope()
        if self.rng.random() < 0.5:
            units = [Chain(self.to_shape(inner, cur, cur.shape, keep_channels=True))
                     for _ in range(self.rng.randint(1, 3))]
            return Dense(units=units, label=label)
        var = self.free_var(inner)
        env = {**inner.state.env, var: 0} if var else inner.state.env
        unit_ctx = with_loop_var(inner.nested(state=inner.state.child(env)), var)
        items = self.to_shape(unit_ctx, cur, cur.shape, keep_channels=True)
        count = literal_count(self.rng)
        return Dense(repeat=Repeat(count, var, [Chain(items)]), label=label)

    # ------------------------------------------------------------- statements
    def if_statement(self, ctx: Ctx, cur: Optional[Val]) -> If:
        conditions = self.conditions(ctx)
        branches = [(self.rng.choice(conditions), None) for _ in range(self.rng.randint(1, 2))]
        otherwise = self.rng.random() < 0.6
        inner = ctx.nested()
        taken = next((n for n, (c, _) in enumerate(branches) if _holds(c, ctx)), len(branches))
        target_body, target = self.body(inner, cur, self.rng.randint(0, 2))
        bodies = []
        for n in range(len(branches) + 1):
            if n == taken:
                bodies.append(target_body)
            elif target is None or cur is None:
                bodies.append([])
            else:
                bodies.append([Chain(self.to_shape(inner, cur, target.shape))])
        result = If([(c, bodies[n]) for n, (c, _) in enumerate(branches)],
                    bodies[-1] if otherwise or taken == len(branches) else None)
        return result

    def output_tap(self, ctx: Ctx, cur: Val) -> Output:
        weight = self.rng.choice([None, 0.3, 1.0, 0])
        chain = self.chain(ctx.nested(), cur, 3)
        if self.rng.random() < 0.4:
            chain = Chain([self.as_group(ctx, chain.items, scoped=True)])
        return Output(f"o{self.fresh()}", chain, weight)


def _holds(cond: E, ctx: Ctx) -> bool:
    try:
        return bool(cond.value(ctx.state.env))
    except Exception:  # noqa: BLE001 - an unevaluable condition counts as false here
        return False


def _fits(shape: tuple, target: tuple, op: str) -> bool:
    if op in ("concat", "cat"):
        return len(shape) == len(target) and shape[1:] == target[1:]
    return shape == target
