"""``expect`` statements: assertions about the analysed network."""
from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from typing import Callable

from ..errors import ArgumentError, ExpectationError
from ..expr import Evaluator


def _field(net):
    field = net.receptive_field
    if field is None:
        raise ArgumentError("the network has no receptive field (its input has no spatial axes)")
    return field


def _plain(values: tuple) -> tuple:
    return tuple(int(v) if v == int(v) else float(v) for v in values)


def _memory(name: str):
    def compute(net):
        from . import memory
        return getattr(memory, name)(net.ir)
    return compute


#: name → how to compute it (one sample, float32); docs/analysis.md lists them.
METRICS: dict[str, Callable] = {
    "params": lambda net: net.params,
    "trainable_params": lambda net: net.trainable_params,
    "frozen_params": lambda net: net.params - net.trainable_params,
    "buffers": lambda net: net.buffers,
    "macs": lambda net: net.macs,
    "flops": lambda net: net.flops,
    "activation_bytes": _memory("activation_bytes"),
    "peak_bytes": _memory("forward_peak"),
    "output": lambda net: next(iter(net.output_shapes.values()), ()),
    "outputs": lambda net: dict(net.output_shapes),
    "input": lambda net: net.input_shape,
    "rf": lambda net: _field(net).largest,
    "rf_size": lambda net: _field(net).pixels,
    "rf_stride": lambda net: _plain(_field(net).stride),
}


class Metrics(Mapping):
    """The names an ``expect`` expression can use, each computed when first read."""

    def __init__(self, net):
        self.net = net.analyze()
        self.known: dict = {}

    def __getitem__(self, name: str):
        if name not in self.known:
            self.known[name] = METRICS[name](self.net)
        return self.known[name]

    def __contains__(self, name) -> bool:
        return name in METRICS

    def __iter__(self):
        return iter(METRICS)

    def __len__(self) -> int:
        return len(METRICS)


def check_expectations(net) -> list[ExpectationError]:
    """Raise ExpectationError, located at the statement, for the first that fails.

    A network built with overridden parameters or input shape is not the one
    the file's expectations describe: then the failures are returned instead,
    for the caller to report as warnings."""
    names, failures = Metrics(net), []
    for expect in net.ir.graph["expects"]:
        evaluator = Evaluator(ChainMap(names, expect["env"]))
        if not evaluator.eval(expect["expr"]):
            failure = ExpectationError(_explain(expect["expr"], evaluator), expect["span"])
            if not net.ir.graph.get("overridden"):
                raise failure
            failures.append(failure)
    return failures


def _explain(expr, evaluator: Evaluator) -> str:
    operands = getattr(expr, "operands", None)
    if operands and getattr(expr, "ops", None):
        values = [evaluator.eval(o) for o in operands]
        shown = f" {expr.ops[0]} ".join(_fmt(v) for v in values)
        return f"expectation does not hold: {shown}"
    return "expectation does not hold"


def _fmt(value) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:_}"
    if isinstance(value, tuple):
        return str(list(value))
    return repr(value)
