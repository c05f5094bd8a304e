"""Learned tensors: ``param NAME: [shape]`` (or ``NAME: parameter([shape])``).

The node's value is the parameter broadcast over the batch of the value it
is declared on.  Its shape there follows torch's broadcasting against that
value: a shape with one axis more than the value (batch excluded) has a
leading 1 — the batch axis, as ViT's ``[1, 1, dim]`` class token — and any
other shape is per sample (ConvNeXt's ``[dim, 1, 1]`` layer scale), padded
with leading 1s to the value's rank (a ``[dim]`` scale on ``[tokens, dim]``).  The
tensor itself keeps the declared shape, so ``state_dict`` shapes match torch.
"""
from __future__ import annotations

from ..errors import ShapeError
from .registry import Arg, OpSpec, TorchCall, register

_SHAPE = Arg("shape", "shape", doc="the tensor's shape as torch stores it, e.g. [1, 1, 768]")
_INIT = Arg("init", "init", None, doc="initializer, e.g. zeros(), trunc_normal(std=0.02), constant(1e-6); "
                                      "default zeros()")


def value_shape(declared: tuple, value: tuple) -> tuple:
    """The per-sample shape of a parameter declared on a value of shape ``value``."""
    if not declared or any(d <= 0 for d in declared):
        raise ShapeError(f"a parameter needs a shape of positive integers, got {list(declared)}")
    if len(declared) == len(value) + 1:
        if declared[0] != 1:
            raise ShapeError(f"a parameter of shape {list(declared)} has one axis more than the value "
                             f"{list(value)} it is declared on: that axis is the batch axis and must be 1")
        return tuple(declared[1:])
    if len(declared) > len(value):
        raise ShapeError(f"a parameter of shape {list(declared)} has more axes than the value "
                         f"{list(value)} it is declared on (batch included)")
    return (1,) * (len(value) - len(declared)) + tuple(declared)  # torch aligns shapes at the right


register(OpSpec(
    name="parameter", category="parameter",
    doc="A learned tensor (nn.Parameter) named by its label, broadcast over the batch; "
        "usually declared with the `param` statement.",
    args=(_SHAPE, _INIT),
    shape=lambda a, ins: value_shape(tuple(a.shape), ins[0]),
    weights=lambda a, ins: {"": tuple(a.shape)},  # "": the node itself is the parameter
    torch=lambda a, ins: TorchCall("torch.nn.Parameter", {"shape": tuple(a.shape)}),
    dtypes="float", weight_view=True,
))
