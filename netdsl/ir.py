"""The IR graph: op nodes with attribute dicts, edges from each node's inputs.

``Graph`` offers the part of ``networkx.DiGraph``'s interface netdsl uses
(``nodes``, ``graph``, ``add_node``, ``add_edge``, ``successors`` ...) with
the same meaning, so code reads as it would on a networkx graph; importing
networkx costs more than a whole ``netdsl summarize`` of ResNet-152, so the
real thing is built only on request: ``graph.to_networkx()``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Iterator


class NodeView(Mapping):
    """``graph.nodes``: ``nodes[n]`` is n's attribute dict; ``nodes(data=True)``
    yields ``(n, dict)`` pairs, as networkx's NodeView does."""

    __slots__ = ("_nodes",)

    def __init__(self, nodes: dict):
        self._nodes = nodes

    def __getitem__(self, node: int) -> dict:
        return self._nodes[node]

    def __iter__(self) -> Iterator[int]:
        return iter(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node) -> bool:
        return node in self._nodes

    def __call__(self, data: bool = False):
        return self._nodes.items() if data else self._nodes.keys()


class Graph:
    """A directed graph with integer nodes kept in insertion order."""

    def __init__(self):
        self.graph: dict[str, Any] = {}
        self._nodes: dict[int, dict] = {}
        self._succ: dict[int, list[int]] = {}
        self._pred: dict[int, list[int]] = {}
        self._edge_set: set[tuple[int, int]] = set()  # O(1) duplicate check (dense blocks)
        self.nodes = NodeView(self._nodes)

    def add_node(self, node: int, **attrs) -> None:
        if node not in self._nodes:
            self._nodes[node], self._succ[node], self._pred[node] = {}, [], []
        self._nodes[node].update(attrs)

    def add_edge(self, source: int, target: int) -> None:
        for node in (source, target):
            self.add_node(node)
        if (source, target) not in self._edge_set:
            self._edge_set.add((source, target))
            self._succ[source].append(target)
            self._pred[target].append(source)

    def successors(self, node: int) -> Iterator[int]:
        return iter(self._succ[node])

    def predecessors(self, node: int) -> Iterator[int]:
        return iter(self._pred[node])

    @property
    def edges(self) -> list[tuple[int, int]]:
        return [(u, v) for u, targets in self._succ.items() for v in targets]

    def number_of_nodes(self) -> int:
        return len(self._nodes)

    def number_of_edges(self) -> int:
        return len(self._edge_set)

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[int]:
        return iter(self._nodes)

    def __contains__(self, node) -> bool:
        return node in self._nodes

    def to_networkx(self):
        """A ``networkx.DiGraph`` snapshot: same nodes, edges and attributes, for
        networkx's algorithms."""
        import networkx as nx
        out = nx.DiGraph()
        out.graph.update(self.graph)
        out.add_nodes_from(self._nodes.items())
        out.add_edges_from(self.edges)
        return out
