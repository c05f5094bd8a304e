"""Normalization layers.

FLOPs: normalizing costs 2 per element (subtract the mean, divide by the
deviation), and an affine scale and shift 2 more.  Statistics are not counted.
LRN costs ``size`` per element for its windowed sum of squares, plus 3.
"""
from __future__ import annotations

from math import prod

from ..errors import ShapeError
from .common import INT32_MAX, channels_divisible, materialized, same_shape, whole_axes_rf
from .registry import GLOBAL, Arg, OpSpec, TorchCall, register

# torch's batch norm refuses eps = 0 in training; the others divide by zero on constant input
_EPS = Arg("eps", "float", 1e-5, above=0, doc="added to the variance for stability")
_MOMENTUM = Arg("momentum", "float", 0.1, minimum=0, maximum=1, doc="running statistics update rate")

#: batchnorm input rank (batch excluded) → torch's BatchNorm{n}d.
_BN_CLASS = {1: 1, 2: 1, 3: 2, 4: 3}


def _channel_weights(a, ins):
    c = ins[0][0]
    return {"weight": (c,), "bias": (c,)} if a.affine else {}


def _running_stats(a, ins):
    c = ins[0][0]
    if not a.track_running_stats:
        return {}
    return {"running_mean": (c,), "running_var": (c,), "num_batches_tracked": ()}


def norm_flops(a, ins, out):
    """Normalize (2 FLOPs per element), then scale (1) and shift (1) where learned:
    layer norms may keep the scale without the shift (bias=false)."""
    if not a.get("affine", a.get("elementwise_affine", True)):
        return prod(out) * 2
    return prod(out) * (3 if a.get("bias", True) is False else 4)


def _bn_torch(a, ins):
    return TorchCall(f"torch.nn.BatchNorm{_BN_CLASS[len(ins[0])]}d", dict(
        num_features=ins[0][0], eps=a.eps, momentum=a.momentum, affine=a.affine,
        track_running_stats=a.track_running_stats))


def statistics_rf(a, ins):
    """Pointwise at eval with running statistics; without them every output
    depends on the statistics of all positions."""
    shape = ins[0]
    return None if a.track_running_stats else whole_axes_rf(shape, range(1, len(shape)))


def _batchnorm(name: str, ranks: tuple, doc: str, aliases=()) -> OpSpec:
    return register(OpSpec(
        name=name, category="norm", aliases=aliases, doc=doc,
        args=(_EPS, _MOMENTUM, Arg("affine", "bool", True), Arg("track_running_stats", "bool", True)),
        shape=same_shape, torch=_bn_torch, weights=_channel_weights, buffers=_running_stats,
        flops=norm_flops, rf=statistics_rf, input_rank=ranks, has_weights=True))


_BATCH_STATS = (" Training needs more than one value per channel: torch refuses batch 1 on a "
                "[C] or [C, 1, 1] input, but the batch size is chosen at run time, so netdsl accepts "
                "every shape some batch size trains.")

_batchnorm("batchnorm", (1, 2, 3, 4), "Batch normalization over the channel dim (dim 0); "
           "1-d, 2-d or 3-d from the input's rank. FLOPs: 4/elem (2 without affine)." + _BATCH_STATS,
           aliases=("bn",))
_batchnorm("batchnorm1d", (1, 2), "Batch normalization of [C] or [C, L] (torch BatchNorm1d).")
_batchnorm("batchnorm2d", (3,), "Batch normalization of [C, H, W] (torch BatchNorm2d).")
_batchnorm("batchnorm3d", (4,), "Batch normalization of [C, D, H, W] (torch BatchNorm3d).")


# ------------------------------------------------------------ layer norm
def _ln_shape(a, ins):
    (shape,) = ins
    if a.dims > len(shape):
        raise ShapeError(f"layernorm: dims={a.dims} exceeds the input's rank {len(shape)} ({list(shape)})")
    return shape


def _ln_weights(a, ins):
    normalized = tuple(ins[0][-a.dims:])
    weights = {"weight": normalized} if a.elementwise_affine else {}
    if a.elementwise_affine and a.bias:
        weights["bias"] = normalized
    return weights


register(OpSpec(
    name="layernorm", category="norm", aliases=("ln",),
    doc="Layer normalization over the last `dims` dims (per sample). FLOPs: 4/elem (3 with bias=false, "
        "2 without affine).",
    args=(Arg("dims", "int", 1, minimum=1, doc="how many trailing dims to normalize over"), _EPS,
          Arg("elementwise_affine", "bool", True), Arg("bias", "bool", True)),
    shape=_ln_shape, weights=_ln_weights, flops=norm_flops,
    rf=lambda a, ins: whole_axes_rf(ins[0], range(len(ins[0]) - a.dims, len(ins[0]))),
    mixes=lambda a, ins: tuple(range(len(ins[0]) - a.dims, len(ins[0]))),
    torch=lambda a, ins: TorchCall("torch.nn.LayerNorm", dict(
        normalized_shape=tuple(ins[0][-a.dims:]), eps=a.eps,
        elementwise_affine=a.elementwise_affine, bias=a.bias)),
    has_weights=True))


def _ln2d_weights(a, ins):
    c = ins[0][0]
    weights = {"weight": (c,)} if a.elementwise_affine else {}
    if a.elementwise_affine and a.bias:
        weights["bias"] = (c,)
    return weights


register(OpSpec(
    name="layernorm2d", category="norm",
    doc="Layer normalization over the channels of [C, H, W] at each position (ConvNeXt's "
        "LayerNorm2d: channels moved last, nn.LayerNorm, moved back; weight and bias [C]). "
        "Pointwise in space. FLOPs: 4/elem (3 with bias=false, 2 without affine).",
    args=(_EPS, Arg("elementwise_affine", "bool", True), Arg("bias", "bool", True)),
    shape=same_shape, weights=_ln2d_weights, flops=norm_flops, input_rank=(3,),
    torch=lambda a, ins: TorchCall("netdsl.runtime.LayerNorm2d", dict(
        normalized_shape=ins[0][0], eps=a.eps, elementwise_affine=a.elementwise_affine, bias=a.bias)),
    has_weights=True))


# ------------------------------------------------------------ instance / group norm
def _in_shape(a, ins):
    """Statistics over one position are undefined: torch refuses them in training
    (and always without running statistics), whatever the batch size."""
    (shape,) = ins
    if prod(shape[1:]) == 1:
        raise ShapeError(f"instancenorm needs more than one spatial position per channel, "
                         f"got input {list(shape)}")
    return shape


register(OpSpec(
    name="instancenorm", category="norm",
    doc="Instance normalization: each channel of each sample over its spatial dims; "
        "1-d, 2-d or 3-d from the input's rank. Needs more than one spatial position "
        "(torch computes no statistics over one). FLOPs: 2/elem (4 with affine).",
    args=(Arg("affine", "bool", False), Arg("track_running_stats", "bool", False), _EPS, _MOMENTUM),
    shape=_in_shape,
    weights=_channel_weights, buffers=_running_stats, flops=norm_flops, rf=statistics_rf,
    torch=lambda a, ins: TorchCall(f"torch.nn.InstanceNorm{len(ins[0]) - 1}d", dict(
        num_features=ins[0][0], eps=a.eps, momentum=a.momentum, affine=a.affine,
        track_running_stats=a.track_running_stats)),
    input_rank=(2, 3, 4), has_weights=True))


def _gn_shape(a, ins):
    return channels_divisible(ins[0], a.groups, "groupnorm")


register(OpSpec(
    name="groupnorm", category="norm", aliases=("gn",),
    doc="Group normalization: channels in `groups` groups, each normalized over its channels "
        "and all spatial positions. FLOPs: 4/elem (2 without affine). A group of one value "
        "(groups = channels, no spatial dims) trains only with batch > 1, like batchnorm.",
    args=(Arg("groups", "int", minimum=1, doc="number of channel groups; must divide the channels"),
          _EPS, Arg("affine", "bool", True)),
    shape=_gn_shape, weights=_channel_weights, flops=norm_flops,
    rf=lambda a, ins: GLOBAL if len(ins[0]) > 1 else None,
    torch=lambda a, ins: TorchCall("torch.nn.GroupNorm", dict(
        num_groups=a.groups, num_channels=ins[0][0], eps=a.eps, affine=a.affine)),
    has_weights=True))


# ------------------------------------------------------------ local response norm
def _lrn_shape(a, ins):
    """torch pads the squares with size - 1 channels before averaging them."""
    (shape,) = ins
    materialized("lrn", (shape[0] + a.size - 1, *shape[1:]),
                 f"the squares padded by size - 1 = {a.size - 1} channels")
    return shape


register(OpSpec(
    name="lrn", category="norm", aliases=("local_response_norm",),
    doc="Local response normalization across `size` neighbouring channels (AlexNet: size=5, k=2): "
        "x / (k + alpha/size · Σ x²)^beta. FLOPs: size + 3 per element.",
    args=(Arg("size", "int", minimum=1, maximum=INT32_MAX,
              doc="number of neighbouring channels (torch averages them with an int-sized pooling kernel)"),
          Arg("alpha", "float", 1e-4, minimum=0), Arg("beta", "float", 0.75, minimum=0),
          Arg("k", "float", 1.0, minimum=0)),
    shape=_lrn_shape, flops=lambda a, ins, out: prod(out) * (a.size + 3), input_rank=(2, 3, 4),
    torch=lambda a, ins: TorchCall("netdsl.runtime.LocalResponseNorm", dict(
        size=a.size, alpha=a.alpha, beta=a.beta, k=a.k))))
