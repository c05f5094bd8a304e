"""Activation memory: bytes of each output, the forward peak of live tensors
(train_memory.py estimates a training step).  docs/analysis.md says what is
counted.

Views (flatten, reshape, permute, chunk ...) and in-place ops share their
input's storage, so they cost nothing and are never counted twice.
"""
from __future__ import annotations

from math import prod

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int64": 8, "int32": 4, "bool": 1}
FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")

#: Ops whose output is a view of their input (no new storage).
VIEW_OPS = frozenset({"identity", "flatten", "reshape", "permute", "transpose", "chunk"})
#: Ops that return their input unchanged in eval mode.
EVAL_IDENTITY_CATEGORIES = frozenset({"dropout"})
#: Ops whose torch module takes inplace= but never runs in place (nn.AlphaDropout).
INPLACE_IGNORED = frozenset({"alpha_dropout"})


def runs_inplace(data: dict) -> bool:
    """Whether the node's torch module overwrites its input (inplace=true, honoured)."""
    op = data["op"]
    return op != "input" and op not in INPLACE_IGNORED and data["args"].get("inplace", False) is True


def activation_sizes(graph, dtype: str = "float32") -> None:
    """Write ``output_bytes`` (one sample) on every node; integer inputs keep their dtype."""
    width = DTYPE_BYTES[dtype]
    for _, data in graph.nodes(data=True):
        own = data.get("dtype") if data["op"] == "input" else None
        data["output_bytes"] = prod(data["shape"]) * DTYPE_BYTES.get(own, width)


def storages(graph, training: bool) -> dict[int, int]:
    """Node → the node whose allocation holds its output (itself unless a view or in-place)."""
    from ..ops.registry import get_op
    owner: dict[int, int] = {}
    for node, data in graph.nodes(data=True):
        op = data["op"]
        aliased = op in VIEW_OPS or runs_inplace(data)
        if not training and op != "input" and get_op(op).category in EVAL_IDENTITY_CATEGORIES:
            aliased = True
        owner[node] = owner[data["inputs"][0]] if aliased and data["inputs"] else node
    return owner


def forward_peak(graph, batch: int = 1) -> int:
    """Most activation bytes alive at once during an inference forward pass.

    A tensor lives from the op that makes it until its last reader has run;
    network outputs live to the end.  Needs ``output_bytes``.
    """
    owner = storages(graph, training=False)
    last_use = _last_uses(graph, owner)
    order = sorted(graph.nodes)
    freed_at: dict[int, list[int]] = {}
    for storage, step in last_use.items():
        freed_at.setdefault(step, []).append(storage)
    live = peak = 0
    for node in order:
        if owner[node] == node:
            live += graph.nodes[node]["output_bytes"] * batch
            peak = max(peak, live)
        for storage in freed_at.get(node, ()):
            live -= graph.nodes[storage]["output_bytes"] * batch
    return peak


def _last_uses(graph, owner: dict[int, int]) -> dict[int, int]:
    """Storage → the last node that reads it (or the end, for network outputs)."""
    end = max(graph.nodes) + 1
    last = {node: node for node in owner if owner[node] == node}
    for node, data in graph.nodes(data=True):
        for source in data["inputs"]:
            last[owner[source]] = max(last[owner[source]], node)
    for out in graph.graph["outputs"]:
        last[owner[out["node"]]] = end
    return last


def activation_bytes(graph, batch: int = 1) -> int:
    """Bytes of every layer output that gets its own storage (views and in-place ops
    share their input's), network inputs excluded.  Needs ``output_bytes``."""
    owner = storages(graph, training=False)
    return batch * sum(data["output_bytes"] for node, data in graph.nodes(data=True)
                       if owner[node] == node and data["op"] != "input")
