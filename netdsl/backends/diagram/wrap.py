"""Long diagrams wrapped into columns (rows, for left-to-right layouts).

A chain such as DenseNet-121 laid out top to bottom is many times taller than
wide (906 × 7714 px).  ``plan_wrap`` estimates the picture's length along the
flow and its breadth across it from the drawn nodes' label sizes, picks the
number of columns that brings it nearest a square, and cuts the ranks where
the fewest tensors (ideally one) and clusters cross.  The DOT writer then
frees the edges across each cut (``constraint=false``), so every column starts
at the top, and orders the columns' first nodes side by side.

Everything is estimated from the diagram itself, so the DOT text stays a pure
function of the file and options (no layout pass by ``dot``).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .model import Diagram, category

CHAR_IN = 0.075  # inches per label character (Helvetica 10 pt)
LINE_IN = 0.17  # inches per label line
RANK_IN = 0.42  # rank separation plus an edge label
MAX_COLUMNS = 6
WRAP_BELOW = 0.27  # wrap a picture whose breadth is less than this share of its length
TARGET = 0.75  # the aspect (breadth / length) wrapping aims at


@dataclass(frozen=True)
class WrapPlan:
    """Edges freed from ranking, and each column's first node (left to right)."""

    breaks: frozenset = frozenset()
    heads: tuple = ()
    columns: int = 1


@dataclass
class _Sizes:
    rank: dict = field(default_factory=dict)  # drawn node key → rank
    width: dict = field(default_factory=dict)  # key → inches
    height: dict = field(default_factory=dict)


def plan_wrap(diagram: Diagram, labels: dict[str, str], columns=None) -> WrapPlan:
    """How to wrap; ``labels``: each drawn node's label (HTML-like or plain),
    ``columns``: a number to force, 1 for none, None to choose."""
    edges = [(e.src, e.dst) for e in diagram.edges if not e.repeat]
    sizes = _sizes(diagram, edges, labels)
    if not sizes.rank:
        return WrapPlan()
    if columns is None:  # left-to-right layouts are long by choice: wrap them only when asked
        flow_down = diagram.options.rankdir in ("TB", "BT")
        columns = _best_columns(diagram, sizes, legend_width(diagram)) if flow_down else 1
    total = max(sizes.rank.values()) + 1
    columns = max(1, min(columns, MAX_COLUMNS, total // 4 or 1))
    if columns == 1:
        return WrapPlan()
    cuts = _cuts(diagram, edges, sizes.rank, total, columns)
    breaks = frozenset((a, b) for a, b in edges if any(sizes.rank[a] < t <= sizes.rank[b] for t in cuts))
    firsts = [next(d.key for d in diagram.nodes if sizes.rank[d.key] == t) for t in cuts]
    return WrapPlan(breaks, (diagram.nodes[0].key, *firsts), len(cuts) + 1)


def _sizes(diagram: Diagram, edges, labels: dict[str, str]) -> _Sizes:
    sizes = _Sizes()
    preds: dict[str, list[str]] = {d.key: [] for d in diagram.nodes}
    for a, b in edges:
        preds[b].append(a)
    for d in diagram.nodes:  # creation order is a topological order of the drawn edges
        sizes.rank[d.key] = max((sizes.rank.get(p, 0) + 1 for p in preds[d.key]), default=0)
        lines = _text_lines(labels.get(d.key, d.key))
        sizes.width[d.key] = max(len(line) for line in lines) * CHAR_IN + 0.3
        sizes.height[d.key] = len(lines) * LINE_IN + 0.15
    return sizes


def _text_lines(label: str) -> list[str]:
    lines = re.split(r"<br[^>]*>", label)
    return [re.sub(r"<[^>]+>", "", line) for line in lines] or [""]


def _best_columns(diagram: Diagram, sizes: _Sizes, least: float = 0.0) -> int:
    """1 unless the picture's aspect (breadth / length) is below WRAP_BELOW; then
    the count of columns whose wrapped picture's aspect is nearest TARGET."""
    length, breadth = extent(diagram, sizes)
    aspect = lambda k: max(k * breadth, least) * k / length
    if aspect(1) >= WRAP_BELOW:
        return 1
    return min(range(1, MAX_COLUMNS + 1), key=lambda k: abs(math.log(aspect(k) / TARGET)))


def extent(diagram: Diagram, sizes: _Sizes) -> tuple[float, float]:
    """Estimated (length along the flow, breadth across it) in inches."""
    flow_down = diagram.options.rankdir in ("TB", "BT")
    along = sizes.height if flow_down else sizes.width
    across = sizes.width if flow_down else sizes.height
    by_rank: dict[int, list[str]] = {}
    for key, r in sizes.rank.items():
        by_rank.setdefault(r, []).append(key)
    length = sum(max(along[k] for k in keys) + (RANK_IN if flow_down else 0.6) for keys in by_rank.values())
    breadth = max(sum(across[k] + 0.3 for k in keys) for keys in by_rank.values())
    breadth += 0.3 * max((len(p) for p in diagram.clusters), default=0)  # cluster margins
    if flow_down:  # titles stand beside their cluster's first node, nested ones side by side
        breadth += max((sum(_title_width(diagram, p[:k]) for k in range(1, len(p) + 1))
                        for p in diagram.clusters), default=0.0)
    return length, breadth


def legend_width(diagram: Diagram) -> float:
    """The legend's row of categories, and the title: the least breadth of a TB picture."""
    if not diagram.options.legend or diagram.options.rankdir not in ("TB", "BT"):
        return 0.0
    kinds = {category(diagram.graph, d.nodes[0]) for d in diagram.nodes if d.kind in ("op", "merge")}
    return sum(len(k) * CHAR_IN + 0.25 for k in kinds) + 1.0


def _title_width(diagram: Diagram, path: tuple) -> float:
    info = diagram.tree.infos.get(path)
    text = f"{info.block}({', '.join(map(str, info.args))})" if info is not None and info.block else ""
    return max(len(".".join(path)), len(text)) * CHAR_IN + 0.2


def _cuts(diagram: Diagram, edges, rank: dict, total: int, columns: int) -> list[int]:
    """Ranks where a new column starts: near equal shares, where the fewest
    sources (tensors) and then the fewest clusters cross."""
    crossing, split = _crossings(edges, rank, total), _splits(diagram, rank, total)
    cuts = []
    for j in range(1, columns):
        target = round(total * j / columns)
        window = range(max(2, target - total // (3 * columns)), min(total - 1, target + total // (3 * columns)) + 1)
        best = min(window, key=lambda t: (crossing[t], split[t], abs(t - target)))
        if not cuts or best > cuts[-1]:
            cuts.append(best)
    return cuts


def _covering(intervals, total: int) -> list[int]:
    """For each rank t, how many half-open intervals (lo, hi] contain it: one
    pass over a difference array, so a 25,000-layer chain wraps in linear time."""
    delta = [0] * (total + 2)
    for lo, hi in intervals:
        if hi > lo:
            delta[lo + 1] += 1
            delta[hi + 1] -= 1
    counts, running = [], 0
    for step in delta:
        running += step
        counts.append(running)
    return counts


def _crossings(edges, rank: dict, total: int) -> list[int]:
    """Sources (tensors) with an edge that crosses a cut before rank t."""
    reach: dict[str, int] = {}
    for a, b in edges:
        reach[a] = max(reach.get(a, rank[a]), rank[b])
    return _covering(((rank[a], hi) for a, hi in reach.items()), total)


def _splits(diagram: Diagram, rank: dict, total: int) -> list[int]:
    """Clusters with drawn nodes on both sides of a cut before rank t."""
    spans: dict[tuple, list[int]] = {}
    for d in diagram.nodes:
        r = rank[d.key]
        for k in range(1, len(d.cluster) + 1):
            lo_hi = spans.setdefault(d.cluster[:k], [r, r])
            lo_hi[0], lo_hi[1] = min(lo_hi[0], r), max(lo_hi[1], r)
    return _covering(((lo, hi) for lo, hi in spans.values()), total)
