"""Imports every op family so each registers its specs."""
from . import (activation, conv, dropout, embedding, linear, merge, norm, pool, recurrent,  # noqa: F401
               reshape, resize)
