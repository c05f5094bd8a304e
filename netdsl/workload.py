"""Lower bounds on elaboration work, so an over-budget file fails at once.

The elaborator's budget (``limits.Budget``) counts one unit per node, edge,
block call and repeat pass as they happen; a file that would expand to 10^12
nodes would still take seconds to reach the limit that way.  Before a repeat
or a block call runs, ``Workload`` walks its body without building anything
and returns units it is *certain* to spend: counts and conditions it cannot
know yet (they read ``in`` or a loop variable) count as the cheapest choice.
Because the bound never exceeds the real cost, refusing on it refuses
nothing that would have fit.
"""
from __future__ import annotations

from typing import Optional

from . import ast
from .errors import NetdslError
from .expr import Evaluator
from .program import Program
from .typecheck import bind_block_args

_UNKNOWN = object()
MAX_DEPTH = 100  # block calls nested (a recursive block ends here)
MAX_LEVELS = 800  # bodies nested while expanding: blocks, repeats, ifs, groups together


class Workload:
    def __init__(self, program: Program):
        self.program = program
        self.memo: dict[tuple, int] = {}
        self.active: set[tuple] = set()
        self.depth = 0  # calls being bounded; deeper ones count 0 (still a lower bound)
        self.levels = 0  # bodies being bounded; the same

    def body(self, stmts: list[ast.Stmt], env: dict) -> int:
        if self.levels >= MAX_LEVELS:
            return 0  # the elaborator refuses this depth when it gets there
        self.levels += 1
        try:
            return sum(self._stmt(s, env) for s in stmts)
        finally:
            self.levels -= 1

    def repeat(self, count: int, body: list[ast.Stmt], env: dict, var: Optional[str]) -> int:
        """``repeat count as var { body }``: one unit a pass plus the body's bound."""
        inner = {k: v for k, v in env.items() if k != var}
        return count * (1 + self.body(body, inner)) if count > 0 else 0

    def block(self, block: ast.BlockDef, env: dict) -> int:
        """A call of ``block`` whose parameters are bound to ``env``."""
        key = (block.name, repr(sorted(env.items(), key=lambda kv: kv[0])))
        if key in self.active or self.depth >= MAX_DEPTH:
            return 0  # recursion: what it adds is counted when it happens
        if key not in self.memo:
            self.active.add(key)
            self.depth += 1
            try:
                self.memo[key] = self.body(block.body, env)
            finally:
                self.active.discard(key)
                self.depth -= 1
        return self.memo[key]

    # ------------------------------------------------------------ statements
    def _stmt(self, stmt: ast.Stmt, env: dict) -> int:
        if isinstance(stmt, ast.Chain):
            return sum(self._element(item.element, env) for item in stmt.items)
        if isinstance(stmt, ast.Bind):
            return self._stmt(stmt.chain, env)
        if isinstance(stmt, ast.Output):
            return self._stmt(stmt.chain, env) if stmt.chain else 0
        if isinstance(stmt, ast.Input):
            return 1
        if isinstance(stmt, ast.If):
            return self._if(stmt, env)
        return 0

    def _if(self, stmt: ast.If, env: dict) -> int:
        options = []
        for cond, body in stmt.branches:
            value = _value(cond, env)
            if value is _UNKNOWN:
                options.append(self.body(body, env))
            elif value:
                return min(options + [self.body(body, env)])
        return min(options + [self.body(stmt.otherwise, env) if stmt.otherwise else 0])

    def _element(self, el: ast.Element, env: dict) -> int:
        if isinstance(el, ast.Call):
            return self._call(el, env)
        if isinstance(el, ast.Group):
            return self.body(el.body, env)
        if isinstance(el, ast.Repeat):
            count = _value(el.count, env)
            known = isinstance(count, int) and not isinstance(count, bool)
            return self.repeat(count, el.body, env, el.var) if known else 0
        if isinstance(el, ast.Residual):
            return 3 + self.body(el.body, env)  # the add node and its two edges
        return 0  # refs, dense links: nothing certain

    def _call(self, el: ast.Call, env: dict) -> int:
        block = self.program.blocks.get(el.name)
        if block is None:  # an op: its node and the edge from the chain; a merge: node + branches
            if el.branches is None:
                return 2
            return 1 + len(el.branches) + sum(self._stmt(b, env) for b in el.branches)
        try:
            evaluator = Evaluator(env)
            positional = [evaluator.eval(e) for e in el.args.positional]
            keywords = {k: evaluator.eval(v) for k, v, _ in el.args.keywords}
            bound = bind_block_args(block, positional, keywords, evaluator, caller=None)
        except NetdslError:
            return 1  # arguments that read `in`: the call itself still costs its unit
        return 1 + self.block(block, bound)


def _value(expr: ast.Expr, env: dict):
    try:
        return Evaluator(env).eval(expr)
    except NetdslError:
        return _UNKNOWN
