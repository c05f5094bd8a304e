"""The training extra's optional dependencies, imported only when a feature needs them.

``pip install 'netdsl[train]'`` installs them all (torchvision, scikit-learn,
tqdm, matplotlib, numpy, tensorboard); without one, the feature that needs it is a
``UsageError`` naming the package and that command, not a traceback::

    with needs("--data digits"):
        from sklearn.datasets import load_digits

(Imports stay plain ``import`` statements: netdsl names no module it imports
from text.)
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from ..errors import UsageError

INSTALL = "pip install 'netdsl[train]'"

#: import name → the name pip knows it by
PACKAGES = {"torchvision": "torchvision", "sklearn": "scikit-learn", "tqdm": "tqdm",
            "matplotlib": "matplotlib", "numpy": "numpy", "PIL": "pillow",
            "tensorboard": "tensorboard"}


@contextmanager
def needs(feature: str) -> Iterator[None]:
    """Turn an ImportError inside the block into a UsageError saying what to install."""
    try:
        yield
    except ImportError as err:
        top = (err.name or "").partition(".")[0] or "a package"
        raise UsageError(f"{feature} needs the package {PACKAGES.get(top, top)}, which cannot be "
                         f"imported ({err})", hint=f"install the training extras: {INSTALL}") from None
