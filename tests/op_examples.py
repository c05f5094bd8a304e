"""Examples of every registered op, run by the registry-generated tests.

Adding an op means adding its spec (netdsl/ops/) and its examples here; the
tests in test_ops_registry.py (shapes, parameters, buffers, MACs against
torch) and the receptive-field tests pick them up automatically, and fail if
an op has no example.

An example is netdsl source for one chain item applied to inputs named
``x0, x1, ...`` of the given shapes (batch excluded).  Single-input ops use
the current value; merges name their inputs: ``add { @x0\n @x1 }``.

REFUSED lists, by class, calls netdsl must refuse with a located error;
test_ops_torch_refuses.py checks that torch refuses each of them too.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Example:
    call: str
    inputs: tuple = ((3, 9, 9),)
    dtype: str = "float32"
    id: str = field(default="", compare=False)
    prelude: str = ""  # a chain run before the call, on its own line
    masks: int = 0  # the last inputs are bool masks (attention's key-padding mask)

    @property
    def dtypes(self) -> tuple[str, ...]:
        """Each input's dtype."""
        data = len(self.inputs) - self.masks
        return (self.dtype,) * data + ("bool",) * self.masks

    def source(self) -> str:
        """A complete network applying the example to its inputs."""
        lines = [f"input x{i}: {list(shape)} {dtype}" for i, (shape, dtype) in enumerate(zip(self.inputs, self.dtypes))]
        lines += [self.prelude] if self.prelude else []
        return "network example {\n  " + "\n  ".join(lines) + f"\n  {self.call}\n}}\n"


def ex(call: str, *inputs, dtype: str = "float32", prelude: str = "") -> Example:
    return Example(call, tuple(tuple(s) for s in inputs) or ((3, 9, 9),), dtype, id=call, prelude=prelude)


def inplace(call: str, *inputs) -> Example:
    """An in-place call on a fresh tensor: netdsl refuses overwriting the network
    input (analysis/inplace.py), so scale(1) makes one first."""
    return ex(call, *inputs, prelude="scale(1)")


def merge(op: str, *inputs) -> Example:
    """A merge of the inputs x0, x1, ... (one branch per input)."""
    branches = "\n ".join(f"@x{i}" for i in range(len(inputs)))
    return ex(f"{op} {{ {branches} }}", *inputs)


def masked(op: str, *inputs) -> Example:
    """A merge whose last input is a bool mask [S] (true: a padding position)."""
    example = merge(op, *inputs)
    return Example(example.call, example.inputs, id=example.call + " masked", masks=1)


def padding_mask(shape, batch: int):
    """Odd samples have their last position padded; no sample is all padding
    (attention over nothing is NaN)."""
    import torch
    mask = torch.zeros((batch, *shape), dtype=torch.bool)
    if shape[-1] > 1:
        mask[1::2, ..., -1] = True
    return mask


def tokens(call: str, *inputs) -> Example:
    return ex(call, *inputs, dtype="int64")


EXAMPLES: dict[str, list[Example]] = {
    # ------------------------------------------------------------ conv
    "conv": [
        ex("conv(8, 3)"), ex("conv(2, 3, padding=2, padding_mode=\"circular\")", (2, 2, 5)),
        ex("conv(8, 3, stride=2, padding=1, bias=false)"),
        ex("conv(6, (1, 7), padding=(0, 3))", (4, 10, 12)),
        ex("conv(6, 3, padding=\"same\", dilation=2)"),
        ex("conv(6, 3, stride=2, padding=\"same\")", (3, 10, 11)),
        ex("conv(6, 3, padding=\"valid\")", (3, 10, 11)),
        ex("conv(4, 3, padding=(0, 1, 1, 2))"),
        ex("conv(6, 3, groups=3, padding=1, padding_mode=\"reflect\")"),
        ex("conv(5, 4, stride=3, padding_mode=\"replicate\", padding=2)", (2, 20)),
        ex("conv(2, 3, padding=1, padding_mode=\"circular\")", (2, 5, 6, 7)),
        ex("conv(8, 3, padding=\"valid\")"),
    ],
    "conv1d": [ex("conv1d(4, 3, stride=2)", (3, 17)),
               ex("conv1d(6, 5, padding=\"same\", groups=3, bias=false)", (3, 12))],
    "conv2d": [ex("conv2d(4, 3, dilation=(1, 2))"),
               ex("conv2d(4, (3, 1), stride=(2, 1), padding=(1, 0))")],
    "conv3d": [ex("conv3d(4, (1, 3, 3), padding=(0, 1, 1))", (2, 4, 8, 8)),
               ex("conv3d(3, 3, stride=2, padding=1, bias=false)", (2, 5, 6, 6))],
    "conv_transpose": [
        ex("conv_transpose(4, 2, stride=2)"),
        ex("conv_transpose(4, 3, stride=2, padding=1, output_padding=1, bias=false)"),
        ex("conv_transpose(6, 4, stride=2, padding=1, groups=3)", (3, 7)),
        ex("deconv(2, 3, dilation=2)", (2, 3, 4, 4)),
        ex("deconv(2, 3, dilation=2, padding=1)", (2, 7, 8)),  # 2-d: a unit's whole field fits
    ],
    "dwconv": [
        ex("dwconv(3, padding=1)"),
        ex("dwconv(3, stride=2, multiplier=2, bias=false)"),
        ex("dwconv(5, padding=\"same\")", (4, 12)),
        ex("dwconv((1, 3), dilation=2, padding=(0, 2))", (2, 6, 9)),
        ex("dwconv(3, stride=2, padding=\"same\")", (3, 10, 10)),
        ex("dwconv(3, padding=1, padding_mode=\"reflect\")", (2, 3, 4, 4)),
    ],
    "sepconv": [
        ex("sepconv(8, 3, padding=1)"),
        ex("sepconv(6, 3, stride=2, bias=false)"),
        ex("sepconv(5, 3, stride=2, padding=\"same\")", (3, 10, 10)),
        ex("sepconv(4, 3, dilation=2, padding=2, padding_mode=\"reflect\")", (2, 12)),
        ex("sepconv(4, 3, padding=1)", (2, 4, 5, 5)),
    ],
    # ------------------------------------------------------------ norm
    "batchnorm": [ex("batchnorm"), ex("batchnorm(affine=false)", (5,)), ex("batchnorm", (3, 1, 1)),
                  ex("batchnorm(init=normal(1, 0.02), bias_init=zeros())", (4, 2, 2)),
                  ex("batchnorm(eps=0.001, momentum=0.01)", (4, 12)),
                  ex("bn(track_running_stats=false)", (2, 3, 4, 4))],
    "batchnorm1d": [ex("batchnorm1d", (6,)),
                    ex("batchnorm1d(affine=false, track_running_stats=false)", (4, 10))],
    "batchnorm2d": [ex("batchnorm2d"), ex("batchnorm2d(momentum=0.01, eps=0.001)")],
    "batchnorm3d": [ex("batchnorm3d", (2, 3, 4, 4)), ex("batchnorm3d(affine=false)", (2, 3, 4, 4))],
    "layernorm": [ex("layernorm", (5, 8)), ex("layernorm(dims=3)"),
                  ex("layernorm(dims=2, init=orthogonal(gain=-1), bias_init=xavier_normal())", (4, 6)),
                  ex("layernorm(dims=2, elementwise_affine=false)"),
                  ex("layernorm(bias=false, eps=0.000001)", (12,))],
    "instancenorm": [ex("instancenorm"), ex("instancenorm(affine=true)", (3, 10)),
                     ex("instancenorm(track_running_stats=true, momentum=0.2)", (2, 3, 4, 4)),
                     ex("instancenorm", (3, 2)), ex("instancenorm", (3, 1, 1, 2))],  # 2 positions suffice
    "groupnorm": [ex("groupnorm(3)", (6, 5, 5)), ex("groupnorm(2, affine=false, eps=0.001)", (4, 8)),
                  ex("gn(1)", (4,))],
    "layernorm2d": [ex("layernorm2d", (4, 5, 5)), ex("layernorm2d(eps=0.000001, bias=false)"),
                    ex("layernorm2d(elementwise_affine=false)", (2, 3, 3))],
    "lrn": [ex("lrn(5, alpha=0.0001, beta=0.75, k=2.0)", (8, 5, 5)), ex("lrn(2)", (4, 6)),
            ex("lrn(3, k=2)", (4, 2, 3, 3))],
    # ------------------------------------------------------------ activations
    "relu": [ex("relu"), inplace("relu(inplace=true)", (7,))],
    "relu6": [ex("relu6"), inplace("relu6(inplace=true)", (6,))],
    "sigmoid": [ex("sigmoid")],
    "tanh": [ex("tanh")],
    "leaky_relu": [ex("leaky_relu"), inplace("leaky_relu(0.2, inplace=true)", (7,))],
    "prelu": [ex("prelu"), ex("prelu(per_channel=true)"), ex("prelu(per_channel=true, slope=0.1)", (4, 6)),
              ex("prelu(init=trunc_normal(std=0.02, a=0, b=0))", (4,))],
    "elu": [ex("elu"), ex("elu(alpha=0.5)", (4,))],
    "selu": [ex("selu"), inplace("selu(inplace=true)", (5,))],
    "silu": [ex("silu"), inplace("swish(inplace=true)", (5,))],
    "gelu": [ex("gelu"), ex("gelu(approximate=\"tanh\")", (6,))],
    "softplus": [ex("softplus"), ex("softplus(beta=2, threshold=10)", (6,))],
    "hardswish": [ex("hardswish"), inplace("hardswish(inplace=true)", (6,))],
    "hardsigmoid": [ex("hardsigmoid"), inplace("hardsigmoid(inplace=true)", (6,))],
    "mish": [ex("mish"), inplace("mish(inplace=true)", (6,))],
    "softmax": [ex("softmax", (10,)), ex("softmax(dim=-1)"), ex("softmax(dim=1)", (3, 4, 5))],
    "log_softmax": [ex("log_softmax", (10,)), ex("log_softmax(dim=-1)", (4, 6)),
                    ex("log_softmax(dim=0)", (3, 4, 5))],
    "maxout": [ex("maxout(2)", (6, 4, 4)), ex("maxout(3)", (9,)), ex("maxout(1)")],
    "scale": [ex("scale(0.17)"), ex("scale(2)", (4,))],
    # ------------------------------------------------------------ pooling
    "maxpool": [ex("maxpool(2)"), ex("maxpool(3, stride=2, ceil_mode=true)"),
                ex("maxpool(3, stride=2, padding=1)", (3, 10, 10)), ex("maxpool(2)", (3, 11)),
                ex("maxpool(2, ceil_mode=true)", (2, 1, 3, 3))],  # 3-d max pooling takes a size-1 axis
    "avgpool": [ex("avgpool(2)"), ex("avgpool(3, stride=1, padding=1, count_include_pad=false)"),
                ex("avgpool(3, stride=2, ceil_mode=true)", (2, 8, 8)),
                ex("avgpool((1, 2, 2), ceil_mode=true)", (2, 1, 3, 3)),  # 3-d: kernel 1 on the size-1 axis
                ex("avgpool(2, padding=1)", (2, 2, 2, 2)), ex("avgpool(2, ceil_mode=true)", (2, 1, 3))],
    "adaptive_avgpool": [ex("adaptive_avgpool(1)"), ex("adaptive_avgpool((3, 3))", (2, 6, 6)),
                         ex("adaptive_avgpool((1, 4))", (2, 5, 8)),  # whole along H only
                         ex("adaptive_avgpool((3, 5))", (2, 7, 5)),  # 7 → 3: windows of 3 at stride 2
                         ex("adaptive_avgpool(3)", (2, 5, 5))],  # 5 → 3: windows of 2, 3, 2
    "adaptive_maxpool": [ex("adaptive_maxpool(1)"), ex("adaptive_maxpool(4)", (2, 8))],
    "global_avgpool": [ex("global_avgpool"), ex("global_avgpool", (4, 6)), ex("global_avgpool", (2, 3, 4, 4))],
    "global_maxpool": [ex("global_maxpool"), ex("global_maxpool", (4, 6))],
    # ------------------------------------------------------------ linear, embedding, recurrent
    "linear": [ex("linear(7)", (12,)), ex("linear(5, bias=false)", (4, 6)),
               ex("linear(3, init=xavier_uniform(gain=0), bias_init=uniform(-0.1, -0.1))", (5,)),
               ex("linear(3, init=kaiming_normal(a=-0.2, mode=\"fan_out\", nonlinearity=\"conv_transpose3d\"))",
                  (5,))],
    "embedding": [tokens("embedding(10, 4)", (6,)), tokens("embedding(12, 3, padding_idx=0)", (5,)),
                  tokens("embedding(8, 5, max_norm=1.0)", (2, 3)),
                  tokens("embedding(9, 2, scale_grad_by_freq=true)", (4,)),
                  tokens("embedding(9, 2, sparse=true)", (4,)),
                  tokens("embedding(9, 2, scale_grad_by_freq=true, sparse=true, trainable=false)", (4,))],
    "lstm": [ex("lstm(5)", (6, 4)), ex("lstm(3, num_layers=2, bidirectional=true, dropout=0.1)", (5, 4)),
             ex("lstm(4, return_sequence=false, bias=false)", (6, 3))],
    "gru": [ex("gru(5)", (6, 4)), ex("gru(3, num_layers=3, bidirectional=true)", (5, 4)),
            ex("gru(4, return_sequence=false, bias=false)", (6, 3))],
    "rnn": [ex("rnn(5)", (6, 4)), ex("rnn(3, num_layers=2, nonlinearity=\"relu\")", (5, 4)),
            ex("rnn(4, bidirectional=true, return_sequence=false)", (6, 3))],
    # ------------------------------------------------------------ merges
    "add": [merge("add", (3, 4, 4), (3, 4, 4)), merge("add", (2, 5), (2, 5), (2, 5)),
            merge("add", (8, 10, 1), (1, 1, 4)), merge("add", (8, 1, 1), (8, 10, 1), (1, 10, 1))],
    "mul": [merge("mul", (3, 4, 4), (3, 1, 1)), merge("mul", (2, 5), (1, 5)),
            tokens("mul { @x0\n @x1 }", (2, 5), (2, 1))],
    "concat": [merge("concat", (3, 4, 4), (5, 4, 4)),
               ex("concat(dim=-1) { @x0\n @x1 }", (3, 4, 2), (3, 4, 5)),
               tokens("concat { @x0\n @x1 }", (3,), (4,))],
    "matmul": [merge("matmul", (3, 4), (4, 5)), merge("matmul", (2, 3, 4), (2, 4, 5)),
               merge("matmul", (2, 1, 3, 4), (3, 4, 2)), merge("matmul", (4,), (4, 5)),
               merge("matmul", (3, 4), (4,)), merge("matmul", (3, 4, 5), (5,)),
               tokens("matmul { @x0\n @x1 }", (3, 4), (4, 2))],
    # ------------------------------------------------------------ attention
    "multihead_attention": [
        ex("multihead_attention(8, 2)", (5, 8)), ex("mha(8, 4, bias=false, causal=true)", (6, 8)),
        merge("multihead_attention(8, 2, dropout=0.1)", (5, 8), (7, 8)),  # cross: packed in_proj
        merge("multihead_attention(8, 2)", (5, 8), (7, 6)),  # memory of another width: kdim = vdim = 6
        merge("mha(8, 1, causal=true)", (4, 8), (6, 3), (6, 5)),  # query, key, value
        merge("mha(8, 2)", (5, 8), (7, 8), (7, 8)),  # key and value apart, all of width 8: three projections
        masked("multihead_attention(8, 2, padding_mask=true)", (5, 8), (5,)),  # self-attention, padded keys
        masked("mha(8, 2, causal=true, padding_mask=true)", (4, 8), (6, 8), (6,)),  # cross, both masks
    ],
    "sdpa": [merge("sdpa", (2, 5, 4), (2, 7, 4), (2, 7, 3)), merge("sdpa(causal=true)", (6, 4), (6, 4), (6, 4)),
             merge("scaled_dot_product_attention(scale=0.5)", (3, 2, 5, 4), (3, 2, 7, 4), (3, 2, 7, 6))],
    "relative_position_attention": [  # MaxViT: [groups, partition_size² tokens, C]
        ex("relative_position_attention(8, 4, 2)", (3, 4, 8)),
        ex("relative_position_attention(12, 4, 3)", (1, 9, 12)),  # one group
        ex("rel_pos_attention(16, 16, 2)", (5, 4, 16)),  # one head
        ex("relative_position_attention(6, 2, 2)", (2, 4, 6))],  # three heads
    "shifted_window_attention": [  # [H, W, C]: padded to whole windows, shifted, or the shift dropped
        ex("shifted_window_attention(8, 3, 0, 2)", (6, 6, 8)),
        ex("shifted_window_attention(8, 3, 1, 2)", (7, 5, 8)),
        ex("window_attention(12, (2, 3), (1, 1), 3, qkv_bias=false, proj_bias=false)", (4, 6, 12)),
        ex("shifted_window_attention(4, 7, 3, 1, attention_dropout=0.1, dropout=0.1)", (5, 6, 4))],
    "shifted_window_attention_v2": [  # Swin V2: V1's windows with cosine scores and an MLP's bias
        ex("shifted_window_attention_v2(8, 4, 0, 2)", (8, 8, 8)),
        ex("shifted_window_attention_v2(8, 3, 1, 2)", (7, 5, 8)),
        ex("window_attention_v2(12, (2, 3), (1, 1), 3, qkv_bias=false, proj_bias=false)", (4, 6, 12)),
        ex("shifted_window_attention_v2(4, 8, 4, 1, attention_dropout=0.1, dropout=0.1)", (5, 6, 4))],
    # ------------------------------------------------------------ shape
    "identity": [ex("identity"), tokens("identity", (4,))],
    "flatten": [ex("flatten"), ex("flatten(start=1)", (2, 3, 4)), ex("flatten(0, 1)", (2, 3, 4))],
    "parameter": [
        # declared with `param` and merged: what networks do with one (a bare one as the
        # network's output trips FlopCounterMode's module tracker under no_grad)
        ex("mul { @x0\n @p }", prelude="param p: [3, 1, 1] init=normal()"),
        ex("add { @x0\n @p }", (4, 8), prelude="param p: [1, 4, 8] init=normal(std=0.02)"),
        ex("mul { @p\n @x0 }", (4, 8), prelude="param p: [1, 1, 8] init=constant(0.5) trainable=false"),
        ex("mul { @x0\n p: parameter([8], init=uniform()) }", (4, 8)),
    ],
    "reshape": [ex("reshape((27, 9))"), ex("reshape((-1,))"), ex("view((3, 3, 3, -1))"),
                tokens("reshape((2, 3))", (6,))],
    "permute": [ex("permute((1, 2, 0))"), ex("permute((1, 0))", (4, 6)), ex("permute((0, 2, 1))", (3, 4, 5))],
    "transpose": [ex("transpose(0, 1)", (4, 6)), ex("transpose(1, 2)", (3, 4, 5)), ex("transpose(-1, 0)")],
    "channel_shuffle": [ex("channel_shuffle(2)", (6, 4, 4)), ex("channel_shuffle(3)", (6, 5))],
    "chunk": [ex("chunk(2, 0)", (6, 4, 4)), ex("chunk(2, 1)", (6, 4, 4)), ex("chunk(3, 2, dim=1)", (2, 9, 4)),
              ex("chunk(2, 1, dim=-1)", (3, 8))],
    "pad": [ex("pad(1)"), ex("pad((1, 2), mode=\"reflect\")"), ex("pad((0, 1, 2, 3), value=1.5)"),
            ex("pad(2, mode=\"replicate\")", (2, 6)), ex("pad(1, mode=\"circular\")", (2, 3, 4, 4)),
            ex("pad((1, 0), mode=\"circular\")", (2, 5, 5)), ex("pad(1, value=-1)", (2, 3, 3, 3))],
    "upsample": [ex("upsample(scale_factor=2)"), ex("upsample(size=(12, 14), mode=\"bilinear\")"),
                 ex("upsample(scale_factor=1.5, mode=\"bicubic\", align_corners=true)"),
                 ex("upsample(scale_factor=2, mode=\"linear\")", (3, 7)),
                 ex("interpolate(size=6, mode=\"trilinear\", align_corners=false)", (2, 3, 4, 4)),
                 ex("upsample(scale_factor=(2, 3))", (2, 4, 4)),
                 ex("upsample(scale_factor=1.5, mode=\"bilinear\")", (2, 9, 9)),  # 9 → 13: torch samples at 1/1.5
                 ex("upsample(size=(2, 3), mode=\"bilinear\", align_corners=true)", (2, 5, 5))],
    # ------------------------------------------------------------ dropout
    "dropout": [ex("dropout(0.3)"), inplace("dropout(p=0, inplace=true)", (7,))],
    "dropout1d": [ex("dropout1d(0.2)", (3, 8)), ex("dropout1d(p=1)", (3, 8))],
    "dropout2d": [ex("dropout2d"), inplace("dropout2d(0.1, inplace=true)")],
    "dropout3d": [ex("dropout3d", (2, 3, 4, 4)), ex("dropout3d(0.25)", (2, 3, 4, 4))],
    "alpha_dropout": [ex("alpha_dropout(0.1)"), ex("alpha_dropout", (10,))],
    "stochastic_depth": [ex("stochastic_depth(0.2)"), ex("stochastic_depth(0.5, mode=\"batch\")", (6,)),
                         ex("stochastic_depth(p=1)", (4, 3)), ex("stochastic_depth(0)", (5,))],
}


# ------------------------------------------------------------ refused calls
@dataclass(frozen=True)
class Refused:
    """A call netdsl must refuse, naming ``fragment``; torch must refuse it too
    (tests/test_ops_torch_refuses.py builds it from the op's torch rule and runs it)."""

    example: Example
    error: str  # the netdsl error class's name
    fragment: str


def refused(call: str, *inputs, error: str, fragment: str, dtype: str = "float32") -> Refused:
    return Refused(ex(call, *inputs, dtype=dtype), error, fragment)


def bad_arg(call: str, *inputs, fragment: str, dtype: str = "float32") -> Refused:
    """Refused as an argument error (the initializer classes)."""
    return refused(call, *inputs, error="ArgumentError", fragment=fragment, dtype=dtype)


def misfit(call: str, *inputs, fragment: str, dtype: str = "float32") -> Refused:
    """Refused as a shape error (pooling, statistics, broadcasting, dtypes)."""
    return refused(call, *inputs, error="ShapeError", fragment=fragment, dtype=dtype)


#: Class of refusal → calls found by fuzzing (and their siblings) that torch refuses.
REFUSED: dict[str, list[Refused]] = {
    "fan-based initializer on a 1-d tensor": [
        bad_arg("batchnorm(init=xavier_uniform())", fragment="'weight' has shape [3]"),
        bad_arg("prelu(per_channel=true, init=kaiming_normal())", fragment="at least 2 dims"),
        bad_arg("conv(4, 3, bias_init=orthogonal())", fragment="'bias' has shape [4]"),
        bad_arg("lstm(3, bias_init=xavier_normal())", (5, 4), fragment="'bias_ih_l0' has shape [12]"),
        bad_arg("layernorm(init=kaiming_uniform(mode=\"fan_out\"))", (5, 8), fragment="'weight' has shape [8]"),
        bad_arg("sepconv(4, 3, bias_init=kaiming_uniform())", fragment="'pointwise.bias' has shape [4]"),
        bad_arg("groupnorm(3, init=orthogonal())", (6, 2), fragment="shape [6]"),
    ],
    "initializer argument of the wrong kind or range": [
        bad_arg("conv(4, 3, init=normal(std=normal()))",
                fragment="'std' must be a finite number ≥ 0, got the initializer normal()"),
        bad_arg("conv(4, 3, init=kaiming_normal(mode=\"fan_x\"))", fragment="did you mean \"fan_in\"?"),
        bad_arg("linear(4, init=kaiming_uniform(nonlinearity=\"swish\"))", (6,),
                fragment="'nonlinearity' must be one of"),
        bad_arg("linear(4, init=kaiming_normal(a=true))", (6,), fragment="'a' must be a finite number, got true"),
        bad_arg("linear(4, init=xavier_uniform(gain=-1))", (6,), fragment="'gain' must be a finite number from 0"),
        bad_arg("linear(4, init=xavier_normal(-0.5))", (6,), fragment="'gain' must be a finite number from 0"),
        bad_arg("linear(4, bias_init=normal(0, -1))", (6,), fragment="'std' must be a finite number ≥ 0"),
        bad_arg("linear(4, init=uniform(1, 0))", (6,), fragment="needs a ≤ b"),
        bad_arg("linear(4, init=trunc_normal(a=1, b=-1))", (6,), fragment="needs a ≤ b"),
        bad_arg("linear(4, init=trunc_normal(std=0))", (6,), fragment="'std' must be a finite number > 0"),
        bad_arg("linear(4, bias_init=constant(\"x\"))", (6,), fragment="'val' must be a finite number, got \"x\""),
        bad_arg("linear(4, init=normal(std=(1, 2)))", (6,), fragment="got (1, 2)"),
        bad_arg("linear(4, init=orthogonal(gain=\"2\"))", (6,), fragment="'gain' must be a finite number"),
        bad_arg("linear(4, bias_init=constant(1e300))", (6,), fragment="'val' must be a finite number"),
        bad_arg("linear(4, init=uniform(-3e38, 3e38))", (6,), fragment="at most 3.4e+38 apart"),
        bad_arg("linear(4, init=xavier_uniform(gain=3e38))", (6,), fragment="'gain' must be a finite number from 0"),
    ],
    "number beyond float32's range": [
        bad_arg("softplus(beta=1e300)", fragment="'beta' must be a finite number"),
        bad_arg("leaky_relu(-3.5e38)", fragment="'negative_slope' must be a finite number"),
        bad_arg("pad(1, value=1e39)", fragment="'value' must be a finite number"),
        bad_arg("prelu(slope=1e300)", fragment="'slope' must be a finite number"),
    ],
    "integer beyond what torch's kernels take": [
        bad_arg("avgpool(4, stride=2 ** 62, padding=1, ceil_mode=true)", (3, 31),
                fragment="'stride' must be <= 2147483647"),
        bad_arg("maxpool(3, stride=2 ** 31)", fragment="'stride' must be <= 2147483647"),
        bad_arg("maxpool(1, dilation=2 ** 31)", (2, 3, 3, 3), fragment="'dilation' must be <= 2147483647"),
        bad_arg("avgpool(2 ** 31, padding=2 ** 30)", (3, 9), fragment="'kernel' must be <= 2147483647"),
        misfit("conv1d(4, 2, dilation=9223372036854775806, padding=4611686018427387900)", (3, 9),
               fragment="past the 9,223,372,036,854,775,807 torch can index"),
        misfit("conv_transpose(4, 1, stride=2 ** 62, padding=4611686018427387903)", (3, 3),
               fragment="stride 4611686018427387904 spreads 3 input positions"),
    ],
    "padding wider than the input": [
        misfit("conv1d(2, 3, padding=2, dilation=2, padding_mode=\"circular\")", (5, 1),
               fragment="circular padding [2] must be at most the input size [1]"),
        misfit("dwconv(3, padding=3, padding_mode=\"circular\")", (2, 2, 5), fragment="circular padding"),
    ],
    "pooling where torch's size rule differs": [
        misfit("avgpool(2, ceil_mode=true)", (2, 1, 4, 4), fragment="at least the kernel size [2, 2, 2]"),
        misfit("avgpool(3, padding=1)", (2, 2, 5, 5), fragment="got [2, 5, 5]"),
        misfit("avgpool((2, 1, 1), stride=1, padding=(1, 0, 0))", (2, 1, 3, 3),
               fragment="3-d average pooling"),
    ],
    "statistics over a single position, or without eps": [
        bad_arg("batchnorm(eps=0)", fragment="'eps' must be > 0"),
        bad_arg("bn(eps=0, track_running_stats=false)", (4,), fragment="'eps' must be > 0"),
        misfit("instancenorm", (3, 1), fragment="more than one spatial position"),
        misfit("instancenorm(affine=true)", (3, 1, 1), fragment="got input [3, 1, 1]"),
        misfit("instancenorm(track_running_stats=true)", (2, 1, 1, 1), fragment="more than one spatial position"),
    ],
    "broadcasting with the batch dim": [
        misfit("add { @x0\n @x1 }", (8, 10, 1), (8,), fragment="[N, 8, 10, 1], [N, 8] align at the right"),
        misfit("mul { @x0\n @x1 }", (4, 5), (5,), fragment="give the inputs the same rank"),
        misfit("add { @x0\n @x1 }", (1, 5), (5,), fragment="different ranks"),  # torch: [N, N, 5]
        misfit("mul { @x0\n @x1 }", (3, 4, 4), (3, 1), fragment="different ranks"),
        misfit("add { @x0\n @x1 }", (3, 4), (2, 4), fragment="shapes [3, 4], [2, 4] do not match at dim 0"),
    ],
    "input dtype the op cannot compute on": [
        misfit("embedding(10, 4)", (6,), fragment="embedding needs integer ids", dtype="float32"),
        misfit("embedding(10, 4)", (2, 3), fragment="got an input of dtype float64", dtype="float64"),
        misfit("conv(4, 3)", fragment="conv needs a floating-point input", dtype="int64"),
        misfit("linear(3)", (6,), fragment="got an input of dtype int32", dtype="int32"),
        misfit("lstm(3)", (5, 4), fragment="lstm needs a floating-point input", dtype="int64"),
        misfit("softmax", (6,), fragment="softmax needs a floating-point input", dtype="int64"),
    ],
}
