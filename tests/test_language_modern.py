"""The language for post-2017 networks (issue 10): learned tensors (`param`),
numeric and quoted labels, `residual if`, token sequences through linear and
layernorm.  Oracles: hand-written torch modules (state_dict keys, parameter
counts by sum(p.numel()), outputs), FlopCounterMode, and the generated source
run side by side with the in-memory module."""
from __future__ import annotations

import importlib.util

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import netdsl
from netdsl.backends.pytorch.validate import validate_generated
from netdsl.errors import ArgumentError, NetdslError, ParseError, ShapeError, UnknownName

TINY_VIT = """
block encoder_block(dim: int) {
    param layer_scale: [dim] init=constant(0.1)
    residual {
        ln: layernorm
        mlp: { linear(2 * dim) gelu linear(dim) }
        mul { identity
              @layer_scale }
    }
}

block encoder(dim: int, tokens: int) {
    param pos_embedding: [1, tokens, dim] init=normal(std=0.02)
    add { identity
          @pos_embedding }
    layers: { "block-0": encoder_block(dim)
              "block-1": encoder_block(dim) }
    ln: layernorm
}

network tiny_vit(dim: int = 8) {
    input [3, 8, 8]
    conv_proj: conv(dim, 4, stride=4)
    reshape((dim, 4)) permute((1, 0))        # [tokens, dim]
    param class_token: [1, 1, dim] init=zeros()
    concat(dim=0) { @class_token
                    identity }
    encoder: encoder(dim, 5)
    heads: linear(10)
}
"""


class _Block(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.layer_scale = nn.Parameter(torch.full((dim,), 0.1))
        self.ln = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        return x + self.mlp(self.ln(x)) * self.layer_scale


class _Encoder(nn.Module):
    def __init__(self, dim: int, tokens: int):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, tokens, dim).normal_(std=0.02))
        self.layers = nn.Module()
        self.layers.add_module("block-0", _Block(dim))
        self.layers.add_module("block-1", _Block(dim))
        self.ln = nn.LayerNorm(dim)

    def forward(self, x):
        x = x + self.pos_embedding
        for block in self.layers.children():
            x = block(x)
        return self.ln(x)


class _TinyViT(nn.Module):
    """What torchvision's VisionTransformer does, in small."""

    def __init__(self, dim: int = 8):
        super().__init__()
        self.conv_proj = nn.Conv2d(3, dim, 4, stride=4)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.encoder = _Encoder(dim, 5)
        self.heads = nn.Linear(dim, 10)

    def forward(self, x):
        n = x.shape[0]
        x = self.conv_proj(x).reshape(n, -1, 4).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        return self.heads(self.encoder(x))


def _perturbed(module: nn.Module) -> nn.Module:
    """Constant-initialised tensors (class token, layer scale) made random, so a
    mix-up between them shows in the outputs."""
    torch.manual_seed(1)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn_like(param))
    return module


def _exec_source(net) -> nn.Module:
    source = net.to_source()
    validate_generated(source)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("generated", loader=None))
    exec(compile(source, "generated.py", "exec"), module.__dict__)  # validated above
    return module.build()


@pytest.fixture(scope="module")
def vit():
    return netdsl.parse(TINY_VIT, filename="tiny_vit.net")


# ------------------------------------------------------------ learned tensors
def test_param_counts_keys_and_shapes_equal_hand_written_torch(vit):
    reference = _TinyViT()
    assert vit.params == sum(p.numel() for p in reference.parameters())
    model = vit.to_torch()
    assert {k: v.shape for k, v in model.state_dict().items()} == \
        {k: v.shape for k, v in reference.state_dict().items()}
    assert vit.output_shapes == {"out": (5, 10)}


def test_param_forward_equals_hand_written_torch(vit):
    reference = _perturbed(_TinyViT()).eval()
    model = vit.to_torch().eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=1e-6)


def test_param_macs_equal_flop_counter(vit):
    model = vit.to_torch().eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(2, 3, 8, 8))
    assert vit.macs == counter.get_total_flops() / 2 / 2


def test_param_initializers_are_applied(vit):
    torch.manual_seed(0)
    model = vit.to_torch()
    assert torch.count_nonzero(model.class_token) == 0
    assert torch.equal(model.encoder.layers.get_submodule("block-1").layer_scale, torch.full((8,), 0.1))
    assert 0.005 < float(model.encoder.pos_embedding.detach().std()) < 0.05


def test_generated_source_has_the_same_weights_and_outputs(vit):
    torch.manual_seed(0)
    built = vit.to_torch().eval()
    torch.manual_seed(0)
    generated = _exec_source(vit).eval()
    assert list(built.state_dict()) == list(generated.state_dict())
    for key, value in built.state_dict().items():
        assert torch.equal(value, generated.state_dict()[key]), key
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(built(x), generated(x))


def test_frozen_param_is_counted_frozen_and_built_without_grad():
    net = netdsl.parse("network n {\n input [4, 6]\n param scale: [6] init=ones() trainable=false\n"
                       " mul { identity\n @scale }\n fc: linear(3)\n}")
    assert (net.params, net.trainable_params) == (6 + 21, 21)
    model = net.to_torch()
    assert not model.scale.requires_grad and model.fc.weight.requires_grad
    assert "requires_grad=False" in net.to_source()


def test_layer_scale_of_channels_broadcasts_like_convnext():
    """ConvNeXt's CNBlock: a [C, 1, 1] parameter times an NCHW tensor."""
    net = netdsl.parse("block cn(dim: int) {\n param layer_scale: [dim, 1, 1] init=constant(1e-6)\n"
                       " residual { block: { conv(dim, 7, padding=3, groups=dim) }\n"
                       "            mul { @layer_scale\n identity } }\n}\n"
                       "network n { input [4, 6, 6]\n features: { cn(4) cn(4) } }")
    model = net.to_torch().eval()
    assert sorted(model.state_dict()) == ["features.0.block.0.bias", "features.0.block.0.weight",
                                          "features.0.layer_scale", "features.1.block.0.bias",
                                          "features.1.block.0.weight", "features.1.layer_scale"]
    assert net.params == sum(p.numel() for p in model.parameters())
    _perturbed(model)
    x = torch.randn(2, 4, 6, 6)
    expected = x
    for i in range(2):
        block = model.features.get_submodule(str(i))
        expected = expected + block.layer_scale * block.block(expected)
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected)


@pytest.mark.parametrize("source, error, fragment", [
    ("param p: [1, 4] init=zeros()\n input [4]", ShapeError, "no input yet"),
    ("input [4, 6]\n param p: [2, 4, 6]", ShapeError, "batch axis and must be 1"),
    ("input [6]\n param p: [1, 1, 6]", ShapeError, "more axes"),
    ("input [6]\n param p: [0, 6]", ShapeError, "positive integers"),
    ("input [6]\n param p: [6] int=zeros()", UnknownName, "did you mean 'init'"),
    ("input [6]\n param p: [6] init=zeros() init=ones()", ArgumentError, "given twice"),
    ("input [6]\n param p: [6]\n param p: [6]", ArgumentError, "used twice"),
    ("input [6]\n param p: [6]\n p: relu", ArgumentError, "used twice"),
    ("input [6]\n param \"a.b\": [6]", ArgumentError, "not a valid name"),
    ("input [6]\n param train: [6]", ArgumentError, "torch modules use"),
    ("input [6]\n mul { identity\n parameter([6]) }", ArgumentError, "needs a name"),
])
def test_param_errors_are_located(source, error, fragment):
    with pytest.raises(error) as info:
        netdsl.parse(f"network n {{\n {source}\n}}", filename="bad.net")
    assert fragment in info.value.format()
    assert info.value.span.file == "bad.net" and info.value.span.line >= 2


def test_param_takes_no_position_among_numbered_children():
    net = netdsl.parse("network n {\n input [4]\n seq: { linear(4)\n param gain: [4]\n linear(4) }\n}")
    assert sorted(net.to_torch().state_dict()) == ["seq.0.bias", "seq.0.weight", "seq.1.bias",
                                                   "seq.1.weight", "seq.gain"]


# ------------------------------------------------------------ labels
LABELS = """
network labelled {
    input [3, 8, 8]
    features: {
        0: conv(4, 3, padding=1)
        "block1-0": { conv(4, 3, padding=1) batchnorm }
        2: { conv(4, 1) }
    }
    flatten
    "fc-out": linear(5)
}
"""


def test_numeric_and_quoted_labels_become_module_paths():
    net = netdsl.parse(LABELS)
    model = net.to_torch()
    assert [k for k in model.state_dict() if k.endswith("weight")] == [
        "features.0.weight", "features.block1-0.0.weight", "features.block1-0.1.weight",
        "features.2.0.weight", "fc-out.weight"]
    assert net.params == sum(p.numel() for p in model.parameters())


def test_quoted_labels_give_valid_source_with_the_same_outputs():
    net = netdsl.parse(LABELS)
    torch.manual_seed(0)
    built = net.to_torch().eval()
    torch.manual_seed(0)
    generated = _exec_source(net).eval()
    assert list(built.state_dict()) == list(generated.state_dict())
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(built(x), generated(x))


def test_quoted_label_interpolates():
    net = netdsl.parse('network n {\n input [4]\n repeat 2 as i { "block{i+1}-0": linear(4) }\n}')
    assert sorted(net.to_torch().state_dict()) == ["block1-0.bias", "block1-0.weight",
                                                   "block2-0.bias", "block2-0.weight"]


@pytest.mark.parametrize("label, error, fragment", [
    ('"a b"', ArgumentError, "not a valid name"),
    ('"a.b"', ArgumentError, "not a valid name"),
    ('"x\\"y"', NetdslError, ""),
    ("007", ArgumentError, "not a valid name"),
    ("1", ArgumentError, "used twice"),  # the position 1 is the next relu's
])
def test_bad_labels_are_refused(label, error, fragment):
    with pytest.raises(error) as info:
        netdsl.parse(f"network n {{\n input [4]\n {label}: linear(4)\n relu\n}}", filename="bad.net")
    assert fragment in info.value.format()


def test_input_and_block_parameter_names_stay_identifiers():
    with pytest.raises(ParseError, match="letters, digits and _"):
        netdsl.parse('network n {\n input "a-b": [4]\n linear(2)\n}')
    with pytest.raises(ParseError, match="letters, digits and _"):
        netdsl.parse("block b(0: int) { relu }\nnetwork n { input [4]; b(1) }")


# ------------------------------------------------------------ residual if
RESIDUAL_IF = """
block inverted(c: int, stride: int = 1) {
    residual if stride == 1 and in.channels == c {
        conv: { conv(c, 3, stride=stride, padding=1, bias=false) batchnorm }
    }
}
network n {
    input [4, 8, 8]
    features: { inverted(4) inverted(6, stride=2) }
}
"""


def test_residual_if_adds_the_input_only_when_the_condition_holds():
    net = netdsl.parse(RESIDUAL_IF)
    adds = [d for d in net.layers() if d["op"] == "add"]
    assert len(adds) == 1 and adds[0]["scope"] == ("features", "0")
    model = net.to_torch().eval()
    _perturbed(model)
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        first = x + model.features.get_submodule("0").conv(x)
        expected = model.features.get_submodule("1").conv(first)
        torch.testing.assert_close(model(x), expected)


def test_residual_if_with_a_shortcut_and_a_false_condition():
    net = netdsl.parse("network n {\n input [4]\n residual if false { fc: linear(4) }"
                       " shortcut { proj: linear(4) }\n}")
    assert [d["op"] for d in net.layers()] == ["linear"]
    with pytest.raises(NetdslError, match="unknown name 'nope'|nope"):
        netdsl.parse("network n {\n input [4]\n residual if nope { linear(4) }\n}")


# ------------------------------------------------------------ token sequences
def test_token_sequences_flow_through_linear_and_layernorm():
    net = netdsl.parse("network t {\n input [10, 16]\n ln: layernorm\n fc1: linear(32) gelu\n"
                       " fc2: linear(16)\n}")
    assert net.output_shapes == {"out": (10, 16)}
    model = net.to_torch().eval()
    reference = nn.Sequential(nn.LayerNorm(16), nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 16)).eval()
    reference.load_state_dict({k.replace("ln", "0").replace("fc1", "1").replace("fc2", "3"): v
                               for k, v in _perturbed(model).state_dict().items()})
    x = torch.randn(2, 10, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    assert net.macs == counter.get_total_flops() / 2 / 2


# ------------------------------------------------------------ unlabelled groups: index scopes
MOBILENET_STEM = """
network stem {
    input [3, 32, 32]
    features: {
        { conv(32, 3, stride=2, padding=1, bias=false) batchnorm relu6 }
        { conv(32, 3, padding=1, groups=32, bias=false) batchnorm relu6 }
        maxpool(2)
    }
    concat {
        { conv(4, 1) relu }
        conv(4, 1)
    }
}
"""


def test_unlabelled_groups_nest_as_sequential_and_match_torchvision():
    """torchvision's mobilenet_v2: features.0 is a Conv2dNormActivation (a Sequential)."""
    from torchvision.models import mobilenet_v2
    net = netdsl.parse(MOBILENET_STEM)
    keys = list(net.to_torch().state_dict())
    theirs = [k for k in mobilenet_v2().state_dict() if k.startswith("features.0.")]
    assert keys[:len(theirs)] == theirs
    assert "features.1.0.weight" in keys and "features.1.1.running_var" in keys


def test_braces_that_delimit_a_merge_branch_open_no_scope():
    keys = list(netdsl.parse(MOBILENET_STEM).to_torch().state_dict())
    assert [k for k in keys if not k.startswith("features")] == ["1.weight", "1.bias", "3.weight", "3.bias"]


def test_unlabelled_group_keys_and_outputs_match_generated_source():
    net = netdsl.parse(MOBILENET_STEM)
    torch.manual_seed(0)
    built = net.to_torch().eval()
    torch.manual_seed(0)
    generated = _exec_source(net).eval()
    assert list(built.state_dict()) == list(generated.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(built(x), generated(x))


def test_a_number_an_unlabelled_group_took_is_refused():
    text = "network n {\n input [4]\n { linear(4) }\n 0: linear(4)\n}"
    with pytest.raises(ArgumentError, match="'0' is used twice"):
        netdsl.parse(text)


# ------------------------------------------------------------ tied weights
TIED = """
network lm(vocab: int = 11, dim: int = 8) {
    input tokens: [5] int64
    wte: embedding(vocab, dim)
    blocks: { ln: layernorm  fc: linear(dim) }
    head: linear(vocab, tie="wte")
}
"""


def test_tied_weight_is_one_parameter_counted_once_like_torch():
    net = netdsl.parse(TIED)
    model = net.to_torch()
    ref = nn.ModuleDict(dict(wte=nn.Embedding(11, 8), head=nn.Linear(8, 11)))
    ref.head.weight = ref.wte.weight
    assert model.head.weight is model.wte.weight
    assert net.params == sum(p.numel() for p in model.parameters()) == 88 + 16 + 72 + 11
    assert sum(p.numel() for p in ref.parameters()) == 88 + 11
    assert [k for k in model.state_dict() if k.startswith(("wte", "head"))] == \
        ["wte.weight", "head.weight", "head.bias"]


def test_tied_weight_in_generated_source_is_shared_and_equal():
    net = netdsl.parse(TIED)
    text = net.to_source()
    assert 'tie_weight(self, "head", "wte")' in text
    validate_generated(text)
    torch.manual_seed(0)
    built = net.to_torch().eval()
    torch.manual_seed(0)
    generated = _exec_source(net).eval()
    assert generated.head.weight is generated.wte.weight
    assert all(torch.equal(a, b) for a, b in zip(built.state_dict().values(), generated.state_dict().values()))
    ids = torch.randint(0, 11, (2, 5))
    with torch.no_grad():
        assert torch.equal(built(ids), generated(ids))


@pytest.mark.parametrize("call, error, fragment", [
    ('linear(11, tie="wtee")', UnknownName, "did you mean 'wte'"),
    ('linear(11, tie="blocks.ln")', ShapeError, "weight is [11, 8], 'blocks.ln's is [8]"),
    ('linear(11, tie="blocks")', UnknownName, "no layer at module path 'blocks'"),
    ('linear(11, tie="wte", init=normal())', ArgumentError, "initialised by its owner"),
    ('relu(tie="wte")', UnknownName, "relu has no argument 'tie'"),
])
def test_tie_errors_are_located(call, error, fragment):
    text = TIED.replace('head: linear(vocab, tie="wte")', f"head: {call}")
    with pytest.raises(error) as info:
        netdsl.parse(text, "tie.net")
    assert fragment in str(info.value) and info.value.span.line == 6


def test_a_tie_to_a_layer_without_weight_is_refused():
    text = TIED.replace("fc: linear(dim) }", "fc: linear(dim)  act: relu }") \
        .replace('head: linear(vocab, tie="wte")', 'head: linear(vocab, tie="blocks.act")')
    with pytest.raises(ArgumentError, match=r"'blocks.act' \(relu\) has no weight to share") as info:
        netdsl.parse(text, "tie.net")
    assert info.value.span.line == 6


def test_a_tie_to_a_borrowed_weight_names_the_owner():
    text = TIED.replace('head: linear(vocab, tie="wte")',
                        'head: linear(vocab, tie="wte")\n    head2: linear(vocab, tie="head")')
    with pytest.raises(ArgumentError, match="borrows its weight too.*'wte'"):
        netdsl.parse(text)
