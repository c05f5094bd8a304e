"""What a diagram shows: which IR nodes become which drawn nodes, clusters and
edges at a given level of detail.  Independent of Graphviz syntax.

Three reductions keep big networks readable:
- depth: scopes deeper than ``depth`` levels are drawn as one box each;
- folding: consecutive sibling scopes with the same structure are drawn once,
  labelled ×N (a first instance that differs, e.g. strided, stays separate);
- rails: a dense block's concats are drawn as a chain, not n² edges;
and ``compact`` fuses conv → norm → activation chains into one node.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from ...ir import Graph

from ...errors import UsageError
from ...ops.registry import get_op
from .fold import FoldRun, Path, ScopeTree, find_fold_runs, fold_map, rail_inputs

RANKDIRS = ("TB", "LR", "BT", "RL")
FUSE_HEADS = ("conv", "linear", "norm")
FUSE_TAILS = ("norm", "activation")


@dataclass(frozen=True)
class DiagramOptions:
    """How much to draw and how; every field has a command-line option."""

    depth: Optional[int] = None  # None: the deepest level that fits in max_nodes
    compact: bool = False
    rankdir: str = "TB"
    highlight: Optional[str] = None  # e.g. "macs>1e8"
    heat: Optional[str] = None  # a metric, e.g. "macs"
    macs: bool = False  # show MACs next to parameters
    fold: bool = True
    max_nodes: int = 64  # auto depth: the deepest level drawing at most this many nodes
    legend: bool = True
    columns: Optional[int] = None  # wrap into this many columns (rows when LR); None: about square; 1: never

    def __post_init__(self):
        if self.rankdir not in RANKDIRS:
            raise UsageError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {self.rankdir!r}")
        if self.depth is not None and self.depth < 0:
            raise UsageError(f"depth must be 0 or more, got {self.depth}")
        if self.columns is not None and self.columns < 1:
            raise UsageError(f"columns must be 1 or more, got {self.columns}")


@dataclass
class DrawnNode:
    """One node of the picture: an op (or fused chain), a merge, an input, or a box."""

    key: str
    kind: str  # "op", "merge", "input", "box"
    nodes: list[int]  # IR nodes of the first instance, in order (a fused chain: several)
    cluster: Path  # scope path of the innermost cluster around it
    scope: Path = ()  # box: the collapsed scope
    run: Optional[FoldRun] = None  # a folded box, or a merge between folded instances
    represented: list[int] = field(default_factory=list)  # every IR node drawn here
    title: Optional[str] = None  # the scope name of a lone node lifted out of its cluster


@dataclass(frozen=True)
class DrawnEdge:
    src: str
    dst: str
    shape: tuple  # the tensor flowing along it
    repeat: int = 0  # > 0: the dashed loop of a folded run, labelled ×repeat
    labelled: bool = True  # False: same shape as the edge into src, same cluster


@dataclass
class Diagram:
    graph: Graph
    options: DiagramOptions
    depth: int
    nodes: list[DrawnNode]
    edges: list[DrawnEdge]
    clusters: dict[Path, Optional[FoldRun]]  # expanded scopes, outer first
    tree: ScopeTree


def build_diagram(graph: Graph, options: DiagramOptions = DiagramOptions()) -> Diagram:
    tree = ScopeTree(graph)
    inputs = rail_inputs(graph)
    runs = find_fold_runs(tree, inputs) if options.fold else []
    if options.depth is not None:
        return _draw(graph, options, tree, inputs, runs, min(options.depth, tree.max_level()))
    for depth in range(tree.max_level(), 0, -1):
        diagram = _draw(graph, options, tree, inputs, runs, depth)
        if len(diagram.nodes) <= options.max_nodes:
            return diagram
    return _draw(graph, options, tree, inputs, runs, 0)


def _draw(graph, options, tree, inputs, runs, depth) -> Diagram:
    folded = fold_map(runs)
    owner, nodes = _assign_owners(graph, tree, folded, runs, depth)
    if options.compact:
        _fuse_chains(graph, inputs, owner, nodes)
    edges = _edges(graph, inputs, owner, folded, nodes) + _loops(runs, owner)
    kept = [d for d in nodes.values() if d.nodes]
    _lift_lone_nodes(kept, {run.representative for run in runs})
    clusters = _clusters(kept, runs)
    return Diagram(graph, options, depth, kept, edges, clusters, tree)


def _assign_owners(graph, tree, folded, runs, depth):
    """IR node → key of the drawn node showing it; drawn nodes in creation order."""
    run_of = {run.representative: run for run in runs}
    gap_run = {n: run for run in runs for n in run.segments[0] if graph.nodes[n]["scope"] == run.parent}
    owner: dict[int, str] = {}
    nodes: dict[str, DrawnNode] = {}
    for n in sorted(graph.nodes):
        rep = folded.get(n, n)
        scope = graph.nodes[rep]["scope"]
        if len(scope) > depth:
            box = scope[:depth + 1]
            key = f"b{tree.under[box][0]}"
            if key not in nodes:
                nodes[key] = DrawnNode(key, "box", list(tree.under[box]), box[:-1], box, run_of.get(box))
        else:
            key = f"n{rep}"
            if key not in nodes:
                nodes[key] = DrawnNode(key, _kind(graph.nodes[rep]["op"]), [rep], scope, run=gap_run.get(rep))
        nodes[key].represented.append(n)
        owner[n] = key
    return owner, nodes


def _kind(op: str) -> str:
    if op == "input":
        return "input"
    spec = get_op(op)
    return "merge" if spec is not None and spec.category == "merge" else "op"


def category(graph: Graph, n: int) -> str:
    op = graph.nodes[n]["op"]
    spec = get_op(op)
    return "input" if op == "input" else (spec.category if spec else "other")


def _fuse_chains(graph, inputs, owner, nodes) -> None:
    """conv → batchnorm → relu (each the only reader of the one before) → one node."""
    readers: dict[str, set[str]] = {}
    for n in sorted(graph.nodes):
        for i in inputs[n]:
            if owner[i] != owner[n]:
                readers.setdefault(owner[i], set()).add(owner[n])
    for head in list(nodes.values()):
        if head.kind != "op" or not head.nodes or category(graph, head.nodes[0]) not in FUSE_HEADS:
            continue
        tail = head
        while len(readers.get(tail.key, ())) == 1:
            nxt = nodes[next(iter(readers[tail.key]))]
            if not _fusable(graph, inputs, nxt, head):
                break
            _absorb(head, nxt, owner)
            tail = nxt
        readers[head.key] = readers.get(tail.key, set())


def _fusable(graph, inputs, nxt: DrawnNode, head: DrawnNode) -> bool:
    return (nxt.kind == "op" and nxt.cluster == head.cluster and len(nxt.nodes) == 1
            and category(graph, nxt.nodes[0]) in FUSE_TAILS and len(inputs[nxt.nodes[0]]) == 1)


def _absorb(head: DrawnNode, other: DrawnNode, owner: dict[int, str]) -> None:
    head.nodes += other.nodes
    head.represented += other.represented
    for n in other.represented:
        owner[n] = head.key
    other.nodes, other.represented = [], []


def _edges(graph, inputs, owner, folded, nodes) -> list[DrawnEdge]:
    """One edge per pair of drawn nodes, carrying the first tensor that makes it;
    its shape is shown unless the source passes its input's shape on unchanged
    or another edge from the same source already shows it.
    Edges that folding turns backwards (instance k+1 reading instance k) are dropped:
    the run's loop edge stands for them."""
    order = {key: i for i, key in enumerate(dict.fromkeys(owner[n] for n in sorted(owner)))}
    seen: dict[tuple[str, str], DrawnEdge] = {}
    told: set[tuple] = set()  # (source, shape) that one edge already names (fan-out)
    for n in sorted(graph.nodes):
        for i in inputs[n]:
            src, dst = owner[i], owner[n]
            if src == dst or (src, dst) in seen:
                continue
            if (i in folded or n in folded) and order[src] >= order[dst]:
                continue
            shape = graph.nodes[i]["shape"]
            quiet = (src, shape) in told or (_keeps_shape(graph, nodes[src], shape)
                                             and nodes[src].cluster == nodes[dst].cluster)
            seen[(src, dst)] = DrawnEdge(src, dst, shape, labelled=not quiet)
            if not quiet:
                told.add((src, shape))
    return list(seen.values())


def _keeps_shape(graph, drawn: DrawnNode, shape: tuple) -> bool:
    """An op or merge whose output has the shape of its input: its shape label would repeat."""
    if drawn.kind not in ("op", "merge"):
        return False
    first = graph.nodes[drawn.nodes[0]]["inputs"]
    return bool(first) and graph.nodes[first[0]]["shape"] == shape


def _loops(runs: list[FoldRun], owner) -> list[DrawnEdge]:
    """A dashed edge from a folded run's exit back to its entry, labelled ×N."""
    loops = []
    for run in runs:
        entry, exit_ = owner[run.segments[0][0]], owner[run.segments[0][-1]]
        if entry != exit_:
            loops.append(DrawnEdge(exit_, entry, (), repeat=run.count))
    return loops


def _lift_lone_nodes(nodes: list[DrawnNode], folded: set[Path]) -> None:
    """A cluster around a single op (a compact conv-bn-relu block) or box is noise:
    draw the node alone, an op titled with the scope's name.  Innermost first.
    Lifting a node never makes another liftable, so one pass with counts kept up to
    date reaches the fixed point (linear in nodes × depth)."""
    count = Counter(d.cluster for d in nodes)
    below = Counter(d.cluster[:k] for d in nodes for k in range(len(d.cluster)))  # nodes strictly inside
    for d in nodes:
        while d.kind in ("op", "box") and d.cluster and count[d.cluster] == 1 \
                and not below[d.cluster] and d.cluster not in folded:
            path = d.cluster
            if d.kind == "op":  # a box already names its scope
                d.title = d.title or (None if path[-1].isdigit() else path[-1])
            d.cluster = path[:-1]
            count[path] -= 1
            count[d.cluster] += 1
            below[d.cluster] -= 1


def _clusters(nodes: list[DrawnNode], runs: list[FoldRun]) -> dict[Path, Optional[FoldRun]]:
    run_of = {run.representative: run for run in runs}
    paths: set[Path] = set()
    for d in nodes:
        paths.update(d.cluster[:k] for k in range(1, len(d.cluster) + 1))
    first: dict[Path, int] = {}  # the first drawn node inside each path
    for i, d in enumerate(nodes):
        for k in range(1, len(d.cluster) + 1):
            first.setdefault(d.cluster[:k], i)
    return {p: run_of.get(p) for p in sorted(paths, key=lambda p: (len(p), first[p]))}
