"""Feature maps for downstream heads: ``net.features(["layer2", "layer3"])``.

timm's ``features_only`` contract, computed statically: each name is a module
path of the network (a scope such as ``layer3`` or one layer such as
``features.6``); its feature map is that module's output.  The result is a
``Network`` over the part of the graph those maps need (the classifier is
dropped), whose outputs are the maps in the order asked, and whose
``feature_info`` gives each map's channels and reduction (input size / map
size), the numbers detection and segmentation necks are built from.
Torch is not imported here.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

from .errors import ArgumentError, UnknownName, suggest
from .ir import Graph


@dataclass(frozen=True)
class FeatureInfo:
    """One feature map: its module path, channels, shape and reduction (stride)."""

    module: str
    channels: int
    shape: tuple
    reduction: int
    node: int


def feature_info(ir: Graph, names: Sequence[str]) -> list[FeatureInfo]:
    """The feature map of each module path in ``names`` (an ``UnknownName`` with
    a did-you-mean for a path the network does not have)."""
    if isinstance(names, str) or not names:
        raise ArgumentError("features= takes a non-empty list of module paths, e.g. ['layer2', 'layer3']")
    paths, torch_leaves = _module_paths(ir), None
    infos = []
    for name in names:
        if name in paths:
            infos.append(_info(ir, name, _output_node(ir, name)))
            continue
        torch_leaves = torch_leaves if torch_leaves is not None else _torch_leaf_paths(ir)
        if name not in torch_leaves:
            known = paths | set(torch_leaves)
            guess = suggest(name, known)
            raise UnknownName(f"the network has no module '{name}' to take features from",
                              hint=f"did you mean '{guess}'?" if guess else "module paths: " + ", ".join(sorted(known)[:12]))
        infos.append(_info(ir, name, torch_leaves[name]))
    return infos


def _torch_leaf_paths(ir: Graph) -> dict[str, int]:
    """The torch module path of each layer → its node: unnamed parameter-free layers
    are ``relu``, ``relu_1`` ... in torch where the IR numbers them (``layer1.0.2``)."""
    from .backends.pytorch.lowering import layer_paths, lower  # plans only: no torch
    return {path: node for node, path in layer_paths(lower(ir)).items()}


def prune_to_features(ir: Graph, infos: Sequence[FeatureInfo]) -> Graph:
    """A copy of ``ir`` holding only what the feature maps need, with those maps
    as its outputs (named by their module paths)."""
    keep = _ancestors(ir, [info.node for info in infos])
    out = Graph()
    out.graph.update(ir.graph)
    out.graph.update(outputs=[{"name": i.module, "node": i.node, "weight": 1.0} for i in infos],
                     expects=[], features=list(infos))
    for node in ir:  # insertion order is topological: keep it
        if node in keep:
            out.add_node(node, **_without_inplace_on_taps(ir, node, {i.node for i in infos}))
    for node in out:
        for source in ir.nodes[node]["inputs"]:
            out.add_edge(source, node)
    out.graph["scopes"] = _kept_scopes(ir, keep)
    return out


def _kept_scopes(ir: Graph, keep: set[int]) -> dict:
    """The scope tree less the modules no kept node belongs to (the head)."""
    kept: set[tuple] = set()
    for node in keep:
        attrs = ir.nodes[node]
        scope = tuple(attrs.get("scope") or ())
        kept.update(scope[:k] for k in range(len(scope) + 1))
        if attrs.get("name") is not None:
            kept.add(scope + (attrs["name"],))
    return {path: replace(info, children=[c for c in info.children if path + (c,) in kept])
            for path, info in ir.graph["scopes"].items() if path in kept}


def _module_paths(ir: Graph) -> set[str]:
    paths = set()
    for _, attrs in ir.nodes(data=True):
        scope = tuple(attrs.get("scope") or ())
        paths.update(".".join(scope[:k]) for k in range(1, len(scope) + 1))
        if attrs.get("path"):
            paths.add(attrs["path"])
    return paths


def _inside(attrs: dict, name: str) -> bool:
    parts = tuple(name.split("."))
    return attrs.get("path") == name or tuple(attrs.get("scope") or ())[:len(parts)] == parts


def _output_node(ir: Graph, name: str) -> int:
    """The one node of module ``name`` whose value leaves it (read outside it, or
    a network output); the module's last node when nothing reads it further."""
    members = [n for n, attrs in ir.nodes(data=True) if _inside(attrs, name)]
    inside = set(members)
    outputs = {o["node"] for o in ir.graph.get("outputs", [])}
    leaving = [n for n in members if n in outputs or any(s not in inside for s in ir.successors(n))]
    if len(set(leaving)) > 1:
        raise ArgumentError(f"module '{name}' has {len(leaving)} outputs; features need one "
                            "(name a module inside it)")
    return leaving[0] if leaving else members[-1]


def _info(ir: Graph, name: str, node: int) -> FeatureInfo:
    shape = tuple(ir.nodes[node]["shape"])
    first = ir.graph["inputs"][0]["node"] if ir.graph.get("inputs") else 0
    source = tuple(ir.nodes[first]["shape"])
    if len(shape) < 2 or len(shape) != len(source):
        raise ArgumentError(f"module '{name}' gives {list(shape)}, not a feature map "
                            f"[C, H, ...] of the input's rank ({list(source)})")
    return FeatureInfo(name, shape[0], shape, max(1, round(source[1] / shape[1])), node)


def _ancestors(ir: Graph, nodes: Sequence[int]) -> set[int]:
    seen, stack = set(), list(nodes)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(ir.predecessors(node))
    return seen


def _without_inplace_on_taps(ir: Graph, node: int, taps: set[int]) -> dict:
    """An in-place layer reading a returned feature map would overwrite it: not in place."""
    attrs = dict(ir.nodes[node])
    if attrs.get("args", {}).get("inplace") and set(attrs.get("inputs", ())) & taps:
        attrs["args"] = {**attrs["args"], "inplace": False}
    return attrs
