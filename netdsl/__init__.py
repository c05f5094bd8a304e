"""netdsl: a text language for neural-network architectures and its compiler.

    >>> import netdsl
    >>> net = netdsl.load("resnet18")          # a zoo name, or a path to a .net file
    >>> net.params
    11689512
    >>> model = net.to_torch()
    >>> model = netdsl.create("resnet50", num_classes=10, weights="torchvision")
"""
from .errors import NetdslError
from .limits import Limits
from .network import Network, load, parse
from .zoo import create, names as zoo_names


def fold_batchnorm(module, network=None):
    """``module`` (from ``net.to_torch()``) with each batch norm folded into the conv or
    linear before it: a new module, in eval mode, with the same eval outputs (imports torch)."""
    from .backends.pytorch.fold import fold_batchnorm as fold
    return fold(module, network)

__version__ = "0.1.0"
__all__ = ["Network", "NetdslError", "Limits", "load", "parse", "create", "zoo_names", "fold_batchnorm", "__version__"]
