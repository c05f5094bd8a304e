"""Whole programs: typed blocks with defaults, a network with inputs, outputs
and ``expect`` lines, and (for a fraction) deliberate structural mistakes.

``generate(seed)`` is deterministic: the same seed gives the same text.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Optional

from .context import Ctx, ScopeRecord, roles_for
from .exprs import binary, lit, name
from .blocks import BlockDef, Param
from .genstruct import StructGen
from .items import BlockCall, Chain, Input, Invalid, Output, State, Text, Val, simulate_body

#: (name, type, role, values for calls, default or None); defaults may use earlier parameters.
PARAM_MENU = [
    ("c", "int", "channels", (2, 4, 8, 16), None),
    ("k", "int", "kernel", (1, 3, 5), lit(3)),
    ("s", "int", "stride", (1, 2), lit(1)),
    ("pad", "int", "padding", (0, 1, 2), "k//2"),
    ("act", "str", "act", ("relu", "gelu", "tanh", "elu"), lit("relu")),
    ("bn", "bool", "flag", (True, False), lit(True)),
    ("p", "float", "prob", (0.0, 0.1, 0.5), lit(0.1)),
    ("n", "int", "count", (0, 1, 2, 3), lit(2)),
    ("width", "int", "channels", (4, 8, 12), "c*2"),
    ("extra", None, "any", (1, 2), lit(1)),
]


@dataclass
class Program:
    text: str
    expected_valid: bool  # the generator believes netdsl must accept it
    suspect: bool = False
    outputs: Optional[dict] = None  # name → shape the generator predicts (valid programs)


class ProgramGen(StructGen):
    def __init__(self, rng: random.Random, off_rate: float, edge_rate: float):
        super().__init__(rng, off_rate, edge_rate)
        self.blocks: dict[str, BlockDef] = {}
        self.prelude: list[str] = []  # extra top-level text: imports, odd blocks

    # ------------------------------------------------------------- blocks
    def block(self, ctx: Ctx, cur: Val):
        existing = list(self.blocks.values())
        if existing and self.rng.random() < 0.5:
            return self.reuse_block(ctx, cur, self.rng.choice(existing))
        if len(self.blocks) >= 4 or ctx.depth >= 3:
            raise Invalid("enough blocks")
        return self.new_block(ctx, cur)

    def new_block(self, ctx: Ctx, cur: Val) -> BlockCall:
        chosen = self.choose_params()
        params, values = [], {}
        for pname, ptype, _, pool, default in chosen:
            expr = _default_expr(default) if default is not None and self.rng.random() < 0.8 else None
            params.append(Param(pname, ptype if self.rng.random() < 0.9 else None, expr))
            if expr is None or self.rng.random() < 0.3:
                values[pname] = self.rng.choice(pool + ((cur.shape[0],) if pname == "c" else ()))
        definition = BlockDef(f"b{self.fresh()}", params)
        env = definition.bind([], values, cur)
        scope = ScopeRecord()
        inner = Ctx(State(env, {}, self.blocks, ctx.state.depth + 1), roles_for(params, True),
                    scope, (), depth=ctx.depth + 1, in_block=True)
        definition.body, _ = self.body(inner, cur, self.rng.randint(1, 4))
        definition.labelled = scope.labelled
        self.blocks[definition.name] = definition
        return self.call_with(ctx, definition, values, inline=False)

    def choose_params(self) -> list:
        """A prefix-closed pick from the menu, so defaults only use earlier parameters."""
        picked = [p for p in PARAM_MENU if self.rng.random() < 0.45]
        names = {p[0] for p in picked}
        if "pad" in names and "k" not in names:
            picked = [p for p in picked if p[0] != "pad"]
        if "width" in names and "c" not in names:
            picked = [p for p in picked if p[0] != "width"]
        return picked

    def reuse_block(self, ctx: Ctx, cur: Val, definition: BlockDef) -> BlockCall:
        menu = {p[0]: p for p in PARAM_MENU}
        values = {}
        for param in definition.params:
            if param.default is None or self.rng.random() < 0.3:
                values[param.name] = self.rng.choice(menu[param.name][3])
        inline = not definition.labelled and self.rng.random() < 0.3
        return self.call_with(ctx, definition, values, inline)

    def call_with(self, ctx: Ctx, definition: BlockDef, values: dict, inline: bool) -> BlockCall:
        pos, kw, positional = [], [], True
        for param in definition.params:
            if param.name not in values:
                positional = False
            elif positional and self.rng.random() < 0.6:
                pos.append(lit(values[param.name]))
            else:
                positional = False
                kw.append((param.name, lit(values[param.name])))
        label = None if inline else self.maybe_label(ctx, 0.4)
        return BlockCall(definition.name, pos, kw, inline=inline, label=label)

    # ------------------------------------------------------------- network
    def network(self) -> tuple[list, list]:
        params = [Param("width", "int", lit(self.rng.choice([4, 8]))),
                  Param("deep", "bool", lit(self.rng.random() < 0.5))][: self.rng.randint(0, 2)]
        env = {p.name: p.default.value({}) for p in params}
        ctx = Ctx(State(env, {}, self.blocks), roles_for(params, False), ScopeRecord(), (), network=True)
        if "width" in env:
            ctx.roles["channels"].append(name("width"))
        if "deep" in env:
            ctx.roles["cond"].append(name("deep"))
        stmts = self.inputs(ctx)
        cur = simulate_body(stmts, ctx.state, None)
        body, cur = self.body(ctx, cur, self.rng.randint(2, 8))
        stmts += body
        if self.rng.random() < 0.05:
            stmts.append(Output(f"o{self.fresh()}", Chain(self.chain(ctx, cur, 2).items)))
        stmts = self.add_expects(stmts, ctx, cur)
        self.predicted = predicted_outputs(stmts, ctx, cur)
        return params, stmts

    def inputs(self, ctx: Ctx) -> list:
        stmts = []
        if self.rng.random() < 0.1:
            stmts.append(Input("x2", random_shape(self.rng, self.rng.randint(1, 3))))
        rank = self.rng.choice([1, 2, 3, 3, 3, 4, 0])
        if rank == 0:
            stmts.append(Input("x", (self.rng.randint(1, 12),), "int64"))
        else:
            stmts.append(Input("x", random_shape(self.rng, rank)))
        return stmts

    def add_expects(self, stmts: list, ctx: Ctx, cur: Optional[Val]) -> list:
        first_input = next(s for s in stmts if isinstance(s, Input))
        outputs = [s for s in stmts if isinstance(s, Output)]
        ends_with_output = bool(stmts) and isinstance(stmts[-1], Output)
        first = ctx.state.values.get(outputs[0].name) if ends_with_output else cur
        facts = ["expect params >= 0", "expect flops >= 2 * macs",
                 "expect trainable_params + frozen_params == params",
                 f"expect input == {list(first_input.shape)}"]
        if first is not None:
            facts.append(f"expect output == {list(first.shape)}")
        lines = [Text(f) for f in facts if self.rng.random() < 0.3]
        for line in lines:
            stmts.insert(self.rng.randint(len([s for s in stmts if isinstance(s, Input)]), len(stmts) - 1
                                          if ends_with_output else len(stmts)), line)
        return stmts


def predicted_outputs(stmts: list, ctx: Ctx, cur: Optional[Val]) -> Optional[dict]:
    """Output name → shape in netdsl's order: ``out`` unless the body ends in an output."""
    if cur is None:
        return None
    outputs = {} if stmts and isinstance(stmts[-1], Output) else {"out": cur.shape}
    for stmt in stmts:
        if isinstance(stmt, Output) and stmt.name in ctx.state.values:
            outputs[stmt.name] = ctx.state.values[stmt.name].shape
    return outputs


def _default_expr(default):
    if default == "k//2":
        return binary("//", name("k"), lit(2))
    if default == "c*2":
        return binary("*", name("c"), lit(2))
    return default


def random_shape(rng: random.Random, rank: int) -> tuple:
    if rank == 1:
        return (rng.choice([3, 4, 8, 16, 32, 64]),)
    if rank == 2:
        return (rng.randint(1, 8), rng.randint(3, 32))
    if rank == 3:
        return (rng.choice([1, 3, 4, 8]), rng.randint(4, 32), rng.randint(4, 32))
    return (rng.randint(1, 4), rng.randint(2, 8), rng.randint(2, 8), rng.randint(2, 8))


def render_program(gen: ProgramGen, params: list, stmts: list, rng: random.Random) -> str:
    from .items import render_body
    header = f"network net({', '.join(p.render() for p in params)})" if params else "network net"
    network = header + " " + render_body(stmts, 0)
    blocks = [b.render() for b in gen.blocks.values()]
    parts = blocks + [network] if rng.random() < 0.8 else [network] + blocks
    parts = gen.prelude + parts
    return "\n\n".join(parts) + "\n"


def generate(seed: str) -> Program:
    """One program; about one in four is deliberately off (bad values or structure)."""
    rng = random.Random(seed)
    roll = rng.random()
    off_rate = 0.06 if roll < 0.12 else 0.0
    edge_rate = 0.05 if 0.12 <= roll < 0.3 else 0.0
    gen = ProgramGen(rng, off_rate, edge_rate)
    params, stmts = gen.network()
    if rng.random() < 0.0005:
        # a large but valid network: 50,000 layers, far under the default limits;
        # every command should stay linear in it (about 5 s here)
        stmts.insert(len(stmts), Text("repeat 25_000 { relu }"))
    if rng.random() < 0.08:
        from .mistakes import add_mistake
        stmts = add_mistake(gen, stmts, rng)
        gen.off = True
    text = render_program(gen, params, stmts, rng)
    # the generator does not track which tensors are read twice, so it cannot
    # tell whether netdsl's in-place rule (docs/errors.md) allows an inplace=true
    valid = not gen.off and not gen.suspect and not gen.edgy and not gen.inplace and "inplace=true" not in text
    return Program(text, valid, gen.suspect, gen.predicted if valid else None)
