"""Where the block figure puts things: data flows left to right.

- **Ranks**: a unit's column is its longest path from an input.
- **Lanes**: the main path (from the main output back through the deepest
  inputs) runs along lane 0; other branches (inception, shortcuts with a
  projection, auxiliary heads) take the nearest free lane below it.
- **Edges**: neighbours on a lane get a straight arrow; an edge skipping
  columns on the main lane is an arc above the units it passes (a residual
  shortcut, a dense rail), stacked when several overlap; an edge between lanes
  bends once, running along the outer lane.
"""
from __future__ import annotations

from dataclasses import dataclass

from .units import BALL, Unit

GAP = 0.5  # between columns
LABEL_LINE = 0.26  # height of one label line
CHAR = (0.125, 0.1, 0.1)  # estimated width of a character per label line (bold, tiny, tiny)
ARC_STEP = 0.28  # between stacked arcs


@dataclass
class Route:
    """An edge as a polyline; ``skip``: an arc over the units it passes (rounded corners)."""

    points: list[tuple[float, float]]
    skip: bool = False


def place(units: list[Unit], edges: list[tuple[str, str]], main: str) -> list[Route]:
    """Give every unit its rank, lane, x and y; return the edges' routes."""
    by_key = {u.key: u for u in units}
    preds: dict[str, list[str]] = {u.key: [] for u in units}
    for src, dst in edges:
        preds[dst].append(src)
    _ranks(units, preds)
    _lanes(units, preds, by_key, main)
    _coordinates(units)
    return _routes(units, edges, by_key)


def _ranks(units: list[Unit], preds: dict[str, list[str]]) -> None:
    rank: dict[str, int] = {}
    pending = list(units)
    while pending:  # units come in creation order, so this settles in one or two passes
        later = []
        for u in pending:
            if all(p in rank for p in preds[u.key]):
                rank[u.key] = u.rank = max((rank[p] + 1 for p in preds[u.key]), default=0)
            else:
                later.append(u)
        if len(later) == len(pending):  # a cycle cannot happen in the IR; be safe anyway
            for u in later:
                rank[u.key] = u.rank = 0
            break
        pending = later


def _lanes(units: list[Unit], preds, by_key: dict[str, Unit], main: str) -> None:
    spine, key = set(), main
    while key is not None:
        spine.add(key)
        key = max(preds[key], key=lambda p: by_key[p].rank, default=None)
    taken = {(by_key[k].rank, 0) for k in spine}
    for u in units:
        if u.key in spine:
            continue
        wanted = min((by_key[p].lane for p in preds[u.key] if p not in spine), default=-1)
        lane = min(wanted, -1)
        while (u.rank, lane) in taken:
            lane -= 1
        u.lane = lane
        taken.add((u.rank, lane))


def _coordinates(units: list[Unit]) -> None:
    columns: dict[int, float] = {}
    for u in units:
        columns[u.rank] = max(columns.get(u.rank, 0.0), u.body, label_width(u))
    left, x = {}, 0.0
    for rank in sorted(columns):
        left[rank] = x
        x += columns[rank] + GAP
    lane_y = _lane_heights(units)
    for u in units:
        u.y = lane_y[u.lane]
        u.x = left[u.rank] + (columns[u.rank] - u.body) / 2


def _lane_heights(units: list[Unit]) -> dict[int, float]:
    """Lane 0 at y = 0, each lower lane just clear of the one above and its labels."""
    above: dict[int, float] = {}
    below: dict[int, float] = {}
    for u in units:
        above[u.lane] = max(above.get(u.lane, 0.0), u.top - u.y)
        below[u.lane] = max(below.get(u.lane, 0.0), u.h / 2 + 3 * LABEL_LINE + 0.1)
    heights, y = {0: 0.0}, 0.0
    for lane in range(-1, min(above, default=0) - 1, -1):
        y -= below.get(lane + 1, 0.0) + above.get(lane, 0.0) + 0.5
        heights[lane] = y
    return heights


def label_width(u: Unit) -> float:
    return max((len(line) * CHAR[min(i, 2)] for i, line in enumerate(u.lines)), default=0.0)


def _routes(units: list[Unit], edges, by_key) -> list[Route]:
    routes, skips = [], []
    for src, dst in edges:
        a, b = by_key[src], by_key[dst]
        if a.lane == b.lane and b.rank - a.rank > 1:
            skips.append((a, b))
        elif a.lane == b.lane:
            routes.append(Route([(a.out_x, a.y), (_in_x(b), b.y)]))
        else:
            routes.append(Route(_bend(a, b)))
    return routes + _arcs(units, skips)


def _in_x(b: Unit) -> float:
    """Where an edge arrives: the left of the front face (a ball's left)."""
    return b.x


def _bend(a: Unit, b: Unit) -> list[tuple[float, float]]:
    """Between lanes: along the outer lane, one vertical step near the inner end."""
    if abs(b.lane) >= abs(a.lane):  # fork: step down right after a, run along b's lane
        x = a.out_x + GAP / 2
        return [(a.out_x, a.y), (x, a.y), (x, b.y), (_in_x(b), b.y)]
    if b.is_ball:  # join into a ball: run along a's lane, then straight into it
        edge = b.y - BALL / 2 if a.y < b.y else b.y + BALL / 2
        return [(a.out_x, a.y), (b.x + BALL / 2, a.y), (b.x + BALL / 2, edge)]
    x = b.x - GAP / 2
    return [(a.out_x, a.y), (x, a.y), (x, b.y), (_in_x(b), b.y)]


def _arcs(units: list[Unit], skips: list[tuple[Unit, Unit]]) -> list[Route]:
    """Edges over several columns of one lane: up from just after the source,
    across above everything in between, down into the target; shorter arcs lower."""
    placed: list[tuple[float, float, float]] = []  # (x0, x1, height)
    routes = []
    up = lambda u: u.lane == 0  # the main lane's arcs go above, the others' below
    for a, b in sorted(skips, key=lambda s: (s[1].rank - s[0].rank, s[0].rank)):
        x0, x1 = a.out_x + GAP / 2, (b.ball_x if b.is_ball else b.x + b.w / 2)
        between = [u for u in units if u.lane == a.lane and a.rank <= u.rank <= b.rank]
        sign = 1 if up(a) else -1
        base = max(_extent(u, sign) for u in between) + 0.3
        for px0, px1, height in placed:
            if px0 < x1 and x0 < px1 and sign * height >= base - 1e-9:
                base = max(base, sign * height + ARC_STEP)
        height = sign * base
        placed.append((x0, x1, height))
        end = b.y + sign * (BALL / 2 if b.is_ball else b.h / 2 + b.dy / 2)
        routes.append(Route([(a.out_x, a.y), (x0, a.y), (x0, height), (x1, height), (x1, end)], skip=True))
    return routes


def _extent(u: Unit, sign: int) -> float:
    """How far the unit reaches above (sign 1) or below (sign -1) its lane, labels included."""
    if sign > 0:
        return u.top
    return -(u.y - u.h / 2 - 3 * LABEL_LINE)
