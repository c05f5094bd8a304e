"""Ops that change spatial sizes without weights: pad and upsample."""
from __future__ import annotations

from fractions import Fraction
from math import floor, lcm, prod

from ..errors import ArgumentError, ShapeError
from .common import compact, expand, fpad_order, positive, spatial
from .registry import Arg, AxisRF, OpSpec, TorchCall, register

PAD_MODES = ("constant", "reflect", "replicate", "circular")
_PAD_CLASS = {"reflect": "ReflectionPad", "replicate": "ReplicationPad", "circular": "CircularPad"}


def pad_amounts(a, shape) -> list[tuple[int, int]]:
    """(before, after) per spatial axis from an int, one value per axis, or 2 per axis."""
    n = spatial(shape, "pad")
    if isinstance(a.padding, tuple) and len(a.padding) == 2 * n:
        return [(a.padding[2 * i], a.padding[2 * i + 1]) for i in range(n)]
    return [(p, p) for p in expand(a.padding, n, "padding")]


def _pad_shape(a, ins):
    (shape,) = ins
    pads = pad_amounts(a, shape)
    for (before, after), size in zip(pads, shape[1:]):
        too_wide = (a.mode == "reflect" and max(before, after) >= size
                    or a.mode == "circular" and max(before, after) > size)
        if too_wide:
            raise ShapeError(f"pad: {a.mode} padding {[list(p) for p in pads]} must be "
                             f"{'smaller than' if a.mode == 'reflect' else 'at most'} the input size "
                             f"{list(shape[1:])}")
    return (shape[0], *(size + before + after for (before, after), size in zip(pads, shape[1:])))


def _pad_torch(a, ins):
    pads = pad_amounts(a, ins[0])
    amounts = fpad_order(pads)
    padding = compact(amounts)
    n = len(pads)
    if a.mode in _PAD_CLASS:
        return TorchCall(f"torch.nn.{_PAD_CLASS[a.mode]}{n}d", {"padding": padding})
    if a.value == 0:
        return TorchCall(f"torch.nn.ZeroPad{n}d", {"padding": padding})
    return TorchCall(f"torch.nn.ConstantPad{n}d", {"padding": padding, "value": a.value})


register(OpSpec(
    name="pad", category="resize", dtypes="any",
    doc="Pad the spatial dims: an int, one value per axis, or (before, after) per axis.",
    args=(Arg("padding", "ints", minimum=0, doc="int, one per axis, or 2 per axis (before, after)"),
          Arg("mode", "str", "constant", choices=PAD_MODES),
          Arg("value", "float", 0.0, doc="fill value of constant padding")),
    shape=_pad_shape, torch=_pad_torch, input_rank=(2, 3, 4),
    rf=lambda a, ins: [AxisRF(1, 1, before) for before, _ in pad_amounts(a, ins[0])]))


# ------------------------------------------------------------ upsample
#: Input samples each output interpolates, per axis (nearest copies one: no arithmetic);
#: the spatial rank each mode needs.
_TAPS = {"linear": 2, "bilinear": 2, "trilinear": 2, "bicubic": 4}
UPSAMPLE_MODES = ("nearest", *_TAPS)
_MODE_AXES = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def _check_upsample(a, shape) -> int:
    """Validate the argument combination; the number of spatial axes."""
    n = spatial(shape, "upsample")
    if (a.scale_factor is None) == (a.size is None):
        raise ArgumentError("upsample needs exactly one of scale_factor= and size=")
    if a.mode in _MODE_AXES and _MODE_AXES[a.mode] != n:
        raise ShapeError(f"upsample: mode \"{a.mode}\" needs {_MODE_AXES[a.mode]} spatial dim(s), "
                         f"got input {list(shape)}")
    if a.align_corners is not None and a.mode == "nearest":
        raise ArgumentError("upsample: align_corners applies only to the interpolating modes")
    return n


def _upsample_shape(a, ins):
    (shape,) = ins
    n = _check_upsample(a, shape)
    if a.size is not None:
        sizes = expand(a.size, n, "size")
    else:
        sizes = [floor(s * f) for s, f in zip(shape[1:], expand(a.scale_factor, n, "scale_factor"))]
    return positive((shape[0], *sizes), "upsample", f" from input {list(shape)}")


def _source_ratio(a, size: int, new: int, factor) -> Fraction:
    """Input pixels per output pixel as torch's kernels compute source indices."""
    if a.align_corners:
        return Fraction(size - 1, max(new - 1, 1))
    if factor is not None:
        return 1 / Fraction(factor).limit_denominator(1 << 20)
    return Fraction(size, new)


def _axis_window(a, ratio: Fraction) -> AxisRF:
    """Output u reads source point src = u·ratio + offset.  Nearest takes floor(src);
    the interpolating modes weigh the inputs strictly within taps/2 of src.  With
    src's fractions on a grid of 1/q, [src − c, src + c] (nearest: [src − c, src])
    holds exactly those inputs for c = taps/2 − 1/q (nearest: 1 − 1/q)."""
    offset = 0 if a.mode == "nearest" or a.align_corners else (ratio - 1) / 2
    grid = lcm(ratio.denominator, Fraction(offset).denominator)
    if grid == 1:
        return AxisRF(1, ratio, -offset)
    if a.mode == "nearest":
        reach = 1 - Fraction(1, grid)
        return AxisRF(2, ratio, reach, reach)
    reach = Fraction(_TAPS[a.mode], 2) - Fraction(1, grid)
    return AxisRF(2, ratio, reach - offset, 2 * reach)


def _upsample_rf(a, ins):
    (shape,) = ins
    out = _upsample_shape(a, ins)
    n = len(out) - 1
    factors = expand(a.scale_factor, n) if a.scale_factor is not None else (None,) * n
    return [_axis_window(a, _source_ratio(a, size, new, factor))
            for size, new, factor in zip(shape[1:], out[1:], factors)]


register(OpSpec(
    name="upsample", category="resize", aliases=("interpolate",),
    doc="Resize the spatial dims by scale_factor (output = floor(size·factor)) or to size. "
        "FLOPs: per output element, the inputs it interpolates (nearest 0, linear 2, bilinear 4, "
        "trilinear 8, bicubic 16).",
    args=(Arg("scale_factor", "floats", None, minimum=0, doc="multiplier per axis"),
          Arg("size", "ints", None, minimum=1, doc="output size per axis"),
          Arg("mode", "str", "nearest", choices=UPSAMPLE_MODES),
          Arg("align_corners", "bool", None, doc="interpolating modes only: align the corner pixels")),
    shape=_upsample_shape, rf=_upsample_rf, input_rank=(2, 3, 4),
    flops=lambda a, ins, out: 0 if a.mode == "nearest" else prod(out) * _TAPS[a.mode] ** (len(out) - 1),
    torch=lambda a, ins: TorchCall("torch.nn.Upsample", dict(
        size=a.size, scale_factor=a.scale_factor, mode=a.mode, align_corners=a.align_corners))))
