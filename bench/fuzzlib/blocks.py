"""Block definitions of generated programs: typed parameters with defaults,
bound like netdsl's typecheck binds them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .exprs import E
from .items import Invalid, State, Val, evaluate, render_body


@dataclass
class Param:
    name: str
    type: Optional[str]
    default: Optional[E] = None

    def render(self) -> str:
        text = self.name + (f": {self.type}" if self.type else "")
        return text + (f" = {self.default.text}" if self.default is not None else "")


_PARAM_CHECKS = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool), "str": lambda v: isinstance(v, str),
    "tuple": lambda v: isinstance(v, tuple), "any": lambda v: True,
}


@dataclass
class BlockDef:
    name: str
    params: list
    body: list = field(default_factory=list)
    labelled: bool = False  # has labels of its own: never inlined

    def render(self) -> str:
        params = f"({', '.join(p.render() for p in self.params)})" if self.params else ""
        return f"block {self.name}{params} " + render_body(self.body, 0)

    def bind(self, given: list, keywords: dict, cur: Val) -> dict:
        """Parameters bound like netdsl's typecheck: positional, keywords, defaults, types."""
        names = [p.name for p in self.params]
        if len(given) > len(names) or set(keywords) - set(names):
            raise Invalid("block arguments")
        values = dict(zip(names, given))
        if set(values) & set(keywords):
            raise Invalid("block argument twice")
        values.update(keywords)
        env = {"in": cur.shape}
        for p in self.params:
            if p.name in values:
                value = values[p.name]
            elif p.default is not None:
                value = evaluate(p.default, State(env, {}, {}))
            else:
                raise Invalid("missing block argument")
            if p.type and not _PARAM_CHECKS[p.type](value):
                raise Invalid("block argument type")
            env[p.name] = float(value) if p.type == "float" else value
        return env
