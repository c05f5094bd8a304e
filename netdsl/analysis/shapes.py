"""Output shapes.  Called node by node while elaborating (blocks may read
``in.channels``), so the graph is never in a state without shapes."""
from __future__ import annotations

from typing import Sequence

from ..errors import ShapeError
from ..ops.registry import Args, Shape, get_op


def infer_shape(op: str, args: Args, in_shapes: Sequence[Shape]) -> Shape:
    """The output shape of ``op`` on inputs of ``in_shapes`` (batch excluded)."""
    spec = get_op(op)
    if spec.arity is not None and len(in_shapes) != spec.arity:
        raise ShapeError(f"{op} takes {spec.arity} input(s), got {len(in_shapes)}")
    if spec.input_rank and any(len(s) not in spec.input_rank for s in in_shapes):
        ranks = " or ".join(str(r) for r in spec.input_rank)
        raise ShapeError(f"{op} needs an input of rank {ranks} (batch excluded), "
                         f"got {[list(s) for s in in_shapes]}")
    return tuple(spec.shape(args, list(in_shapes)))
