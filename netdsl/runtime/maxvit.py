"""MaxViT's attention (torchvision's RelativePositionalMultiHeadAttention)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _relative_position_index(size: int) -> torch.Tensor:
    """[N, N] for a size×size partition: the row of each token pair's offset in the
    (2·size−1)² bias table (torchvision's _get_relative_position_index)."""
    coords = torch.stack(torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")).flatten(1)
    offsets = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    return (offsets[..., 0] + size - 1) * (2 * size - 1) + offsets[..., 1] + size - 1


class RelativePositionalMultiHeadAttention(nn.Module):
    """Multi-head self-attention within each group of [B, G, N, C] (MaxViT's window or
    grid partitions, N = size² tokens) with a learned relative position bias, computed
    as torchvision's module, op for op: keys scaled by C^-0.5, einsum products.
    Attribute names, and so state_dict keys, are torchvision's."""

    def __init__(self, feat_dim: int, head_dim: int, max_seq_len: int):
        super().__init__()
        self.n_heads, self.head_dim, self.max_seq_len = feat_dim // head_dim, head_dim, max_seq_len
        self.size = int(math.sqrt(max_seq_len))
        self.scale_factor = feat_dim ** -0.5  # torchvision's: the width, not the head's
        self.to_qkv = nn.Linear(feat_dim, 3 * self.n_heads * head_dim)
        self.merge = nn.Linear(self.n_heads * head_dim, feat_dim)
        self.relative_position_bias_table = nn.Parameter(torch.empty((2 * self.size - 1) ** 2, self.n_heads))
        self.register_buffer("relative_position_index", _relative_position_index(self.size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torchvision's initialisation (its MaxVit's for the linears); the index
        recomputed, as a build on the meta device leaves it empty."""
        for linear in (self.to_qkv, self.merge):
            nn.init.normal_(linear.weight, std=0.02)
            nn.init.zeros_(linear.bias)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        with torch.no_grad():
            self.relative_position_index.copy_(_relative_position_index(self.size))

    def position_bias(self) -> torch.Tensor:
        """[1, heads, N, N]: the table's rows picked by the index."""
        n = self.max_seq_len
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1)
        return bias.permute(2, 0, 1).contiguous().unsqueeze(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, g, n, c = x.shape
        q, k, v = torch.chunk(self.to_qkv(x), 3, dim=-1)
        q, k, v = (t.reshape(b, g, n, self.n_heads, self.head_dim).permute(0, 1, 3, 2, 4) for t in (q, k, v))
        k = k * self.scale_factor
        scores = torch.einsum("B G H I D, B G H J D -> B G H I J", q, k)
        attn = F.softmax(scores + self.position_bias(), dim=-1)
        out = torch.einsum("B G H I J, B G H J D -> B G H I D", attn, v)
        return self.merge(out.permute(0, 1, 3, 2, 4).reshape(b, g, n, c))

    def extra_repr(self) -> str:
        return f"n_heads={self.n_heads}, head_dim={self.head_dim}, max_seq_len={self.max_seq_len}"
