"""MaxViT's relative-position multi-head attention (Tu et al., "MaxViT:
Multi-Axis Vision Transformer", ECCV 2022), as torchvision's
``RelativePositionalMultiHeadAttention``, on tokens already partitioned into
groups: ``[G, N, C]`` per sample, ``N = partition_size²`` tokens per group.

The window and grid partitions themselves are reshapes and permutes written in
lib/maxvit.net; this op is what runs on each group.  MACs are torchvision's
matmuls: the to_qkv and merge projections (4·G·N·C²) and ``Q·Kᵀ`` and ``A·V``
within each group (2·G·N²·C).  Tokens attend only within their group, and the
features are projected as a whole: the op mixes whole token and feature axes
and no group with another, so a field on those axes becomes whole (``mixes``);
without one (after the partition's reshape) the op claims global only for a
single group, where every output sees the whole input, else none.
"""
from __future__ import annotations

from ..errors import ShapeError
from .registry import GLOBAL, NO_FIELD, Arg, OpSpec, TorchCall, register

OP = "relative_position_attention"


def geometry(a, ins):
    """(G, N, C) for one [G, N, C] input, checked against the arguments."""
    g, n, c = ins[0]  # input_rank: 3
    if c != a.dim:
        raise ShapeError(f"{OP}: the input has {c} features, dim is {a.dim}",
                         hint="the input is grouped tokens [groups, tokens, features]")
    if c % a.head_dim:
        raise ShapeError(f"{OP}: head_dim={a.head_dim} must divide dim={c}")
    if n != a.partition_size ** 2:
        raise ShapeError(f"{OP}: groups of {n} tokens, but partition_size={a.partition_size} "
                         f"means {a.partition_size ** 2} (a square partition)")
    return g, n, c


def _weights(a, ins):
    _, _, c = geometry(a, ins)
    side = 2 * a.partition_size - 1
    return {"to_qkv.weight": (3 * c, c), "to_qkv.bias": (3 * c,),
            "merge.weight": (c, c), "merge.bias": (c,),
            "relative_position_bias_table": (side * side, c // a.head_dim)}


def _buffers(a, ins):
    _, n, _ = geometry(a, ins)
    return {"relative_position_index": (n, n)}


def _macs(a, ins, out):
    g, n, c = geometry(a, ins)
    return 4 * g * n * c * c + 2 * g * n * n * c


def _flops(a, ins, out):
    """Per attention weight (heads·G·N²): softmax 3, the position bias 1; the
    projections' biases 1 per projected element.  The key scaling is not counted,
    as no attention op counts its scale."""
    g, n, c = geometry(a, ins)
    return 4 * (c // a.head_dim) * g * n * n + 4 * g * n * c


def _field(a, ins):
    """Global for a single group (every token and feature reaches every output);
    several groups of an input without a field are the partition of a map, where
    each position sees its own group: a field per position, none claimed."""
    g, _, _ = geometry(a, ins)
    return GLOBAL if g == 1 else NO_FIELD


def _torch(a, ins):
    return TorchCall("netdsl.runtime.RelativePositionalMultiHeadAttention", dict(
        feat_dim=a.dim, head_dim=a.head_dim, max_seq_len=a.partition_size ** 2))


register(OpSpec(
    name=OP, category="attention", aliases=("rel_pos_attention",),
    doc="MaxViT's multi-head self-attention within groups of tokens [G, N, C] (a window or "
        "grid partition, N = partition_size²), as torchvision's "
        "RelativePositionalMultiHeadAttention: to_qkv and merge linears, a learned "
        "relative_position_bias_table and its relative_position_index buffer; scores scaled by "
        "dim^-0.5 (torchvision's choice, not head_dim^-0.5). MACs: 4·G·N·C² for the projections "
        "plus 2·G·N²·C for Q·Kᵀ and A·V. FLOPs: per attention weight 3 (softmax) and 1 (position "
        "bias); the biases. Receptive field: whole along tokens and features, none across groups.",
    args=(Arg("dim", "int", minimum=1, doc="features C of the input and output"),
          Arg("head_dim", "int", minimum=1, doc="features per head; must divide dim"),
          Arg("partition_size", "int", minimum=1, doc="side of the square partition: N = partition_size² tokens")),
    shape=lambda a, ins: tuple(geometry(a, ins)),
    weights=_weights,
    buffers=_buffers,
    macs=_macs,
    flops=_flops,
    rf=_field, mixes=lambda a, ins: (1, 2), input_rank=(3,),
    torch=_torch))
