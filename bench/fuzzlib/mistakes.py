"""Deliberate structural mistakes: each program that gets one must be rejected
with a located netdsl error (never a crash)."""
from __future__ import annotations

import random

from .items import Input, Text

_STATEMENTS = [
    "@nope", "forward: relu", "_hidden: relu", "reul", "repeat -1 { relu }", "repeat 2.5 { relu }",
    "inline relu", "residual(1) { relu }", "concat { flatten\n identity }", "relu { identity }",
    "add", "input x9: [0, 3]", "input x9: [4] int8", "input [3, -1]", "expect params == 1",
    "expect nonsense > 0", "expect rf >= 1", "output o99(1) = relu", "output o99(scale=2) = relu",
    "if nope { relu }", "if in.channels > 1 { relu }", "repeat 10 ** 400 { relu }",
    "repeat 100_000_000 { identity }", "conv(2 ** 40, 1)", "linear(2 ** 62)", "dup: relu\ndup: relu",
    "{" * 70 + " relu " + "}" * 70, "relu(inplace=" + "not " * 300 + "true)",
    'scale("' + "a" * 70_000 + '")', "network inner { input [3] }", "block inner { relu }",
    "x = ", "@x @x", "concat(dim=5) { identity\n identity }", "chunk(2, 5)", "reshape((7, -1, -1))",
    "permute((0, 0))", "transpose(0, 9)", "relu(", "scale(1e400 - 1e400)", "l{1/0}: relu",
    "l{\"a b\"}: relu", "repeat 3 as in { relu }", "output out = relu", "x = relu\nx: relu",
    "input x: [3, 8, 8]", "embedding(10, 4)", "dense { }", "dense repeat 2 { flatten }",
    "mul { identity\n flatten }", "matmul { identity\n identity }", "identity(1)",
    "conv(4, 3, init=kaiming_normal(bogus=1))", "conv(4, 3, init=relu)", "linear(4, init=5)",
]

_BLOCKS = [
    ("block rec(n: int = 3) { relu rec(n) }", ["rec()", "rec(n=1)"]),
    ("block typed(c: int) { conv(c, 1) }", ['typed("x")', "typed()", "typed(1, 2)", "typed(d=1)",
                                            "typed(2.5)", "typed(true)", "inline typed(4)\ninline typed(4)"]),
    ("block bad(c: int = d) { relu }", ["bad()"]),
    ("block kinds(c: nosuchtype) { relu }", ["kinds(1)"]),
    ("block needs_in { conv(in.height, 1) }", ["needs_in"]),
    ("block twice(a, a) { relu }", ["twice(1, 2)"]),
    ("block out_in_block { output o = relu }", ["out_in_block"]),
    ("block input_in_block { input [3] }", ["input_in_block"]),
]

_PRELUDES = ['import "nope.net"', 'import "/etc/hostname"', 'import "../../../../etc/passwd"',
             'import ""', "block relu { identity }", "network other { input [3]\n relu }"]


def add_mistake(gen, stmts: list, rng: random.Random) -> list:
    """Insert one mistake: a statement, a bad block and its call, or top-level text."""
    roll = rng.random()
    if roll < 0.6:
        text = rng.choice(_STATEMENTS)
    elif roll < 0.9:
        block, calls = rng.choice(_BLOCKS)
        gen.prelude.append(block)
        text = rng.choice(calls)
    else:
        gen.prelude.append(rng.choice(_PRELUDES))
        return stmts
    first_after_inputs = sum(1 for s in stmts if isinstance(s, Input))
    where = rng.randint(0, len(stmts)) if rng.random() < 0.1 else rng.randint(first_after_inputs, len(stmts))
    return stmts[:where] + [Text(text)] + stmts[where:]
