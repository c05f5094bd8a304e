"""Tied weights: ``linear(vocab, bias=false, tie="wte")`` uses the weight of the
layer at module path ``wte`` (GPT-2's output head reading the token embedding).

One ``nn.Parameter`` then has two names, as in torch after
``head.weight = wte.weight``: both keys stay in the state_dict, and the weight
is counted, initialised and trained once, where it is owned.  Checked at load:
the path must name a layer that owns a weight of the same shape."""
from __future__ import annotations

from ..errors import ArgumentError, ShapeError, UnknownName, suggest
from ..ops.registry import get_op


def _weight_shape(graph, node):
    data = graph.nodes[node]
    ins = [graph.nodes[i]["shape"] for i in data["inputs"]]
    return get_op(data["op"]).weights(data["args"], ins).get("weight")


def check_ties(graph) -> None:
    """Write ``tied_to`` (the owner's node) on every layer with ``tie=``, or raise."""
    by_path = {d["path"]: n for n, d in graph.nodes(data=True) if d.get("path")}
    for node, data in graph.nodes(data=True):
        target = data["args"].get("tie")
        if target is None:
            continue
        owner = by_path.get(target)
        if owner is None:
            guess = suggest(target, [p for p in by_path if _weight_shape(graph, by_path[p]) is not None])
            raise UnknownName(f"tie: no layer at module path '{target}'", data["span"],
                              hint=f"did you mean '{guess}'?" if guess else "give the owner's path from the "
                              "network, as in its state_dict keys without '.weight'")
        _check_pair(graph, node, owner, target)
        data["tied_to"] = owner


def _check_pair(graph, node: int, owner: int, target: str) -> None:
    data, theirs = graph.nodes[node], graph.nodes[owner]
    if owner == node:
        raise ArgumentError("tie: a layer cannot share its own weight", data["span"])
    if theirs["args"].get("tie") is not None:
        raise ArgumentError(f"tie: '{target}' borrows its weight too; tie to the layer that owns it "
                            f"('{theirs['args']['tie']}')", data["span"])
    if data["args"].get("init") is not None:
        raise ArgumentError("tie: a shared weight is initialised by its owner; give init= to "
                            f"'{target}' instead", data["span"])
    mine, owned = _weight_shape(graph, node), _weight_shape(graph, owner)
    if owned is None:
        raise ArgumentError(f"tie: '{target}' ({theirs['op']}) has no weight to share", data["span"])
    if mine != owned:
        raise ShapeError(f"tie: this {data['op']}'s weight is {list(mine)}, '{target}'s is {list(owned)}",
                         data["span"], hint="tied weights need one shape: linear(vocab) on [T, dim] "
                         "matches embedding(vocab, dim)")
