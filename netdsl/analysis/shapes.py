"""Output shapes and dtypes.  Called node by node while elaborating (blocks may
read ``in.channels``), so the graph is never in a state without shapes."""
from __future__ import annotations

from typing import Sequence

from ..errors import ShapeError
from ..ops.dtypes import output_dtype
from ..ops.initializers import check_init_ranks
from ..ops.registry import Args, Shape, get_op


def infer_shape(op: str, args: Args, in_shapes: Sequence[Shape]) -> Shape:
    """The output shape of ``op`` on inputs of ``in_shapes`` (batch excluded).

    Also refuses initializers the op's weights cannot take (their shapes are
    known only now that the input shapes are)."""
    spec = get_op(op)
    if spec.arity is not None and len(in_shapes) != spec.arity:
        raise ShapeError(f"{op} takes {spec.arity} input(s), got {len(in_shapes)}")
    if spec.input_rank and any(len(s) not in spec.input_rank for s in in_shapes):
        ranks = " or ".join(str(r) for r in spec.input_rank)
        raise ShapeError(f"{op} needs an input of rank {ranks} (batch excluded), "
                         f"got {[list(s) for s in in_shapes]}")
    shape = tuple(spec.shape(args, list(in_shapes)))
    if spec.has_weights:
        check_init_ranks(op, args, spec.weights(args, list(in_shapes)))
    return shape


def infer_dtype(op: str, args: Args, in_dtypes: Sequence[str]) -> str:
    """The output dtype of ``op`` on inputs of ``in_dtypes``; refuses inputs the op
    cannot compute on (float ids into embedding, integers into conv)."""
    return output_dtype(get_op(op), list(in_dtypes), args)
