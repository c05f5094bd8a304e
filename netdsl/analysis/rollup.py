"""Roll-ups: the per-node numbers summed per scope (block, stage, group).

A node's name components are its module path (``layer1.0.conv1``), or its
scope plus its op for functional nodes (``layer1.0.add``).  ``rows(graph,
depth)`` cuts the tree at a depth: nodes at most ``depth`` components deep
stay rows of their own, deeper ones fold into their ancestor scope's row.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

SUMMED = ("params", "trainable_params", "buffers", "macs", "flops", "output_bytes")


@dataclass
class Row:
    """One line of a summary: a node, or a scope with everything inside it."""

    name: str
    kind: str                 # "input", "layer" or "block"
    op: str                   # op name, or the block a scope instantiates
    nodes: list[int] = field(default_factory=list)
    totals: dict = field(default_factory=lambda: dict.fromkeys(SUMMED, 0))

    @property
    def output(self) -> int:
        """The node whose value the row shows: the scope's last node."""
        return self.nodes[-1]

    def add(self, node: int, data: dict) -> None:
        self.nodes.append(node)
        totals = self.totals
        for key in SUMMED:
            totals[key] += data[key]


def components(data: dict) -> tuple[str, ...]:
    """Name components of a node (see the module docstring)."""
    if data["op"] == "input":
        return (f"input {data['label']}",)
    if data["name"] is not None:
        return (*data["scope"], data["name"])
    return (*data["scope"], data["op"])


def rows(graph, depth: Optional[int] = None) -> list[Row]:
    """Rows in creation order, folding nodes deeper than ``depth`` into scopes."""
    scopes = graph.graph["scopes"]
    out: list[Row] = []
    open_rows: dict[tuple, Row] = {}
    for node in sorted(graph.nodes):
        data = graph.nodes[node]
        parts = components(data)
        if depth is None or len(parts) <= depth:
            row = Row(".".join(parts), "input" if data["op"] == "input" else "layer", data["op"])
            out.append(row)
        else:
            key = parts[:depth]
            row = open_rows.get(key)
            if row is None:
                row = open_rows[key] = Row(".".join(key), "block", scope_label(scopes, key))
                out.append(row)
        row.add(node, data)
    return out


def scope_label(scopes: dict, path: tuple) -> str:
    """What a scope is: its block, ``n×block`` for a repeat of one block, or ``group``."""
    info = scopes.get(path)
    if info is None:
        return "group"
    if info.block:
        return info.block
    kinds = Counter(scopes[path + (c,)].block for c in info.children if path + (c,) in scopes)
    if len(kinds) == 1 and None not in kinds and len(info.children) == sum(kinds.values()):
        (block, count), = kinds.items()
        return f"{count}×{block}"
    return "group"


def scope_rows(graph) -> list[Row]:
    """One row per scope (every depth), in the order scopes first appear."""
    scopes = graph.graph["scopes"]
    found: dict[tuple, Row] = {}
    for node in sorted(graph.nodes):
        data = graph.nodes[node]
        scope = data["scope"]
        for cut in range(1, len(scope) + 1):
            key = scope[:cut]
            row = found.get(key)
            if row is None:
                row = found[key] = Row(".".join(key), "block", scope_label(scopes, key))
            row.add(node, data)
    return list(found.values())
