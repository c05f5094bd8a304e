"""Small torch pieces that generated code and built modules share.

Merges are plain functions (no state, no slot in module numbering); layers
torch lacks are modules here.  Imported only by the torch backends.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def add(*xs: torch.Tensor) -> torch.Tensor:
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def mul(*xs: torch.Tensor) -> torch.Tensor:
    out = xs[0]
    for x in xs[1:]:
        out = out * x
    return out


def concat(*xs: torch.Tensor, dim: int = 1) -> torch.Tensor:
    return torch.cat(xs, dim)


class _AsymmetricPadding:
    """Pads (before, after) per axis explicitly, then convolves without padding.

    Subclasses the torch conv so weights keep their usual names and shapes.
    """

    def __init__(self, *args, padding=(), **kwargs):
        super().__init__(*args, padding=0, **kwargs)
        self.asymmetric_padding = tuple(padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.asymmetric_padding))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", asymmetric_padding={self.asymmetric_padding}"


class AsymmetricConv1d(_AsymmetricPadding, nn.Conv1d):
    pass


class AsymmetricConv2d(_AsymmetricPadding, nn.Conv2d):
    pass


class AsymmetricConv3d(_AsymmetricPadding, nn.Conv3d):
    pass
