"""The op vocabulary.  See ``registry`` for how an op is declared."""
from .registry import (GLOBAL, NO_FIELD, WINDOWED, Arg, Args, AxisRF, OpSpec, Permuted, TorchCall, all_ops,
                       bind_args, get_op, lookup, op_names, register)

__all__ = ["GLOBAL", "NO_FIELD", "WINDOWED", "Arg", "Args", "AxisRF", "OpSpec", "Permuted", "TorchCall",
           "all_ops", "bind_args", "get_op", "lookup", "op_names", "register"]
