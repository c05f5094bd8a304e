"""Normalization layers."""
from __future__ import annotations

from math import prod

from ..errors import ShapeError
from .registry import Arg, OpSpec, TorchCall, register


def _same(a, ins):
    return ins[0]


def _bn_dims(shape) -> int:
    if len(shape) not in (1, 2, 3, 4):
        raise ShapeError(f"batchnorm needs an input of rank 1 to 4 (batch excluded), got {list(shape)}")
    return {1: 1, 2: 1, 3: 2, 4: 3}[len(shape)]


def _bn_weights(a, ins):
    c = ins[0][0]
    return {"weight": (c,), "bias": (c,)} if a.affine else {}


def _bn_buffers(a, ins):
    c = ins[0][0]
    if not a.track_running_stats:
        return {}
    return {"running_mean": (c,), "running_var": (c,), "num_batches_tracked": ()}


def _bn_torch(a, ins):
    return TorchCall(f"torch.nn.BatchNorm{_bn_dims(ins[0])}d", dict(
        num_features=ins[0][0], eps=a.eps, momentum=a.momentum, affine=a.affine,
        track_running_stats=a.track_running_stats))


def norm_flops(a, ins, out):
    """Normalize and (if affine) scale and shift: 2 or 4 FLOPs per element."""
    return prod(out) * (4 if a.get("affine", a.get("elementwise_affine", True)) else 2)


register(OpSpec(
    name="batchnorm", category="norm", aliases=("bn",),
    doc="Batch normalization over the channel dim; 1-d/2-d/3-d from the input's rank.",
    args=(Arg("eps", "float", 1e-5, minimum=0), Arg("momentum", "float", 0.1, minimum=0),
          Arg("affine", "bool", True), Arg("track_running_stats", "bool", True)),
    shape=lambda a, ins: (_bn_dims(ins[0]), ins[0])[1],
    torch=_bn_torch, weights=_bn_weights, buffers=_bn_buffers, flops=norm_flops,
    has_weights=True))
