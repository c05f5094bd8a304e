"""Shape-only ops: identity, flatten."""
from __future__ import annotations

from math import prod

from ..errors import ShapeError
from .registry import Arg, OpSpec, TorchCall, register
from .merge import torch_dim

register(OpSpec(
    name="identity", category="reshape", doc="Passes its input through unchanged.", args=(),
    shape=lambda a, ins: ins[0], torch=lambda a, ins: TorchCall("torch.nn.Identity", {})))


def _flatten_shape(a, ins):
    (shape,) = ins
    rank = len(shape)
    start = a.start if a.start >= 0 else rank + a.start
    end = a.end if a.end >= 0 else rank + a.end
    if not (0 <= start <= end < rank) and rank:
        raise ShapeError(f"flatten: dims {a.start}..{a.end} out of range for shape {list(shape)}")
    return (*shape[:start], prod(shape[start:end + 1]), *shape[end + 1:])


register(OpSpec(
    name="flatten", category="reshape",
    doc="Flatten dims start..end (batch excluded; default: all) into one.",
    args=(Arg("start", "int", 0), Arg("end", "int", -1)),
    shape=_flatten_shape,
    torch=lambda a, ins: TorchCall("torch.nn.Flatten", dict(
        start_dim=torch_dim(a.start), end_dim=torch_dim(a.end)))))
