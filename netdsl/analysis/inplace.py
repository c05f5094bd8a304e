"""Where ``inplace=true`` is safe: the one rule for every op that takes it.

An in-place op (relu, relu6, elu, leaky_relu, selu, silu, hardswish,
hardsigmoid, mish, the dropouts but alpha_dropout, whose torch module ignores
the flag) overwrites the tensor it reads.  That is
invisible only when nothing else still needs the old values, so the op is
refused when the tensor it overwrites

- is a network input (the caller still holds it, and autograd refuses to
  overwrite a leaf that requires grad),
- is a network output, or is read by another op (which would see the new
  values, or whose backward would fail: it saved the old ones),
- is the output of an op whose backward reuses its own output (sigmoid,
  tanh, softmax, relu, maxout, an in-place leaky_relu ...: saved.keeps_output).

The tensor overwritten is the op's input and, through ops whose output may
share their input's storage (views such as flatten, reshape, transpose,
permute and chunk; identity; dropout, which returns its input in eval mode;
other in-place ops), each tensor it is a view of, up to the op that allocated
the storage: each must pass the three tests.  torchvision's uses (conv or
linear, batchnorm, then relu(inplace=True); relu after a residual add) pass.

Runs once the graph is complete (netdsl.network loads call ``check_inplace``),
before any other pass; it imports no torch.
"""
from __future__ import annotations

from typing import Optional

from ..errors import ArgumentError
from ..ops.registry import get_op, is_weight_view
from .memory import EVAL_IDENTITY_CATEGORIES, VIEW_OPS, runs_inplace
from .saved import keeps_output


def shares_input(data: dict) -> bool:
    """Whether the node's output may be (a view of) its input's storage: views,
    in-place ops, and dropout (its input itself in eval mode or with p = 0)."""
    op = data["op"]
    if op == "input":
        return False
    return op in VIEW_OPS or get_op(op).category in EVAL_IDENTITY_CATEGORIES or runs_inplace(data)


def check_inplace(graph) -> None:
    """Raise a located ArgumentError at the first in-place op whose overwrite would show."""
    readers = _readers(graph)
    for node in sorted(graph.nodes):
        data = graph.nodes[node]
        if runs_inplace(data):
            problem = _conflict(graph, node, readers)
            if problem is not None:
                raise ArgumentError(f"{data['op']}(inplace=true) would overwrite {problem}",
                                    data["span"], trace=data.get("trace", ()),
                                    hint="drop inplace=true here (it only saves memory)")


def _readers(graph) -> dict[int, list]:
    """Node → who reads its output: consumer node ids, and ("output", name) for network outputs."""
    readers: dict[int, list] = {node: [] for node in graph.nodes}
    for node in sorted(graph.nodes):
        for source in graph.nodes[node]["inputs"]:
            readers[source].append(node)
    for out in graph.graph.get("outputs", ()):
        readers[out["node"]].append(("output", out["name"]))
    return readers


def _conflict(graph, node: int, readers) -> Optional[str]:
    """Why overwriting ``node``'s input shows, or None: walks from the input back
    through storage-sharing ops to the op that allocated the storage."""
    reader, value, through = node, graph.nodes[node]["inputs"][0], []
    while True:
        data = graph.nodes[value]
        what = _describe(value, data, through)
        if data["op"] == "input":
            return f"{what}, which the caller still holds"
        if is_weight_view(data["op"]):
            return f"{what}, a learned tensor's view shared by every sample"
        other = next((r for r in readers[value] if r != reader), None)
        if other is not None:
            return f"{what}, which {_reader(graph, other)} also reads"
        if keeps_output(value, data):
            return f"{what}, which autograd keeps for {data['op']}'s backward"
        if not shares_input(data):
            return None
        through.append(data["op"])
        reader, value = value, data["inputs"][0]


def _describe(value: int, data: dict, through: list) -> str:
    if data["op"] == "input":
        text = f"the network input '{data.get('label', 'x')}'"
    else:
        text = f"the output of {data['op']}{_at(data)}"
    return text + (f" (through {' and '.join(through)})" if through else "")


def _reader(graph, reader) -> str:
    if isinstance(reader, tuple):
        return f"the network output '{reader[1]}'"
    data = graph.nodes[reader]
    return f"{data['op']}{_at(data)}"


def _at(data: dict) -> str:
    span = data.get("span")
    return f" at line {span.line}" if span is not None else ""
