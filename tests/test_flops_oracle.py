"""FLOPs beyond MACs, checked against a count netdsl did not compute.

netdsl's FLOPs are 2·MACs (checked against FlopCounterMode in
test_ops_registry.py) plus each op's elementwise work.  Here the elementwise
work of every registry example is counted again from the *built torch
module*: forward hooks see each layer's real input and output tensors, and
the rules below read the layer's own torch attributes (``bias is None``,
``kernel_size``, ``mode``, ``num_heads``...), following the convention
docs/analysis.md states per op.  Merges and other functional calls outside
any layer are counted from the aten ops torch dispatches.  A layer class with
no rule here fails the test: a new op must state its FLOPs convention.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode

import netdsl
from torch_oracle import ONCE_PER_FORWARD, countable_attention
from netdsl import runtime
from op_examples import EXAMPLES, Example, padding_mask

BATCH = 2
CASES = [pytest.param(example, id=f"{op}:{example.call}:{list(example.inputs)}")
         for op, examples in EXAMPLES.items() for example in examples]


# ------------------------------------------------------------ per-layer rules (torch's definitions)
def _numel(t) -> int:
    return t.numel() // BATCH


def _bias_add(m, ins, out):
    """Conv, transposed conv, linear: one add per output element when a bias exists."""
    return _numel(out) if m.bias is not None else 0


def _norm(m, ins, out):
    """Subtract the mean and divide by the deviation (2), then scale (1) and shift (1) if learned."""
    return _numel(out) * (2 + (m.weight is not None) + (m.bias is not None))


def _window(m, ins, out):
    """Max/avg pooling: one comparison or add per window element of each output."""
    k = m.kernel_size
    spatial = out.dim() - 2
    return _numel(out) * math.prod(k if isinstance(k, tuple) else (k,) * spatial)


def _per_input(m, ins, out):
    """Adaptive and global pooling read every input element once."""
    return _numel(ins[0])


def _per_output(factor):
    return lambda m, ins, out: factor * _numel(out)


def _upsample(m, ins, out):
    """Interpolation reads 2 neighbours per axis (linear family) or 4 (cubic); nearest copies."""
    per_axis = {"nearest": 0, "linear": 2, "bilinear": 2, "trilinear": 2, "bicubic": 4}[m.mode]
    return _numel(out) * per_axis ** (out.dim() - 2) if per_axis else 0


#: Per step and hidden unit, beyond the gate pre-activations: LSTM c' = f·c + i·g (3) and
#: h' = o·tanh(c') (2); GRU r·(W_hn h + b_hn) (1) and h' = (1 − z)·n + z·h (4); RNN none.
_CELL_UPDATE = {"LSTM": 5, "GRU": 5, "RNN_TANH": 0, "RNN_RELU": 0}


def _recurrent(m, ins, out):
    """Per step: every bias element is one add, every gate row one activation, plus the cell update."""
    steps = ins[0].shape[1] if m.batch_first else ins[0].shape[0]
    weights = dict(m.named_parameters())
    biases = sum(p.numel() for n, p in weights.items() if n.startswith("bias"))
    gate_rows = sum(p.shape[0] for n, p in weights.items() if n.startswith("weight_ih"))
    layers = m.num_layers * (2 if m.bidirectional else 1)
    return steps * (biases + gate_rows + _CELL_UPDATE[m.mode] * m.hidden_size * layers)


def _attention(m, ins, out):
    """Softmax (3) per attention weight of every head, the padding mask's add (1); one add
    per projected element with biases."""
    masked = ins[-1].dtype == torch.bool  # torch adds the key-padding mask to the scores
    query, key = ins[0], ins[1] if len(ins) > 1 + masked else ins[0]
    t, s = query.shape[-2], key.shape[-2]
    softmax = (3 + masked) * m.num_heads * t * s
    in_bias = (t + 2 * s) * m.embed_dim if m.in_proj_bias is not None else 0
    out_bias = t * m.embed_dim if m.out_proj.bias is not None else 0
    return softmax + in_bias + out_bias


def _window_attention(m, ins, out):
    """Per attention weight of every head in every (padded) window: softmax (3), the
    position bias (1) and, with a shift, the mask (1); one add per projected element with biases."""
    _, h, w, c = ins[0].shape
    padded = [-(-size // win) * win for size, win in zip((h, w), m.window_size)]
    shifted = any(s and win < size for s, win, size in zip(m.shift_size, m.window_size, padded))
    positions, tokens = padded[0] * padded[1], m.window_size[0] * m.window_size[1]
    biases = positions * sum(layer.bias.numel() for layer in (m.qkv, m.proj) if layer.bias is not None)
    return (4 + shifted) * m.num_heads * positions * tokens + biases


def _window_attention_v2(m, ins, out):
    """Swin V2: V1's count, plus the logit scale per attention weight (1) and the division
    of every q and k element by its norm (1); and once per forward, whatever the batch:
    cpb_mlp's hidden bias and ReLU per coordinate row, 16·sigmoid of the bias per head and
    token pair (2), the logit scale's clamp and exp (2 per head)."""
    _, h, w, c = ins[0].shape
    padded = [-(-size // win) * win for size, win in zip((h, w), m.window_size)]
    positions, tokens = padded[0] * padded[1], m.window_size[0] * m.window_size[1]
    per_sample = _window_attention(m, ins, out) + m.num_heads * positions * tokens + 2 * positions * c
    return per_sample + _window_attention_v2_once(m)


def _window_attention_v2_once(m) -> int:
    """The elementwise part of Swin V2's work that a forward runs once, whatever the batch."""
    tokens = m.window_size[0] * m.window_size[1]
    rows = m.relative_coords_table.numel() // 2
    mlp = rows * (m.cpb_mlp[0].bias.numel() + m.cpb_mlp[0].out_features)
    return mlp + 2 * m.num_heads * tokens ** 2 + 2 * m.logit_scale.numel()


def _relative_attention(m, ins, out):
    """MaxViT's: per attention weight of every head in every group, softmax (3) and the
    position bias (1); one add per projected element (to_qkv and merge have biases)."""
    _, groups, tokens, _ = ins[0].shape
    biases = groups * tokens * (m.to_qkv.bias.numel() + m.merge.bias.numel())
    return 4 * m.n_heads * groups * tokens * tokens + biases


def _zero(m, ins, out):
    return 0


RULES: list[tuple[type, object]] = [
    (nn.MultiheadAttention, _attention),  # before Linear: its out_proj is a child
    (runtime.ShiftedWindowAttentionV2, _window_attention_v2),  # before V1: a subclass
    (runtime.ShiftedWindowAttention, _window_attention),  # and its qkv, proj
    (runtime.RelativePositionalMultiHeadAttention, _relative_attention),  # and its to_qkv, merge
    ((nn.modules.conv._ConvNd, nn.Linear), _bias_add),
    ((nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm), _norm),
    (nn.LocalResponseNorm, lambda m, ins, out: _numel(out) * (m.size + 3)),
    ((nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d), _window),
    ((nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool1d,
      nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d, runtime.GlobalPool), _per_input),
    ((nn.Softmax, nn.LogSoftmax), _per_output(3)),
    ((nn.ReLU, nn.ReLU6, nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.SiLU,
      nn.GELU, nn.Softplus, nn.Hardswish, nn.Hardsigmoid, nn.Mish, runtime.Scale), _per_output(1)),
    (runtime.Maxout, lambda m, ins, out: _numel(out) * (m.pieces - 1)),
    (nn.Upsample, _upsample),
    (nn.RNNBase, _recurrent),
    ((nn.modules.dropout._DropoutNd, nn.Identity, nn.Flatten, nn.Embedding, nn.ChannelShuffle,
      nn.modules.padding._ConstantPadNd, nn.modules.padding._ReflectionPadNd,
      nn.modules.padding._ReplicationPadNd, nn.modules.padding._CircularPadNd,
      runtime.Reshape, runtime.Permute, runtime.Transpose, runtime.Chunk), _zero),
]
for _name in ("StochasticDepth",):  # eval mode: identity (added by another op's author)
    if hasattr(runtime, _name):
        RULES.append((getattr(runtime, _name), _zero))


def rule_for(module: nn.Module):
    return next((rule for classes, rule in RULES if isinstance(module, classes)), None)


# ------------------------------------------------------------ counting
def _sdpa(args, kwargs, out):
    """Softmax (3) per attention weight: every query row against every key, per leading index."""
    query, key = args[0], args[1]
    return 3 * _numel(out) // out.shape[-1] * key.shape[-2]


#: Functional calls outside any layer (merges, sdpa) → their FLOPs.
_FUNCTIONAL = {
    torch.Tensor.add: lambda args, kwargs, out: _numel(out),
    torch.Tensor.__add__: lambda args, kwargs, out: _numel(out),
    torch.Tensor.mul: lambda args, kwargs, out: _numel(out),
    torch.Tensor.__mul__: lambda args, kwargs, out: _numel(out),
    torch.add: lambda args, kwargs, out: _numel(out),
    torch.mul: lambda args, kwargs, out: _numel(out),
    torch.nn.functional.scaled_dot_product_attention: _sdpa,
}


class ElementwiseCounter(TorchFunctionMode):
    """Sums the rules of the layers it hooks, and the functional torch calls made between them."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.total, self.depth, self.handles = 0, 0, []
        self._hook(model)

    def _hook(self, module: nn.Module) -> None:
        rule = rule_for(module)
        if rule is None:
            children = list(module.children())
            assert children or not _is_compute(module), (
                f"no FLOPs rule for {type(module).__name__}: state its convention in tests/test_flops_oracle.py")
            for child in children:
                self._hook(child)
            return
        self.handles.append(module.register_forward_pre_hook(self._enter))
        self.handles.append(module.register_forward_hook(self._leave(rule)))

    def _enter(self, module, ins):
        self.depth += 1

    def _leave(self, rule):
        def hook(module, ins, out):
            self.depth -= 1
            self.total += rule(module, ins, out[0] if isinstance(out, tuple) else out)
        return hook

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        depth, self.depth = self.depth, self.depth + 1  # what a counted call runs inside is not counted
        try:
            out = func(*args, **kwargs)
        finally:
            self.depth = depth
        if depth == 0 and func in _FUNCTIONAL:
            self.total += _FUNCTIONAL[func](args, kwargs, out)
        return out


def _is_compute(module: nn.Module) -> bool:
    """A layer class (torch's or netdsl.runtime's), not one of the built network's scope containers."""
    return type(module).__module__.startswith(("torch.", "netdsl.runtime"))


def inputs_for(net, example: Example) -> list[torch.Tensor]:
    if example.dtype.startswith("int"):
        return [torch.zeros(BATCH, *shape, dtype=getattr(torch, example.dtype)) for shape in example.inputs]
    return [padding_mask(shape, BATCH) if dtype == "bool" else torch.randn(BATCH, *shape)
            for shape, dtype in zip(example.inputs, example.dtypes)]


def counted_elementwise(example: Example) -> tuple[netdsl.Network, int]:
    net = netdsl.parse(example.source(), filename="example.net")
    torch.manual_seed(0)
    model = net.to_torch().eval()
    counter = ElementwiseCounter(model)
    with torch.no_grad(), countable_attention(), counter:
        model(*inputs_for(net, example))
    return net, counter.total


# ------------------------------------------------------------ tests
@pytest.mark.parametrize("example", CASES)
def test_elementwise_flops_match_the_torch_layers(example, one_torch_thread):
    net, counted = counted_elementwise(example)
    assert net.flops - 2 * net.macs == counted


def test_the_counter_sees_a_convolution_bias():
    """The oracle itself: a conv with a bias adds one per output element, without none."""
    _, with_bias = counted_elementwise(Example("conv(4, 3)", ((3, 5, 5),)))
    _, without = counted_elementwise(Example("conv(4, 3, bias=false)", ((3, 5, 5),)))
    assert (with_bias, without) == (4 * 3 * 3, 0)


def test_the_counter_refuses_a_layer_without_a_rule():
    with pytest.raises(AssertionError, match="no FLOPs rule for Bilinear"):
        ElementwiseCounter(nn.Sequential(nn.Bilinear(2, 2, 2)))


def test_flops_by_hand_for_a_small_network():
    """conv 3→4 k3 on 3×6×6 (out 4×4×4, 64 elements), bn, relu, maxpool 2 (out 4×2×2), linear 16→5."""
    net = netdsl.parse("network n {\n input x: [3, 6, 6]\n conv(4, 3)\n batchnorm\n relu\n"
                       " maxpool(2)\n flatten\n linear(5)\n}")
    macs = 64 * 27 + 16 * 5
    elementwise = 64 + 4 * 64 + 64 + 16 * 4 + 5  # bias, bn, relu, 4 per pooled output, linear bias
    assert (net.macs, net.flops) == (macs, 2 * macs + elementwise)


def test_once_per_forward_work_is_split_from_the_per_sample_work():
    """Swin V2's position-bias MLP runs once per forward: FlopCounterMode at batch 1 and 3
    gives the once-part of the MACs (3·c1 − c3)/2, and the hooks' rule its elementwise part;
    netdsl's ``macs_once``/``flops_once`` and its batch-3 totals must equal them."""
    examples = [e for op in ONCE_PER_FORWARD for e in EXAMPLES[op]]
    assert examples
    for example in examples:
        net = netdsl.parse(example.source(), filename="example.net")
        model = net.to_torch().eval()
        c1, c3 = (_counted_macs(model, example, batch) for batch in (1, 3))
        layer = next(m for m in model.modules() if isinstance(m, runtime.ShiftedWindowAttentionV2))
        macs_once = (3 * c1 - c3) // 2
        assert sum(d["macs_once"] for d in net.layers()) == macs_once, example.call
        assert sum(d["flops_once"] for d in net.layers()) == 2 * macs_once + _window_attention_v2_once(layer)
        assert net.summary(batch=3).totals["macs"] == c3, example.call


FIRST_FLOAT_EXAMPLES = [pytest.param(group[0], id=op) for op, group in EXAMPLES.items()
                        if op not in ONCE_PER_FORWARD and group[0].dtype == "float32"]


@pytest.mark.parametrize("example", FIRST_FLOAT_EXAMPLES)
def test_work_without_a_once_part_scales_with_the_batch(example):
    """Where FlopCounterMode counts three times the work at batch 3 as at batch 1,
    nothing runs once per forward: netdsl's once-parts are 0 and its batch-3 total
    is the counter's."""
    net = netdsl.parse(example.source(), filename="example.net")
    model = net.to_torch().eval()
    # the CPU counter misses the recurrent kernels; on meta it sees them (as test_ops_registry does)
    device = "meta" if any(d["op"] in ("lstm", "gru", "rnn") for d in net.layers()) else "cpu"
    c1, c3 = (_counted_macs(model.to(device), example, batch, device) for batch in (1, 3))
    assert c3 == 3 * c1, example.call
    assert all(d["macs_once"] == d["flops_once"] == 0 for d in net.layers())
    assert net.summary(batch=3).totals["macs"] == c3


def _counted_macs(model, example: Example, batch: int, device: str = "cpu") -> int:
    xs = [torch.randn(batch, *shape, device=device) for shape in example.inputs]
    with FlopCounterMode(display=False) as counter, torch.no_grad(), countable_attention():
        model(*xs)
    return counter.get_total_flops() // 2


# ------------------------------------------------------------ peers: fvcore where conventions coincide
def test_fvcore_matches_macs_of_convolutions_and_linears():
    """fvcore's "flop" is one per multiply-add of conv/linear/matmul: netdsl's MACs.
    (It differs elsewhere: it adds norm and pooling elements; docs/analysis.md.)"""
    fvcore = pytest.importorskip("fvcore.nn", reason="fvcore is in the dev extra: pip install -e '.[dev]'")
    net = netdsl.parse("network n {\n input x: [3, 12, 12]\n conv(8, 3, stride=2, padding=1)\n relu\n"
                       " conv(6, 3, groups=2, padding=1)\n flatten\n linear(10)\n}")
    model = net.to_torch().eval()
    counter = fvcore.FlopCountAnalysis(model, torch.randn(1, 3, 12, 12))
    counter.unsupported_ops_warnings(False)
    assert counter.total() == net.macs
