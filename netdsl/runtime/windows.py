"""Swin's shifted-window attention (torchvision's ShiftedWindowAttention)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

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
        self.define_position_bias()
        self.register_buffer("relative_position_index", _relative_position_index(*self.window_size))
        self.reset_parameters()

    def define_position_bias(self) -> None:
        """The learned table, one row per offset (V2 replaces it with an MLP)."""
        wh, ww = self.window_size
        self.relative_position_bias_table = nn.Parameter(torch.empty((2 * wh - 1) * (2 * ww - 1), self.num_heads))

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
        return self.by_offset(self.relative_position_bias_table)

    def by_offset(self, table: torch.Tensor) -> torch.Tensor:
        """[1, heads, N, N] from a [offsets, heads] table, each token pair's row."""
        n = self.window_size[0] * self.window_size[1]
        bias = table[self.relative_position_index].view(n, n, -1)
        return bias.permute(2, 0, 1).contiguous().unsqueeze(0)

    def qkv_bias(self):
        """The bias the qkv projection adds (V2 zeroes its k third)."""
        return self.qkv.bias

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
        qkv = F.linear(x, self.qkv.weight, self.qkv_bias())
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
