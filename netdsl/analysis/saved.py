"""What autograd keeps from forward to backward, op by op.

Measured with ``torch.autograd.graph.saved_tensors_hooks`` (tests/test_memory.py
checks every rule marked exact against torch).  A rule names which graph
values an op saves (its inputs, its output) and the extra tensors it makes
for backward: argmax indices (int64), dropout masks, normalization
statistics (float32).  Ops without a rule are assumed to save their input.
"""
from __future__ import annotations

from math import prod
from typing import Callable

from ..ops.attention import sdpa_geometry
from ..ops.conv import conv_geometry, explicit_padding

INDEX_BYTES = 8
STAT_BYTES = 4

#: Element dropout on CUDA keeps a bool mask; on CPU (and for channel dropout) the
#: mask has the activation dtype.
FUSED_MASK_BYTES = {"cuda": 1}


class Saved:
    """What one op keeps: graph values (node ids), bytes per sample, bytes per batch."""

    def __init__(self, values=(), per_sample: int = 0, fixed: int = 0):
        self.values, self.per_sample, self.fixed = list(values), per_sample, fixed


Rule = Callable[[int, dict, list, int], Saved]


def _nothing(node, data, ins, width) -> Saved:
    return Saved()


def _input(node, data, ins, width) -> Saved:
    return Saved(data["inputs"][:1])


def _inputs(node, data, ins, width) -> Saved:
    return Saved(data["inputs"])


def _output(node, data, ins, width) -> Saved:
    return Saved([node])


def _input_and_output(node, data, ins, width) -> Saved:
    return Saved([data["inputs"][0], node])


def _weighted(node, data, ins, width) -> Saved:
    """Layers with weights save their input only when the weights train."""
    return Saved(data["inputs"][:1]) if data["trainable_params"] else Saved()


def _convolution(node, data, ins, width) -> Saved:
    """A conv saves the tensor it convolves: its input, or the padded copy it makes
    (ops.conv.explicit_padding: the excess of asymmetric padding, all of it in the
    reflect, replicate and circular modes; the first two also keep their input)."""
    if not data["trainable_params"]:
        return Saved()
    mode = data["args"].get("padding_mode", "zeros")
    pads = explicit_padding(conv_geometry(data["args"], ins[0], data["op"])[3], mode)
    if not any(before or after for before, after in pads):
        return Saved(data["inputs"][:1])
    padded = ins[0][0] * prod(size + before + after for size, (before, after) in zip(ins[0][1:], pads))
    keeps_input = data["inputs"][:1] if mode in ("reflect", "replicate") else []
    return Saved(keeps_input, per_sample=padded * width)


def _argmax(node, data, ins, width) -> Saved:
    return Saved(data["inputs"][:1], per_sample=prod(data["shape"]) * INDEX_BYTES)


def _adaptive_avg(node, data, ins, width) -> Saved:
    """Torch computes a 1×…×1 adaptive average as a mean, which saves nothing."""
    return Saved() if all(d == 1 for d in data["shape"][1:]) else _input(node, data, ins, width)


def _batch_stats(node, data, ins, width) -> Saved:
    """Mean and inverse deviation per channel, shared by the batch."""
    return Saved(data["inputs"][:1], fixed=2 * data["shape"][0] * STAT_BYTES)


def _sample_stats(groups: Callable[[dict], int]) -> Rule:
    """Mean and inverse deviation per sample and group."""
    def rule(node, data, ins, width) -> Saved:
        return Saved(data["inputs"][:1], per_sample=2 * groups(data) * STAT_BYTES)
    return rule


def _dropout_mask(per_channel: bool) -> Rule:
    """The scaled keep-mask.  With p = 0 torch returns the input and keeps nothing;
    with p = 1 it multiplies by a zero scalar, which it keeps."""
    def rule(node, data, ins, width) -> Saved:
        if data["args"]["p"] in (0, 1):
            return Saved(fixed=width if data["args"]["p"] == 1 else 0)
        shape = data["shape"]
        return Saved(per_sample=(shape[0] if per_channel else prod(shape)) * width)
    return rule


def _activation(node, data, ins, width) -> Saved:
    """Activations save their input; in place, those whose gradient follows from
    their result (leaky_relu, elu, selu) save that instead."""
    return Saved([node]) if data["args"].get("inplace", False) else Saved(data["inputs"][:1])


def _activation_copy(node, data, ins, width) -> Saved:
    """Activations whose gradient needs the input save a copy of it when run in place."""
    if data["args"].get("inplace", False):
        return Saved(per_sample=prod(data["shape"]) * width)
    return Saved(data["inputs"][:1])


def _lrn(node, data, ins, width) -> Saved:
    """torch's composite LRN: input, two input-sized temporaries, channel-padded squares."""
    shape = data["shape"]
    padded = (shape[0] + data["args"]["size"] - 1) * prod(shape[1:])
    return Saved(data["inputs"][:1], per_sample=(2 * prod(shape) + padded) * width)


def _recurrent(node, data, ins, width) -> Saved:
    """Approximately what cuDNN keeps: the input, and per step, layer and direction
    the gate activations, the cell state and the hidden state."""
    from ..ops.recurrent import GATES
    args = data["args"]
    per_step = (GATES[data["op"]] + 2) * args["hidden_size"] * args["num_layers"]
    per_step *= 2 if args["bidirectional"] else 1
    return Saved(data["inputs"][:1], per_sample=ins[0][0] * per_step * width)


def _padding_copy(node, data, ins, width) -> Saved:
    mode = data["args"].get("mode", "constant")
    return Saved(data["inputs"][:1]) if mode in ("reflect", "replicate") else Saved()


def _attention(node, data, ins, width) -> Saved:
    """nn.MultiheadAttention with the math SDPA backend: what the batch-first
    transposes and the projections leave (per sample t·e + s·kdim + s·vdim + s·e
    elements, whether the projections are packed or apart: packed ones share one
    copy but store the k, v projection whole), the scaled queries and keys, the
    attention matrix, the heads' output; with dropout, the dropped matrix and its
    mask.  Flash kernels keep less (no attention matrix)."""
    args, (t, e) = data["args"], ins[0]
    ins = ins[:-1] if args.get("padding_mask") else ins  # the mask is added to the scores: nothing kept
    s, kdim, vdim = (ins[1][0], ins[1][1], ins[-1][1]) if len(ins) > 1 else (t, e, e)
    projections = t * e + s * kdim + s * vdim + s * e
    matrix = args["num_heads"] * t * s
    dropped = 2 * matrix if args["dropout"] > 0 else 0
    return Saved(per_sample=(projections + t * e + s * e + matrix + dropped + t * e) * width)


def _sdpa(node, data, ins, width) -> Saved:
    """The math backend keeps the values, the scaled queries and keys, and the
    attention matrix."""
    lead, t, s, _, _ = sdpa_geometry(ins)
    return Saved(data["inputs"][2:3], per_sample=(prod(ins[0]) + prod(ins[1]) + prod(lead) * t * s) * width)


def _window_attention(node, data, ins, width) -> Saved:
    """torchvision's windowed attention on P padded positions (C channels), as CPU
    autograd keeps it: qkv's input (the windows' copy), the scaled queries, the keys
    and values (copied for the batched matmuls with several heads, else views of the
    qkv output), the attention matrix, proj's input; with dropout, the masks and the
    dropped matrix."""
    from ..ops.window_attention import window_geometry
    args, ((wh, ww), _, (ph, pw), c) = data["args"], window_geometry(data["args"], ins)
    plane, matrix = ph * pw * c, args["num_heads"] * ph * pw * wh * ww
    keys_values = 2 * plane if args["num_heads"] > 1 else 3 * plane
    dropped = 2 * matrix if args["attention_dropout"] > 0 else 0
    out_mask = plane if args["dropout"] > 0 else 0
    return Saved(per_sample=(3 * plane + keys_values + matrix + dropped + out_mask) * width)


def _window_attention_v2(node, data, ins, width) -> Saved:
    """Swin V2's windowed attention on P padded positions (C channels, H heads), as CPU
    autograd keeps it: qkv's input and output (whole: the norms read q and k), each
    token's q and k norms before and after their clamp (4·P·H), the normalized q and k
    copied for the batched matmul, v copied when H > 1, the cosine matrix and the
    softmax, proj's input; with dropout, the masks and the dropped matrix.  Once per
    batch: exp(logit_scale), cpb_mlp's hidden ReLU output and the bias's sigmoid."""
    from ..ops.window_attention import window_geometry
    from ..ops.window_attention_v2 import CPB_HIDDEN
    args, ((wh, ww), _, (ph, pw), c) = data["args"], window_geometry(data["args"], ins)
    heads, p, n = args["num_heads"], ph * pw, wh * ww
    plane, matrix = p * c, heads * p * n
    values = plane if heads > 1 else 0
    dropped = 2 * matrix if args["attention_dropout"] > 0 else 0
    out_mask = plane if args["dropout"] > 0 else 0
    per_sample = 7 * plane + 4 * p * heads + values + 2 * matrix + dropped + out_mask
    fixed = heads + (2 * wh - 1) * (2 * ww - 1) * CPB_HIDDEN + heads * n * n
    return Saved(per_sample=per_sample * width, fixed=fixed * width)


def _relative_attention(node, data, ins, width) -> Saved:
    """MaxViT's attention on G groups of N tokens (C features): to_qkv's input, the
    copies its einsum products make of the queries, the scaled keys and the values
    (with one head the keys and values are views of the qkv output, kept whole), the
    attention matrix, merge's input."""
    g, n, c = ins[0]
    heads, plane = c // data["args"]["head_dim"], g * n * c
    copies = 3 * plane if heads > 1 else 4 * plane
    return Saved(data["inputs"][:1], per_sample=(copies + heads * g * n * n + plane) * width)


def _stochastic_depth(node, data, ins, width) -> Saved:
    """The scaled keep-mask: one value per sample (row) or per batch; none when p = 0."""
    if data["args"]["p"] == 0:
        return Saved()
    return Saved(per_sample=width) if data["args"]["mode"] == "row" else Saved(fixed=width)


RULES: dict[str, Rule] = {
    **dict.fromkeys(("conv", "conv1d", "conv2d", "conv3d", "dwconv"), _convolution),
    **dict.fromkeys(("conv_transpose", "linear", "embedding", "prelu"), _weighted),
    **dict.fromkeys(("relu", "sigmoid", "tanh", "softmax", "log_softmax"), _output),
    **dict.fromkeys(("leaky_relu", "elu", "selu"), _activation),
    **dict.fromkeys(("relu6", "silu", "gelu", "softplus", "hardswish", "hardsigmoid", "mish"),
                    _activation_copy),
    **dict.fromkeys(("maxpool", "adaptive_maxpool"), _argmax),
    **dict.fromkeys(("maxout", "global_maxpool"), _input_and_output),
    **dict.fromkeys(("mul", "matmul"), _inputs),
    **dict.fromkeys(("add", "concat", "identity", "flatten", "reshape", "permute", "transpose",
                     "chunk", "channel_shuffle", "upsample", "scale", "global_avgpool"), _nothing),
    **dict.fromkeys(("batchnorm", "batchnorm1d", "batchnorm2d", "batchnorm3d"), _batch_stats),
    "layernorm": _sample_stats(lambda d: prod(d["shape"][:len(d["shape"]) - d["args"]["dims"]])),
    "groupnorm": _sample_stats(lambda d: d["args"]["groups"]),
    "instancenorm": _sample_stats(lambda d: d["shape"][0]),
    "avgpool": _input,
    "adaptive_avgpool": _adaptive_avg,
    "dropout": _dropout_mask(per_channel=False),
    "alpha_dropout": _dropout_mask(per_channel=False),
    **dict.fromkeys(("dropout1d", "dropout2d", "dropout3d"), _dropout_mask(per_channel=True)),
    "lrn": _lrn,
    "layernorm2d": _sample_stats(lambda d: prod(d["shape"][1:])),
    "multihead_attention": _attention,
    "sdpa": _sdpa,
    "stochastic_depth": _stochastic_depth,
    "shifted_window_attention": _window_attention,
    "shifted_window_attention_v2": _window_attention_v2,
    **dict.fromkeys(("lstm", "gru", "rnn"), _recurrent),
    "pad": _padding_copy,
    "parameter": _nothing,  # expand_batch(weight, x) is a view of the weight; x is only its shape
    "relative_position_attention": _relative_attention,
}

#: Rules that torch matches exactly on CPU (the rest are documented approximations).
APPROXIMATE = frozenset({"lrn", "lstm", "gru", "rnn", "sepconv", "instancenorm", "matmul",
                         "multihead_attention", "sdpa", "shifted_window_attention"})  # exact with the math SDPA backend


#: Ops that keep their output on some device although RULES (measured on CPU) say
#: otherwise: cuDNN's recurrent kernels keep the output sequence for backward.
KEEP_OUTPUT_ON_CUDA = frozenset({"lstm", "gru", "rnn"})


def keeps_output(node: int, data: dict) -> bool:
    """Whether autograd keeps ``node``'s own output for its backward, so that
    overwriting it in place (analysis/inplace.py) would break backward."""
    if data["op"] in KEEP_OUTPUT_ON_CUDA:
        return True
    rule = RULES.get(data["op"], _input)
    if rule not in (_output, _input_and_output, _activation):  # the rules that may name the output
        return False
    return node in rule(node, data, [], 0).values


def saved_by(node: int, data: dict, ins: list, width: int, device: str = "cuda",
             needs_grad: Callable[[int], bool] = lambda value: True) -> Saved:
    """What autograd keeps for ``node`` (inputs of shapes ``ins``, activations
    ``width`` bytes wide) when its output needs a gradient; ``needs_grad`` says
    which input values need one."""
    saved = RULES.get(data["op"], _input)(node, data, ins, width)
    if data["op"] == "mul":  # a product keeps each factor only for the other factor's gradient
        factors = data["inputs"]
        saved.values = [v for k, v in enumerate(factors)
                        if any(needs_grad(o) for j, o in enumerate(factors) if j != k)]
    if data["op"] == "dropout" and device in FUSED_MASK_BYTES:
        saved.per_sample = saved.per_sample // width * FUSED_MASK_BYTES[device]
    return saved
