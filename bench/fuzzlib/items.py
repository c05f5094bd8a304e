"""The generator's own small syntax tree: render to netdsl text, and simulate.

``simulate`` mirrors netdsl's elaboration (docs/language.md) closely enough
to predict each statement's output shape, using the op registry's own shape
rules; it raises ``Invalid`` when netdsl should reject the program.  The
generator builds programs item by item through it, and re-simulates a block
body to know whether calling that block again with other arguments is valid.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from netdsl.errors import NetdslError
from netdsl.ops.registry import bind_args, get_op

from .exprs import E


class Invalid(Exception):
    """netdsl should reject this (a generator-side prediction)."""


class Suspect(Exception):
    """An op's shape rule raised something other than a netdsl error: a likely bug
    the generator must not route around."""


@dataclass
class Val:
    shape: tuple
    dtype: str = "float32"


@dataclass
class State:
    """What simulation needs: expression names, value names, blocks, `in`."""

    env: dict
    values: dict
    blocks: dict
    depth: int = 0

    def child(self, env: Optional[dict] = None) -> "State":
        return State(env if env is not None else self.env, self.values, self.blocks, self.depth)


def op_shape(op: str, args: dict, ins: list[Val]) -> Val:
    """Output of ``op`` by the registry's rule (arity, rank, then the op's shape)."""
    spec = get_op(op)
    if spec is None:
        raise Invalid(f"unknown op {op}")
    if spec.arity is not None and len(ins) != spec.arity:
        raise Invalid("arity")
    if spec.input_rank and any(len(v.shape) not in spec.input_rank for v in ins):
        raise Invalid("rank")
    if any(v.dtype != "float32" for v in ins) and op != "embedding":
        raise Invalid("integer input into a float op")
    if op == "embedding" and ins[0].dtype == "float32":
        raise Invalid("embedding of floats")
    try:
        bound = bind_args(spec, args.get("pos", []), args.get("kw", {}))
        shape = tuple(spec.shape(bound, [v.shape for v in ins]))
    except NetdslError as err:
        raise Invalid(err.message) from None
    except Exception as err:  # noqa: BLE001 - surfaced, see Suspect
        raise Suspect(f"{op}: {type(err).__name__}: {err}") from None
    if not shape or any(not isinstance(d, int) or d <= 0 for d in shape):
        raise Invalid("non-positive size")
    return Val(shape)


def evaluate(expr: E, state: State) -> Any:
    try:
        return expr.value(state.env)
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError, OverflowError):
        raise Invalid(f"cannot evaluate {expr.text}") from None


def simulate_body(stmts: list, state: State, cur: Optional[Val]) -> Optional[Val]:
    for stmt in stmts:
        cur = stmt.simulate(state, cur)
    return cur


def render_body(stmts: list, indent: int, one_line: bool = False) -> str:
    if not stmts:
        return "{}"
    if one_line:
        return "{ " + "; ".join(s.render(0) for s in stmts) + " }"
    pad = "    " * (indent + 1)
    lines = [pad + s.render(indent + 1) for s in stmts]
    return "{\n" + "\n".join(lines) + "\n" + "    " * indent + "}"


# ------------------------------------------------------------------ items
@dataclass
class Label:
    stem: str
    parts: tuple = ()  # expressions interpolated after the stem: l3_{i}_{j}

    def render(self) -> str:
        return self.stem + "".join(f"_{{{p.text}}}" for p in self.parts) + ":"


@dataclass
class Item:
    label: Optional[Label] = field(default=None, kw_only=True)
    off: bool = field(default=False, kw_only=True)  # deliberately invalid: skipped when simulating

    def prefix(self) -> str:
        return self.label.render() + " " if self.label else ""

    def simulate(self, state: State, cur: Optional[Val]) -> Val:
        if cur is None and not isinstance(self, Ref):
            raise Invalid("no input yet")
        if self.off:
            return cur
        out = self.run(state, cur)
        if self.label is not None and not self.label.parts:
            state.values[self.label.stem] = out
        return out


@dataclass
class Call(Item):
    op: str
    pos: list = field(default_factory=list)
    kw: list = field(default_factory=list)  # (name, E)
    branches: Optional[list] = None  # merges: one chain (list of items) per line

    def render(self, indent: int) -> str:
        args = [e.text for e in self.pos] + [f"{k}={e.text}" for k, e in self.kw]
        text = self.prefix() + self.op + (f"({', '.join(args)})" if args else "")
        if self.branches is not None:
            text += " " + render_body([Chain(b) for b in self.branches], indent)
        return text

    def run(self, state: State, cur: Val) -> Val:
        pos = [evaluate(e, state) for e in self.pos]
        kw = {k: evaluate(e, state) for k, e in self.kw}
        if len(kw) != len(self.kw):
            raise Invalid("keyword given twice")
        args = {"pos": pos, "kw": kw}
        if self.branches is None:
            return op_shape(self.op, args, [cur])
        ins = [simulate_body([Chain(b)], state, cur) for b in self.branches]
        return op_shape(self.op, args, ins)


@dataclass
class BlockCall(Item):
    block: str
    pos: list = field(default_factory=list)
    kw: list = field(default_factory=list)
    inline: bool = False

    def render(self, indent: int) -> str:
        args = [e.text for e in self.pos] + [f"{k}={e.text}" for k, e in self.kw]
        call = self.block + (f"({', '.join(args)})" if args else "")
        return self.prefix() + ("inline " if self.inline else "") + call

    def run(self, state: State, cur: Val) -> Val:
        block = state.blocks[self.block]
        if state.depth >= 20:
            raise Invalid("blocks nested too deep")
        given = [evaluate(e, state) for e in self.pos]
        keywords = {k: evaluate(e, state) for k, e in self.kw}
        env = block.bind(given, keywords, cur)
        inner = State(env, {}, state.blocks, state.depth + 1)
        out = simulate_body(block.body, inner, cur)
        if out is None:
            raise Invalid("empty block")
        return out


@dataclass
class Group(Item):
    body: list

    def render(self, indent: int) -> str:
        return self.prefix() + render_body(self.body, indent, one_line=len(self.body) <= 1)

    def run(self, state: State, cur: Val) -> Val:
        return simulate_body(self.body, state, cur)


@dataclass
class Repeat(Item):
    count: E
    var: Optional[str]
    body: list

    def render(self, indent: int) -> str:
        head = f"repeat {self.count.text}" + (f" as {self.var}" if self.var else "")
        return self.prefix() + head + " " + render_body(self.body, indent)

    def iterations(self, state: State) -> int:
        count = evaluate(self.count, state)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise Invalid("repeat count")
        return count

    def run(self, state: State, cur: Val) -> Val:
        for i in range(self.iterations(state)):
            env = {**state.env, self.var: i} if self.var else state.env
            cur = simulate_body(self.body, state.child(env), cur)
        return cur


@dataclass
class Residual(Item):
    body: list
    shortcut: Optional[list] = None
    condition: Optional[E] = None

    def render(self, indent: int) -> str:
        text = self.prefix() + "residual " + render_body(self.body, indent)
        if self.shortcut is not None:
            cond = f" if {self.condition.text}" if self.condition is not None else ""
            text += f" shortcut{cond} " + render_body(self.shortcut, indent)
        return text

    def run(self, state: State, cur: Val) -> Val:
        main = simulate_body(self.body, state, cur)
        side = cur
        if self.shortcut is not None and (self.condition is None or evaluate(self.condition, state)):
            side = simulate_body(self.shortcut, state, cur)
        return op_shape("add", {}, [main, side])


@dataclass
class Dense(Item):
    units: Optional[list] = None  # one statement per unit
    repeat: Optional[Repeat] = None

    def render(self, indent: int) -> str:
        if self.repeat is not None:
            return self.prefix() + "dense " + self.repeat.render(indent)
        return self.prefix() + "dense " + render_body(self.units, indent)

    def run(self, state: State, cur: Val) -> Val:
        if self.repeat is not None:
            rep = self.repeat
            envs = [{**state.env, rep.var: i} if rep.var else state.env for i in range(rep.iterations(state))]
            units = [(state.child(env), rep.body) for env in envs]
        else:
            units = [(state, [stmt]) for stmt in self.units]
        features = [cur]
        for unit_state, body in units:
            entry = features[0] if len(features) == 1 else op_shape("concat", {}, features)
            features.append(simulate_body(body, unit_state, entry))
        return op_shape("concat", {}, features)


@dataclass
class Ref(Item):
    name: str

    def render(self, indent: int) -> str:
        return self.prefix() + "@" + self.name

    def run(self, state: State, cur: Optional[Val]) -> Val:
        if self.name not in state.values:
            raise Invalid(f"no value {self.name}")
        return state.values[self.name]


# ------------------------------------------------------------------ statements
@dataclass
class Chain:
    items: list

    def render(self, indent: int) -> str:
        return " ".join(i.render(indent) for i in self.items)

    def simulate(self, state: State, cur: Optional[Val]) -> Optional[Val]:
        for item in self.items:
            cur = item.simulate(state, cur)
        return cur


@dataclass
class Bind:
    name: str
    chain: Chain

    def render(self, indent: int) -> str:
        return f"{self.name} = {self.chain.render(indent)}"

    def simulate(self, state: State, cur: Optional[Val]) -> Val:
        out = self.chain.simulate(state, cur)
        state.values[self.name] = out
        return out


@dataclass
class If:
    branches: list  # (condition E, statements)
    otherwise: Optional[list] = None

    def render(self, indent: int) -> str:
        parts = []
        for n, (cond, body) in enumerate(self.branches):
            parts.append(("if " if n == 0 else "elif ") + cond.text + " " + render_body(body, indent))
        if self.otherwise is not None:
            parts.append("else " + render_body(self.otherwise, indent))
        return " ".join(parts)

    def simulate(self, state: State, cur: Optional[Val]) -> Optional[Val]:
        for cond, body in self.branches:
            if evaluate(cond, state):
                return simulate_body(body, state, cur)
        return simulate_body(self.otherwise, state, cur) if self.otherwise else cur


@dataclass
class Input:
    name: str
    shape: tuple
    dtype: Optional[str] = None

    def render(self, indent: int) -> str:
        dims = ", ".join(str(d) for d in self.shape)
        return f"input {self.name}: [{dims}]" + (f" {self.dtype}" if self.dtype else "")

    def simulate(self, state: State, cur: Optional[Val]) -> Val:
        out = Val(tuple(self.shape), self.dtype or "float32")
        state.values[self.name] = out
        return out


@dataclass
class Output:
    name: str
    chain: Chain
    weight: Optional[float] = None

    def render(self, indent: int) -> str:
        weight = f"(weight={self.weight})" if self.weight is not None else ""
        return f"output {self.name}{weight} = {self.chain.render(indent)}"

    def simulate(self, state: State, cur: Optional[Val]) -> Optional[Val]:
        state.values[self.name] = self.chain.simulate(state, cur)
        return cur  # a tap: the main chain goes on from where it was


@dataclass
class Text:
    """A statement the simulator does not interpret (expect lines, odd text)."""

    text: str

    def render(self, indent: int) -> str:
        return self.text

    def simulate(self, state: State, cur: Optional[Val]) -> Optional[Val]:
        return cur
