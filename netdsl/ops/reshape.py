"""Shape-only ops: identity, flatten, reshape, permute, transpose, channel
shuffle and chunk.  Dims exclude the batch (0 = channels).  They move values
without computing on them, so they take any dtype (token ids included).

Receptive field: permute and transpose move each axis with its positions
(``Permuted``), so a field follows them; reshape reports NO_FIELD when it
changes the shape — positions no longer line up with the input's.
"""
from __future__ import annotations

from math import prod

from ..errors import ShapeError
from .common import channels_divisible, dim_index, torch_dim
from .registry import NO_FIELD, Arg, AxisRF, OpSpec, Permuted, TorchCall, register

register(OpSpec(
    name="identity", category="reshape", dtypes="any", doc="Passes its input through unchanged.", args=(),
    shape=lambda a, ins: ins[0], torch=lambda a, ins: TorchCall("torch.nn.Identity", {})))


def _flatten_shape(a, ins):
    (shape,) = ins
    start, end = dim_index(a.start, shape, "flatten", "start"), dim_index(a.end, shape, "flatten", "end")
    if start > end:
        raise ShapeError(f"flatten: start dim {a.start} comes after end dim {a.end} in {list(shape)}")
    return (*shape[:start], prod(shape[start:end + 1]), *shape[end + 1:])


register(OpSpec(
    name="flatten", category="reshape", dtypes="any",
    doc="Flatten dims start..end (batch excluded; default: all) into one.",
    args=(Arg("start", "int", 0), Arg("end", "int", -1)),
    shape=_flatten_shape,
    torch=lambda a, ins: TorchCall("torch.nn.Flatten", dict(
        start_dim=torch_dim(a.start), end_dim=torch_dim(a.end)))))


# ------------------------------------------------------------ reshape / permute / transpose
def _reshape_shape(a, ins):
    (shape,) = ins
    want = a.shape
    if list(want).count(-1) > 1 or any(d == 0 or d < -1 for d in want):
        raise ShapeError(f"reshape: {list(want)} needs positive sizes and at most one -1")
    known = prod(d for d in want if d != -1)
    total = prod(shape)
    if total % known or (-1 not in want and known != total):
        raise ShapeError(f"reshape: cannot view {list(shape)} ({total} elements) as {list(want)}")
    return tuple(total // known if d == -1 else d for d in want)


def _moves_axes(ins, out):
    """None (pointwise) when the shape is unchanged, else NO_FIELD."""
    return None if tuple(out) == tuple(ins[0]) else NO_FIELD


register(OpSpec(
    name="reshape", category="reshape", dtypes="any", aliases=("view",),
    doc="View each sample as `shape` (batch excluded); one size may be -1 (inferred).",
    args=(Arg("shape", "shape", doc="the new shape, e.g. (4, -1)"),),
    shape=_reshape_shape,
    rf=lambda a, ins: _moves_axes(ins, _reshape_shape(a, ins)),
    torch=lambda a, ins: TorchCall("netdsl.runtime.Reshape", {"shape": _reshape_shape(a, ins)})))


def _permutation(a, ins):
    (shape,) = ins
    dims = tuple(dim_index(d, shape, "permute") for d in a.dims)
    if sorted(dims) != list(range(len(shape))):
        raise ShapeError(f"permute: dims {list(a.dims)} are not a permutation of the "
                         f"{len(shape)} dims of {list(shape)}")
    return dims


register(OpSpec(
    name="permute", category="reshape", dtypes="any",
    doc="Reorder the dims (batch excluded): permute((1, 2, 0)) turns [C, H, W] into [H, W, C].",
    args=(Arg("dims", "shape", doc="a permutation of 0 .. rank-1"),),
    shape=lambda a, ins: tuple(ins[0][d] for d in _permutation(a, ins)),
    rf=lambda a, ins: Permuted(_permutation(a, ins)),
    torch=lambda a, ins: TorchCall("netdsl.runtime.Permute", {
        "dims": (0, *(d + 1 for d in _permutation(a, ins)))})))


def _transpose_shape(a, ins):
    (shape,) = ins
    i, j = dim_index(a.dim0, shape, "transpose", "dim0"), dim_index(a.dim1, shape, "transpose", "dim1")
    out = list(shape)
    out[i], out[j] = shape[j], shape[i]
    return tuple(out)


def _transpose_rf(a, ins):
    (shape,) = ins
    i, j = dim_index(a.dim0, shape, "transpose"), dim_index(a.dim1, shape, "transpose")
    order = list(range(len(shape)))
    order[i], order[j] = j, i
    return Permuted(tuple(order))


register(OpSpec(
    name="transpose", category="reshape", dtypes="any",
    doc="Swap two dims (batch excluded): transpose(0, 1) turns [T, D] into [D, T].",
    args=(Arg("dim0", "int"), Arg("dim1", "int")),
    shape=_transpose_shape,
    rf=_transpose_rf,
    torch=lambda a, ins: TorchCall("netdsl.runtime.Transpose", dict(
        dim0=torch_dim(a.dim0), dim1=torch_dim(a.dim1)))))


# ------------------------------------------------------------ channel shuffle / chunk
def _shuffle_shape(a, ins):
    return channels_divisible(ins[0], a.groups, "channel_shuffle")


register(OpSpec(
    name="channel_shuffle", category="reshape", dtypes="any",
    doc="Interleave the channels of `groups` groups (ShuffleNet): [g, C/g] → [C/g, g] order.",
    args=(Arg("groups", "int", minimum=1),), shape=_shuffle_shape, input_rank=(2, 3, 4),
    torch=lambda a, ins: TorchCall("torch.nn.ChannelShuffle", {"groups": a.groups})))


def _chunk_geometry(a, ins):
    """(dim index, chunk size) after checking the split is even."""
    (shape,) = ins
    dim = dim_index(a.dim, shape, "chunk")
    if shape[dim] % a.chunks:
        raise ShapeError(f"chunk: {a.chunks} chunks do not divide dim {a.dim} of size {shape[dim]} "
                         f"(input {list(shape)})")
    if a.index >= a.chunks:
        raise ShapeError(f"chunk: index {a.index} out of range for {a.chunks} chunks")
    return dim, shape[dim] // a.chunks


def _chunk_shape(a, ins):
    dim, size = _chunk_geometry(a, ins)
    return tuple(size if i == dim else d for i, d in enumerate(ins[0]))


def _chunk_rf(a, ins):
    """Along a spatial dim the chunk is a shifted window: output i is input offset + i."""
    dim, size = _chunk_geometry(a, ins)
    if dim == 0:
        return None
    return [AxisRF(1, 1, -a.index * size if axis == dim else 0) for axis in range(1, len(ins[0]))]


register(OpSpec(
    name="chunk", category="reshape", dtypes="any",
    doc="One of `chunks` equal slices along `dim` (ShuffleNetV2's channel split: chunk(2, 0) and chunk(2, 1)).",
    args=(Arg("chunks", "int", minimum=1, doc="number of equal slices"),
          Arg("index", "int", minimum=0, doc="which slice to keep, from 0"),
          Arg("dim", "int", 0, doc="dim to split (batch excluded; 0 = channels)")),
    shape=_chunk_shape, rf=_chunk_rf,
    torch=lambda a, ins: TorchCall("netdsl.runtime.Chunk", dict(
        chunks=a.chunks, index=a.index, dim=torch_dim(a.dim)))))
