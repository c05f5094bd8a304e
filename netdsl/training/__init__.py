"""Training netdsl networks (imports torch): ``netdsl train`` and its library.

    >>> from netdsl.training import load_config, train
    >>> metrics = train(netdsl.load("architectures/lenet5.net"), load_config("examples/train_lenet5.yaml"))
"""
from .config import TrainConfig, load_config
from .loop import Trainer
from .session import train

__all__ = ["TrainConfig", "Trainer", "load_config", "train"]
