"""Pooling: max/avg with ceil_mode and padding, adaptive, global."""
from __future__ import annotations

from math import gcd, prod

from ..errors import ArgumentError, ShapeError
from .common import INT32_MAX, compact, expand, positive, spatial
from .registry import GLOBAL, Arg, AxisRF, OpSpec, TorchCall, register


def pool_geometry(a, shape, op):
    n = spatial(shape, op)
    k = expand(a.kernel, n, "kernel")
    s = expand(a.stride if a.stride is not None else a.kernel, n, "stride")
    p = expand(a.padding, n, "padding")
    d = expand(a.get("dilation", 1), n, "dilation")
    for i in range(n):
        if p[i] * 2 > k[i]:
            raise ArgumentError(f"{op}: padding {p[i]} must be at most half the kernel size {k[i]}")
    return k, s, p, d


def pooled_size(size, k, s, p, d, ceil_mode) -> int:
    """PyTorch's rule, including the ceil-mode correction for windows starting in padding."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def pool_shape(a, ins, op):
    (shape,) = ins
    k, s, p, d = pool_geometry(a, shape, op)
    out = [pooled_size(shape[i + 1], k[i], s[i], p[i], d[i], a.ceil_mode) for i in range(len(k))]
    return positive((shape[0], *out), op, f" from input {list(shape)}")


def _avg_shape(a, ins):
    shape = pool_shape(a, ins, "avgpool")
    _check_avg3d_fits(a, ins[0])
    return shape


def _check_avg3d_fits(a, shape) -> None:
    """torch's 3-d average pooling, unlike the 1-d and 2-d one, refuses an input
    smaller than the kernel along any axis, whatever the padding and ceil_mode."""
    if len(shape) != 4:
        return
    kernel = expand(a.kernel, 3, "kernel")
    if any(size < k for size, k in zip(shape[1:], kernel)):
        raise ShapeError(f"avgpool: 3-d average pooling needs an input of at least the kernel size "
                         f"{list(kernel)} on every axis, got {list(shape[1:])} (torch counts neither "
                         "padding nor ceil_mode here)")


def pool_rf(a, ins):
    k, s, p, d = pool_geometry(a, ins[0], "pool")
    return [AxisRF(k[i], s[i], p[i], d[i]) for i in range(len(k))]


def pool_flops(a, ins, out):
    """One comparison or add per window element."""
    return prod(out) * prod(expand(a.kernel, len(out) - 1))


def _max_torch(a, ins):
    k, s, p, d = pool_geometry(a, ins[0], "maxpool")
    return TorchCall(f"torch.nn.MaxPool{len(k)}d", dict(
        kernel_size=compact(k), stride=compact(s), padding=compact(p),
        dilation=compact(d), ceil_mode=a.ceil_mode))


def _avg_torch(a, ins):
    k, s, p, _ = pool_geometry(a, ins[0], "avgpool")
    return TorchCall(f"torch.nn.AvgPool{len(k)}d", dict(
        kernel_size=compact(k), stride=compact(s), padding=compact(p),
        ceil_mode=a.ceil_mode, count_include_pad=a.count_include_pad))


_POOL_ARGS = (Arg("kernel", "ints", minimum=1, maximum=INT32_MAX),
              Arg("stride", "ints", None, minimum=1, maximum=INT32_MAX),
              Arg("padding", "ints", 0, minimum=0, maximum=INT32_MAX))

register(OpSpec(
    name="maxpool", category="pool", aliases=("max_pool",),
    doc="Max pooling; stride defaults to the kernel size; overlapping when stride < kernel. "
        "Integer arguments are at most 2³¹ − 1 (torch's pooling kernels take C ints). "
        "FLOPs: 1 per window element per output.",
    args=_POOL_ARGS + (Arg("dilation", "ints", 1, minimum=1, maximum=INT32_MAX), Arg("ceil_mode", "bool", False)),
    shape=lambda a, ins: pool_shape(a, ins, "maxpool"), torch=_max_torch,
    rf=pool_rf, flops=pool_flops, input_rank=(2, 3, 4)))

register(OpSpec(
    name="avgpool", category="pool", aliases=("avg_pool",),
    doc="Average pooling; stride defaults to the kernel size. 3-d pooling needs an input at least "
        "as large as the kernel on every axis (torch's rule). Integer arguments are at most 2³¹ − 1 "
        "(torch's pooling kernels take C ints). FLOPs: 1 per window element per output.",
    args=_POOL_ARGS + (Arg("ceil_mode", "bool", False), Arg("count_include_pad", "bool", True)),
    shape=_avg_shape, torch=_avg_torch,
    rf=pool_rf, flops=pool_flops, input_rank=(2, 3, 4)))


def adaptive_geometry(size: int, out: int) -> AxisRF:
    """Window of adaptive pooling: output i pools [⌊i·size/out⌋, ⌈(i+1)·size/out⌉).
    Exact when out divides size; else the size is the widest of those windows and
    the stride ⌊size/out⌋, while torch's windows start at ⌊i·size/out⌋: unit
    positions are approximate there (7 → 4: torch's last window starts at 5, not 3)."""
    # width ⌈frac(i·size/out) + size/out⌉ is widest where the fraction is largest: (out − gcd)/out
    widest = -(-(size + out - gcd(size, out)) // out)
    return AxisRF(min(widest, size), size // out, 0)


def _adaptive_shape(a, ins, op):
    (shape,) = ins
    n = spatial(shape, op)
    return (shape[0], *expand(a.output_size, n))


def _adaptive_rf(a, ins):
    (shape,) = ins
    out = _adaptive_shape(a, ins, "adaptive pool")
    if all(o == 1 for o in out[1:]):
        return GLOBAL
    return [adaptive_geometry(shape[i + 1], out[i + 1]) for i in range(len(out) - 1)]


def _adaptive_flops(a, ins, out):
    return prod(ins[0])


for _kind in ("avg", "max"):
    register(OpSpec(
        name=f"adaptive_{_kind}pool", category="pool",
        doc=f"Adaptive {_kind} pooling to a fixed output size (1 = global). FLOPs: 1 per input element. "
            "Receptive field: output i pools ⌊i·size/out⌋ … ⌈(i+1)·size/out⌉ − 1 along each axis; "
            "the field is the widest of those windows (exact when out divides size).",
        args=(Arg("output_size", "ints", minimum=1),),
        shape=lambda a, ins, _k=_kind: _adaptive_shape(a, ins, f"adaptive_{_k}pool"),
        torch=lambda a, ins, _k=_kind: TorchCall(
            f"torch.nn.Adaptive{_k.capitalize()}Pool{len(ins[0]) - 1}d", dict(output_size=a.output_size)),
        rf=_adaptive_rf, flops=_adaptive_flops, input_rank=(2, 3, 4)))


# ------------------------------------------------------------ global pooling
for _kind, _word in (("avg", "Average"), ("max", "Max")):
    register(OpSpec(
        name=f"global_{_kind}pool", category="pool",
        doc=f"{_word} over every position of each channel: [C, ...] → [C]. FLOPs: 1 per input element.",
        args=(), shape=lambda a, ins: (ins[0][0],), rf=lambda a, ins: GLOBAL,
        flops=_adaptive_flops, input_rank=(2, 3, 4),
        torch=lambda a, ins, _k=_kind: TorchCall("netdsl.runtime.GlobalPool", {"kind": _k})))
