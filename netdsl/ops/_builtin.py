"""Imports every op family so each registers its specs."""
from . import activation, conv, dropout, linear, merge, norm, pool, reshape  # noqa: F401
