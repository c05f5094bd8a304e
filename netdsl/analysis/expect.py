"""``expect`` statements: assertions about the analysed network."""
from __future__ import annotations

from collections import ChainMap

from ..errors import ExpectationError
from ..expr import Evaluator


def metrics(net) -> dict:
    """The names an ``expect`` expression can use."""
    shapes = list(net.output_shapes.values())
    return {
        "params": net.params,
        "trainable_params": net.trainable_params,
        "buffers": net.buffers,
        "output": shapes[0] if shapes else (),
        "outputs": {k: v for k, v in net.output_shapes.items()},
        "input": net.input_shape,
    }


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
