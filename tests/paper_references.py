"""Torch modules hand-built from the papers, the oracles of test_zoo_papers.py.

Written from each paper's text and tables, independently of the .net files:
plain nn.Sequential where the network is a chain, small modules where it
branches.  Each network's layers run in the order the .net file lists them, so
per-layer shapes and (by position) weights can be compared."""
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn


# ------------------------------------------------------------------ LeNet-5, AlexNet, NIN
def lenet5() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),       # C1, S2
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),      # C3, S4
        nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(),       # C5
        nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))     # F6, output


def alexnet_paper() -> nn.Sequential:
    """Krizhevsky et al. 2012, one tower: conv-ReLU-LRN-pool twice, three convs, pool, 3 fc."""
    def lrn():
        return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2)
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 1000))


def mlpconv(cin: int, c: int, k: int, c1: int, c2: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, c, k, padding=k // 2), nn.ReLU(),
                         nn.Conv2d(c, c1, 1), nn.ReLU(), nn.Conv2d(c1, c2, 1), nn.ReLU())




def nin() -> nn.Sequential:
    """Lin et al. 2013, the authors' CIFAR-10 model (Caffe pooling rounds up)."""
    return nn.Sequential(
        mlpconv(3, 192, 5, 160, 96), nn.MaxPool2d(3, 2, ceil_mode=True), nn.Dropout(0.5),
        mlpconv(96, 192, 5, 192, 192), nn.AvgPool2d(3, 2, ceil_mode=True), nn.Dropout(0.5),
        mlpconv(192, 192, 3, 192, 10), nn.AdaptiveAvgPool2d(1), nn.Flatten())


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


def xception() -> nn.Sequential:
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


# ------------------------------------------------------------------ Inception-ResNet-v2
def conv_bn(cin: int, cout: int, k, stride: int = 1, padding=0) -> nn.Sequential:
    """TF-slim's conv2d: conv without bias, batch norm (eps 1e-3), ReLU."""
    return nn.Sequential(OrderedDict(conv=nn.Conv2d(cin, cout, k, stride, padding, bias=False),
                                     bn=nn.BatchNorm2d(cout, eps=1e-3), act=nn.ReLU()))


class Concat(nn.Module):
    def __init__(self, *branches: nn.Module):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], 1)


class Scale(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


class ScaledResidual(nn.Module):
    """x + scale · conv1×1(concat(branches)), then ReLU unless it is the last block."""

    def __init__(self, c: int, scale: float, *branches, width: int, relu: bool = True):
        super().__init__()
        self.branches, self.up, self.scale = Concat(*branches), nn.Conv2d(width, c, 1), Scale(scale)
        self.relu = nn.ReLU() if relu else None

    def forward(self, x):
        out = x + self.scale(self.up(self.branches(x)))
        return self.relu(out) if self.relu is not None else out


def chain(*layers) -> nn.Sequential:
    return nn.Sequential(*layers)


def block35() -> ScaledResidual:
    return ScaledResidual(320, 0.17, conv_bn(320, 32, 1),
                          chain(conv_bn(320, 32, 1), conv_bn(32, 32, 3, padding=1)),
                          chain(conv_bn(320, 32, 1), conv_bn(32, 48, 3, padding=1), conv_bn(48, 64, 3, padding=1)),
                          width=128)


def block17() -> ScaledResidual:
    return ScaledResidual(1088, 0.1, conv_bn(1088, 192, 1),
                          chain(conv_bn(1088, 128, 1), conv_bn(128, 160, (1, 7), padding=(0, 3)),
                                conv_bn(160, 192, (7, 1), padding=(3, 0))), width=384)


def block8(scale: float = 0.2, relu: bool = True) -> ScaledResidual:
    return ScaledResidual(2080, scale, conv_bn(2080, 192, 1),
                          chain(conv_bn(2080, 192, 1), conv_bn(192, 224, (1, 3), padding=(0, 1)),
                                conv_bn(224, 256, (3, 1), padding=(1, 0))), width=448, relu=relu)


def inception_resnet_v2() -> nn.Sequential:
    """The released TF-slim layout: v3-style stem, 10 × A, 20 × B, 10 × C."""
    stem = [conv_bn(3, 32, 3, 2), conv_bn(32, 32, 3), conv_bn(32, 64, 3, padding=1), nn.MaxPool2d(3, 2),
            conv_bn(64, 80, 1), conv_bn(80, 192, 3), nn.MaxPool2d(3, 2)]
    mixed_5b = Concat(conv_bn(192, 96, 1), chain(conv_bn(192, 48, 1), conv_bn(48, 64, 5, padding=2)),
                      chain(conv_bn(192, 64, 1), conv_bn(64, 96, 3, padding=1), conv_bn(96, 96, 3, padding=1)),
                      chain(nn.AvgPool2d(3, 1, 1, count_include_pad=False), conv_bn(192, 64, 1)))
    reduction_a = Concat(conv_bn(320, 384, 3, 2),
                         chain(conv_bn(320, 256, 1), conv_bn(256, 256, 3, padding=1), conv_bn(256, 384, 3, 2)),
                         nn.MaxPool2d(3, 2))
    reduction_b = Concat(chain(conv_bn(1088, 256, 1), conv_bn(256, 384, 3, 2)),
                         chain(conv_bn(1088, 256, 1), conv_bn(256, 288, 3, 2)),
                         chain(conv_bn(1088, 256, 1), conv_bn(256, 288, 3, padding=1), conv_bn(288, 320, 3, 2)),
                         nn.MaxPool2d(3, 2))
    return chain(*stem, mixed_5b, *[block35() for _ in range(10)], reduction_a,
                 *[block17() for _ in range(20)], reduction_b, *[block8() for _ in range(9)],
                 block8(1.0, relu=False), conv_bn(2080, 1536, 1),
                 nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(1536, 1000))


# ------------------------------------------------------------------ LSTM classifier
class LastStepLSTM(nn.LSTM):
    """A batch-first LSTM that returns the hidden output of the last time step."""

    def __init__(self, features: int, hidden: int):
        super().__init__(features, hidden, batch_first=True)

    def forward(self, x):
        return super().forward(x)[0][:, -1]


def lstm_classifier(vocab: int = 20_000, embed: int = 128, hidden: int = 128, classes: int = 2) -> nn.Sequential:
    return nn.Sequential(nn.Embedding(vocab, embed), LastStepLSTM(embed, hidden), nn.Linear(hidden, classes))
