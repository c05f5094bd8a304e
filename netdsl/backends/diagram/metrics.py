"""Numbers shown on a diagram: parameters, MACs, receptive fields, per drawn
node, and the ``--highlight`` / ``--heat`` rules that act on them."""
from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Callable, Optional

from ...ir import Graph

from ...errors import UsageError
from ...ops.registry import get_op

#: Metrics summed over the layers a box stands for; the others take the maximum.
ADDITIVE = {"params", "trainable_params", "buffers", "macs", "flops", "memory"}
#: Node attributes tried, in order, for a metric name.
ATTRIBUTES = {"rf": ("rf", "receptive_field")}
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
}


def node_metric(graph: Graph, n: int, name: str) -> Optional[float]:
    """One IR node's value of a metric, or None when the graph does not have it."""
    data = graph.nodes[n]
    for attr in ATTRIBUTES.get(name, (name,)):
        if attr in data:
            return _as_number(data[attr])
    if name == "macs":  # the analysis pass may not have run: the op spec knows
        return _spec_macs(graph, n)
    return None


def _as_number(value) -> Optional[float]:
    """Numbers as they are; per-axis values (receptive fields) by their largest."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, dict):
        return _as_number(value.get("size"))
    if hasattr(value, "size"):
        return _as_number(value.size)
    if isinstance(value, (tuple, list)) and value:
        numbers = [_as_number(v) for v in value]
        return max((v for v in numbers if v is not None), default=None)
    return None


def _spec_macs(graph: Graph, n: int) -> int:
    data = graph.nodes[n]
    spec = get_op(data["op"])
    if spec is None:
        return 0
    ins = [graph.nodes[i]["shape"] for i in data["inputs"]]
    return spec.macs(data["args"], ins, data["shape"])


def total(graph: Graph, nodes, name: str) -> float:
    """Sum of a metric over IR nodes (missing values count as 0)."""
    return sum(node_metric(graph, n, name) or 0 for n in nodes)


def drawn_metric(graph: Graph, drawn, name: str) -> Optional[float]:
    """A drawn node's value: per instance it stands for (a folded box's value is one
    block's, not all N), additive metrics summed over its layers, others maxed."""
    instances: dict[tuple, list[float]] = {}
    for n in drawn.represented:
        value = node_metric(graph, n, name)
        if value is not None:
            instances.setdefault(_instance(graph, drawn, n), []).append(value)
    if not instances:
        return None
    combine = sum if name in ADDITIVE else max
    return max(combine(values) for values in instances.values())


def _instance(graph: Graph, drawn, n: int) -> tuple:
    """Which folded instance IR node n belongs to, as seen from a drawn node."""
    scope = graph.nodes[n]["scope"]
    if drawn.kind == "box":
        return scope[:len(drawn.scope)]
    return (scope, n) if drawn.kind == "merge" else (scope,)


@dataclass(frozen=True)
class Highlight:
    """A rule like ``macs>1e8``: nodes whose metric compares true are marked."""

    metric: str
    op: str
    value: float

    def matches(self, graph: Graph, drawn) -> bool:
        value = drawn_metric(graph, drawn, self.metric)
        return value is not None and COMPARISONS[self.op](value, self.value)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:.4g}"


_RULE = re.compile(r"^\s*([a-z_]+)\s*(>=|<=|>|<)\s*([0-9.eE+_]+[kKMGT]?)\s*$")
_SUFFIX = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def parse_highlight(text: str) -> Highlight:
    match = _RULE.match(text)
    if not match:
        raise UsageError(f"--highlight needs METRIC OP VALUE such as 'macs>1e8' or 'params>=1M', got {text!r}")
    metric, op, number = match.groups()
    scale = _SUFFIX.get(number[-1], 1)
    try:
        value = float(number.rstrip("kKMGT").replace("_", "")) * scale
    except ValueError:
        raise UsageError(f"--highlight: {number!r} is not a number") from None
    return Highlight(metric, op, value)


def require_metric(graph: Graph, name: str, option: str) -> None:
    """A usage error when no node of the graph has the metric at all."""
    if not any(node_metric(graph, n, name) is not None for n in graph.nodes):
        known = sorted(ADDITIVE | set(ATTRIBUTES))
        raise UsageError(f"{option}: no layer has a value for '{name}'",
                         hint=f"metrics: {', '.join(known)} (where the analysis computes them)")


#: White → red, light enough that black label text stays readable; index by heat_level().
HEAT_COLOURS = ("#FFFFFF", "#FEEDE4", "#FDD3C1", "#FCB59C", "#FA9476", "#F47154", "#E8503A")


def heat_level(value: Optional[float], low: float, high: float) -> int:
    """0 for nothing, else 1..6 on a log scale from the smallest to the largest value."""
    if not value or value <= 0:
        return 0
    steps = len(HEAT_COLOURS) - 1
    if high <= low:
        return steps
    ratio = math.log(value / low) / math.log(high / low)
    return max(1, min(steps, math.ceil(ratio * steps)))


def heat_bounds(low: float, high: float) -> list[float]:
    """The smallest value of each heat level 1..6, for the legend."""
    steps = len(HEAT_COLOURS) - 1
    return [low * (high / low) ** ((k - 1) / steps) for k in range(1, steps + 1)]
