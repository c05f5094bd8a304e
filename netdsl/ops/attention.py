"""Attention over token sequences: multi-head attention (nn.MultiheadAttention's
parameters) and the functional scaled dot-product attention for hand-written blocks.

Tokens are ``[T, D]`` per sample (torch's batch_first layout).  MACs count what
torch's math SDPA backend runs: the projections, then ``Q·Kᵀ`` and ``A·V``, each
``T·S`` per feature (``S`` keys), whatever the mask hides (torch computes the
masked scores too).  Every query sees every key, so the receptive field is global.
"""
from __future__ import annotations

from math import prod

from ..errors import ShapeError
from .common import broadcast_dims
from .registry import GLOBAL, Arg, OpSpec, TorchCall, register


# ------------------------------------------------------------ multi-head attention
def _mha_roles(ins):
    """(query, key, value) shapes: one input attends to itself, two are query and
    memory (keys and values alike), three are query, key and value."""
    if not 1 <= len(ins) <= 3:
        raise ShapeError(f"multihead_attention takes 1 to 3 inputs (query, key, value), got {len(ins)}")
    query = ins[0]
    key = ins[1] if len(ins) > 1 else query
    value = ins[2] if len(ins) > 2 else key
    return query, key, value


def _mha_geometry(a, ins):
    """(T, S, kdim, vdim) after checking the inputs against embed_dim and num_heads."""
    if a.padding_mask:
        if len(ins) < 2:
            raise ShapeError("multihead_attention(padding_mask=true) needs the mask as its last branch: "
                             "`multihead_attention(..., padding_mask=true) { @x\n @mask }`")
        ins, mask = ins[:-1], ins[-1]
    query, key, value = _mha_roles(ins)
    if any(len(s) != 2 for s in (query, key, value)):
        raise ShapeError("multihead_attention needs token sequences [T, D], got "
                         f"{', '.join(str(list(s)) for s in ins)}",
                         hint="flatten the spatial dims and permute to [tokens, channels] first")
    if query[1] != a.embed_dim:
        raise ShapeError(f"multihead_attention: the query has {query[1]} features, embed_dim is {a.embed_dim}")
    if a.embed_dim % a.num_heads:
        raise ShapeError(f"multihead_attention: num_heads={a.num_heads} must divide embed_dim={a.embed_dim}")
    if key[0] != value[0]:
        raise ShapeError(f"multihead_attention: keys {list(key)} and values {list(value)} differ in length")
    if a.padding_mask and tuple(mask) != (key[0],):
        raise ShapeError(f"multihead_attention: the padding mask is {list(mask)}, the keys need [{key[0]}]",
                         hint="one bool per key position: `input mask: [S] bool`")
    return query[0], key[0], key[1], value[1]


def _mha_weights(a, ins):
    _, _, kdim, vdim = _mha_geometry(a, ins)
    e = a.embed_dim
    if kdim == vdim == e:  # torch packs the three projections into one matrix
        weights = {"in_proj_weight": (3 * e, e)}
    else:
        weights = {"q_proj_weight": (e, e), "k_proj_weight": (e, kdim), "v_proj_weight": (e, vdim)}
    if a.bias:
        weights["in_proj_bias"] = (3 * e,)
    weights["out_proj.weight"] = (e, e)
    if a.bias:
        weights["out_proj.bias"] = (e,)
    return weights


def _mha_macs(a, ins, out):
    t, s, kdim, vdim = _mha_geometry(a, ins)
    e = a.embed_dim
    projections = t * e * e + s * kdim * e + s * vdim * e + t * e * e  # q, k, v, out
    return projections + 2 * t * s * e  # Q·Kᵀ and A·V over all heads


def _mha_flops(a, ins, out):
    """Softmax 3 per attention weight, the padding mask 1 (added to the scores);
    biases 1 per projected element."""
    t, s, _, _ = _mha_geometry(a, ins)
    biases = (2 * t + 2 * s) * a.embed_dim if a.bias else 0
    return (3 + a.padding_mask) * a.num_heads * t * s + biases


def _mha_torch(a, ins):
    _, _, kdim, vdim = _mha_geometry(a, ins)
    kwargs = dict(embed_dim=a.embed_dim, num_heads=a.num_heads, dropout=a.dropout, bias=a.bias)
    if (kdim, vdim) != (a.embed_dim, a.embed_dim):
        kwargs.update(kdim=kdim, vdim=vdim)
    if a.causal:
        kwargs["causal"] = True
    if a.padding_mask:
        kwargs["padding_mask"] = True
    return TorchCall("netdsl.runtime.MultiheadAttention", kwargs)


register(OpSpec(
    name="multihead_attention", category="attention", aliases=("mha",),
    doc="Multi-head attention over tokens [T, E] with nn.MultiheadAttention's parameters "
        "(in_proj_weight packing the q, k, v projections, out_proj). On the current value it "
        "attends to itself; with branches `{ @query\\n @memory }` (or query, key, value) the "
        "query attends to another sequence, whose feature counts may differ (kdim, vdim: "
        "separate q/k/v_proj_weight). With padding_mask=true the last branch is a bool "
        "mask [S] (true: a padding key, which no query sees), as torch's key_padding_mask. MACs: the four projections plus 2·T·S·E for Q·Kᵀ and A·V. "
        "FLOPs: 3 per attention weight (softmax, H·T·S) and the biases. Receptive field: global.",
    args=(Arg("embed_dim", "int", minimum=1, doc="features of the query and the output"),
          Arg("num_heads", "int", minimum=1, doc="heads; must divide embed_dim"),
          Arg("dropout", "float", 0.0, minimum=0, maximum=1, doc="dropout on the attention weights"),
          Arg("bias", "bool", True, doc="biases on the projections"),
          Arg("causal", "bool", False, doc="query i sees keys 0..i only (a causal language model)"),
          Arg("padding_mask", "bool", False,
              doc="the last branch is a bool mask [S]; true marks a padding key no query sees")),
    arity=None, masks=lambda a: int(a.padding_mask), shape=lambda a, ins: (_mha_geometry(a, ins)[0], a.embed_dim),
    weights=_mha_weights, macs=_mha_macs, flops=_mha_flops, rf=lambda a, ins: GLOBAL,
    layer_on_branches=True,
    torch=_mha_torch))


# ------------------------------------------------------------ scaled dot-product attention
def sdpa_geometry(ins):
    """(broadcast leading dims, T, S, d, dv) of q [..., T, d], k [..., S, d], v [..., S, dv]."""
    if len(ins) != 3:
        raise ShapeError(f"sdpa takes exactly 3 inputs (query, key, value), got {len(ins)}")
    q, k, v = ins
    if any(len(s) < 2 for s in ins):
        raise ShapeError(f"sdpa needs inputs of at least 2 dims [..., tokens, features], got "
                         f"{', '.join(str(list(s)) for s in ins)}")
    if q[-1] != k[-1]:
        raise ShapeError(f"sdpa: queries {list(q)} and keys {list(k)} differ in features ({q[-1]} vs {k[-1]})")
    if k[-2] != v[-2]:
        raise ShapeError(f"sdpa: keys {list(k)} and values {list(v)} differ in length ({k[-2]} vs {v[-2]})")
    if len({len(s) for s in ins}) > 1:
        raise ShapeError("sdpa: query, key and value need the same rank, got "
                         f"{', '.join(str(list(s)) for s in ins)}")
    lead = broadcast_dims([q[:-2], k[:-2], v[:-2]], "sdpa")
    return lead, q[-2], k[-2], q[-1], v[-1]


def _sdpa_shape(a, ins):
    lead, t, _, _, dv = sdpa_geometry(ins)
    return (*lead, t, dv)


def _sdpa_macs(a, ins, out):
    lead, t, s, d, dv = sdpa_geometry(ins)
    return prod(lead) * t * s * (d + dv)


def _sdpa_torch(a, ins):
    kwargs = {"is_causal": True} if a.causal else {}
    if a.scale is not None:
        kwargs["scale"] = a.scale
    return TorchCall("netdsl.runtime.sdpa", kwargs, functional=True)


register(OpSpec(
    name="sdpa", category="attention", aliases=("scaled_dot_product_attention",),
    doc="softmax(Q·Kᵀ·scale)·V on three branches `{ @q\\n @k\\n @v }` of shapes [..., T, d], "
        "[..., S, d], [..., S, dv] (leading dims such as heads broadcast): "
        "torch.nn.functional.scaled_dot_product_attention. MACs: leading · T·S·(d + dv). "
        "FLOPs: 3 per attention weight (softmax). Receptive field: global.",
    args=(Arg("causal", "bool", False, doc="query i sees keys 0..i only"),
          Arg("scale", "float", None, above=0, doc="score scale; default 1/√d")),
    arity=None, shape=_sdpa_shape, macs=_sdpa_macs, rf=lambda a, ins: GLOBAL,
    flops=lambda a, ins, out: 3 * prod(sdpa_geometry(ins)[0]) * sdpa_geometry(ins)[1] * sdpa_geometry(ins)[2],
    torch=_sdpa_torch))
