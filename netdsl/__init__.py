"""netdsl: a text language for neural-network architectures and its compiler.

    >>> import netdsl
    >>> net = netdsl.load("architectures/resnet18.net")
    >>> net.params
    11689512
    >>> model = net.to_torch()
"""
from .errors import NetdslError
from .limits import Limits
from .network import Network, load, parse

__version__ = "0.1.0"
__all__ = ["Network", "NetdslError", "Limits", "load", "parse", "__version__"]
