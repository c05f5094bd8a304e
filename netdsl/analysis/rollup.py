"""Roll-ups: the per-node numbers summed per scope (block, stage, group).

A node's name components are its module path (``layer1.0.conv1``), or its
scope plus its op for functional nodes (``layer1.0.add``).  ``rows(graph,
depth)`` cuts the tree at a depth: nodes at most ``depth`` components deep
stay rows of their own, deeper ones fold into their ancestor scope's row.
"""
from __future__ import annotations

from collections import Counter
from typing import Optional

SUMMED = ("params", "trainable_params", "buffers", "macs", "flops", "macs_once", "flops_once", "output_bytes")


class Row:
    """One line of a summary: a node, or a scope with everything inside it."""

    __slots__ = ("name", "kind", "op", "nodes")

    def __init__(self, name: str, kind: str, op: str):
        self.name = name
        self.kind = kind  # "input", "layer" or "block"
        self.op = op      # op name, or what the scope instantiates
        self.nodes: list[int] = []

    @property
    def output(self) -> int:
        """The node whose value the row shows: the scope's last node."""
        return self.nodes[-1]

    def totals(self, graph) -> dict:
        """The per-node numbers (SUMMED) added up over the row's nodes."""
        nodes = graph.nodes
        if len(self.nodes) == 1:
            data = nodes[self.nodes[0]]
            return {key: data[key] for key in SUMMED}
        datas = [nodes[n] for n in self.nodes]
        return {key: sum(d[key] for d in datas) for key in SUMMED}


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
        row.nodes.append(node)
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
            row.nodes.append(node)
    return list(found.values())
