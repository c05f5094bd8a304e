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


# ------------------------------------------------------------ attention and modern blocks
class MultiheadAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention on batch-first tokens returning only its output: one
    input attends to itself, two are query and memory, three query, key and value.
    Parameters and their names are torch's (in_proj_weight, out_proj ...)."""

    def __init__(self, embed_dim: int, num_heads: int, causal: bool = False, **kwargs):
        super().__init__(embed_dim, num_heads, batch_first=True, **kwargs)
        self.causal = causal

    def forward(self, query: torch.Tensor, *memory: torch.Tensor) -> torch.Tensor:
        key = memory[0] if memory else query
        value = memory[1] if len(memory) > 1 else key
        mask = None
        if self.causal:  # query i sees keys 0..i (True hides a key)
            mask = torch.ones(query.shape[1], key.shape[1], dtype=torch.bool, device=query.device).triu(1)
        out, _ = super().forward(query, key, value, need_weights=False, attn_mask=mask, is_causal=self.causal)
        return out

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [super().extra_repr(), "causal=True" if self.causal else ""]))


def sdpa(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, is_causal: bool = False,
         scale=None) -> torch.Tensor:
    """Scaled dot-product attention (F.scaled_dot_product_attention)."""
    return F.scaled_dot_product_attention(query, key, value, is_causal=is_causal, scale=scale)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of [N, C, H, W] (torchvision's ConvNeXt): the
    channels moved last, normalized, moved back; weight and bias as nn.LayerNorm's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class StochasticDepth(nn.Module):
    """Drops a whole residual branch per sample ("row") or for the batch, scaling what
    is kept by 1/(1-p) in training (torchvision.ops.StochasticDepth); identity in eval."""

    def __init__(self, p: float, mode: str = "row"):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        shape = [x.shape[0]] + [1] * (x.dim() - 1) if self.mode == "row" else [1] * x.dim()
        keep = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(1.0 - self.p)
        return x * keep.div_(1.0 - self.p) if self.p < 1.0 else x * keep

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode!r}"


# ------------------------------------------------------------ Swin's shifted-window attention
def _relative_position_index(wh: int, ww: int) -> torch.Tensor:
    """For each pair of tokens in a wh×ww window, the row of their offset in the
    (2wh−1)(2ww−1)-row bias table, flattened (torchvision's relative_position_index)."""
    coords = torch.stack(torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")).flatten(1)
    offsets = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    return ((offsets[..., 0] + wh - 1) * (2 * ww - 1) + offsets[..., 1] + ww - 1).flatten()


def _shift_mask(like: torch.Tensor, padded: tuple, window: list, shift: list) -> torch.Tensor:
    """[windows, N, N]: -100 between tokens that the cyclic shift brought together from
    different regions of the map, 0 elsewhere (torchvision's attention mask)."""
    (ph, pw), (wh, ww) = padded, window
    regions = like.new_zeros((ph, pw))
    h_slices = ((0, -wh), (-wh, -shift[0]), (-shift[0], None))
    w_slices = ((0, -ww), (-ww, -shift[1]), (-shift[1], None))
    for count, (hs, ws) in enumerate((hs, ws) for hs in h_slices for ws in w_slices):
        regions[hs[0]:hs[1], ws[0]:ws[1]] = count
    regions = regions.view(ph // wh, wh, pw // ww, ww).permute(0, 2, 1, 3).reshape(-1, wh * ww)
    mask = regions.unsqueeze(1) - regions.unsqueeze(2)
    return mask.masked_fill(mask != 0, float(-100.0)).masked_fill(mask == 0, float(0.0))


class ShiftedWindowAttention(nn.Module):
    """Swin's window self-attention on channels-last [N, H, W, C], computed as
    torchvision's ShiftedWindowAttention: pad to whole windows, roll by the shift
    (none along an axis one window covers), attend within each window with a learned
    relative position bias and the shift's mask, undo it all.  Names are torchvision's."""

    def __init__(self, dim: int, window_size, shift_size, num_heads: int, qkv_bias: bool = True,
                 proj_bias: bool = True, attention_dropout: float = 0.0, dropout: float = 0.0):
        super().__init__()
        self.window_size, self.shift_size = list(window_size), list(shift_size)
        self.num_heads, self.attention_dropout, self.dropout = num_heads, attention_dropout, dropout
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        wh, ww = self.window_size
        self.relative_position_bias_table = nn.Parameter(torch.empty((2 * wh - 1) * (2 * ww - 1), num_heads))
        self.register_buffer("relative_position_index", _relative_position_index(wh, ww))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torchvision's initialisation (its SwinTransformer's for the linears); the index
        recomputed, as a build on the meta device leaves it empty."""
        for linear in (self.qkv, self.proj):
            nn.init.trunc_normal_(linear.weight, std=0.02)
            if linear.bias is not None:
                nn.init.zeros_(linear.bias)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        with torch.no_grad():
            self.relative_position_index.copy_(_relative_position_index(*self.window_size))

    def position_bias(self) -> torch.Tensor:
        """[1, heads, N, N]: the table's rows picked by the index."""
        n = self.window_size[0] * self.window_size[1]
        bias = self.relative_position_bias_table[self.relative_position_index].view(n, n, -1)
        return bias.permute(2, 0, 1).contiguous().unsqueeze(0)

    def scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Scaled dot products of queries and keys, per head and window."""
        q = q * (q.shape[-1]) ** -0.5
        return q.matmul(k.transpose(-2, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, c = x.shape
        (wh, ww), (sh, sw) = self.window_size, self.shift_size
        x = F.pad(x, (0, 0, 0, (ww - w % ww) % ww, 0, (wh - h % wh) % wh))
        padded = x.shape[1:3]
        shift = [0 if wh >= padded[0] else sh, 0 if ww >= padded[1] else sw]
        if sum(shift) > 0:
            x = torch.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))
        windows = x.view(n, padded[0] // wh, wh, padded[1] // ww, ww, c).permute(0, 1, 3, 2, 4, 5)
        windows = self.attend(windows.reshape(-1, wh * ww, c), shift, padded)
        x = windows.view(n, padded[0] // wh, padded[1] // ww, wh, ww, c).permute(0, 1, 3, 2, 4, 5)
        x = x.reshape(n, *padded, c)
        if sum(shift) > 0:
            x = torch.roll(x, shifts=(shift[0], shift[1]), dims=(1, 2))
        return x[:, :h, :w, :].contiguous()

    def attend(self, x: torch.Tensor, shift: list, padded: tuple) -> torch.Tensor:
        """Multi-head attention within each window: x is [N·windows, tokens, C]."""
        windows, tokens, c = x.shape
        qkv = F.linear(x, self.qkv.weight, self.qkv.bias)
        q, k, v = qkv.reshape(windows, tokens, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        attn = self.scores(q, k) + self.position_bias()
        if sum(shift) > 0:
            mask = _shift_mask(x, padded, self.window_size, shift)
            attn = attn.view(-1, mask.shape[0], self.num_heads, tokens, tokens) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.num_heads, tokens, tokens)
        attn = F.dropout(F.softmax(attn, dim=-1), p=self.attention_dropout, training=self.training)
        x = attn.matmul(v).transpose(1, 2).reshape(windows, tokens, c)
        return F.dropout(F.linear(x, self.proj.weight, self.proj.bias), p=self.dropout, training=self.training)

    def extra_repr(self) -> str:
        return f"window_size={self.window_size}, shift_size={self.shift_size}, num_heads={self.num_heads}"
