"""Dropout (inverted: scaled by 1/(1-p) at training time, identity at eval)."""
from __future__ import annotations

from .registry import Arg, OpSpec, TorchCall, register

_P = Arg("p", "float", 0.5, minimum=0, doc="probability of zeroing an element")

register(OpSpec(
    name="dropout", category="dropout", doc="Inverted dropout of single elements.",
    args=(_P, Arg("inplace", "bool", False)), shape=lambda a, ins: ins[0],
    torch=lambda a, ins: TorchCall("torch.nn.Dropout", dict(p=a.p, inplace=a.inplace))))
