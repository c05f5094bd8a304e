"""Ops that join several inputs: add, mul (broadcasting), concat, matmul.

Merges run as functions (no module, no state), so they never take a slot in
a scope's module numbering.
"""
from __future__ import annotations

from math import prod

from ..errors import ShapeError
from .common import broadcast_batched, broadcast_dims, torch_dim
from .registry import GLOBAL, NO_FIELD, Arg, OpSpec, TorchCall, register


def _need_inputs(ins, op, at_least=2):
    if len(ins) < at_least:
        raise ShapeError(f"{op} needs at least {at_least} input{'s' if at_least > 1 else ''}, got {len(ins)}")


def _ew_shape(op):
    def rule(a, ins):
        _need_inputs(ins, op)
        return broadcast_batched(ins, op)
    return rule


def _ew_flops(a, ins, out):
    return prod(out) * (len(ins) - 1)


_BROADCASTING = (" Broadcasts as torch does with the batch dim included: inputs have the same "
                 "rank and each size equals the others' or is 1 ([C, H, W] with [C, 1, 1]). "
                 "FLOPs: (inputs − 1) per output element.")

for _name, _doc in (("add", "Elementwise sum of all inputs (residual joins)." + _BROADCASTING),
                    ("mul", "Elementwise product of all inputs (squeeze-excitation)." + _BROADCASTING)):
    register(OpSpec(
        name=_name, category="merge", doc=_doc, args=(), arity=None, dtypes="any",
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


register(OpSpec(
    name="concat", category="merge", aliases=("cat",),
    doc="Concatenate inputs along a dim (0 = channels).",
    args=(Arg("dim", "int", 0),), arity=None, shape=_concat_shape, dtypes="any",
    # along a spatial dim the later inputs' positions shift: no common field
    rf=lambda a, ins: None if a.dim % len(ins[0]) == 0 else NO_FIELD,
    torch=lambda a, ins: TorchCall("netdsl.runtime.concat", {"dim": torch_dim(a.dim)}, functional=True)))


# ------------------------------------------------------------ matmul
def matmul_geometry(ins):
    """(broadcast batch dims, n, k, m) of torch.matmul on two inputs (batch excluded)."""
    if len(ins) != 2:
        raise ShapeError(f"matmul takes exactly 2 inputs, got {len(ins)}")
    a, b = ins
    if len(a) == len(b) == 1:  # torch gives a 0-d result; every netdsl value has a dim
        raise ShapeError(f"matmul of two vectors {list(a)} @ {list(b)} gives no dim per sample",
                         hint="reshape one input into a matrix, e.g. reshape((1, K))")
    a_mat = (1, *a) if len(a) == 1 else tuple(a)  # a vector on the left is a row
    b_mat = (*b, 1) if len(b) == 1 else tuple(b)  # a vector on the right is a column
    if a_mat[-1] != b_mat[-2]:
        raise ShapeError(f"matmul: inner sizes differ: {list(a)} @ {list(b)} ({a_mat[-1]} vs {b_mat[-2]})")
    # the runtime keeps the batch dim apart (netdsl.runtime.matmul): plain broadcasting
    batch = broadcast_dims([a_mat[:-2], b_mat[:-2]], "matmul")  # () for two matrices
    return batch, a_mat[-2], a_mat[-1], b_mat[-1]


def _matmul_shape(a, ins):
    batch, n, _, m = matmul_geometry(ins)
    rows = (n,) if len(ins[0]) > 1 else ()
    cols = (m,) if len(ins[1]) > 1 else ()
    return (*batch, *rows, *cols)


def _matmul_macs(a, ins, out):
    batch, n, k, m = matmul_geometry(ins)
    return prod(batch) * n * k * m


register(OpSpec(
    name="matmul", category="merge",
    doc="Matrix product of 2 inputs with torch.matmul's rules on the non-batch dims "
        "(leading dims broadcast; a 1-d input is a vector). MACs: batch · n · k · m.",
    args=(), arity=None, shape=_matmul_shape, macs=_matmul_macs, rf=lambda a, ins: GLOBAL,
    dtypes="matching",
    torch=lambda a, ins: TorchCall("netdsl.runtime.matmul", {}, functional=True)))
