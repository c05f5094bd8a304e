"""Merges (plain functions: no state, no slot in module numbering) and the
layers torch lacks: asymmetric and separable convs, maxout, reshapes, LRN,
recurrent layers returning only their output."""
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


def expand_batch(param: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A learned tensor broadcast over ``like``'s batch (a view, no copy): its
    leading 1 becomes the batch axis when it has ``like``'s rank (ViT's
    ``class_token.expand(n, -1, -1)``), else it gets leading 1s up to that rank,
    as torch's broadcasting aligns shapes at the right."""
    value = param if param.dim() == like.dim() else param.reshape((1,) * (like.dim() - param.dim()) + param.shape)
    return value.expand(like.shape[0], *value.shape[1:])


class _AsymmetricPadding:
    """Convolves with (before, after) padding per axis (``padding`` in F.pad order).

    The conv pads min(before, after) on both sides itself, without copying;
    only the excess on one side is padded explicitly (one element for "same"),
    so a wide dilated "same" padding never materializes.  Subclasses the torch
    conv so weights keep their usual names and shapes.
    """

    def __init__(self, *args, padding=(), **kwargs):
        pairs = list(zip(padding[::2], padding[1::2]))[::-1]  # (before, after), first axis first
        super().__init__(*args, padding=tuple(min(pair) for pair in pairs), **kwargs)
        self.asymmetric_padding = tuple(padding)
        self.excess = tuple(p - min(pair) for pair in zip(padding[::2], padding[1::2]) for p in pair)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.excess))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", asymmetric_padding={self.asymmetric_padding}"


class AsymmetricConv1d(_AsymmetricPadding, nn.Conv1d):
    pass


class AsymmetricConv2d(_AsymmetricPadding, nn.Conv2d):
    pass


class AsymmetricConv3d(_AsymmetricPadding, nn.Conv3d):
    pass


def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """torch.matmul on the non-batch dims: the batch dim never broadcasts against others."""
    a_vector, b_vector = a.dim() == 2, b.dim() == 2
    a = a.unsqueeze(1) if a_vector else a
    b = b.unsqueeze(-1) if b_vector else b
    rank = max(a.dim(), b.dim())
    a = a.reshape(a.shape[0], *(1,) * (rank - a.dim()), *a.shape[1:])
    b = b.reshape(b.shape[0], *(1,) * (rank - b.dim()), *b.shape[1:])
    out = torch.matmul(a, b)
    out = out.squeeze(-1) if b_vector else out
    return out.squeeze(-2) if a_vector else out


class _SeparableConv(nn.Module):
    """Depthwise conv (groups = in_channels, no bias) then a 1×1 pointwise conv.

    ``padding`` is symmetric (an int or one value per axis), or 2·n values in
    F.pad order for asymmetric padding.
    """

    conv: type
    asymmetric: type
    dims: int

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, bias: bool = True, padding_mode: str = "zeros"):
        super().__init__()
        asymmetric = isinstance(padding, tuple) and len(padding) == 2 * self.dims
        depthwise = self.asymmetric if asymmetric else self.conv
        self.depthwise = depthwise(in_channels, in_channels, kernel_size, stride=stride, padding=padding,
                                   dilation=dilation, groups=in_channels, bias=False, padding_mode=padding_mode)
        self.pointwise = self.conv(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class SeparableConv1d(_SeparableConv):
    conv, asymmetric, dims = nn.Conv1d, AsymmetricConv1d, 1


class SeparableConv2d(_SeparableConv):
    conv, asymmetric, dims = nn.Conv2d, AsymmetricConv2d, 2


class SeparableConv3d(_SeparableConv):
    conv, asymmetric, dims = nn.Conv3d, AsymmetricConv3d, 3


class Maxout(nn.Module):
    """Max over groups of ``pieces`` consecutive channels: [C, ...] → [C / pieces, ...]."""

    def __init__(self, pieces: int):
        super().__init__()
        self.pieces = pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grouped = x.unflatten(1, (x.shape[1] // self.pieces, self.pieces))
        return grouped.amax(dim=2)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"


class Chunk(nn.Module):
    """One of ``chunks`` equal slices along ``dim`` (ShuffleNetV2's channel split)."""

    def __init__(self, chunks: int, index: int, dim: int = 1):
        super().__init__()
        self.chunks, self.index, self.dim = chunks, index, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # narrow, not x.chunk(...)[index]: one view, which in-place ops may overwrite
        # (a view from a multi-output split may not be modified in place).
        size = x.shape[self.dim] // self.chunks
        return x.narrow(self.dim, self.index * size, size)

    def extra_repr(self) -> str:
        return f"chunks={self.chunks}, index={self.index}, dim={self.dim}"


class LocalResponseNorm(nn.LocalResponseNorm):
    """torch's LRN on a contiguous copy when needed: its kernel views the input
    with ``.view``, which fails on a transposed or permuted tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.contiguous())


class Scale(nn.Module):
    """Multiply by a constant (Inception-ResNet's residual scaling)."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


class Reshape(nn.Module):
    """View each sample as ``shape`` (batch dim kept)."""

    def __init__(self, shape: tuple):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class Permute(nn.Module):
    """Reorder dims; ``dims`` are torch dims and start with the batch dim 0."""

    def __init__(self, dims: tuple):
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class Transpose(nn.Module):
    """Swap two (torch) dims."""

    def __init__(self, dim0: int, dim1: int):
        super().__init__()
        self.dim0, self.dim1 = dim0, dim1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(self.dim0, self.dim1)

    def extra_repr(self) -> str:
        return f"dim0={self.dim0}, dim1={self.dim1}"


class GlobalPool(nn.Module):
    """Average or max over every dim after the channels: [N, C, ...] → [N, C]."""

    def __init__(self, kind: str = "avg"):
        super().__init__()
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(2)
        return flat.mean(-1) if self.kind == "avg" else flat.amax(-1)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"


class _Recurrent:
    """A torch RNN over batch-first input returning only its output sequence
    (or its last step); subclasses keep torch's parameter names."""

    def __init__(self, *args, return_sequence: bool = True, **kwargs):
        super().__init__(*args, batch_first=True, **kwargs)
        self.return_sequence = return_sequence

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = super().forward(x)
        return out if self.return_sequence else out[:, -1]

    def extra_repr(self) -> str:
        return super().extra_repr() + f", return_sequence={self.return_sequence}"


class LSTM(_Recurrent, nn.LSTM):
    pass


class GRU(_Recurrent, nn.GRU):
    pass


class RNN(_Recurrent, nn.RNN):
    pass


def tie_weight(root: nn.Module, path: str, owner: str) -> None:
    """The layer at ``path`` uses the weight of the layer at ``owner``: one
    ``nn.Parameter`` under two names (GPT-2's head and token embedding)."""
    root.get_submodule(path).weight = root.get_submodule(owner).weight
