"""Tensor dtypes through the graph: which an op takes, which it gives.

Each op declares in ``OpSpec.dtypes`` the inputs it takes (a key of
``ACCEPTS``).  Most compute in floating point, so integer inputs (token ids)
are refused; ``embedding`` takes only integer ids and gives float32 vectors
(its table's dtype); ops that only move or combine values take any dtype.
Where inputs mix dtypes the output follows torch's type promotion.  ``bool``
tensors are masks: only an op's declared mask inputs (``OpSpec.masks``, the
last inputs, such as attention's key-padding mask) take them.
"""
from __future__ import annotations

from typing import Sequence

from ..errors import ShapeError

FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")
INT_DTYPES = ("int64", "int32")
MASK_DTYPES = ("bool",)

#: OpSpec.dtypes → the input dtypes the op takes.
ACCEPTS = {
    "float": FLOAT_DTYPES,
    "integer": INT_DTYPES,
    "any": FLOAT_DTYPES + INT_DTYPES + MASK_DTYPES,  # moving or combining values: masks too
    "matching": FLOAT_DTYPES + INT_DTYPES,  # any, but all inputs alike (torch.matmul)
}
_WORDS = {"float": "a floating-point input (float32, float16, bfloat16 or float64)",
          "integer": "integer ids (int64 or int32)"}

#: Order within a kind, for promotion; float16 with bfloat16 gives float32 (torch.promote_types).
_RANK = {"bool": -1, "int32": 0, "int64": 1, "float16": 2, "bfloat16": 2, "float32": 3, "float64": 4}


def promote(dtypes: Sequence[str]) -> str:
    """torch.promote_types over the inputs: floats win over ints, wider wins."""
    top = max(_RANK[d] for d in dtypes)
    widest = {d for d in dtypes if _RANK[d] == top}
    return widest.pop() if len(widest) == 1 else "float32"


def output_dtype(spec, in_dtypes: Sequence[str], args=None) -> str:
    """The dtype ``spec`` gives on inputs of ``in_dtypes``, or a ShapeError."""
    masks = spec.masks(args) if spec.masks and args is not None else 0
    if masks:
        in_dtypes, mask_dtypes = in_dtypes[:-masks], in_dtypes[-masks:]
        for dtype in mask_dtypes:
            if dtype not in MASK_DTYPES:
                raise ShapeError(f"{spec.name}: its mask input must be bool, got {dtype}",
                                 hint="declare it `input mask: [S] bool` (true: a padding position)")
    allowed = ACCEPTS[spec.dtypes]
    for dtype in in_dtypes:
        if dtype not in allowed:
            raise ShapeError(f"{spec.name} needs {_WORDS[spec.dtypes]}, got an input of dtype {dtype}",
                             hint=_hint(spec.dtypes, dtype))
    if spec.dtypes == "matching" and len(set(in_dtypes)) > 1:
        raise ShapeError(f"{spec.name} needs inputs of one dtype, got {', '.join(in_dtypes)}")
    if spec.dtypes == "integer":
        return "float32"
    return promote(in_dtypes)


def _hint(kind: str, got: str = "") -> str:
    if got in MASK_DTYPES:
        return "a bool input is a mask: pass it to attention, e.g. multihead_attention(..., padding_mask=true)"
    if kind == "integer":
        return "declare the input with an integer dtype, e.g. `input ids: [T] int64`"
    return "integer inputs are ids: look them up with embedding(...) first"
