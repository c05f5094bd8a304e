"""Attention and the pieces of post-2017 blocks: multi-head attention, SDPA,
channels-first LayerNorm, stochastic depth."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

class MultiheadAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention on batch-first tokens returning only its output: one
    input attends to itself, two are query and memory, three query, key and value;
    with ``padding_mask`` the last input is torch's key_padding_mask ([N, S] bool,
    True: a padding key).  Parameters and their names are torch's (in_proj_weight, out_proj ...)."""

    def __init__(self, embed_dim: int, num_heads: int, causal: bool = False, padding_mask: bool = False,
                 **kwargs):
        super().__init__(embed_dim, num_heads, batch_first=True, **kwargs)
        self.causal, self.padding_mask = causal, padding_mask

    def forward(self, query: torch.Tensor, *memory: torch.Tensor) -> torch.Tensor:
        padding = None
        if self.padding_mask:
            memory, padding = memory[:-1], memory[-1]
        key = memory[0] if memory else query
        value = memory[1] if len(memory) > 1 else key
        mask = None
        if self.causal:  # query i sees keys 0..i (True hides a key)
            mask = torch.ones(query.shape[1], key.shape[1], dtype=torch.bool, device=query.device).triu(1)
            if padding is not None:  # torch wants both masks of one type, and float in training
                mask, padding = _additive(mask, query.dtype), _additive(padding, query.dtype)
        out, _ = super().forward(query, key, value, need_weights=False, attn_mask=mask, is_causal=self.causal,
                                 key_padding_mask=padding)
        return out

    def extra_repr(self) -> str:
        flags = ["causal=True" if self.causal else "", "padding_mask=True" if self.padding_mask else ""]
        return ", ".join(filter(None, [super().extra_repr(), *flags]))


def _additive(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A bool mask (True: hidden) as the float mask torch adds to the scores."""
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))


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
