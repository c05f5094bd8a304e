"""Parameter and buffer counts per node (trainable, frozen, buffers)."""
from __future__ import annotations

from math import prod

from ..ops.registry import get_op


def count_params(graph) -> None:
    """Write ``weights`` (name → shape), ``params``, ``trainable_params`` and ``buffers``."""
    for _, data in graph.nodes(data=True):
        if data["op"] == "input":
            data.update(weights={}, buffer_shapes={}, params=0, trainable_params=0, buffers=0)
            continue
        spec = get_op(data["op"])
        ins = [graph.nodes[i]["shape"] for i in data["inputs"]]
        weights = spec.weights(data["args"], ins)
        buffers = spec.buffers(data["args"], ins)
        # a tied weight is counted where it is owned (analysis/ties.py)
        n = sum(prod(s) for k, s in weights.items() if not (k == "weight" and "tied_to" in data))
        data.update(weights=weights, buffer_shapes=buffers, params=n,
                    trainable_params=n if data["args"].get("trainable", True) else 0,
                    buffers=sum(prod(s) for s in buffers.values()))
