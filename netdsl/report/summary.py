"""The summary of a network as plain data: the JSON interface of
``netdsl summarize --format json`` (schema in docs/analysis.md).  The table,
Markdown and CSV renderers all draw from this one dict.
"""
from __future__ import annotations

from typing import Optional

from ..analysis.macs import batched
from ..analysis.memory import DTYPE_BYTES, activation_bytes, activation_sizes, forward_peak
from ..analysis.train_memory import training_memory
from ..analysis.receptive_field import Unstated, centre_field, feature_node
from ..analysis.rollup import Row, components, rows, scope_rows
from ..ops.registry import GLOBAL

FORMAT = "netdsl.summary/1"


def build_summary(net, batch: int = 1, dtype: str = "float32", depth: Optional[int] = None,
                  optimizer: str = "adam") -> dict:
    """Everything ``summarize`` reports, for a batch of ``batch`` samples in ``dtype``."""
    graph = net.analyze().ir
    activation_sizes(graph, dtype)
    paths = module_paths(graph)
    layers = _named(_as_modules(rows(graph, depth), paths))
    activations = activation_bytes(graph, batch)
    totals = _totals(graph, batch, activations)
    return {
        "format": FORMAT,
        "network": net.name,
        "file": graph.graph.get("file"),
        "input_shape": list(net.input_shape),
        "inputs": [{"name": i["name"], "shape": list(graph.nodes[i["node"]]["shape"]),
                    "dtype": i["dtype"]} for i in net.inputs],
        "outputs": [{"name": o["name"], "shape": list(graph.nodes[o["node"]]["shape"]),
                     "weight": o["weight"]} for o in net.outputs],
        "batch": batch,
        "dtype": dtype,
        "depth": depth,
        "totals": totals,
        "receptive_field": network_field(graph, net.outputs[0]["node"], paths),
        "memory": _memory(graph, totals, batch, dtype, optimizer),
        "layers": [row_record(graph, row, batch) for row in layers],
        "blocks": [row_record(graph, row, batch) for row in scope_rows(graph)],
    }


def _totals(graph, batch: int, activations: int) -> dict:
    nodes = [data for _, data in graph.nodes(data=True)]
    total = {key: sum(d[key] for d in nodes)
             for key in ("params", "trainable_params", "buffers", "macs", "flops", "macs_once", "flops_once")}
    return {
        "params": total["params"],
        "trainable_params": total["trainable_params"],
        "frozen_params": total["params"] - total["trainable_params"],
        "buffers": total["buffers"],
        "macs": batched(total, "macs", batch),
        "flops": batched(total, "flops", batch),
        "activation_bytes": activations,
    }


def _memory(graph, totals: dict, batch: int, dtype: str, optimizer: str) -> dict:
    width = DTYPE_BYTES[dtype]
    training = training_memory(graph, batch, dtype, optimizer)
    peak = forward_peak(graph, batch)
    weights = (totals["params"] + totals["buffers"]) * width
    return {
        "param_bytes": totals["params"] * width,
        "buffer_bytes": totals["buffers"] * width,
        "activation_bytes": totals["activation_bytes"],
        "forward_peak_bytes": peak,
        "inference_bytes": weights + peak,
        "training": {
            "optimizer": optimizer, "device": "cuda",
            "params": training.params, "buffers": training.buffers, "grads": training.grads,
            "optimizer_state": training.optimizer,
            "saved_activations": training.saved_activations,
            "backward_peak": training.backward_peak,
            "total": training.total,
        },
    }


def module_paths(graph) -> dict[int, str]:
    """IR node → the path of its module in the built network (``layer1.0.relu``,
    where the IR numbers it ``layer1.0.2``), so the summary names layers as
    ``named_modules()`` and the generated source do."""
    from ..backends.pytorch.lowering import layer_paths, lower  # torch-free
    return layer_paths(lower(graph))


def _as_modules(layers: list[Row], paths: dict[int, str]) -> list[Row]:
    for row in layers:
        if row.kind == "layer" and row.output in paths:
            row.name = paths[row.output]
    return layers


def _named(layers: list[Row]) -> list[Row]:
    """Make row names unique: a second ``layer1.0.add`` becomes ``layer1.0.add_2``."""
    seen: dict[str, int] = {}
    for row in layers:
        count = seen[row.name] = seen.get(row.name, 0) + 1
        if count > 1:
            row.name = f"{row.name}_{count}"
    return layers


def row_record(graph, row: Row, batch: int) -> dict:
    data = graph.nodes[row.output]
    totals = row.totals(graph)
    return {
        "name": row.name, "kind": row.kind, "op": row.op,
        "output_shape": list(data["shape"]),
        "params": totals["params"], "trainable_params": totals["trainable_params"],
        "buffers": totals["buffers"],
        "macs": batched(totals, "macs", batch), "flops": batched(totals, "flops", batch),
        "output_bytes": totals["output_bytes"] * batch,
        "receptive_field": field_record(data["rf"]),
    }


def field_record(field) -> Optional[dict]:
    """JSON form of a node's field: null (no spatial axes, or none claimed: Swin's
    windows), {"global": true}, or its geometry."""
    if field is None or isinstance(field, Unstated):
        return None
    if field == GLOBAL:
        return {"global": True}
    return {"global": False, "size": list(field.pixels), "stride": _numbers(field.stride),
            "padding": _numbers(field.padding), "center": _numbers(field.center),
            "misaligned": field.misaligned, **({"saturated": True} if field.saturated else {}),
            **({"min_size": [lo for lo, _ in field.spread], "position_dependent": True}
               if field.position_dependent else {})}


def network_field(graph, output: int, paths: Optional[dict] = None) -> Optional[dict]:
    """The field of the main output's last feature map, and whether the output is global."""
    node = feature_node(graph, output)
    if node is None:
        return None
    record = field_record(centre_field(graph, node))
    if record is None:  # the feature map does not depend on the main input
        return None
    name = (paths or {}).get(node) or _display_name(graph.nodes[node])
    record.update(node=name, op=graph.nodes[node]["op"],
                  output_global=graph.nodes[output]["rf"] == GLOBAL)
    return record


def _display_name(data: dict) -> str:
    return ".".join(components(data))


def _numbers(values) -> list:
    """JSON numbers: whole values as ints, others (x.5, fractions of a pixel) as floats."""
    return [v if isinstance(v, int) else int(v) if v == int(v) else float(v) for v in values]
