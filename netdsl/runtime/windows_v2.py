"""Swin V2's shifted-window attention (torchvision's ShiftedWindowAttentionV2)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .windows import ShiftedWindowAttention, _relative_position_index


def _relative_coords_table(wh: int, ww: int) -> torch.Tensor:
    """[1, 2wh−1, 2ww−1, 2]: every offset in a window, scaled to ±8 and log-spaced,
    sign(x)·log2(1 + |x|)/3 (the paper's Eq. 4), in torchvision's operation order."""
    rows = torch.arange(-(wh - 1), wh, dtype=torch.float32)
    cols = torch.arange(-(ww - 1), ww, dtype=torch.float32)
    table = torch.stack(torch.meshgrid([rows, cols], indexing="ij")).permute(1, 2, 0).contiguous().unsqueeze(0)
    table[:, :, :, 0] /= wh - 1
    table[:, :, :, 1] /= ww - 1
    table *= 8
    return torch.sign(table) * torch.log2(torch.abs(table) + 1.0) / 3.0


class ShiftedWindowAttentionV2(ShiftedWindowAttention):
    """V1's windows, padding, shift and mask with Swin V2's scores: cosine attention
    scaled per head by exp(logit_scale) (at most 100), plus 16·sigmoid of a bias that
    cpb_mlp computes from the log-spaced offsets; the k third of the qkv bias is held
    at zero.  Names and buffers are torchvision's, so state_dicts load strictly."""

    def define_position_bias(self) -> None:
        """The coordinates buffer, the per-head logit scale and the bias MLP (called by
        V1's constructor where it would make its table)."""
        self.register_buffer("relative_coords_table", _relative_coords_table(*self.window_size))
        self.logit_scale = nn.Parameter(torch.empty(self.num_heads, 1, 1))
        self.cpb_mlp = nn.Sequential(nn.Linear(2, 512, bias=True), nn.ReLU(inplace=True),
                                     nn.Linear(512, self.num_heads, bias=False))

    def reset_parameters(self) -> None:
        """torchvision's initialisation (its SwinTransformer's for every linear, the MLP's
        too); the buffers recomputed, as a build on the meta device leaves them empty."""
        for linear in (self.qkv, self.proj, self.cpb_mlp[0], self.cpb_mlp[2]):
            nn.init.trunc_normal_(linear.weight, std=0.02)
            if linear.bias is not None:
                nn.init.zeros_(linear.bias)
        with torch.no_grad():
            self.logit_scale.copy_(torch.log(10 * torch.ones(self.num_heads, 1, 1)))
            self.relative_coords_table.copy_(_relative_coords_table(*self.window_size))
            self.relative_position_index.copy_(_relative_position_index(*self.window_size))

    def qkv_bias(self):
        """The qkv bias with its k third zeroed: a copy, the parameter keeps its values."""
        if self.qkv.bias is None:
            return None
        bias = self.qkv.bias.clone()
        third = bias.numel() // 3
        bias[third:2 * third].zero_()
        return bias

    def position_bias(self) -> torch.Tensor:
        """[1, heads, N, N]: 16·sigmoid of the MLP's bias per offset, picked by the index."""
        table = self.cpb_mlp(self.relative_coords_table).view(-1, self.num_heads)
        return 16 * torch.sigmoid(self.by_offset(table))

    def scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Cosine similarity of queries and keys, times each head's exp(logit_scale) ≤ 100."""
        attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
        return attn * torch.clamp(self.logit_scale, max=math.log(100.0)).exp()
