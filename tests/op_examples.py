"""Examples of every registered op, run by the registry-generated tests.

Adding an op means adding its spec (netdsl/ops/) and its examples here; the
tests in test_ops_registry.py (shapes, parameters, buffers, MACs against
torch) and the receptive-field tests pick them up automatically, and fail if
an op has no example.

An example is netdsl source for one chain item applied to inputs named
``x0, x1, ...`` of the given shapes (batch excluded).  Single-input ops use
the current value; merges name their inputs: ``add { @x0\n @x1 }``.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Example:
    call: str
    inputs: tuple = ((3, 9, 9),)
    dtype: str = "float32"
    id: str = field(default="", compare=False)

    def source(self) -> str:
        """A complete network applying the example to its inputs."""
        lines = [f"input x{i}: {list(shape)} {self.dtype}" for i, shape in enumerate(self.inputs)]
        return "network example {\n  " + "\n  ".join(lines) + f"\n  {self.call}\n}}\n"


def ex(call: str, *inputs, dtype: str = "float32") -> Example:
    return Example(call, tuple(tuple(s) for s in inputs) or ((3, 9, 9),), dtype, id=call)


def merge(op: str, *inputs) -> Example:
    """A merge of the inputs x0, x1, ... (one branch per input)."""
    branches = "\n ".join(f"@x{i}" for i in range(len(inputs)))
    return ex(f"{op} {{ {branches} }}", *inputs)


def tokens(call: str, *inputs) -> Example:
    return ex(call, *inputs, dtype="int64")


EXAMPLES: dict[str, list[Example]] = {
    # ------------------------------------------------------------ conv
    "conv": [
        ex("conv(8, 3)"),
        ex("conv(8, 3, stride=2, padding=1, bias=false)"),
        ex("conv(6, (1, 7), padding=(0, 3))", (4, 10, 12)),
        ex("conv(6, 3, padding=\"same\", dilation=2)"),
        ex("conv(6, 3, stride=2, padding=\"same\")", (3, 10, 11)),
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
    "batchnorm": [ex("batchnorm"), ex("batchnorm(affine=false)", (5,)),
                  ex("batchnorm(eps=0.001, momentum=0.01)", (4, 12)),
                  ex("bn(track_running_stats=false)", (2, 3, 4, 4))],
    "batchnorm1d": [ex("batchnorm1d", (6,)),
                    ex("batchnorm1d(affine=false, track_running_stats=false)", (4, 10))],
    "batchnorm2d": [ex("batchnorm2d"), ex("batchnorm2d(momentum=0.01, eps=0.001)")],
    "batchnorm3d": [ex("batchnorm3d", (2, 3, 4, 4)), ex("batchnorm3d(affine=false)", (2, 3, 4, 4))],
    "layernorm": [ex("layernorm", (5, 8)), ex("layernorm(dims=3)"),
                  ex("layernorm(dims=2, elementwise_affine=false)"),
                  ex("layernorm(bias=false, eps=0.000001)", (12,))],
    "instancenorm": [ex("instancenorm"), ex("instancenorm(affine=true)", (3, 10)),
                     ex("instancenorm(track_running_stats=true, momentum=0.2)", (2, 3, 4, 4))],
    "groupnorm": [ex("groupnorm(3)", (6, 5, 5)), ex("groupnorm(2, affine=false, eps=0.001)", (4, 8)),
                  ex("gn(1)", (4,))],
    "lrn": [ex("lrn(5, alpha=0.0001, beta=0.75, k=2.0)", (8, 5, 5)), ex("lrn(2)", (4, 6)),
            ex("lrn(3, k=2)", (4, 2, 3, 3))],
    # ------------------------------------------------------------ activations
    "relu": [ex("relu"), ex("relu(inplace=true)", (7,))],
    "relu6": [ex("relu6"), ex("relu6(inplace=true)", (6,))],
    "sigmoid": [ex("sigmoid")],
    "tanh": [ex("tanh")],
    "leaky_relu": [ex("leaky_relu"), ex("leaky_relu(0.2, inplace=true)", (7,))],
    "prelu": [ex("prelu"), ex("prelu(per_channel=true)"), ex("prelu(per_channel=true, slope=0.1)", (4, 6))],
    "elu": [ex("elu"), ex("elu(alpha=0.5)", (4,))],
    "selu": [ex("selu"), ex("selu(inplace=true)", (5,))],
    "silu": [ex("silu"), ex("swish(inplace=true)", (5,))],
    "gelu": [ex("gelu"), ex("gelu(approximate=\"tanh\")", (6,))],
    "softplus": [ex("softplus"), ex("softplus(beta=2, threshold=10)", (6,))],
    "hardswish": [ex("hardswish"), ex("hardswish(inplace=true)", (6,))],
    "hardsigmoid": [ex("hardsigmoid"), ex("hardsigmoid(inplace=true)", (6,))],
    "mish": [ex("mish"), ex("mish(inplace=true)", (6,))],
    "softmax": [ex("softmax", (10,)), ex("softmax(dim=-1)"), ex("softmax(dim=1)", (3, 4, 5))],
    "log_softmax": [ex("log_softmax", (10,)), ex("log_softmax(dim=-1)", (4, 6)),
                    ex("log_softmax(dim=0)", (3, 4, 5))],
    "maxout": [ex("maxout(2)", (6, 4, 4)), ex("maxout(3)", (9,)), ex("maxout(1)")],
    "scale": [ex("scale(0.17)"), ex("scale(2)", (4,))],
    # ------------------------------------------------------------ pooling
    "maxpool": [ex("maxpool(2)"), ex("maxpool(3, stride=2, ceil_mode=true)"),
                ex("maxpool(3, stride=2, padding=1)", (3, 10, 10)), ex("maxpool(2)", (3, 11))],
    "avgpool": [ex("avgpool(2)"), ex("avgpool(3, stride=1, padding=1, count_include_pad=false)"),
                ex("avgpool(3, stride=2, ceil_mode=true)", (2, 8, 8))],
    "adaptive_avgpool": [ex("adaptive_avgpool(1)"), ex("adaptive_avgpool((3, 3))", (2, 6, 6))],
    "adaptive_maxpool": [ex("adaptive_maxpool(1)"), ex("adaptive_maxpool(4)", (2, 8))],
    "global_avgpool": [ex("global_avgpool"), ex("global_avgpool", (4, 6)), ex("global_avgpool", (2, 3, 4, 4))],
    "global_maxpool": [ex("global_maxpool"), ex("global_maxpool", (4, 6))],
    # ------------------------------------------------------------ linear, embedding, recurrent
    "linear": [ex("linear(7)", (12,)), ex("linear(5, bias=false)", (4, 6))],
    "embedding": [tokens("embedding(10, 4)", (6,)), tokens("embedding(12, 3, padding_idx=0)", (5,)),
                  tokens("embedding(8, 5, max_norm=1.0)", (2, 3)),
                  tokens("embedding(9, 2, scale_grad_by_freq=true, sparse=true)", (4,))],
    "lstm": [ex("lstm(5)", (6, 4)), ex("lstm(3, num_layers=2, bidirectional=true, dropout=0.1)", (5, 4)),
             ex("lstm(4, return_sequence=false, bias=false)", (6, 3))],
    "gru": [ex("gru(5)", (6, 4)), ex("gru(3, num_layers=3, bidirectional=true)", (5, 4)),
            ex("gru(4, return_sequence=false, bias=false)", (6, 3))],
    "rnn": [ex("rnn(5)", (6, 4)), ex("rnn(3, num_layers=2, nonlinearity=\"relu\")", (5, 4)),
            ex("rnn(4, bidirectional=true, return_sequence=false)", (6, 3))],
    # ------------------------------------------------------------ merges
    "add": [merge("add", (3, 4, 4), (3, 4, 4)), merge("add", (2, 5), (2, 5), (2, 5))],
    "mul": [merge("mul", (3, 4, 4), (3, 1, 1)), merge("mul", (2, 5), (5,))],
    "concat": [merge("concat", (3, 4, 4), (5, 4, 4)),
               ex("concat(dim=-1) { @x0\n @x1 }", (3, 4, 2), (3, 4, 5))],
    "matmul": [merge("matmul", (3, 4), (4, 5)), merge("matmul", (2, 3, 4), (2, 4, 5)),
               merge("matmul", (2, 1, 3, 4), (3, 4, 2)), merge("matmul", (4,), (4, 5)),
               merge("matmul", (3, 4), (4,)), merge("matmul", (3, 4, 5), (5,))],
    # ------------------------------------------------------------ shape
    "identity": [ex("identity")],
    "flatten": [ex("flatten"), ex("flatten(start=1)", (2, 3, 4)), ex("flatten(0, 1)", (2, 3, 4))],
    "reshape": [ex("reshape((27, 9))"), ex("reshape((-1,))"), ex("view((3, 3, 3, -1))")],
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
                 ex("upsample(scale_factor=(2, 3))", (2, 4, 4))],
    # ------------------------------------------------------------ dropout
    "dropout": [ex("dropout(0.3)"), ex("dropout(p=0, inplace=true)", (7,))],
    "dropout1d": [ex("dropout1d(0.2)", (3, 8)), ex("dropout1d(p=1)", (3, 8))],
    "dropout2d": [ex("dropout2d"), ex("dropout2d(0.1, inplace=true)")],
    "dropout3d": [ex("dropout3d", (2, 3, 4, 4)), ex("dropout3d(0.25)", (2, 3, 4, 4))],
    "alpha_dropout": [ex("alpha_dropout(0.1)"), ex("alpha_dropout", (10,))],
}
