"""``expect`` statements: assertions about the analysed network."""
from __future__ import annotations

from collections import ChainMap

from ..errors import ExpectationError
from ..expr import Evaluator


def metrics(net) -> dict:
    """The names an ``expect`` expression can use (docs/analysis.md lists them)."""
    from .memory import activation_bytes, forward_peak
    net.analyze()
    shapes = list(net.output_shapes.values())
    names = {
        "params": net.params,
        "trainable_params": net.trainable_params,
        "frozen_params": net.params - net.trainable_params,
        "buffers": net.buffers,
        "macs": net.macs,
        "flops": net.flops,
        "activation_bytes": activation_bytes(net.graph),
        "peak_bytes": forward_peak(net.graph),
        "output": shapes[0] if shapes else (),
        "outputs": dict(net.output_shapes),
        "input": net.input_shape,
    }
    field = net.receptive_field
    if field is not None:  # networks without spatial axes have no ``rf``
        names.update(rf=field.largest, rf_size=field.pixels, rf_stride=_plain(field.stride))
    return names


def _plain(values: tuple) -> tuple:
    return tuple(int(v) if v == int(v) else float(v) for v in values)


def check_expectations(net) -> None:
    """Raise ExpectationError, located at the statement, for the first that fails."""
    names = metrics(net)
    for expect in net.graph.graph["expects"]:
        evaluator = Evaluator(ChainMap(names, expect["env"]))
        if not evaluator.eval(expect["expr"]):
            raise ExpectationError(_explain(expect["expr"], evaluator), expect["span"])


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
