"""Pointwise activations.  Each is one entry in ``_SIMPLE``."""
from __future__ import annotations

from math import prod

from .registry import Arg, OpSpec, TorchCall, elementwise_flops, register


def _same(a, ins):
    return ins[0]


def _simple(name: str, torch_class: str, doc: str, args=(), kwargs=None, aliases=()):
    """An activation with no weights: same shape out, one FLOP per element."""
    names = [arg.name for arg in args]
    register(OpSpec(
        name=name, category="activation", doc=doc, args=tuple(args), aliases=aliases,
        shape=_same, flops=elementwise_flops,
        torch=lambda a, ins: TorchCall(torch_class, {k: a[k] for k in names})))


_INPLACE = Arg("inplace", "bool", False, doc="overwrite the input (saves memory)")

_simple("relu", "torch.nn.ReLU", "max(0, x).", [_INPLACE])
_simple("relu6", "torch.nn.ReLU6", "min(max(0, x), 6) (MobileNet).", [_INPLACE])
_simple("sigmoid", "torch.nn.Sigmoid", "1 / (1 + exp(-x)).")
_simple("tanh", "torch.nn.Tanh", "Hyperbolic tangent.")
