"""Fully connected layers."""
from __future__ import annotations

from math import prod

from .registry import GLOBAL, Arg, OpSpec, TorchCall, register


def _linear_shape(a, ins):
    (shape,) = ins  # one dim or more: netdsl has no 0-d values
    return (*shape[:-1], a.out_features)


def _linear_weights(a, ins):
    w = {"weight": (a.out_features, ins[0][-1])}
    if a.bias:
        w["bias"] = (a.out_features,)
    return w


register(OpSpec(
    name="linear", category="linear", aliases=("fc",),
    doc="Fully connected layer over the last dimension; in_features is inferred. "
        "MACs: input elements × out_features. FLOPs: the bias, 1 per output element.",
    args=(Arg("out_features", "int", minimum=1), Arg("bias", "bool", True)),
    shape=_linear_shape,
    torch=lambda a, ins: TorchCall("torch.nn.Linear", dict(
        in_features=ins[0][-1], out_features=a.out_features, bias=a.bias)),
    weights=_linear_weights,
    macs=lambda a, ins, out: prod(ins[0]) * a.out_features,
    flops=lambda a, ins, out: prod(out) if a.bias else 0,
    rf=lambda a, ins: GLOBAL, mixes=lambda a, ins: (len(ins[0]) - 1,), has_weights=True))
