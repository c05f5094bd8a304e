"""Shifted-window self-attention (Swin Transformer, Liu et al., ICCV 2021) on
channels-last maps [H, W, C], as torchvision's ``ShiftedWindowAttention``.

The map is padded at the bottom and right to whole windows, rolled by the
shift (which is dropped along an axis the window covers, torchvision's rule),
cut into windows of ``wh·ww`` tokens that attend among themselves (a mask
keeps the rolled-in pieces apart), merged back, rolled back and unpadded.
Everything is counted on the padded map of ``P = pad_H·pad_W`` positions:
torch computes the padding's attention too.  MACs are what torchvision's
matmuls run: the qkv and output projections (4·P·C²) and ``Q·Kᵀ`` and
``A·V`` within each window (2·P·wh·ww·C).  The receptive field is global
when one window covers the map; otherwise it is each position's own window,
which per-axis geometry cannot state, so none is claimed.
"""
from __future__ import annotations

from .common import window_field, window_geometry, window_shape, window_torch_call
from .registry import Arg, OpSpec, register


def _tokens(a, ins):
    """(P, N, C): padded positions, tokens per window, channels."""
    (wh, ww), _, (ph, pw), c = window_geometry(a, ins)
    return ph * pw, wh * ww, c


def _weights(a, ins):
    (wh, ww), _, _, c = window_geometry(a, ins)
    weights = {"qkv.weight": (3 * c, c)}
    if a.qkv_bias:
        weights["qkv.bias"] = (3 * c,)
    weights["proj.weight"] = (c, c)
    if a.proj_bias:
        weights["proj.bias"] = (c,)
    weights["relative_position_bias_table"] = ((2 * wh - 1) * (2 * ww - 1), a.num_heads)
    return weights


def _buffers(a, ins):
    (wh, ww), _, _, _ = window_geometry(a, ins)
    return {"relative_position_index": ((wh * ww) ** 2,)}


def _macs(a, ins, out):
    p, n, c = _tokens(a, ins)
    return 4 * p * c * c + 2 * p * n * c


def _flops(a, ins, out):
    """Per attention weight (H·P·N): softmax 3, the position bias 1, the shift's mask 1;
    the projections' biases 1 per projected element."""
    p, n, c = _tokens(a, ins)
    shifted = any(window_geometry(a, ins)[1])
    per_weight = 3 + 1 + (1 if shifted else 0)
    biases = p * (3 * c * a.qkv_bias + c * a.proj_bias)
    return per_weight * a.num_heads * p * n + biases


register(OpSpec(
    name="shifted_window_attention", category="attention", aliases=("window_attention",),
    doc="Swin's (shifted) window self-attention on a channels-last map [H, W, C], as "
        "torchvision's ShiftedWindowAttention: qkv and proj linears, a learned "
        "relative_position_bias_table and its relative_position_index buffer. The map is "
        "padded to whole windows and rolled by shift_size (dropped along an axis one window "
        "covers); tokens attend within their window, a mask separating rolled-in pieces. "
        "MACs: 4·P·C² for the projections plus 2·P·N·C for Q·Kᵀ and A·V (P padded positions, "
        "N tokens per window). FLOPs: per attention weight 3 (softmax), 1 (position bias) and "
        "1 (mask, when shifted); the biases. Receptive field: global when one window covers "
        "the map, else none (each position sees its own window).",
    args=(Arg("dim", "int", minimum=1, doc="channels C of the input and output"),
          Arg("window_size", "ints", minimum=1, doc="window height and width (one int: square)"),
          Arg("shift_size", "ints", 0, minimum=0, doc="cyclic shift per axis; 0 for regular windows"),
          Arg("num_heads", "int", minimum=1, doc="heads; must divide dim"),
          Arg("qkv_bias", "bool", True, doc="bias on the qkv projection"),
          Arg("proj_bias", "bool", True, doc="bias on the output projection"),
          Arg("attention_dropout", "float", 0.0, minimum=0, maximum=1, doc="dropout on the attention weights"),
          Arg("dropout", "float", 0.0, minimum=0, maximum=1, doc="dropout on the output")),
    shape=window_shape,
    weights=_weights,
    buffers=_buffers,
    macs=_macs,
    flops=_flops,
    rf=window_field, input_rank=(3,),
    torch=lambda a, ins: window_torch_call("netdsl.runtime.ShiftedWindowAttention", a)))
