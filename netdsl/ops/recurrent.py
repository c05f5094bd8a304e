"""Recurrent layers over a sequence [T, F] (time first, batch excluded).

The torch modules are netdsl.runtime subclasses of nn.LSTM/GRU/RNN with
batch_first=True that return only the output sequence (or its last step),
so parameter names stay torch's: weight_ih_l0, weight_hh_l0_reverse, ...
"""
from __future__ import annotations

from ..errors import ShapeError
from .registry import GLOBAL, Arg, OpSpec, TorchCall, register

#: Gate count: rows of weight_ih are gates · hidden_size.
GATES = {"lstm": 4, "gru": 3, "rnn": 1}

_ARGS = (
    Arg("hidden_size", "int", minimum=1, doc="features of the hidden state"),
    Arg("num_layers", "int", 1, minimum=1, count=True, doc="stacked layers"),
    Arg("bidirectional", "bool", False, doc="also run backwards; outputs concatenate (H·2)"),
    Arg("dropout", "float", 0.0, minimum=0, maximum=1, doc="dropout between stacked layers"),
    Arg("bias", "bool", True),
    Arg("return_sequence", "bool", True,
        doc="false: only the last time step of the output, [H·dirs]"),
)
_NONLINEARITY = Arg("nonlinearity", "str", "tanh", choices=("tanh", "relu"))


def _directions(a) -> int:
    return 2 if a.bidirectional else 1


def _layer_inputs(a, features: int):
    """Input features of each stacked layer: F, then H·dirs."""
    return [features] + [a.hidden_size * _directions(a)] * (a.num_layers - 1)


def _shape(op: str):
    def rule(a, ins):
        (shape,) = ins
        if len(shape) != 2:
            raise ShapeError(f"{op} needs a sequence [T, F] (time, features), got {list(shape)}")
        width = a.hidden_size * _directions(a)
        return (shape[0], width) if a.return_sequence else (width,)
    return rule


def _weights(op: str):
    def rule(a, ins):
        rows, hidden = GATES[op] * a.hidden_size, a.hidden_size
        weights = {}
        for layer, features in enumerate(_layer_inputs(a, ins[0][1])):
            for suffix in ("", "_reverse")[:_directions(a)]:
                weights[f"weight_ih_l{layer}{suffix}"] = (rows, features)
                weights[f"weight_hh_l{layer}{suffix}"] = (rows, hidden)
                if a.bias:
                    weights[f"bias_ih_l{layer}{suffix}"] = (rows,)
                    weights[f"bias_hh_l{layer}{suffix}"] = (rows,)
        return weights
    return rule


def recurrent_macs(op: str):
    """Per layer and direction: T · gates · H · (F_in + H) (both matrix products, every step)."""
    def rule(a, ins, out):
        steps, hidden = ins[0][0], a.hidden_size
        per_direction = sum(steps * GATES[op] * hidden * (features + hidden)
                            for features in _layer_inputs(a, ins[0][1]))
        return per_direction * _directions(a)
    return rule


#: Elementwise work per step and direction beyond the gate pre-activations (see the docs).
_CELL_UPDATE = {"lstm": 5, "gru": 5, "rnn": 0}


def _flops(op: str):
    """Per step, layer and direction: 2 bias adds per gate row, 1 activation per gate row,
    and the cell update (LSTM, GRU: 5·H)."""
    def rule(a, ins, out):
        rows = GATES[op] * a.hidden_size
        per_step = (2 * rows if a.bias else 0) + rows + _CELL_UPDATE[op] * a.hidden_size
        return per_step * ins[0][0] * a.num_layers * _directions(a)
    return rule


def _torch(op: str):
    def rule(a, ins):
        kwargs = dict(input_size=ins[0][1], hidden_size=a.hidden_size, num_layers=a.num_layers,
                      bias=a.bias, dropout=a.dropout, bidirectional=a.bidirectional,
                      return_sequence=a.return_sequence)
        if op == "rnn":
            kwargs["nonlinearity"] = a.nonlinearity
        return TorchCall(f"netdsl.runtime.{op.upper()}", kwargs)
    return rule


_DOC = ("{what} over [T, F] → [T, H·dirs], or [H·dirs] (the output's last time step) with "
        "return_sequence=false. MACs: per layer and direction T·{gates}·H·(F_in + H), "
        "F_in = F for layer 0 and H·dirs above. FLOPs per step, layer and direction: "
        "bias 2·{gates}·H, gate activations {gates}·H, cell update {cell}·H.")

for _op, _what, _extra in (("lstm", "Long short-term memory", ()), ("gru", "Gated recurrent unit", ()),
                           ("rnn", "Elman RNN with tanh or relu", (_NONLINEARITY,))):
    register(OpSpec(
        name=_op, category="recurrent",
        doc=_DOC.format(what=_what, gates=GATES[_op], cell=_CELL_UPDATE[_op]),
        args=_ARGS + _extra, shape=_shape(_op), weights=_weights(_op), macs=recurrent_macs(_op),
        flops=_flops(_op), rf=lambda a, ins: GLOBAL, torch=_torch(_op), input_rank=(2,),
        has_weights=True))
