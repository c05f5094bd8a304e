"""Structure the diagram backend reads off the IR: the scope tree, dense-block
rails, and runs of repeated sibling blocks to fold into one drawn instance.

Pure functions of the graph; nothing here knows about Graphviz.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ...ir import Graph

Path = tuple[str, ...]


@dataclass(frozen=True)
class FoldRun:
    """Consecutive sibling scopes with the same structure, drawn once as ``×count``.

    ``segments[j]`` lists the IR nodes of ``scopes[j]`` followed by the parent's
    unnamed merge nodes right after it (a dense block's concats); position k of
    every segment plays the same part, so ``segments[0]`` stands for them all.
    """

    parent: Path
    scopes: tuple[Path, ...]
    segments: tuple[tuple[int, ...], ...]

    @property
    def count(self) -> int:
        return len(self.scopes)

    @property
    def representative(self) -> Path:
        return self.scopes[0]


class ScopeTree:
    """Scope paths of the graph, the IR nodes under each, in creation order."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.infos = graph.graph.get("scopes", {})
        self.under: dict[Path, list[int]] = {}
        for n in sorted(graph.nodes):
            scope = graph.nodes[n]["scope"]
            for k in range(len(scope) + 1):
                self.under.setdefault(scope[:k], []).append(n)

    def is_scope(self, path: Path) -> bool:
        return path in self.under

    def children(self, path: Path) -> list[str]:
        """Child names in the parent's module order; scopes and leaves alike."""
        info = self.infos.get(path)
        if info is not None:
            return list(info.children)
        found = {p[len(path)]: self.under[p][0] for p in self.under
                 if len(p) == len(path) + 1 and p[:len(path)] == path}
        return sorted(found, key=found.get)

    def child_scopes(self, path: Path) -> list[Path]:
        return [path + (c,) for c in self.children(path) if self.is_scope(path + (c,))]

    def max_level(self) -> int:
        return max(len(p) for p in self.under)


def rail_inputs(graph: Graph) -> dict[int, list[int]]:
    """Each node's inputs as drawn: a concat that repeats the previous concat's
    inputs and adds some (a dense block) reads that concat instead, so a dense
    block of n layers draws a rail of n edges rather than n²/2."""
    drawn = {n: list(graph.nodes[n]["inputs"]) for n in graph.nodes}
    previous: dict[tuple, int] = {}  # (scope, dim) → last concat seen there
    for n in sorted(graph.nodes):
        data = graph.nodes[n]
        if data["op"] != "concat":
            continue
        key = (data["scope"], data["args"].get("dim", 0))
        before = previous.get(key)
        if before is not None and _extends(graph.nodes[before]["inputs"], data["inputs"]):
            drawn[n] = [before] + list(data["inputs"][len(graph.nodes[before]["inputs"]):])
        previous[key] = n
    return drawn


def _extends(prefix: list[int], inputs: list[int]) -> bool:
    return len(inputs) > len(prefix) and list(inputs[:len(prefix)]) == list(prefix)


def find_fold_runs(tree: ScopeTree, inputs: dict[int, list[int]]) -> list[FoldRun]:
    """Every foldable run, outermost first; runs inside a folded-away instance are skipped."""
    runs: list[FoldRun] = []
    pending = [()]
    while pending:
        path = pending.pop(0)
        hidden: set[Path] = set()
        for run in _runs_among_children(tree, inputs, path):
            runs.append(run)
            hidden.update(run.scopes[1:])
        pending += [c for c in tree.child_scopes(path) if c not in hidden]
    return runs


def _runs_among_children(tree: ScopeTree, inputs, parent: Path) -> Iterator[FoldRun]:
    group: list[tuple[Path, tuple[int, ...], tuple]] = []
    for name in tree.children(parent) + [None]:
        path = parent + (name,) if name is not None else None
        entry = None
        if path is not None and tree.is_scope(path):
            segment = _segment(tree, parent, path)
            entry = (path, segment, _signature(tree, inputs, path, segment))
        if group and (entry is None or entry[2] != group[-1][2]):
            if len(group) > 1:
                yield FoldRun(parent, tuple(g[0] for g in group), tuple(g[1] for g in group))
            group = []
        if entry is not None:
            group.append(entry)


def _segment(tree: ScopeTree, parent: Path, path: Path) -> tuple[int, ...]:
    """The scope's nodes plus the parent's unnamed merge nodes that directly follow it."""
    nodes = list(tree.under[path])
    graph = tree.graph
    nxt = nodes[-1] + 1
    while nxt in graph and graph.nodes[nxt]["scope"] == parent and graph.nodes[nxt]["name"] is None \
            and graph.nodes[nxt]["op"] != "input":
        nodes.append(nxt)
        nxt += 1
    return tuple(nodes)


def _signature(tree: ScopeTree, inputs, path: Path, segment: tuple[int, ...]) -> tuple:
    """Structure of a segment: ops, arguments, names, relative scopes and internal
    wiring; shapes are left out so DenseNet layers of growing width still match."""
    local = {n: i for i, n in enumerate(segment)}
    info = tree.infos.get(path)
    parts: list[tuple] = [(info.block if info else None,)]
    for n in segment:
        data = tree.graph.nodes[n]
        relative = data["scope"][len(path):] if data["scope"][:len(path)] == path else ("<gap>",)
        wiring = tuple(local.get(i, -1) for i in inputs[n])
        parts.append((relative, data["name"], data["op"], repr(sorted(data["args"].items())), wiring))
    return tuple(parts)


def fold_map(runs: list[FoldRun]) -> dict[int, int]:
    """IR node → the node of the run's first instance that stands for it."""
    direct: dict[int, int] = {}
    for run in runs:
        first = run.segments[0]
        for segment in run.segments[1:]:
            direct.update(zip(segment, first))
    resolved = {}
    for n in direct:
        target = direct[n]
        while target in direct:  # a run nested inside the representative folds further
            target = direct[target]
        resolved[n] = target
    return resolved
