"""Swin V2's shifted-window attention (Liu et al., "Swin Transformer V2: Scaling
Up Capacity and Resolution", CVPR 2022, Sections 3.2-3.3) on channels-last maps
[H, W, C], as torchvision's ``ShiftedWindowAttentionV2``.

Windows, padding, the cyclic shift and its mask are V1's (``window_attention``,
whose geometry this reuses).  What changes is the score: scaled cosine
attention, ``cos(q, k) · exp(min(logit_scale, log 100))`` per head, plus a
position bias ``16·sigmoid(cpb_mlp(relative_coords_table))`` that a small MLP
(2 → 512, ReLU, 512 → heads) computes from log-spaced relative coordinates.
The k part of the qkv bias is held at zero in the forward (torchvision's rule).

The MLP and the bias it makes depend on no sample: torch runs them once per
forward, whatever the batch.  netdsl counts them once in the figure it gives
per sample at batch 1, so that figure equals FlopCounterMode / 2 at batch 1;
the op declares that part (``once``) so a batch of B counts B·(per-sample
part) + the MLP once, as torch does.
"""
from __future__ import annotations

from .common import window_field, window_geometry, window_shape, window_torch_call
from .registry import Arg, OpSpec, register

OP = "shifted_window_attention_v2"
CPB_HIDDEN = 512  # torchvision's width of the continuous position bias MLP


def _geometry(a, ins):
    return window_geometry(a, ins, OP)


def _table_rows(window) -> int:
    """Relative offsets within a window: (2wh − 1)(2ww − 1) rows of the coordinate table."""
    return (2 * window[0] - 1) * (2 * window[1] - 1)


def _weights(a, ins):
    window, _, _, c = _geometry(a, ins)
    weights = {"qkv.weight": (3 * c, c)}
    if a.qkv_bias:
        weights["qkv.bias"] = (3 * c,)  # its k third exists but the forward zeroes it
    weights["proj.weight"] = (c, c)
    if a.proj_bias:
        weights["proj.bias"] = (c,)
    weights["logit_scale"] = (a.num_heads, 1, 1)
    weights["cpb_mlp.0.weight"] = (CPB_HIDDEN, 2)
    weights["cpb_mlp.0.bias"] = (CPB_HIDDEN,)
    weights["cpb_mlp.2.weight"] = (a.num_heads, CPB_HIDDEN)
    return weights


def _buffers(a, ins):
    (wh, ww), _, _, _ = _geometry(a, ins)
    return {"relative_coords_table": (1, 2 * wh - 1, 2 * ww - 1, 2),
            "relative_position_index": ((wh * ww) ** 2,)}


def _macs(a, ins, out):
    """Per sample: projections 4·P·C², Q·Kᵀ and A·V 2·P·N·C (P padded positions,
    N tokens per window); once per forward: the MLP over the T coordinate rows."""
    window, _, (ph, pw), c = _geometry(a, ins)
    p, n = ph * pw, window[0] * window[1]
    return 4 * p * c * c + 2 * p * n * c + _table_rows(window) * CPB_HIDDEN * (2 + a.num_heads)


def _flops(a, ins, out):
    """Per attention weight (H·P·N): softmax 3, the logit scale 1, the position bias 1,
    the shift's mask 1; dividing q and k by their norms 1 per element (the norms, like
    a layernorm's statistics, 0); the projections' biases 1 per projected element.
    Once per forward: the MLP's hidden bias and ReLU (2 per hidden unit and row), the
    bias's sigmoid and ×16 (2 per H·N·N), the logit scale's clamp and exp (2 per head)."""
    window, shift, (ph, pw), c = _geometry(a, ins)
    p, n, heads = ph * pw, window[0] * window[1], a.num_heads
    per_weight = 3 + 1 + 1 + (1 if any(shift) else 0)
    biases = p * (3 * c * a.qkv_bias + c * a.proj_bias)
    once = 2 * _table_rows(window) * CPB_HIDDEN + 2 * heads * n * n + 2 * heads
    return per_weight * heads * p * n + 2 * p * c + biases + once


def _once(a, ins):
    """(MACs, FLOPs) of the MLP and the bias it makes: once per forward."""
    window, _, _, _ = _geometry(a, ins)
    heads, n, rows = a.num_heads, window[0] * window[1], _table_rows(window)
    macs = rows * CPB_HIDDEN * (2 + heads)
    return macs, 2 * macs + 2 * rows * CPB_HIDDEN + 2 * heads * n * n + 2 * heads


register(OpSpec(
    name=OP, category="attention", aliases=("window_attention_v2",),
    doc="Swin V2's (shifted) window self-attention on a channels-last map [H, W, C], as "
        "torchvision's ShiftedWindowAttentionV2: windows, padding, shift and mask as "
        "shifted_window_attention, scores by scaled cosine attention (a learned logit_scale "
        "per head, capped at log 100) plus 16·sigmoid of a position bias that cpb_mlp "
        "(2→512, ReLU, 512→heads) computes from the relative_coords_table buffer; the k "
        "third of the qkv bias is zeroed in the forward. MACs: 4·P·C² + 2·P·N·C per sample "
        "(P padded positions, N tokens per window), plus the MLP, T·512·(2 + heads) for "
        "T = (2wh−1)(2ww−1) offsets, counted ONCE: torch runs it once per forward whatever "
        "the batch, so the batch-1 figure equals FlopCounterMode/2 at batch 1 and --batch B "
        "counts B·(per-sample part) + the MLP once, as torch does. FLOPs: per attention weight 3 (softmax), 1 (logit scale), "
        "1 (position bias), 1 (mask, when shifted); 1 per q and k element (cosine); the "
        "biases; once: 2 per MLP hidden unit and offset, 2 per H·N·N bias, 2 per head. "
        "Receptive field: global when one window covers the map, else none. window_size "
        "must be at least 2 (torchvision divides the coordinates by window − 1).",
    args=(Arg("dim", "int", minimum=1, doc="channels C of the input and output"),
          Arg("window_size", "ints", minimum=2,
              doc="window height and width (one int: square); at least 2, as the coordinates divide by size − 1"),
          Arg("shift_size", "ints", 0, minimum=0, doc="cyclic shift per axis; 0 for regular windows"),
          Arg("num_heads", "int", minimum=1, doc="heads; must divide dim"),
          Arg("qkv_bias", "bool", True, doc="bias on the qkv projection (its k third held at zero)"),
          Arg("proj_bias", "bool", True, doc="bias on the output projection"),
          Arg("attention_dropout", "float", 0.0, minimum=0, maximum=1, doc="dropout on the attention weights"),
          Arg("dropout", "float", 0.0, minimum=0, maximum=1, doc="dropout on the output")),
    shape=lambda a, ins: window_shape(a, ins, OP),
    weights=_weights,
    buffers=_buffers,
    macs=_macs,
    flops=_flops,
    once=_once,
    rf=window_field, input_rank=(3,),
    torch=lambda a, ins: window_torch_call("netdsl.runtime.ShiftedWindowAttentionV2", a)))
