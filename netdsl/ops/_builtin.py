"""Imports every op family so each registers its specs."""
from . import (activation, attention, conv, dropout, embedding, linear, merge, norm, parameter, pool,  # noqa: F401
               recurrent, reshape, resize, window_attention)
from . import window_attention_v2  # noqa: F401  (Swin V2)
from . import maxvit  # noqa: F401  (MaxViT: relative_position_attention)
