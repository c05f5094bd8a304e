"""Zoo files without a torchvision twin, checked against independent references:
torch modules hand-built from the papers (tests/paper_references.py) and
published parameter counts.  Each reference must have the same parameter count,
the same per-layer output shapes, and, with the same weights, the same outputs."""
import pytest
import torch
from torch import nn

import netdsl
import paper_references as papers
from conftest import ARCH

torch.manual_seed(0)


# ------------------------------------------------------------------ helpers
def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def randomize_norm_stats(module: nn.Module) -> None:
    """Non-trivial running statistics, so eval-mode batch norm is not ≈ identity."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.1)


def copy_by_position(src: nn.Module, dst: nn.Module) -> None:
    """Load src's tensors into dst in registration order (names may differ)."""
    src_values, dst_state = list(src.state_dict().values()), dst.state_dict()
    assert len(src_values) == len(dst_state)
    for (key, old), new in zip(dst_state.items(), src_values):
        assert old.shape == new.shape, key
    dst.load_state_dict(dict(zip(dst_state, src_values)), strict=True)


def leaf_output_shapes(module: nn.Module, x: torch.Tensor) -> list[tuple]:
    """Output shape (batch dropped) of every leaf module, in execution order."""
    shapes = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape[1:])))
             for m in module.modules() if not list(m.children())]
    module(x)
    for hook in hooks:
        hook.remove()
    return shapes


def static_layer_shapes(net) -> list[tuple]:
    """netdsl's inferred shapes of every layer that is a module, in graph order."""
    return [tuple(d["shape"]) for d in net.layers() if d["path"]]


def example_input(net, shape=None, device=None) -> torch.Tensor:
    shape = (1, *(shape or net.input_shape))
    if net.inputs[0]["dtype"] == "int64":
        return torch.randint(0, 100, shape, device=device)
    return torch.randn(shape, device=device)


def assert_same_network(net, make_reference, small_input=None) -> None:
    """Same params; same per-layer shapes at the declared input size (the
    reference runs weightless on the meta device); and, given the same weights,
    the same outputs (on ``small_input`` if given, to keep CPU time low)."""
    with torch.device("meta"):
        reference = make_reference().eval()
    model = net.to_torch().eval()
    assert net.params == count(reference) == count(model)
    assert static_layer_shapes(net) == leaf_output_shapes(reference, example_input(net, device="meta"))
    reference = reference.to_empty(device="cpu")
    randomize_norm_stats(model)
    copy_by_position(model, reference)
    x = example_input(net, small_input)
    with torch.no_grad():
        got, want = model(x), reference(x)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def load(name: str, **kwargs):
    return netdsl.load(ARCH / f"{name}.net", **kwargs)


# ------------------------------------------------------------------ chains
def test_lenet5_matches_the_1998_layout():
    net = load("lenet5")
    assert net.params == 61_706
    assert_same_network(net, papers.lenet5)


ALEXNET_PAPER_SHAPES = [  # conv / pool / fc outputs, read off the paper (Fig. 2, single tower)
    (96, 55, 55), (96, 27, 27), (256, 27, 27), (256, 13, 13), (384, 13, 13),
    (384, 13, 13), (256, 13, 13), (256, 6, 6), (4096,), (4096,), (1000,)]


def test_alexnet_paper_layout_shapes_and_params():
    net = load("alexnet_paper")
    main_layers = [tuple(d["shape"]) for d in net.layers() if d["op"] in ("conv", "maxpool", "linear")]
    assert main_layers == ALEXNET_PAPER_SHAPES
    assert net.params == 62_378_344
    assert [d["op"] for d in net.layers()][:4] == ["conv", "relu", "lrn", "maxpool"]   # the paper's order
    assert_same_network(net, papers.alexnet_paper)


def test_nin_matches_the_released_cifar10_model():
    net = load("nin")
    # pooled sizes as Caffe rounds them: 32 → 16 → 8, then global average
    assert [d["shape"][1] for d in net.layers() if "pool" in d["op"]] == [16, 8, 1]
    assert net.params == 966_986
    assert_same_network(net, papers.nin)


# ------------------------------------------------------------------ residual networks
@pytest.mark.parametrize("name, depths, bottleneck, params", [
    ("preact_resnet18", (2, 2, 2, 2), False, 11_687_720),
    ("preact_resnet50", (3, 4, 6, 3), True, 25_549_352),   # timm resnetv2_50: 25,549,352
])
def test_preact_resnet_matches_hand_built_v2(name, depths, bottleneck, params):
    net = load(name)
    assert net.params == params
    make_reference = lambda: papers.preact_resnet(depths, bottleneck)
    # module names agree with the hand-built one, not only positions
    with torch.device("meta"):
        assert list(net.to_torch().state_dict()) == list(make_reference().state_dict())
    assert_same_network(net, make_reference, small_input=(3, 64, 64))


def test_xception_matches_paper_count_and_hand_built_model():
    net = load("xception")
    assert net.params == 22_855_952   # the paper's Table 3 (also timm's legacy_xception)
    assert net.output_shapes["out"] == (1000,)
    assert_same_network(net, papers.xception, small_input=(3, 96, 96))


def test_inception_resnet_v2_matches_released_count_and_hand_built_model():
    net = load("inception_resnet_v2")
    assert net.params == 55_843_464   # TF-slim release (timm's inception_resnet_v2)
    assert net.output_shapes["out"] == (1000,)
    assert_same_network(net, papers.inception_resnet_v2, small_input=(3, 75, 75))


def test_inception_resnet_v2_block_counts_are_a_parameter():
    paper_schema = load("inception_resnet_v2", params={"blocks": (5, 10, 5)})   # Fig. 15's counts
    with torch.device("meta"):
        fewer = 5 * count(papers.block35()) + 10 * count(papers.block17()) + 5 * count(papers.block8())
    assert load("inception_resnet_v2").params - paper_schema.params == fewer


# ------------------------------------------------------------------ sequences
def test_lstm_classifier_matches_hand_built_model():
    net = load("lstm_classifier")
    assert net.inputs[0]["dtype"] == "int64"
    assert static_layer_shapes(net) == [(200, 128), (128,), (2,)]
    assert net.params == 20_000 * 128 + 4 * 128 * (128 + 128 + 2) + 129 * 2
    assert_same_network(net, papers.lstm_classifier, small_input=(12,))


# ------------------------------------------------------------------ every file
ZOO_FILES = ["lenet5", "alexnet_paper", "nin", "preact_resnet18", "preact_resnet50", "xception",
             "inception_resnet_v2", "lstm_classifier"]


@pytest.mark.parametrize("name", ZOO_FILES)
def test_summarize_runs_and_expectations_hold(name, capsys):
    from netdsl.cli import main
    path = ARCH / f"{name}.net"
    assert main(["summarize", str(path)]) == 0
    assert f"{netdsl.load(path).params:,}" in capsys.readouterr().out
