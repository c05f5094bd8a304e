"""Memory of one training step: weights, optimizer state, and the peak of
saved activations plus gradients while backward runs.

Forward leaves behind what autograd saved (saved.py says what each op keeps).
Backward then visits the nodes in reverse creation order, as torch's engine
does: each node needs the gradient of its output, makes gradients for its
inputs and its parameters, and afterwards its output gradient and the
tensors only it still needed are freed.  The estimate is the most bytes alive
at any point of that walk, plus weights, buffers and optimizer state.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ops.registry import is_weight_view
from .memory import DTYPE_BYTES, FLOAT_DTYPES, VIEW_OPS, storages
from .saved import saved_by

#: Optimizer state per trainable parameter, in parameter-sized tensors.
OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "rmsprop": 1, "adagrad": 1, "adam": 2, "adamw": 2}


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes of one training step (forward, backward, optimizer step)."""

    params: int
    buffers: int
    grads: int                # parameter gradients, once backward is done
    optimizer: int
    saved_activations: int    # what autograd keeps when forward ends
    backward_peak: int        # most saved activations + gradients alive during backward

    @property
    def total(self) -> int:
        return self.params + self.buffers + self.optimizer + self.backward_peak


@dataclass
class Autograd:
    """What a training forward leaves for backward (bytes for the whole batch)."""

    needs_grad: dict[int, bool] = field(default_factory=dict)
    savers: dict[int, list[int]] = field(default_factory=dict)   # storage → nodes that saved it
    own: dict[int, int] = field(default_factory=dict)            # node → bytes of its extra tensors

    def saved_bytes(self, graph, batch: int) -> int:
        nodes = graph.nodes
        return sum(nodes[s]["output_bytes"] for s in self.savers) * batch + sum(self.own.values())


def record_forward(graph, batch: int, width: int, device: str = "cuda",
                   inputs_require_grad: bool = False) -> Autograd:
    """Which outputs need gradients, and what each node saves for backward."""
    owner = storages(graph, training=True)
    nodes = graph.nodes
    record = Autograd()
    for node, data in nodes(data=True):
        if data["op"] == "input":
            record.needs_grad[node] = inputs_require_grad and data.get("dtype") in FLOAT_DTYPES
            continue
        reads = () if is_weight_view(data["op"]) else data["inputs"]
        needs = data["trainable_params"] > 0 or any(record.needs_grad[i] for i in reads)
        record.needs_grad[node] = needs
        if needs:
            saved = saved_by(node, data, [nodes[i]["shape"] for i in data["inputs"]], width, device,
                             record.needs_grad.__getitem__)
            for value in saved.values:
                if is_weight_view(nodes[value]["op"]):  # weight memory, not an activation
                    continue
                record.savers.setdefault(owner[value], []).append(node)
            record.own[node] = saved.per_sample * batch + saved.fixed
    return record


def saved_activation_bytes(graph, batch: int, width: int = 4, device: str = "cuda",
                           inputs_require_grad: bool = False) -> int:
    """Bytes of the tensors autograd keeps from forward to backward for a batch."""
    return record_forward(graph, batch, width, device, inputs_require_grad).saved_bytes(graph, batch)


def training_memory(graph, batch: int = 1, dtype: str = "float32", optimizer: str = "adam",
                    device: str = "cuda") -> TrainingMemory:
    """Estimate the peak memory of a training step; needs ``output_bytes`` for ``dtype``."""
    width = DTYPE_BYTES[dtype]
    nodes = [data for _, data in graph.nodes(data=True)]
    trainable = sum(d["trainable_params"] for d in nodes)
    record = record_forward(graph, batch, width, device)
    return TrainingMemory(
        params=sum(d["params"] for d in nodes) * width,
        buffers=sum(d["buffers"] for d in nodes) * width,
        grads=trainable * width,
        optimizer=OPTIMIZER_STATES[optimizer] * trainable * width,
        saved_activations=record.saved_bytes(graph, batch),
        backward_peak=backward_peak(graph, record, batch, width))


def backward_peak(graph, record: Autograd, batch: int, width: int) -> int:
    """Most bytes of saved tensors and gradients alive at once during backward."""
    nodes = graph.nodes
    freed_after = _last_readers(record)
    live = record.saved_bytes(graph, batch)
    grads = {o["node"]: nodes[o["node"]]["output_bytes"] * batch for o in graph.graph["outputs"]
             if record.needs_grad[o["node"]]}
    grad_bytes = sum(grads.values())
    peak = live + grad_bytes
    for node in range(max(nodes), -1, -1):
        if node not in grads or nodes[node]["op"] == "input":
            continue
        data = nodes[node]
        out_grad = grads.pop(node)
        wanted = [i for i in dict.fromkeys(data["inputs"]) if record.needs_grad[i] and i not in grads]
        if data["op"] in VIEW_OPS:  # the same buffer, reshaped
            grads.update((i, out_grad) for i in wanted)
            grad_bytes -= 0 if wanted else out_grad
            continue
        made = {i: nodes[i]["output_bytes"] * batch for i in wanted}
        grad_bytes += sum(made.values()) + data["trainable_params"] * width
        peak = max(peak, live + grad_bytes)
        grad_bytes -= out_grad
        grads.update(made)
        live -= sum(nodes[s]["output_bytes"] for s in freed_after.get(node, ())) * batch
        live -= record.own[node]  # recorded for every node that needs a gradient
    return peak


def _last_readers(record: Autograd) -> dict[int, list[int]]:
    """Node → saved storages freed once its backward is done (the earliest saver
    runs its backward last)."""
    freed_after: dict[int, list[int]] = {}
    for storage, savers in record.savers.items():
        freed_after.setdefault(min(savers), []).append(storage)
    return freed_after
