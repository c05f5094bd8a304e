"""Imports every op family so each registers its specs."""
from . import (activation, attention, conv, dropout, embedding, linear, merge, norm, parameter, pool,  # noqa: F401
               recurrent, reshape, resize, window_attention)
