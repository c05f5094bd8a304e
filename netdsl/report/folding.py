"""How deep a summary table is folded when nobody said: the deepest depth that
keeps it readable on one screen (``MAX_ROWS`` rows)."""
from __future__ import annotations

from typing import Optional

from ..analysis.rollup import components

#: A summary with more rows than this is folded by default (terminal, Markdown, LaTeX).
MAX_ROWS = 60


def row_count(graph, depth: Optional[int]) -> int:
    """Rows of ``rollup.rows(graph, depth)``, counted without building them."""
    count, folded = 0, set()
    for node in graph.nodes:
        parts = components(graph.nodes[node])
        if depth is None or len(parts) <= depth:
            count += 1
        else:
            folded.add(parts[:depth])
    return count + len(folded)


def readable_depth(graph, max_rows: int = MAX_ROWS) -> Optional[int]:
    """None (every layer) when that fits in ``max_rows``; else the deepest depth
    that does, or 1 when none does."""
    if row_count(graph, None) <= max_rows:
        return None
    deepest = max(len(components(graph.nodes[n])) for n in graph.nodes)
    for depth in range(deepest - 1, 0, -1):
        if row_count(graph, depth) <= max_rows:
            return depth
    return 1
