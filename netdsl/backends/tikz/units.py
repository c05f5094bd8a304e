"""What the block figure draws: one unit per drawn node of the diagram model
(``diagram.model.build_diagram`` with compact chains), each a 3-d box sized by
its output shape, a merge ball, or a collapsed block.

Sizes are in centimetres.  Spatial sizes (height, and depth drawn obliquely) and
channels (width along the data flow) are log-scaled and clamped, so a 224-pixel
map is not a hundred times taller than a 7-pixel one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from ..diagram.model import Diagram, DrawnNode, category
from ..diagram.style import (CATEGORY_COLOURS, OTHER, _name, contents, describe_op, extra_children,
                             scope_title)

#: Merge ops drawn as balls, and the symbol in each.
BALL_SYMBOLS = {"add": "+", "mul": r"\times", "concat": "C"}
#: Categories that name a block's colour, in order of preference.
TELLING = ("conv", "linear", "recurrent", "attention", "embedding", "pool")
DEPTH_X, DEPTH_Y = 0.42, 0.3  # the oblique depth axis, per cm of depth
BALL = 0.42  # ball diameter


def spatial(v: float) -> float:
    """Height (or depth) of a spatial extent of ``v`` pixels."""
    return min(max(0.3 * math.log2(v + 1), 0.35), 2.8)


def channels(c: float) -> float:
    """Width (along the flow) of ``c`` channels."""
    return min(max(0.11 * math.log2(c + 1), 0.12), 1.3)


def box_size(shape: tuple) -> tuple[float, float, float]:
    """(width, height, depth) of a tensor of ``shape`` (batch excluded):
    [C, H, W] and [C, D, H, W] by channels and the last two axes; [C, L] a
    sequence; [F] a vector, a thin tall bar."""
    if len(shape) >= 3:
        return channels(shape[0]), spatial(shape[-2]), spatial(shape[-1])
    if len(shape) == 2:
        return channels(shape[0]), spatial(shape[1]), 0.3
    if len(shape) == 1:
        return 0.22, spatial(shape[0]), 0.22
    return 0.3, 0.3, 0.3


@dataclass
class Unit:
    """One drawn thing of the figure, with its place once laid out."""

    key: str
    kind: str  # "input", "op", "merge", "box"
    lines: list[str]  # label lines, plain text: title, what, shape
    shape: tuple
    colour: str  # a category name (a colour defined in the preamble)
    band: Optional[str] = None  # a fused activation: its colour, drawn as a band at the right
    count: int = 1  # a folded run: instances
    post: Optional[str] = None  # a box with a merge inside: the ball drawn after it ("+", "C")
    group: tuple = ()  # the scope braced under the figure (top-level, or the next level)
    w: float = 0.0
    h: float = 0.0
    d: float = 0.0
    rank: int = 0
    lane: int = 0
    x: float = 0.0  # left of the front face
    y: float = 0.0  # centre of the front face
    extra: dict = field(default_factory=dict)

    @property
    def is_ball(self) -> bool:
        return self.kind == "merge"

    @property
    def dx(self) -> float:
        return self.d * DEPTH_X

    @property
    def dy(self) -> float:
        return self.d * DEPTH_Y

    @property
    def body(self) -> float:
        """Horizontal extent of the drawing, the ball after a box included."""
        return self.w + self.dx + (BALL + 0.3 if self.post else 0.0)

    @property
    def top(self) -> float:
        return self.y + self.h / 2 + self.dy + (0.12 * min(self.count, 3) if self.count > 1 else 0)

    @property
    def out_x(self) -> float:
        """Where edges leave: the right of the front face, or of the ball after it."""
        return self.x + self.body if self.post else self.x + self.w

    @property
    def ball_x(self) -> float:
        """Centre of the ball: the unit itself, or the one after a box."""
        return self.x + self.w / 2 if self.is_ball else self.x + self.w + self.dx + 0.3 + BALL / 2


def group_level(diagram: Diagram) -> int:
    """Braces name top-level scopes, or the next level when one scope holds everything."""
    tops = {path[:1] for path in map(_outer, diagram.nodes) if path}
    return 1 if len(tops) != 1 else 2


def _outer(d: DrawnNode) -> tuple:
    """The scope around a drawn node: a box's parent, or an op's cluster."""
    return d.scope[:-1] if d.kind == "box" else d.cluster


def make_unit(diagram: Diagram, d: DrawnNode, level: int = 1) -> Unit:
    graph = diagram.graph
    last = d.nodes[-1]
    shape = tuple(graph.nodes[last]["shape"])
    group = _outer(d)[:level] if len(_outer(d)) >= level else ()
    if d.kind == "merge":
        op = graph.nodes[d.nodes[0]]["op"]
        unit = Unit(d.key, "merge", [], shape, "merge", post=None, group=group)
        unit.extra["symbol"] = BALL_SYMBOLS.get(op, op[:1])
        unit.w = unit.h = BALL
        return unit
    if d.kind == "box":
        unit = _box_unit(diagram, d, shape, group)
    elif d.kind == "input":
        data = graph.nodes[d.nodes[0]]
        unit = Unit(d.key, "input", [f"input {data.get('label', '')}".strip(), "", _shape_text(shape)],
                    shape, "input", group=group)
    else:
        unit = _op_unit(graph, d, shape, group)
    unit.w, unit.h, unit.d = box_size(shape)
    return unit


def _op_unit(graph, d: DrawnNode, shape: tuple, group: str) -> Unit:
    head = d.nodes[0]
    what = describe_op(graph, head)
    title = d.title or _name(graph, head) or what
    cats = [category(graph, n) for n in d.nodes]
    band = "activation" if len(d.nodes) > 1 and "activation" in cats[1:] else None
    lines = [title, "" if title == what else what, _shape_text(shape)]
    return Unit(d.key, "op", lines, shape, _colour(cats[0]), band=band, group=group)


def _box_unit(diagram: Diagram, d: DrawnNode, shape: tuple, group: str) -> Unit:
    graph, tree = diagram.graph, diagram.tree
    info = tree.infos.get(d.scope)
    title = scope_title(d.scope, group if _relative_ok(d.scope, group) else (), d.run)
    what = info.block if info is not None and info.block else contents(graph, d.nodes)
    ops = [graph.nodes[n]["op"] for n in d.nodes]
    merges = [op for op in ops if op in BALL_SYMBOLS]
    cats = [category(graph, n) for n in d.nodes]
    colour = next((_colour(c) for c in TELLING if c in cats), "block")
    unit = Unit(d.key, "box", [title, what, _shape_text(shape)], shape, colour,
                count=d.run.count if d.run else 1, group=group)
    unit.extra["shortcut"] = ", ".join(extra_children(tree, d.scope))  # a projection: "downsample"
    if merges:
        unit.post = BALL_SYMBOLS[merges[-1]]
        last = [n for n in d.nodes if graph.nodes[n]["op"] == merges[-1]][-1]
        unit.extra["branches"] = len(graph.nodes[last]["inputs"]) if merges[-1] == "concat" else 0
    return unit


def _relative_ok(scope: tuple, group: tuple) -> bool:
    """Name a box below its group unless that leaves only a number."""
    return bool(group) and len(scope) > len(group) and not scope[len(group)].isdigit()


def _colour(cat: str) -> str:
    return cat if cat in CATEGORY_COLOURS else "other"


def _shape_text(shape: tuple) -> str:
    return "×".join(str(v) for v in shape) if shape else "scalar"


def colour_table() -> dict[str, str]:
    """Preamble colours: every category, a collapsed block, and unknown categories."""
    colours = {name: hex_.lstrip("#") for name, hex_ in CATEGORY_COLOURS.items()}
    colours.update(input="F2F3F4", block="D6EAF8", other=OTHER.lstrip("#"))
    return colours
