"""Ops that join several inputs: add, mul (broadcasting), concat.

Merges run as functions (no module, no state), so they never take a slot in
a scope's module numbering.
"""
from __future__ import annotations

from math import prod

from ..errors import ShapeError
from .registry import Arg, OpSpec, TorchCall, register


def broadcast(shapes, op: str):
    """NumPy broadcasting of shapes aligned at the right (batch excluded)."""
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    out = []
    for axis, dims in enumerate(zip(*padded)):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            listed = ", ".join(str(list(s)) for s in shapes)
            raise ShapeError(f"{op}: shapes {listed} do not match at dim {axis}")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def _need_inputs(ins, op, at_least=2):
    if len(ins) < at_least:
        raise ShapeError(f"{op} needs at least {at_least} inputs, got {len(ins)}")


def _ew_shape(op):
    def rule(a, ins):
        _need_inputs(ins, op)
        return broadcast(ins, op)
    return rule


def _ew_flops(a, ins, out):
    return prod(out) * (len(ins) - 1)


for _name, _doc in (("add", "Elementwise sum of all inputs (residual joins)."),
                    ("mul", "Elementwise product of all inputs, broadcasting (squeeze-excitation).")):
    register(OpSpec(
        name=_name, category="merge", doc=_doc, args=(), arity=None,
        shape=_ew_shape(_name), flops=_ew_flops,
        torch=lambda a, ins, _n=_name: TorchCall(f"netdsl.runtime.{_n}", {}, functional=True)))


def _concat_shape(a, ins):
    _need_inputs(ins, "concat", 1)
    rank = len(ins[0])
    dim = a.dim if a.dim >= 0 else rank + a.dim
    if not 0 <= dim < rank:
        raise ShapeError(f"concat: dim {a.dim} out of range for inputs of rank {rank}")
    for shape in ins[1:]:
        if len(shape) != rank or any(x != y for i, (x, y) in enumerate(zip(shape, ins[0])) if i != dim):
            listed = ", ".join(str(list(s)) for s in ins)
            raise ShapeError(f"concat along dim {a.dim}: shapes {listed} differ outside that dim")
    return tuple(sum(s[dim] for s in ins) if i == dim else d for i, d in enumerate(ins[0]))


def torch_dim(dim: int) -> int:
    """netdsl dims exclude the batch; torch's include it."""
    return dim + 1 if dim >= 0 else dim


register(OpSpec(
    name="concat", category="merge", aliases=("cat",),
    doc="Concatenate inputs along a dim (0 = channels).",
    args=(Arg("dim", "int", 0),), arity=None, shape=_concat_shape,
    torch=lambda a, ins: TorchCall("netdsl.runtime.concat", {"dim": torch_dim(a.dim)}, functional=True)))
