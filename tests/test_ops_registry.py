"""Every registered op, checked against torch from its examples in op_examples.py.

The parametrization is generated from the registry: an op registered without
examples fails ``test_every_op_has_examples``, and each example is built,
run (CPU, batch 2) and compared with torch's shapes, parameters, buffers and
FlopCounterMode MACs.
"""
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import netdsl
from torch_oracle import ONCE_PER_FORWARD, countable_attention
from netdsl.errors import ArgumentError, NetdslError, ShapeError
from netdsl.ops import GLOBAL, NO_FIELD, WINDOWED, AxisRF, Permuted, all_ops, get_op
from netdsl.ops.reference import render
from op_examples import EXAMPLES, Example, padding_mask

BATCH = 2
ROOT = Path(__file__).resolve().parent.parent
CASES = [pytest.param(op, example, id=f"{op}:{example.call}:{list(example.inputs)}")
         for op, examples in EXAMPLES.items() for example in examples]


def test_every_op_has_examples():
    missing = [spec.name for spec in all_ops() if not EXAMPLES.get(spec.name)]
    assert not missing, f"ops without examples in tests/op_examples.py: {missing}"


def test_ops_with_arguments_have_several_argument_combinations():
    few = [spec.name for spec in all_ops()
           if spec.args and len({e.call for e in EXAMPLES[spec.name]}) < 2]
    assert not few, f"ops with arguments but fewer than 2 distinct example calls: {few}"


def test_examples_name_registered_ops():
    assert [op for op in EXAMPLES if get_op(op) is None or get_op(op).name != op] == []


# ------------------------------------------------------------ building and running
@dataclass
class Run:
    """One example built and run once; the tests below share it."""

    net: netdsl.Network
    model: torch.nn.Module
    output: torch.Tensor
    counted_macs: float  # FlopCounterMode total / 2, per sample


def sample_inputs(net, example: Example) -> list[torch.Tensor]:
    """Random inputs of batch 2; integer inputs get ids valid for every embedding reading them."""
    xs = []
    for info, shape, dtype in zip(net.inputs, example.inputs, example.dtypes):
        if dtype == "bool":
            xs.append(padding_mask(shape, BATCH))
        elif dtype.startswith("int"):
            readers = [net.ir.nodes[n]["args"] for n in net.ir.successors(info["node"])]
            high = min(a.get("num_embeddings", 4) for a in readers) if readers else 4
            xs.append(torch.randint(0, high, (BATCH, *shape), dtype=getattr(torch, example.dtype)))
        else:
            xs.append(torch.randn(BATCH, *shape))
    return xs


def build_model(example: Example):
    net = netdsl.parse(example.source(), filename="example.net")
    torch.manual_seed(0)
    return net, net.to_torch().eval()


@lru_cache(maxsize=None)
def run(example: Example) -> Run:
    net, model = build_model(example)
    with FlopCounterMode(display=False) as counter, torch.no_grad(), countable_attention():
        output = model(*sample_inputs(net, example))
    return Run(net, model, output, counter.get_total_flops() / 2 / BATCH)


def in_shapes(net, data) -> list[tuple]:
    return [net.ir.nodes[i]["shape"] for i in data["inputs"]]


@pytest.mark.parametrize("op, example", CASES)
def test_static_shape_matches_torch(op, example):
    result = run(example)
    assert tuple(result.output.shape) == (BATCH, *result.net.output_shapes["out"])


def _qualified(net, attribute: str) -> dict[str, tuple]:
    """{module path.name: shape} of every node's declared weights or buffers."""
    out = {}
    for data in net.layers():
        for name, shape in data[attribute].items():
            assert data["path"] is not None, f"{data['op']} declares {name} but builds no module"
            out[f"{data['path']}.{name}" if name else data["path"]] = tuple(shape)  # "": a learned tensor
    return out


@pytest.mark.parametrize("op, example", CASES)
def test_parameters_and_buffers_match_torch(op, example):
    net, model = run(example).net, run(example).model
    assert _qualified(net, "weights") == {k: tuple(p.shape) for k, p in model.named_parameters()}
    assert net.params == sum(p.numel() for p in model.parameters())
    assert net.trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert _qualified(net, "buffer_shapes") == {k: tuple(b.shape) for k, b in model.named_buffers()}
    assert net.buffers == sum(b.numel() for b in model.buffers())


def spec_macs(net) -> int:
    """MACs per sample, summed from the op specs."""
    total = 0
    for data in net.layers():
        spec = get_op(data["op"])
        total += spec.macs(data["args"], in_shapes(net, data), data["shape"])
    return total


def meta_counted_macs(model, example: Example) -> float:
    """FlopCounterMode MACs per sample on the meta device, where torch runs LSTM
    unfused (on CPU its fused kernel counts 0)."""
    xs = [torch.empty(BATCH, *shape, device="meta") for shape in example.inputs]
    with FlopCounterMode(display=False) as counter:
        model.to("meta")(*xs)
    return counter.get_total_flops() / 2 / BATCH


@pytest.mark.parametrize("op, example", CASES)
def test_macs_match_flop_counter(op, example):
    result = run(example)
    counted = result.counted_macs
    if counted == 0 and get_op(op).category == "recurrent":
        counted = meta_counted_macs(build_model(example)[1], example)
    if op in ONCE_PER_FORWARD:  # part of its work is once per forward: netdsl's figure is batch 1's
        counted = batch_one_counted_macs(example)
    assert spec_macs(result.net) == counted


def batch_one_counted_macs(example: Example) -> float:
    """FlopCounterMode MACs for one sample."""
    net, model = build_model(example)
    with FlopCounterMode(display=False) as counter, torch.no_grad(), countable_attention():
        model(*(x[:1] for x in sample_inputs(net, example)))
    return counter.get_total_flops() / 2


@pytest.mark.parametrize("op, example", CASES)
def test_flops_and_rf_rules_run(op, example):
    net = run(example).net
    for data in net.layers():
        spec = get_op(data["op"])
        flops = spec.flops(data["args"], in_shapes(net, data), data["shape"])
        assert isinstance(flops, int) and flops >= 0
        if spec.rf is not None:
            rf = spec.rf(data["args"], in_shapes(net, data))
            axes = len(in_shapes(net, data)[0]) - 1
            assert rf in (None, GLOBAL, NO_FIELD, WINDOWED) or isinstance(rf, Permuted) or (
                len(rf) == axes and all(isinstance(axis, AxisRF) for axis in rf)), rf


def with_argument(call: str, argument: str) -> str:
    """``conv(8, 3)`` → ``conv(8, 3, <argument>)``; ``batchnorm`` → ``batchnorm(<argument>)``."""
    return f"{call[:-1]}, {argument})" if call.endswith(")") else f"{call}({argument})"


WEIGHTED = [pytest.param(EXAMPLES[s.name][0], id=s.name) for s in all_ops() if s.has_weights]


@pytest.mark.parametrize("example", WEIGHTED)
def test_init_and_bias_init_reach_every_weight(example):
    call = with_argument(example.call, "init=constant(0.5), bias_init=constant(-1)")
    model = run(Example(call, example.inputs, example.dtype)).model
    for name, param in model.named_parameters():
        kind = name.rpartition(".")[2]
        want = 0.5 if kind.startswith("weight") else -1.0 if kind.startswith("bias") else None
        assert want is not None and bool((param == want).all()), f"{name} not initialized"


def test_lstm_macs_by_hand():
    """2 layers, bidirectional, T=5, F=4, H=3: layer 0 sees F=4, layer 1 sees 2·H=6.

    On CPU FlopCounterMode counts torch's fused LSTM as 0, so the formula is also
    pinned by hand (the parametrized test counts it on the meta device)."""
    net = netdsl.parse("network n {\n input x: [5, 4]\n lstm(3, num_layers=2, bidirectional=true)\n}")
    layer0 = 5 * 4 * 3 * (4 + 3)
    layer1 = 5 * 4 * 3 * (6 + 3)
    assert spec_macs(net) == 2 * (layer0 + layer1) == 2 * (420 + 540)


def test_recurrent_macs_formula_matches_an_unrolled_gru_count():
    """GRU and RNN run unfused on CPU, so the counter sees them: the same formula holds."""
    result = run(Example("gru(3, num_layers=2, bidirectional=true)", ((5, 4),)))
    assert spec_macs(result.net) == 2 * (5 * 3 * 3 * (4 + 3) + 5 * 3 * 3 * (6 + 3))
    assert result.counted_macs == spec_macs(result.net)


# ------------------------------------------------------------ errors
BAD = [
    ("upsample(scale_factor=2, mode=\"bilinar\")", (3, 9, 9), ArgumentError, "did you mean 'bilinear'?"),
    ("pad(1, mode=\"reflekt\")", (3, 9, 9), ArgumentError, "did you mean 'reflect'?"),
    ("conv(4, 11)", (3, 9, 9), ShapeError, "non-positive output size"),
    ("maxpool(5)", (3, 4, 4), ShapeError, "non-positive output size"),
    ("conv(4, 3, groups=2)", (3, 9, 9), ShapeError, "groups=2 must divide"),
    ("groupnorm(4)", (6, 5, 5), ShapeError, "groups=4 must divide the channels (6)"),
    ("channel_shuffle(4)", (6, 5, 5), ShapeError, "groups=4 must divide the channels (6)"),
    ("chunk(2, 0)", (3, 9, 9), ShapeError, "2 chunks do not divide dim 0 of size 3"),
    ("chunk(2, 2)", (4, 9, 9), ShapeError, "index 2 out of range"),
    ("maxout(2)", (3, 9, 9), ShapeError, "pieces=2 must divide the channels (3)"),
    ("reshape((4, -1))", (3, 9, 9), ShapeError, "cannot view [3, 9, 9]"),
    ("reshape((-1, -1))", (3, 9, 9), ShapeError, "at most one -1"),
    ("reshape((0, 243))", (3, 9, 9), ShapeError, "needs positive sizes"),
    ("reshape((-3, -81))", (3, 9, 9), ShapeError, "needs positive sizes"),  # torch refuses -3 too
    ("permute((0, 0, 1))", (3, 9, 9), ShapeError, "not a permutation"),
    ("softmax(dim=3)", (3, 9, 9), ShapeError, "dim 3 out of range"),
    ("upsample(scale_factor=2, size=4)", (3, 9, 9), ArgumentError, "exactly one of"),
    ("upsample(scale_factor=2, mode=\"trilinear\")", (3, 9, 9), ShapeError, "needs 3 spatial dim(s)"),
    ("pad(9, mode=\"reflect\")", (3, 9, 9), ShapeError, "must be smaller than the input size"),
    ("lstm(4)", (3, 9, 9), ShapeError, "rank 2"),
    ("dropout(1.5)", (3, 9, 9), ArgumentError, "must be <= 1"),
    ("batchnorm2d", (3, 9), ShapeError, "rank 3"),
    ("layernorm(dims=4)", (3, 9, 9), ShapeError, "exceeds the input's rank 3"),
    ("embedding(10, 4, padding_idx=10)", (5,), ArgumentError, "padding_idx 10 out of range"),
    ("concat { }", (3, 9, 9), ShapeError, "concat needs at least 1 input, got 0"),
    ("concat(dim=3) { identity\n identity }", (3, 9, 9), ShapeError, "dim 3 out of range for inputs of rank 3"),
    ("concat(dim=-4) { identity\n identity }", (3, 9, 9), ShapeError, "dim -4 out of range"),
    ("concat { identity\n flatten }", (3, 9, 9), ShapeError, "shapes [3, 9, 9], [243] differ"),
    ("add { identity }", (3, 9, 9), ShapeError, "add needs at least 2 inputs, got 1"),
    ("conv_transpose(4, 3, stride=2, output_padding=2)", (3, 9, 9), ArgumentError,
     "output_padding 2 must be smaller than stride or dilation"),  # torch: "must be smaller than"
]


@pytest.mark.parametrize("shape", ["[0, 9]", "[]", "[-1, 9]"])
def test_a_parameter_needs_positive_sizes(shape):
    """A learned tensor with no element, or a 0-d one, is refused where it is declared."""
    with pytest.raises(ShapeError, match=r"a parameter needs a shape of positive integers") as info:
        netdsl.parse(Example(f"mul {{ identity\n p: parameter({shape}) }}", ((3, 9, 9),)).source(), "bad.net")
    assert info.value.span.line == 4



@pytest.mark.parametrize("call, shape, error, fragment", BAD, ids=[b[0] for b in BAD])
def test_bad_arguments_give_located_errors(call, shape, error, fragment):
    with pytest.raises(NetdslError) as info:
        netdsl.parse(Example(call, (shape,)).source(), filename="bad.net")
    err = info.value
    assert isinstance(err, error), err.format()
    assert fragment in err.format()
    assert (err.span.file, err.span.line) == ("bad.net", 3), err.format()


def test_matmul_of_two_vectors_is_refused():
    """torch.matmul gives a 0-d value per sample, which no netdsl value can be."""
    with pytest.raises(ShapeError, match="gives no dim per sample") as info:
        netdsl.parse(Example("matmul { @x0\n @x1 }", ((4,), (4,))).source(), filename="bad.net")
    assert info.value.span.line == 4


def test_matmul_takes_exactly_two_inputs():
    source = Example("matmul { @x0\n @x1\n @x2 }", ((3, 3), (3, 3), (3, 3))).source()
    with pytest.raises(ShapeError, match="exactly 2 inputs"):
        netdsl.parse(source)


def test_op_reference_is_up_to_date():
    current = (ROOT / "docs" / "ops.md").read_text(encoding="utf-8")
    assert current == render(), "docs/ops.md is stale: run python3 scripts/gen_ops_doc.py"


def test_op_reference_lists_every_op_and_argument():
    text = render()
    for spec in all_ops():
        assert f"### {spec.name}\n" in text
        assert all(f"| `{arg.name}` |" in text for arg in spec.args)
