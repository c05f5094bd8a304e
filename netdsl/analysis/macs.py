"""MACs and FLOPs per node.

A MAC is one multiply-accumulate of a matrix product or convolution, counted
exactly as ``torch.utils.flop_counter.FlopCounterMode`` counts them (its total
is 2·MACs).  FLOPs are 2·MACs plus the elementwise work the op declares
(bias adds, normalization, activations, pooling, merges); docs/analysis.md
compares this convention with torchinfo's, fvcore's and ptflops'.
"""
from __future__ import annotations

from ..ops.registry import get_op


def count_macs(graph) -> None:
    """Write ``macs`` and ``flops`` (one sample, batch excluded) on every node, and
    ``macs_once``/``flops_once``: their part that a batch runs only once."""
    nodes = graph.nodes
    for _, data in nodes(data=True):
        op = data["op"]
        if op == "input":
            data["macs"] = data["flops"] = data["macs_once"] = data["flops_once"] = 0
            continue
        spec = get_op(op)
        ins = [nodes[i]["shape"] for i in data["inputs"]]
        macs = spec.macs(data["args"], ins, data["shape"])
        data["macs"] = macs
        data["flops"] = 2 * macs + spec.flops(data["args"], ins, data["shape"])
        data["macs_once"], data["flops_once"] = spec.once(data["args"], ins) if spec.once else (0, 0)


def batched(totals: dict, key: str, batch: int) -> int:
    """``macs`` or ``flops`` of a batch: per-sample work times the batch, once-per-forward work once."""
    return totals[key] * batch - totals[key + "_once"] * (batch - 1)
