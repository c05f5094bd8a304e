"""Zoo files without a torchvision twin, checked against independent references:
torch modules hand-built here from the papers' descriptions, and published
parameter counts.  Each reference must have the same parameter count, the same
per-layer output shapes, and, with its weights copied in, the same outputs."""
import copy
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netdsl
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
    src_items, dst_keys = list(src.state_dict().values()), list(dst.state_dict())
    assert len(src_items) == len(dst_keys)
    for key, value in zip(dst_keys, src_items):
        assert dst.state_dict()[key].shape == value.shape, key
    dst.load_state_dict(dict(zip(dst_keys, src_items)), strict=True)


def leaf_output_shapes(module: nn.Module, x: torch.Tensor) -> list[tuple]:
    """Output shape (batch dropped) of every leaf module, in execution order;
    run on a weightless copy on the meta device, so full-size inputs cost nothing."""
    shapes, module = [], copy.deepcopy(module).to("meta")
    for m in module.modules():
        if not list(m.children()):
            m.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape[1:])))
    module(x.to("meta"))
    return shapes


def static_layer_shapes(net) -> list[tuple]:
    """netdsl's inferred shapes of every layer that is a module, in graph order."""
    return [tuple(d["shape"]) for d in net.layers() if d["path"]]


def assert_same_network(net, reference: nn.Module, x: torch.Tensor = None) -> None:
    """Same params, same per-layer shapes at the declared input size, and the
    same outputs once weights are copied (on ``x``, which may be smaller)."""
    reference.eval()
    model = net.to_torch().eval()
    assert net.params == count(reference) == count(model)
    assert static_layer_shapes(net) == leaf_output_shapes(reference, image(net))
    randomize_norm_stats(reference)
    copy_by_position(reference, model)
    x = image(net) if x is None else x
    with torch.no_grad():
        got, want = model(x), reference(x)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def image(net) -> torch.Tensor:
    return torch.randn(1, *net.input_shape)


# ------------------------------------------------------------------ LeNet-5
def test_lenet5_matches_the_1998_layout():
    reference = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),       # C1, S2
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),      # C3, S4
        nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(),       # C5
        nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))     # F6, output
    net = netdsl.load(ARCH / "lenet5.net")
    assert net.params == 61_706
    assert_same_network(net, reference, image(net))


# ------------------------------------------------------------------ AlexNet (2012 paper)
ALEXNET_PAPER_SHAPES = [  # conv / pool / fc outputs, read off the paper (Fig. 2, single tower)
    (96, 55, 55), (96, 27, 27), (256, 27, 27), (256, 13, 13), (384, 13, 13),
    (384, 13, 13), (256, 13, 13), (256, 6, 6), (4096,), (4096,), (1000,)]


def test_alexnet_paper_layout_shapes_and_params():
    lrn = lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2)
    reference = nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 1000))
    net = netdsl.load(ARCH / "alexnet_paper.net")
    main_layers = [tuple(d["shape"]) for d in net.layers() if d["op"] in ("conv", "maxpool", "linear")]
    assert main_layers == ALEXNET_PAPER_SHAPES
    assert net.params == 62_378_344
    assert_same_network(net, reference, image(net))


# ------------------------------------------------------------------ NIN
def mlpconv(cin: int, c: int, k: int, c1: int, c2: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, c, k, padding=k // 2), nn.ReLU(),
                         nn.Conv2d(c, c1, 1), nn.ReLU(), nn.Conv2d(c1, c2, 1), nn.ReLU())


def test_nin_matches_the_released_cifar10_model():
    reference = nn.Sequential(
        mlpconv(3, 192, 5, 160, 96), nn.MaxPool2d(3, 2, ceil_mode=True), nn.Dropout(0.5),
        mlpconv(96, 192, 5, 192, 192), nn.AvgPool2d(3, 2, ceil_mode=True), nn.Dropout(0.5),
        mlpconv(192, 192, 3, 192, 10), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    net = netdsl.load(ARCH / "nin.net")
    # pooled sizes as Caffe rounds them: 32 → 16 → 8, then global average
    assert [d["shape"][1] for d in net.layers() if "pool" in d["op"]] == [16, 8, 1]
    assert_same_network(net, reference, image(net))


# ------------------------------------------------------------------ pre-activation ResNets
class PreActBlock(nn.Module):
    """He et al. 2016 Fig. 1(b); the projection reads the pre-activated input."""

    def __init__(self, cin: int, c: int, stride: int, bottleneck: bool):
        super().__init__()
        cout = 4 * c if bottleneck else c
        specs = [(cin, c, 1, 1), (c, c, 3, stride), (c, cout, 1, 1)] if bottleneck \
            else [(cin, c, 3, stride), (c, c, 3, 1)]
        for i, (a, b, k, s) in enumerate(specs, 1):
            self.add_module(f"bn{i}", nn.BatchNorm2d(a))
            self.add_module(f"conv{i}", nn.Conv2d(a, b, k, s, padding=k // 2, bias=False))
        self.relu = nn.ReLU()
        self.depth = len(specs)
        self.downsample = nn.Conv2d(cin, cout, 1, stride, bias=False) \
            if stride != 1 or cin != cout else None

    def forward(self, x):
        out = pre = self.relu(self.bn1(x))
        for i in range(1, self.depth + 1):
            if i > 1:
                out = self.relu(getattr(self, f"bn{i}")(out))
            out = getattr(self, f"conv{i}")(out)
        return out + (self.downsample(pre) if self.downsample is not None else x)


def preact_resnet(depths, bottleneck: bool, num_classes: int = 1000) -> nn.Sequential:
    layers = OrderedDict(conv1=nn.Conv2d(3, 64, 7, 2, 3, bias=False), maxpool=nn.MaxPool2d(3, 2, 1))
    cin = 64
    for s, depth in enumerate(depths):
        c, blocks = 64 * 2 ** s, []
        for i in range(depth):
            blocks.append(PreActBlock(cin, c, 2 if s and not i else 1, bottleneck))
            cin = 4 * c if bottleneck else c
        layers[f"layer{s + 1}"] = nn.Sequential(*blocks)
    layers.update(norm=nn.BatchNorm2d(cin), relu=nn.ReLU(), avgpool=nn.AdaptiveAvgPool2d(1),
                  flatten=nn.Flatten(), fc=nn.Linear(cin, num_classes))
    return nn.Sequential(layers)


@pytest.mark.parametrize("name, depths, bottleneck, params", [
    ("preact_resnet18", (2, 2, 2, 2), False, 11_687_720),
    ("preact_resnet50", (3, 4, 6, 3), True, 25_549_352),   # timm resnetv2_50: 25,549,352
])
def test_preact_resnet_matches_hand_built_v2(name, depths, bottleneck, params):
    net = netdsl.load(ARCH / f"{name}.net", input_shape=(3, 64, 64))
    reference = preact_resnet(depths, bottleneck)
    assert net.params == params
    # module names agree with the hand-built one, not only positions
    assert list(net.to_torch().state_dict()) == list(reference.state_dict())
    assert_same_network(net, reference, image(net))


# ------------------------------------------------------------------ Xception
class SeparableConv(nn.Module):
    """Depthwise 3×3 (one filter per channel) then pointwise 1×1, no bias; one leaf."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.depthwise = nn.Parameter(torch.randn(cin, 1, 3, 3) / 3)
        self.pointwise = nn.Parameter(torch.randn(cout, cin, 1, 1) / cin ** 0.5)

    def forward(self, x):
        return F.conv2d(F.conv2d(x, self.depthwise, padding=1, groups=x.shape[1]), self.pointwise)


class XceptionBlock(nn.Module):
    """Chollet 2017 Fig. 5: [ReLU, sepconv, BN] per width, max pool if strided."""

    def __init__(self, cin: int, widths, stride: int = 1, first_relu: bool = True):
        super().__init__()
        layers, c = [], cin
        for i, width in enumerate(widths):
            layers += ([nn.ReLU()] if first_relu or i else []) + [SeparableConv(c, width), nn.BatchNorm2d(width)]
            c = width
        layers += [nn.MaxPool2d(3, stride, 1)] if stride > 1 else []
        self.rep = nn.Sequential(*layers)
        self.skip = nn.Sequential(nn.Conv2d(cin, c, 1, stride, bias=False), nn.BatchNorm2d(c)) \
            if stride > 1 or cin != c else None

    def forward(self, x):
        return self.rep(x) + (self.skip(x) if self.skip is not None else x)


def xception_reference() -> nn.Sequential:
    def conv_bn_relu(conv, c):
        return [conv, nn.BatchNorm2d(c), nn.ReLU()]
    return nn.Sequential(
        *conv_bn_relu(nn.Conv2d(3, 32, 3, 2, bias=False), 32),
        *conv_bn_relu(nn.Conv2d(32, 64, 3, bias=False), 64),
        XceptionBlock(64, [128, 128], 2, first_relu=False),
        XceptionBlock(128, [256, 256], 2), XceptionBlock(256, [728, 728], 2),
        *[XceptionBlock(728, [728] * 3) for _ in range(8)],
        XceptionBlock(728, [728, 1024], 2),
        *conv_bn_relu(SeparableConv(1024, 1536), 1536),
        *conv_bn_relu(SeparableConv(1536, 2048), 2048),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.5), nn.Linear(2048, 1000))


def test_xception_matches_paper_count_and_hand_built_model():
    net = netdsl.load(ARCH / "xception.net")
    assert net.params == 22_855_952   # the paper's Table 3 (also timm's legacy_xception)
    assert net.output_shapes["out"] == (1000,)
    assert_same_network(net, xception_reference(), torch.randn(1, 3, 96, 96))


# ------------------------------------------------------------------ every file
ZOO_FILES = ["lenet5", "alexnet_paper", "nin", "preact_resnet18", "preact_resnet50", "xception"]


@pytest.mark.parametrize("name", ZOO_FILES)
def test_summarize_runs_and_expectations_hold(name, capsys):
    from netdsl.cli import main
    path = ARCH / f"{name}.net"
    assert main(["summarize", str(path)]) == 0
    assert f"{netdsl.load(path).params:,}" in capsys.readouterr().out
