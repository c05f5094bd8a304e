"""Small torch pieces that generated code and built modules share, one module
per family; everything public is re-exported here, so generated code imports
``from netdsl.runtime import ...``.  Imported only by the torch backends."""
from .layers import (
    add, mul, concat, expand_batch, AsymmetricConv1d, AsymmetricConv2d, AsymmetricConv3d, matmul,
    SeparableConv1d, SeparableConv2d, SeparableConv3d, Maxout, Chunk, LocalResponseNorm, Scale,
    Reshape, Permute, Transpose, GlobalPool, LSTM, GRU, RNN, tie_weight)
from .attention import MultiheadAttention, sdpa, LayerNorm2d, StochasticDepth
from .windows import ShiftedWindowAttention
from .windows_v2 import ShiftedWindowAttentionV2
from .maxvit import RelativePositionalMultiHeadAttention
