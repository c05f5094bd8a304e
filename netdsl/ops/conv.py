"""Convolutions: conv (1-d/2-d/3-d by input rank), transposed, depthwise and
depthwise-separable conv.

``dwconv`` and ``sepconv`` reuse the conv rules: ``dwconv`` is a conv with
groups = in_channels, and ``sepconv`` is that (without bias) followed by a
1×1 pointwise conv.
"""
from __future__ import annotations

from fractions import Fraction
from math import ceil, prod

from ..errors import ArgumentError, ShapeError
from .common import INT64_MAX, compact, expand, fpad_order, materialized, padded_extents, positive, spatial
from .registry import Arg, Args, AxisRF, OpSpec, TorchCall, register

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")

CONV_ARGS = (
    Arg("out_channels", "int", minimum=1, doc="number of output channels"),
    Arg("kernel", "ints", minimum=1, doc="kernel size; a tuple for n×1 / 1×n kernels"),
    Arg("stride", "ints", 1, minimum=1),
    Arg("padding", "padding", 0, minimum=0,
        doc="int or tuple per axis; 2·n values (before, after per axis) for asymmetric; \"same\" or \"valid\""),
    Arg("dilation", "ints", 1, minimum=1),
    Arg("groups", "int", 1, minimum=1, doc="grouped conv; groups == in_channels for depthwise"),
    Arg("bias", "bool", True),
    Arg("padding_mode", "str", "zeros", choices=PADDING_MODES),
)


def conv_geometry(a, shape, op: str, ranks=(2, 3, 4)):
    """Per-axis (kernel, stride, dilation, (pad_before, pad_after)) of a conv-like op."""
    n = spatial(shape, op, ranks)
    k, s, d = (expand(a[key], n, key) for key in ("kernel", "stride", "dilation"))
    sizes = shape[1:]
    pad = a["padding"]  # every conv-like op declares it (default 0)
    if pad == "valid":
        pads = [(0, 0)] * n
    elif pad == "same":
        pads = [_same_padding(sizes[i], k[i], s[i], d[i]) for i in range(n)]
    elif isinstance(pad, tuple) and len(pad) == 2 * n:  # (before, after) per axis
        pads = [(pad[2 * i], pad[2 * i + 1]) for i in range(n)]
    else:
        pads = [(p, p) for p in expand(pad, n, "padding")]
    return k, s, d, pads


def _same_padding(size: int, k: int, s: int, d: int) -> tuple[int, int]:
    """TensorFlow-style 'same': output = ceil(size / stride), extra pad goes after."""
    total = max((ceil(size / s) - 1) * s + d * (k - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def _conv_out(size, k, s, d, pads) -> int:
    return (size + pads[0] + pads[1] - d * (k - 1) - 1) // s + 1


def _check_groups(a, cin: int, op: str) -> None:
    if cin % a.groups or a.out_channels % a.groups:
        raise ShapeError(f"{op}: groups={a.groups} must divide both input channels ({cin}) "
                         f"and out_channels ({a.out_channels})")


def conv_shape(a, ins, op="conv", ranks=(2, 3, 4)):
    (shape,) = ins
    k, s, d, pads = conv_geometry(a, shape, op, ranks)
    _check_groups(a, shape[0], op)
    _check_padding_mode(a, shape, pads, op)
    padded_extents(op, shape[1:], pads)
    explicit = explicit_padding(pads, a.get("padding_mode", "zeros"))
    if any(before or after for before, after in explicit):
        materialized(op, (shape[0], *padded_extents(op, shape[1:], explicit)), "explicit padding")
    out = [_conv_out(shape[i + 1], k[i], s[i], d[i], pads[i]) for i in range(len(k))]
    return positive((a.out_channels, *out), op, f" from input {list(shape)}")


def explicit_padding(pads, mode: str) -> list[tuple[int, int]]:
    """The (before, after) padding a conv copies its input into: all of it in the
    reflect, replicate and circular modes (torch pads with F.pad); with zeros, only
    the excess of the wider side (netdsl.runtime's asymmetric convs), none when symmetric."""
    if mode != "zeros":
        return list(pads)
    return [(before - min(before, after), after - min(before, after)) for before, after in pads]


def _check_padding_mode(a, shape, pads, op: str) -> None:
    """Errors torch would raise only at build or run time, reported while elaborating."""
    mode = a.get("padding_mode", "zeros")
    if mode == "zeros":
        return
    if any(p0 != p1 for p0, p1 in pads):
        raise ArgumentError(f"{op}: asymmetric padding works only with padding_mode=\"zeros\"")
    if mode == "reflect" and any(p >= size for (p, _), size in zip(pads, shape[1:])):
        raise ShapeError(f"{op}: reflect padding {[p for p, _ in pads]} must be smaller than "
                         f"the input size {list(shape[1:])}")
    if mode == "circular" and any(p > size for (p, _), size in zip(pads, shape[1:])):  # wraps once at most
        raise ShapeError(f"{op}: circular padding {[p for p, _ in pads]} must be at most "
                         f"the input size {list(shape[1:])}")


def conv_weights(a, ins):
    k = expand(a.kernel, len(ins[0]) - 1)
    w = {"weight": (a.out_channels, ins[0][0] // a.groups, *k)}
    if a.bias:
        w["bias"] = (a.out_channels,)
    return w


def conv_macs(a, ins, out):
    k = expand(a.kernel, len(ins[0]) - 1)
    return prod(out) * (ins[0][0] // a.groups) * prod(k)


def conv_bias_flops(a, ins, out):
    return prod(out) if a.bias else 0


def conv_rf(a, ins):
    k, s, d, pads = conv_geometry(a, ins[0], "conv")
    return [AxisRF(k[i], s[i], pads[i][0], d[i]) for i in range(len(k))]


def conv_torch(a, ins):
    n = len(ins[0]) - 1
    k, s, d, pads = conv_geometry(a, ins[0], "conv")
    symmetric = all(p0 == p1 for p0, p1 in pads)
    kwargs = dict(in_channels=ins[0][0], out_channels=a.out_channels, kernel_size=compact(k),
                  stride=compact(s), padding=compact(tuple(p for p, _ in pads)),
                  dilation=compact(d), groups=a.groups, bias=a.bias, padding_mode=a.padding_mode)
    if symmetric:
        return TorchCall(f"torch.nn.Conv{n}d", kwargs)
    kwargs["padding"] = fpad_order(pads)
    return TorchCall(f"netdsl.runtime.AsymmetricConv{n}d", kwargs)


def _conv_spec(name: str, ranks, doc: str) -> OpSpec:
    return OpSpec(
        name=name, category="conv", doc=doc, args=CONV_ARGS,
        shape=lambda a, ins: conv_shape(a, ins, name, ranks),
        torch=conv_torch, weights=conv_weights, macs=conv_macs, flops=conv_bias_flops,
        rf=conv_rf, input_rank=ranks, has_weights=True)


_CONV_COST = (" MACs: output elements × in_channels/groups × kernel elements."
              " FLOPs: the bias, 1 per output element.")

register(_conv_spec("conv", (2, 3, 4), "Convolution; 1-d, 2-d or 3-d from the input's rank." + _CONV_COST))
register(_conv_spec("conv1d", (2,), "1-d convolution over [C, L]." + _CONV_COST))
register(_conv_spec("conv2d", (3,), "2-d convolution over [C, H, W]." + _CONV_COST))
register(_conv_spec("conv3d", (4,), "3-d convolution over [C, D, H, W]." + _CONV_COST))


# ------------------------------------------------------------ transposed conv
TCONV_ARGS = (
    Arg("out_channels", "int", minimum=1),
    Arg("kernel", "ints", minimum=1),
    Arg("stride", "ints", 1, minimum=1),
    Arg("padding", "ints", 0, minimum=0),
    Arg("output_padding", "ints", 0, minimum=0),
    Arg("dilation", "ints", 1, minimum=1),
    Arg("groups", "int", 1, minimum=1),
    Arg("bias", "bool", True),
)


def _tconv_geometry(a, shape):
    n = spatial(shape, "conv_transpose")
    return [expand(a[key], n, key) for key in ("kernel", "stride", "padding", "output_padding", "dilation")]


def tconv_shape(a, ins):
    (shape,) = ins
    k, s, p, op, d = _tconv_geometry(a, shape)
    _check_groups(a, shape[0], "conv_transpose")
    for i in range(len(k)):
        if op[i] >= max(s[i], d[i]):
            raise ArgumentError(f"conv_transpose: output_padding {op[i]} must be smaller than stride or dilation")
    for size, stride in zip(shape[1:], s):
        if (size - 1) * stride > INT64_MAX:  # torch's deconvolution fails past int64
            raise ShapeError(f"conv_transpose: stride {stride} spreads {size} input positions over "
                             f"{(size - 1) * stride:,}, past the {INT64_MAX:,} torch can index")
    out = [(shape[i + 1] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1 for i in range(len(k))]
    return positive((a.out_channels, *out), "conv_transpose")


def tconv_weights(a, ins):
    k = expand(a.kernel, len(ins[0]) - 1)
    w = {"weight": (ins[0][0], a.out_channels // a.groups, *k)}
    if a.bias:
        w["bias"] = (a.out_channels,)
    return w


def tconv_macs(a, ins, out):
    # torch's counter: weight numel × input spatial positions (each input pixel is scattered).
    k = expand(a.kernel, len(ins[0]) - 1)
    return prod(ins[0]) * (a.out_channels // a.groups) * prod(k)


def tconv_rf(a, ins):
    k, s, p, _, d = _tconv_geometry(a, ins[0])
    # Output u receives input i when u = i·s − p + j·d for a tap j < k, so i spans
    # [(u + p − d·(k−1)) / s, (u + p) / s]: taps spaced d/s apart in input pixels.
    return [AxisRF(k[i], Fraction(1, s[i]), Fraction(d[i] * (k[i] - 1) - p[i], s[i]), Fraction(d[i], s[i]),
                   scatter=s[i] > 1)
            for i in range(len(k))]


def tconv_torch(a, ins):
    n = len(ins[0]) - 1
    k, s, p, op, d = _tconv_geometry(a, ins[0])
    return TorchCall(f"torch.nn.ConvTranspose{n}d", dict(
        in_channels=ins[0][0], out_channels=a.out_channels, kernel_size=compact(k),
        stride=compact(s), padding=compact(p), output_padding=compact(op),
        groups=a.groups, bias=a.bias, dilation=compact(d)))


register(OpSpec(
    name="conv_transpose", category="conv", aliases=("deconv", "upconv"),
    doc="Transposed convolution (learned upsampling); 1-d, 2-d or 3-d from the input's rank. "
        "MACs (torch's count): input elements × out_channels/groups × kernel elements. "
        "FLOPs: the bias, 1 per output element.",
    args=TCONV_ARGS, shape=tconv_shape, torch=tconv_torch, weights=tconv_weights,
    macs=tconv_macs, flops=conv_bias_flops, rf=tconv_rf, input_rank=(2, 3, 4), has_weights=True))


# ------------------------------------------------------------ depthwise and separable
_GEOMETRY_ARGS = (
    Arg("kernel", "ints", minimum=1, doc="kernel size; a tuple for n×1 / 1×n kernels"),
    Arg("stride", "ints", 1, minimum=1),
    Arg("padding", "padding", 0, minimum=0,
        doc="int or tuple per axis; 2·n values (before, after per axis) for asymmetric; \"same\" or \"valid\""),
    Arg("dilation", "ints", 1, minimum=1),
)
_TAIL_ARGS = (Arg("bias", "bool", True), Arg("padding_mode", "str", "zeros", choices=PADDING_MODES))


def depthwise_args(a: Args, ins, multiplier: int = 1, bias: bool = False) -> Args:
    """The equivalent ``conv`` arguments of a depthwise conv on ``ins``."""
    channels = ins[0][0]
    return Args(a, out_channels=channels * multiplier, groups=channels, bias=bias)


def _dw(rule):
    """A conv rule applied to dwconv's equivalent conv arguments."""
    return lambda a, ins, *rest: rule(depthwise_args(a, ins, a.multiplier, a.bias), ins, *rest)


register(OpSpec(
    name="dwconv", category="conv", aliases=("depthwise_conv",),
    doc="Depthwise convolution: groups = in_channels, out_channels = in_channels·multiplier. "
        "MACs: output elements × kernel elements (one input channel per output channel). "
        "FLOPs: the bias, 1 per output element.",
    args=_GEOMETRY_ARGS + (Arg("multiplier", "int", 1, minimum=1, doc="output channels per input channel"),)
    + _TAIL_ARGS,
    shape=lambda a, ins: conv_shape(depthwise_args(a, ins, a.multiplier), ins, "dwconv"),
    torch=_dw(conv_torch), weights=_dw(conv_weights), macs=_dw(conv_macs),
    flops=_dw(conv_bias_flops), rf=_dw(conv_rf), input_rank=(2, 3, 4), has_weights=True))


def _sep_shape(a, ins):
    depthwise = conv_shape(depthwise_args(a, ins), ins, "sepconv")
    return (a.out_channels, *depthwise[1:])


def _sep_weights(a, ins):
    channels, n = ins[0][0], len(ins[0]) - 1
    depthwise = conv_weights(depthwise_args(a, ins), ins)
    weights = {"depthwise.weight": depthwise["weight"],
               "pointwise.weight": (a.out_channels, channels, *(1,) * n)}
    if a.bias:
        weights["pointwise.bias"] = (a.out_channels,)
    return weights


def _sep_macs(a, ins, out):
    """Depthwise: out positions × channels × kernel; pointwise: out elements × in_channels."""
    depthwise = conv_macs(depthwise_args(a, ins), ins, (ins[0][0], *out[1:]))
    return depthwise + prod(out) * ins[0][0]


def _sep_torch(a, ins):
    k, s, d, pads = conv_geometry(depthwise_args(a, ins), ins[0], "sepconv")
    symmetric = all(p0 == p1 for p0, p1 in pads)
    padding = compact(tuple(p for p, _ in pads)) if symmetric else fpad_order(pads)
    return TorchCall(f"netdsl.runtime.SeparableConv{len(k)}d", dict(
        in_channels=ins[0][0], out_channels=a.out_channels, kernel_size=compact(k), stride=compact(s),
        padding=padding, dilation=compact(d), bias=a.bias, padding_mode=a.padding_mode))


register(OpSpec(
    name="sepconv", category="conv", aliases=("separable_conv",),
    doc="Depthwise-separable convolution: a depthwise conv (no bias) then a 1×1 pointwise conv "
        "to out_channels, as one module with children `depthwise` and `pointwise`. "
        "MACs: depthwise (positions × in_channels × kernel) + pointwise (output elements × in_channels). "
        "FLOPs: the bias, 1 per output element.",
    args=(Arg("out_channels", "int", minimum=1, doc="output channels of the pointwise conv"),)
    + _GEOMETRY_ARGS + _TAIL_ARGS,
    shape=_sep_shape, torch=_sep_torch, weights=_sep_weights, macs=_sep_macs,
    flops=conv_bias_flops, rf=lambda a, ins: conv_rf(depthwise_args(a, ins), ins),
    input_rank=(2, 3, 4), has_weights=True))
