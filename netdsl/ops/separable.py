"""Depthwise and depthwise-separable convolutions (MobileNet, Xception).

Both reuse the conv rules: ``dwconv`` is a conv with groups = in_channels,
and ``sepconv`` is that (without bias) followed by a 1×1 pointwise conv.
"""
from __future__ import annotations

from math import prod

from .conv import (PADDING_MODES, conv_bias_flops, conv_geometry, conv_macs, conv_rf, conv_shape,
                   conv_torch, conv_weights, fpad_order)
from .registry import Arg, Args, OpSpec, TorchCall, compact, register

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
