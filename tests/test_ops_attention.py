"""Attention, LayerNorm2d and stochastic depth against torch's own modules.

Oracles: nn.MultiheadAttention and F.scaled_dot_product_attention outputs with
the same weights, FlopCounterMode under the math SDPA backend, autograd's saved
tensors (math backend), torchvision's LayerNorm2d and StochasticDepth.
"""
import pytest
import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import netdsl
from autograd_memory import kept_by_autograd
from netdsl.analysis.train_memory import saved_activation_bytes
from netdsl.errors import ShapeError
from op_examples import EXAMPLES, padding_mask

SELF = "network n {\n input x: [6, 16]\n attn: multihead_attention(16, 4%s)\n}"
CROSS = "network n {\n input memory: [9, 12]\n input x: [6, 16]\n attn: mha(16, 2) { @x\n @memory }\n}"


def _torch_mha(**kwargs) -> nn.MultiheadAttention:
    torch.manual_seed(0)
    return nn.MultiheadAttention(batch_first=True, **kwargs).eval()


@pytest.mark.parametrize("causal", [False, True])
def test_self_attention_equals_nn_multihead_attention(causal):
    net = netdsl.parse(SELF % (", causal=true" if causal else ""))
    model, reference = net.to_torch().eval(), _torch_mha(embed_dim=16, num_heads=4)
    model.load_state_dict({f"attn.{k}": v for k, v in reference.state_dict().items()}, strict=True)
    x = torch.randn(2, 6, 16)
    mask = nn.Transformer.generate_square_subsequent_mask(6) if causal else None
    with torch.no_grad():
        want = reference(x, x, x, attn_mask=mask, need_weights=False)[0]
        assert torch.allclose(model(x), want, atol=1e-6)
    assert net.params == sum(p.numel() for p in reference.parameters())


def test_cross_attention_reads_its_branches_with_separate_projections():
    net = netdsl.parse(CROSS)
    model, reference = net.to_torch().eval(), _torch_mha(embed_dim=16, num_heads=2, kdim=12, vdim=12)
    assert set(model.state_dict()) == {f"attn.{k}" for k in reference.state_dict()}
    model.load_state_dict({f"attn.{k}": v for k, v in reference.state_dict().items()}, strict=True)
    memory, x = torch.randn(2, 9, 12), torch.randn(2, 6, 16)
    with torch.no_grad():
        assert torch.allclose(model(memory, x), reference(x, memory, memory)[0], atol=1e-6)
    assert net.output_shapes == {"out": (6, 16)}


@pytest.mark.parametrize("source", [SELF % "", CROSS])
def test_macs_equal_flop_counter_with_the_math_backend(source):
    net = netdsl.parse(source)
    model = net.to_torch().train()  # no fast path: the counter sees every product
    xs = [torch.randn(3, *net.ir.nodes[i["node"]]["shape"]) for i in net.inputs]
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model(*xs)
    assert net.macs == counter.get_total_flops() / 2 / 3


def test_the_quadratic_terms_grow_with_the_square_of_the_tokens():
    def macs(tokens):
        return netdsl.parse(f"network n {{ input x: [{tokens}, 16]\n mha(16, 4) }}").macs
    linear_part = 4 * 16 * 16  # q, k, v, out projections per token
    assert macs(10) - 10 * linear_part == 2 * 10 * 10 * 16
    assert macs(20) - 20 * linear_part == 2 * 20 * 20 * 16


@pytest.mark.parametrize("op", ["multihead_attention", "sdpa"])
def test_training_memory_counts_the_attention_matrix(op):
    """The saved-tensor rule equals autograd's under the math backend, which keeps the
    attention matrix (heads · T · S per sample)."""
    for example in EXAMPLES[op]:
        net = netdsl.parse(example.source()).analyze()
        model = net.to_torch().train()
        xs = [padding_mask(shape, 2) if dtype == "bool" else torch.randn(2, *shape, requires_grad=True).clone()
              for shape, dtype in zip(example.inputs, example.dtypes)]
        with sdpa_kernel(SDPBackend.MATH):
            kept = kept_by_autograd(model, xs)
        assert saved_activation_bytes(net.ir, 2, device="cpu", inputs_require_grad=True) == kept, example.call


def test_attention_matrix_dominates_memory_of_long_sequences():
    def saved(tokens):
        net = netdsl.parse(f"network n {{ input x: [{tokens}, 8]\n scale(1)\n mha(8, 2) }}").analyze()
        return saved_activation_bytes(net.ir, 1, device="cpu")
    assert saved(200) - saved(100) > 2 * 4 * (200 ** 2 - 100 ** 2)  # 2 heads · T² floats grow


def test_sdpa_equals_torch_functional():
    net = netdsl.parse("network n {\n input q: [2, 5, 4]\n input k: [2, 7, 4]\n input v: [2, 7, 3]\n"
                       " sdpa(causal=true, scale=0.3) { @q\n @k\n @v }\n}")
    q, k, v = torch.randn(3, 2, 5, 4), torch.randn(3, 2, 7, 4), torch.randn(3, 2, 7, 3)
    want = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3)
    assert torch.allclose(net.to_torch()(q, k, v), want, atol=1e-6)
    assert net.output_shapes == {"out": (2, 5, 3)}


@pytest.mark.parametrize("source, fragment", [
    ("network n { input x: [6, 12]\n mha(16, 4) }", "the query has 12 features, embed_dim is 16"),
    ("network n { input x: [6, 16]\n mha(16, 3) }", "num_heads=3 must divide embed_dim=16"),
    ("network n { input x: [3, 6, 16]\n mha(16, 4) }", "token sequences [T, D]"),
    ("network n { input q: [5, 4]\n input k: [7, 3]\n sdpa { @q\n @k\n @k } }", "differ in features"),
    ("network n { input x: [6, 16]\n mha(16, 4) { @x\n @x\n @x\n @x } }", "takes 1 to 3 inputs"),
    ("network n { input x: [6, 16]\n mha(16, 4, padding_mask=true) }", "needs the mask as its last branch"),
])
def test_misfits_are_located_shape_errors(source, fragment):
    with pytest.raises(ShapeError) as info:
        netdsl.parse(source, filename="bad.net")
    assert fragment in info.value.format() and info.value.span.file == "bad.net"


def test_layernorm2d_is_torchvisions_convnext_layernorm():
    torchvision = pytest.importorskip("torchvision")
    reference = torchvision.models.convnext.LayerNorm2d(8, eps=1e-6)
    with torch.no_grad():
        reference.weight.normal_(), reference.bias.normal_()
    net = netdsl.parse("network n { input x: [8, 5, 5]\n norm: layernorm2d(eps=0.000001) }")
    model = net.to_torch().eval()
    model.load_state_dict({f"norm.{k}": v for k, v in reference.state_dict().items()}, strict=True)
    x = torch.randn(2, 8, 5, 5)
    assert torch.allclose(model(x), reference(x), atol=1e-6)
    assert net.layers()[-1]["rf"].size == (1, 1)  # pointwise in space


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_draws_as_torchvision(mode):
    torchvision = pytest.importorskip("torchvision")
    model = netdsl.parse(f'network n {{ input x: [4, 3, 3]\n stochastic_depth(0.4, mode="{mode}") }}').to_torch()
    reference = torchvision.ops.StochasticDepth(0.4, mode)
    x = torch.randn(16, 4, 3, 3)
    torch.manual_seed(3)
    want = reference.train()(x)
    torch.manual_seed(3)
    assert torch.equal(model.train()(x), want)
    assert torch.equal(model.eval()(x), x)


# ------------------------------------------------------------ key-padding masks
PADDED = """
network padded {
    input ids: [6] int64
    input mask: [6] bool
    x = @ids embedding(20, 8)
    attn: multihead_attention(8, 2, padding_mask=true) {
        @x
        @mask
    }
}
"""


def test_padding_mask_equals_torch_key_padding_mask():
    net = netdsl.parse(PADDED)
    assert net.inputs[1]["dtype"] == "bool" and net.output_shapes == {"out": (6, 8)}
    model = net.to_torch().eval()
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    theirs.load_state_dict({k[len("attn."):]: v for k, v in model.state_dict().items() if k.startswith("attn.")})
    ids = torch.randint(0, 20, (3, 6))
    mask = torch.tensor([[False] * 6, [False] * 4 + [True] * 2, [False] + [True] * 5])
    x = model.state_dict()["0.weight"][ids]  # the embedding
    want, _ = theirs(x, x, x, key_padding_mask=mask, need_weights=False)
    with torch.no_grad():
        assert torch.allclose(model(ids, mask), want, atol=1e-6)


def test_padded_keys_do_not_change_the_output():
    model = netdsl.parse(PADDED).to_torch().eval()
    ids = torch.randint(0, 20, (1, 6))
    mask = torch.tensor([[False] * 4 + [True] * 2])
    other = ids.clone()
    other[0, 4:] = (other[0, 4:] + 1) % 20  # change only the padding tokens
    with torch.no_grad():
        a, b = model(ids, mask), model(other, mask)
    assert torch.allclose(a[0, :4], b[0, :4], atol=1e-6) and not torch.allclose(a[0, 4:], b[0, 4:])


def test_padding_mask_counts_one_flop_per_weight_and_generated_source_runs():
    net = netdsl.parse(PADDED)
    plain = netdsl.parse(PADDED.replace(", padding_mask=true", "").replace("        @mask\n", ""))
    assert net.macs == plain.macs and net.flops == plain.flops + 2 * 6 * 6
    scope = {}
    exec(compile(net.to_source(), "padded.py", "exec"), scope)  # noqa: S102 — our own generated source
    torch.manual_seed(0)
    generated = scope["build"]().eval()
    generated.load_state_dict(net.to_torch().state_dict())
    ids, mask = torch.randint(0, 20, (2, 6)), torch.tensor([[False] * 6, [False] * 3 + [True] * 3])
    built = net.to_torch().eval()
    built.load_state_dict(generated.state_dict())
    with torch.no_grad():
        assert torch.equal(built(ids, mask), generated(ids, mask))


@pytest.mark.parametrize("source, fragment", [
    ("input m: [6] bool\n relu", "a bool input is a mask"),
    ("input x: [6, 8]\n input m: [6] float32\n mha(8, 2, padding_mask=true) { @x\n @m }", "must be bool"),
    ("input x: [6, 8]\n input m: [5] bool\n mha(8, 2, padding_mask=true) { @x\n @m }", "keys need [6]"),
    ("input x: [6, 8]\n mha(8, 2, padding_mask=true)", "needs the mask as its last branch"),
])
def test_mask_errors_are_located(source, fragment):
    with pytest.raises(netdsl.NetdslError) as info:
        netdsl.parse(f"network n {{\n {source}\n}}\n", "m.net")
    assert fragment in info.value.format() and info.value.span is not None
