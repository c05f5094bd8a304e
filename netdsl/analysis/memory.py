"""Activation memory: bytes of each output, the forward peak of live tensors,
and a training-step estimate (parameters, gradients, optimizer state, the
activations autograd saves for backward).  docs/analysis.md says what is
counted and how it compares with ``torch.cuda.max_memory_allocated``.

Views (flatten, reshape, permute, chunk ...) and in-place ops share their
input's storage, so they cost nothing and are never counted twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod

from .saved import saved_by

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int64": 8, "int32": 4}
FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")

#: Optimizer state per trainable parameter, in parameter-sized tensors.
OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "rmsprop": 1, "adagrad": 1, "adam": 2, "adamw": 2}

#: Ops whose output is a view of their input (no new storage).
VIEW_OPS = frozenset({"identity", "flatten", "reshape", "permute", "transpose", "chunk"})
#: Ops that return their input unchanged in eval mode.
EVAL_IDENTITY_CATEGORIES = frozenset({"dropout"})


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
        aliased = op in VIEW_OPS or (op != "input" and data["args"].get("inplace", False))
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


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes of one training step (forward + backward + optimizer step)."""

    params: int
    buffers: int
    grads: int
    optimizer: int
    saved_activations: int
    backward_transient: int

    @property
    def total(self) -> int:
        return (self.params + self.buffers + self.grads + self.optimizer
                + self.saved_activations + self.backward_transient)


def training_memory(graph, batch: int = 1, dtype: str = "float32", optimizer: str = "adam",
                    device: str = "cuda") -> TrainingMemory:
    """Estimate the peak memory of a training step; needs ``output_bytes`` for ``dtype``."""
    width = DTYPE_BYTES[dtype]
    nodes = [data for _, data in graph.nodes(data=True)]
    trainable = sum(d["trainable_params"] for d in nodes)
    return TrainingMemory(
        params=sum(d["params"] for d in nodes) * width,
        buffers=sum(d["buffers"] for d in nodes) * width,
        grads=trainable * width,
        optimizer=OPTIMIZER_STATES[optimizer] * trainable * width,
        saved_activations=saved_activation_bytes(graph, batch, width, device),
        backward_transient=_backward_transient(graph) * batch)


def saved_activation_bytes(graph, batch: int, width: int = 4, device: str = "cuda",
                           inputs_require_grad: bool = False) -> int:
    """Bytes of the tensors autograd keeps from forward to backward for a batch."""
    owner = storages(graph, training=True)
    needs_grad: dict[int, bool] = {}
    kept: set[int] = set()
    per_sample = fixed = 0
    for node, data in graph.nodes(data=True):
        if data["op"] == "input":
            needs_grad[node] = inputs_require_grad and data.get("dtype") in FLOAT_DTYPES
            continue
        needs_grad[node] = data["trainable_params"] > 0 or any(needs_grad[i] for i in data["inputs"])
        if needs_grad[node]:
            ins = [graph.nodes[i]["shape"] for i in data["inputs"]]
            saved = saved_by(node, data, ins, width, device)
            kept.update(owner[v] for v in saved.values)
            per_sample += saved.per_sample
            fixed += saved.fixed
    values = sum(graph.nodes[s]["output_bytes"] for s in kept)
    return (values + per_sample) * batch + fixed


def _backward_transient(graph) -> int:
    """Gradient buffers of the largest layer, alive while its backward runs."""
    nodes = graph.nodes
    return max((d["output_bytes"] + sum(nodes[i]["output_bytes"] for i in d["inputs"])
                for _, d in nodes(data=True) if d["op"] != "input"), default=0)


def activation_bytes(graph, batch: int = 1) -> int:
    """Bytes of every layer output that gets its own storage (views and in-place ops
    share their input's), network inputs excluded.  Needs ``output_bytes``."""
    owner = storages(graph, training=False)
    return batch * sum(data["output_bytes"] for node, data in graph.nodes(data=True)
                       if owner[node] == node and data["op"] != "input")
