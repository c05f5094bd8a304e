"""Rules several op families share: argument expansion, dims, broadcasting,
padding order and whole-axis receptive fields.

Families import only ``registry`` and this module, never each other, so a
shared rule has one home and a family can change without breaking another.
"""
from __future__ import annotations

from math import prod
from typing import Sequence

from .. import limits
from ..errors import ArgumentError, ShapeError
from .registry import GLOBAL, WINDOWED, Args, AxisRF, Shape, TorchCall

#: Largest value torch's pooling kernels take: they convert kernel, stride,
#: padding and dilation to C ints ("value cannot be converted to type int").
INT32_MAX = 2**31 - 1
#: Largest extent torch computes with: a padded axis beyond it overflows int64.
INT64_MAX = 2**63 - 1


# ------------------------------------------------------------ per-axis arguments
def expand(value, n: int, what: str = "value") -> tuple:
    """An int or an n-tuple → an n-tuple (kernel sizes, strides, ...)."""
    if isinstance(value, tuple):
        if len(value) != n:
            raise ArgumentError(f"{what} needs {n} value(s) for a {n}-d input, got {value!r}")
        return value
    return (value,) * n


def spatial(shape: Shape, op: str, ranks: Sequence[int] = (2, 3, 4)) -> int:
    """Number of spatial dims of a channels-first shape, checking the rank."""
    if len(shape) not in ranks:
        want = " or ".join(f"[{', '.join(['C'] + ['L', 'H W', 'D H W'][r - 2].split())}]" for r in ranks)
        raise ShapeError(f"{op} needs an input of shape {want}, got {list(shape)}")
    return len(shape) - 1


def compact(values: tuple):
    """(3, 3) → 3 so generated code reads like hand-written code."""
    return values[0] if len(set(values)) == 1 else tuple(values)


def fpad_order(pads) -> tuple:
    """(before, after) per axis → F.pad's order: last axis first."""
    return tuple(p for pair in reversed(pads) for p in pair)


# ------------------------------------------------------------ shape checks
def channels_divisible(shape: Shape, by: int, op: str, arg: str = "groups") -> Shape:
    """Return ``shape`` if ``by`` divides its channel count, else raise."""
    if shape[0] % by:
        raise ShapeError(f"{op}: {arg}={by} must divide the channels ({shape[0]})")
    return shape


def positive(shape: Shape, op: str, detail: str = "") -> Shape:
    """Raise if any output size is not positive."""
    if any(d <= 0 for d in shape):
        raise ShapeError(f"{op} gives a non-positive output size {list(shape)}{detail}")
    return tuple(shape)


def same_shape(a: Args, ins: Sequence[Shape]) -> Shape:
    """Shape rule of ops that keep their input's shape."""
    return ins[0]


def elementwise_flops(a: Args, ins: Sequence[Shape], out: Shape) -> int:
    """One FLOP per output element (activations, adds, scaling)."""
    return prod(out)


def padded_extents(op: str, sizes, pads) -> tuple:
    """Each axis's size plus its (before, after) padding, refused past int64 (torch's
    "Calculated padded input size per channel: (-9223372036854775801)")."""
    padded = tuple(size + before + after for size, (before, after) in zip(sizes, pads))
    for axis, extent in enumerate(padded):
        if extent > INT64_MAX:
            raise ShapeError(f"{op}: padding {[list(p) for p in pads]} makes spatial axis {axis} "
                             f"{extent:,} long, past the {INT64_MAX:,} torch can index")
    return padded


def materialized(op: str, shape: Shape, what: str) -> None:
    """Refuse an intermediate tensor torch allocates inside an op (a padded copy)
    above the tensor_elements limit, as every op output is."""
    if prod(shape) > limits.current().tensor_elements:
        raise limits.exceeded("tensor_elements", f"{op} pads its input to a tensor of {prod(shape):,} "
                              f"elements {list(shape)} ({what})", suggested=prod(shape))


# ------------------------------------------------------------ dims
def torch_dim(dim: int) -> int:
    """netdsl dims exclude the batch; torch's include it."""
    return dim + 1 if dim >= 0 else dim


def dim_index(dim: int, shape, op: str, what: str = "dim") -> int:
    """A netdsl dim (negative counts from the end) → its index, or a ShapeError."""
    index = dim if dim >= 0 else len(shape) + dim
    if not 0 <= index < len(shape):
        raise ShapeError(f"{op}: {what} {dim} out of range for an input of shape {list(shape)}")
    return index


# ------------------------------------------------------------ broadcasting
def broadcast_dims(shapes, op: str) -> tuple:
    """NumPy broadcasting: shapes align at the right; sizes other than 1 must agree."""
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


def broadcast_batched(shapes, op: str) -> Shape:
    """Broadcasting of per-sample shapes as torch applies it: to [N, *shape].

    N, the batch size, is unknown statically and may be anything but is not 1:
    it matches only N.  Inputs of one rank align N with N, so their per-sample
    dims broadcast as usual.  Inputs of different ranks align at the right, so
    the shorter one's N meets another input's dim d: torch fails unless d is 1
    or happens to equal N, and then it mixes samples ([N, 1, 5] + [N, 5] gives
    [N, N, 5]).  So inputs of different ranks are refused.
    """
    ranks = {len(s) for s in shapes}
    if len(ranks) > 1:
        listed = ", ".join("[" + ", ".join(map(str, ("N", *s))) + "]" for s in shapes)
        raise ShapeError(f"{op}: inputs of different ranks do not broadcast with the batch dim: "
                         f"{listed} align at the right, so one input's batch dim N meets another's "
                         "size", hint="give the inputs the same rank, e.g. reshape((C, 1, 1)) for [C]")
    return broadcast_dims(shapes, op)


# ------------------------------------------------------------ receptive fields
def whole_axes_rf(shape, axes, spatial_axes=None):
    """RF of an op whose output mixes entire axes (statistics, softmax) of a [C, ...] input.

    A covered spatial axis is a window as wide as the axis, centred anywhere;
    when every spatial axis is covered the op sees the whole input.  The spatial
    axes are dims 1.. unless a permute moved them (``spatial_axes``: where they are).
    """
    spatial_axes = range(1, len(shape)) if spatial_axes is None else spatial_axes
    covered = [axis in axes for axis in spatial_axes]
    if not any(covered):
        return None
    if all(covered):
        return GLOBAL
    return [AxisRF(2 * shape[axis] - 1, 1, shape[axis] - 1) if hit else AxisRF()
            for axis, hit in zip(spatial_axes, covered)]


# ------------------------------------------------------------ windows (Swin V1 and V2)
def window_geometry(a, ins, op: str = "shifted_window_attention"):
    """(window, shift, padded (H, W), C) for one [H, W, C] input, checked."""
    h, w, c = ins[0]  # input_rank: 3
    if c != a.dim:
        raise ShapeError(f"{op}: the input has {c} channels, dim is {a.dim}",
                         hint="the input is channels-last [H, W, C]: permute((1, 2, 0)) turns [C, H, W] into it")
    if c % a.num_heads:
        raise ShapeError(f"{op}: num_heads={a.num_heads} must divide dim={c}")
    window = expand(a.window_size, 2, "window_size")
    padded = tuple(-(-size // win) * win for size, win in zip((h, w), window))
    shifts = expand(a.shift_size, 2, "shift_size")
    # torchvision's rule: a window that covers the (padded) map needs no shift
    shift = tuple(0 if win >= size else s for win, size, s in zip(window, padded, shifts))
    return window, shift, padded, c


def window_field(a, ins):
    """Global when one window covers the map (every token attends to every other);
    otherwise each position sees the window it falls in, a field that depends on the
    position, which per-axis geometry cannot state: none is claimed."""
    window, _, padded, _ = window_geometry(a, ins)
    return GLOBAL if window == padded else WINDOWED


def window_shape(a, ins, op: str = "shifted_window_attention") -> tuple:
    """A window attention keeps its [H, W, C] input's shape (after checking it)."""
    window_geometry(a, ins, op)
    return tuple(ins[0])


def window_torch_call(target: str, a) -> TorchCall:
    """The runtime module of a window attention (V1 or V2: the same constructor)."""
    return TorchCall(target, dict(
        dim=a.dim, window_size=expand(a.window_size, 2), shift_size=expand(a.shift_size, 2),
        num_heads=a.num_heads, qkv_bias=a.qkv_bias, proj_bias=a.proj_bias,
        attention_dropout=a.attention_dropout, dropout=a.dropout))
