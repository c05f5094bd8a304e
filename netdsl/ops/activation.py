"""Pointwise activations, softmax, maxout and constant scaling.

FLOPs: one per output element for every activation, however costly its
formula (the convention most papers use); softmax and log_softmax count 3
(exp, sum, divide); maxout counts pieces − 1 comparisons per output element.
"""
from __future__ import annotations

from math import prod

from .common import (channels_divisible, dim_index, elementwise_flops, same_shape, torch_dim,
                     whole_axes_rf)
from .registry import Arg, OpSpec, TorchCall, register


def _simple(name: str, torch_class: str, doc: str, args=(), aliases=()):
    """An activation with no weights: same shape out, one FLOP per element."""
    names = [arg.name for arg in args]
    register(OpSpec(
        name=name, category="activation", doc=doc, args=tuple(args), aliases=aliases,
        shape=same_shape, flops=elementwise_flops,
        torch=lambda a, ins: TorchCall(torch_class, {k: a[k] for k in names})))


_INPLACE = Arg("inplace", "bool", False, doc="overwrite the input (saves memory; refused where the input "
                                              "is still needed)")

_simple("relu", "torch.nn.ReLU", "max(0, x).", [_INPLACE])
_simple("relu6", "torch.nn.ReLU6", "min(max(0, x), 6) (MobileNet).", [_INPLACE])
_simple("sigmoid", "torch.nn.Sigmoid", "1 / (1 + exp(-x)).")
_simple("tanh", "torch.nn.Tanh", "Hyperbolic tangent.")
_simple("leaky_relu", "torch.nn.LeakyReLU", "x if x > 0 else negative_slope·x.",
        [Arg("negative_slope", "float", 0.01), _INPLACE])
_simple("elu", "torch.nn.ELU", "x if x > 0 else alpha·(exp(x) − 1).", [Arg("alpha", "float", 1.0), _INPLACE])
_simple("selu", "torch.nn.SELU", "Scaled ELU with the self-normalizing constants.", [_INPLACE])
_simple("silu", "torch.nn.SiLU", "x·sigmoid(x) (a.k.a. swish).", [_INPLACE], aliases=("swish",))
_simple("gelu", "torch.nn.GELU", "x·Φ(x); approximate=\"tanh\" uses the tanh formula.",
        [Arg("approximate", "str", "none", choices=("none", "tanh"))])
_simple("softplus", "torch.nn.Softplus", "log(1 + exp(beta·x)) / beta; linear above `threshold`.",
        [Arg("beta", "float", 1.0), Arg("threshold", "float", 20.0)])
_simple("hardswish", "torch.nn.Hardswish", "x·relu6(x + 3) / 6 (MobileNetV3).", [_INPLACE])
_simple("hardsigmoid", "torch.nn.Hardsigmoid", "relu6(x + 3) / 6 (MobileNetV3).", [_INPLACE])
_simple("mish", "torch.nn.Mish", "x·tanh(softplus(x)).", [_INPLACE])


# ------------------------------------------------------------ PReLU (learned slope)
def _prelu_weights(a, ins):
    channels = ins[0][0] if a.per_channel else 1
    return {"weight": (channels,)}


register(OpSpec(
    name="prelu", category="activation",
    doc="Leaky ReLU with a learned negative slope: one for all channels, or one per channel (dim 0).",
    args=(Arg("per_channel", "bool", False, doc="learn one slope per channel"),
          Arg("slope", "float", 0.25, doc="initial slope (torch's init=; init= takes an initializer)")),
    shape=same_shape, weights=_prelu_weights, flops=elementwise_flops, has_weights=True,
    torch=lambda a, ins: TorchCall("torch.nn.PReLU", dict(
        num_parameters=ins[0][0] if a.per_channel else 1, init=a.slope))))


# ------------------------------------------------------------ softmax
def _dim_checked(op: str):
    def rule(a, ins):
        dim_index(a.dim, ins[0], op)
        return ins[0]
    return rule


def _softmax(name: str, torch_class: str, doc: str) -> None:
    register(OpSpec(
        name=name, category="activation", doc=doc,
        args=(Arg("dim", "int", 0, doc="dim to normalize over (batch excluded; 0 = channels)"),),
        shape=_dim_checked(name),
        flops=lambda a, ins, out: 3 * prod(out),
        rf=lambda a, ins: whole_axes_rf(ins[0], {dim_index(a.dim, ins[0], name)}),
        mixes=lambda a, ins: (dim_index(a.dim, ins[0], name),),
        torch=lambda a, ins: TorchCall(torch_class, {"dim": torch_dim(a.dim)})))


_softmax("softmax", "torch.nn.Softmax", "exp(x) / Σ exp(x) along `dim`. FLOPs: 3/elem.")
_softmax("log_softmax", "torch.nn.LogSoftmax", "log(softmax(x)) along `dim`, computed stably. FLOPs: 3/elem.")


# ------------------------------------------------------------ maxout
def _maxout_shape(a, ins):
    shape = channels_divisible(ins[0], a.pieces, "maxout", "pieces")
    return (shape[0] // a.pieces, *shape[1:])


register(OpSpec(
    name="maxout", category="activation",
    doc="Max over groups of `pieces` consecutive channels: [C, ...] → [C / pieces, ...] "
        "(Goodfellow et al. 2013). FLOPs: pieces − 1 comparisons per output element.",
    args=(Arg("pieces", "int", minimum=1, doc="channels per group"),),
    shape=_maxout_shape, flops=lambda a, ins, out: prod(out) * (a.pieces - 1),
    torch=lambda a, ins: TorchCall("netdsl.runtime.Maxout", {"pieces": a.pieces})))


# ------------------------------------------------------------ constant scaling
register(OpSpec(
    name="scale", category="activation",
    doc="Multiply by a constant (Inception-ResNet's residual scaling). FLOPs: 1/elem.",
    args=(Arg("factor", "float", doc="the constant"),),
    shape=same_shape, flops=elementwise_flops,
    torch=lambda a, ins: TorchCall("netdsl.runtime.Scale", {"factor": a.factor})))
