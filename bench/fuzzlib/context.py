"""Where the generator is: the simulation state plus what the text may use there."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from .exprs import E, binary, in_attr, lit, name
from .items import Label, State


@dataclass
class ScopeRecord:
    """One module scope being generated; remembers whether it got labels."""

    labelled: bool = False


@dataclass
class Ctx:
    state: State
    roles: dict                       # role → expressions usable for it (block/network params)
    scope: ScopeRecord
    label_vars: Optional[tuple] = ()  # loop variables a label must interpolate; None: no labels
    depth: int = 0
    in_block: bool = False
    network: bool = False

    def nested(self, **changes) -> "Ctx":
        return replace(self, depth=self.depth + 1, **changes)

    def new_scope(self) -> "Ctx":
        return replace(self, scope=ScopeRecord(), label_vars=())

    def loop_vars(self) -> list[str]:
        return [k for k in ("i", "j", "k2") if k in self.state.env]


def roles_for(params: list, in_block: bool) -> dict:
    """Expressions the body may use in place of literal arguments, by role."""
    names = {p.name for p in params}
    roles: dict = {"channels": [], "kernel": [], "stride": [], "padding": [], "prob": [],
                   "count": [], "cond": []}
    for param, role, exprs in _PARAM_ROLES:
        if param in names:
            roles[role] += exprs
    if in_block:
        roles["channels"] += [in_attr("channels"), binary("*", in_attr("channels"), lit(2))]
        roles["cond"] += [binary(">", in_attr("channels"), lit(8)), binary("==", in_attr("rank"), lit(3))]
        if "c" in names:
            roles["cond"].append(binary("!=", in_attr("channels"), name("c")))
    return roles


#: (parameter, role, expressions using it) for the parameters of PARAM_MENU (genprog.py).
_PARAM_ROLES = [
    ("c", "channels", [name("c"), binary("*", name("c"), lit(2)), binary("//", name("c"), lit(2))]),
    ("width", "channels", [name("width")]),
    ("k", "kernel", [name("k")]),
    ("k", "padding", [binary("//", name("k"), lit(2))]),
    ("pad", "padding", [name("pad")]),
    ("s", "stride", [name("s")]),
    ("s", "cond", [binary("!=", name("s"), lit(1))]),
    ("p", "prob", [name("p")]),
    ("p", "cond", [binary(">", name("p"), lit(0))]),
    ("n", "count", [name("n"), binary("-", name("n"), lit(1))]),
    ("n", "cond", [binary(">", name("n"), lit(1))]),
    ("bn", "cond", [name("bn")]),
    ("act", "cond", [binary("==", name("act"), lit("relu")), binary("!=", name("act"), lit("tanh"))]),
]


#: Which role an op argument can take its value from.
ARG_ROLES = {"out_channels": "channels", "out_features": "channels", "hidden_size": "channels",
             "embedding_dim": "channels", "kernel": "kernel", "stride": "stride",
             "padding": "padding", "p": "prob", "dropout": "prob"}


def make_label(ctx: Ctx, counter: int, rng) -> Optional[Label]:
    """A fresh label legal here: loop variables interpolated inside repeats."""
    if ctx.label_vars is None:
        return None
    parts = tuple(name(v) if rng.random() < 0.7 else binary("+", name(v), lit(1))
                  for v in ctx.label_vars)
    ctx.scope.labelled = True
    return Label(f"l{counter}", parts)


def with_loop_var(ctx: Ctx, var: Optional[str]) -> Ctx:
    """Inside a repeat body every iteration shares the scope: labels need the variable."""
    if ctx.label_vars is None or var is None:
        return replace(ctx, label_vars=None)
    return replace(ctx, label_vars=ctx.label_vars + (var,))


__all__ = ["Ctx", "ScopeRecord", "roles_for", "ARG_ROLES", "make_label", "with_loop_var", "E"]
