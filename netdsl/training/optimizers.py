"""Parameter groups and optimizers.

Groups come from the network: layers with ``trainable=false`` (or under a
``transfer.freeze`` prefix) are left out, layers with ``lr_scale=`` get their
own group with ``lr × scale``, and with ``decay_norm_and_bias: false`` biases
and norm scales (1-d parameters) get no weight decay.
"""
from __future__ import annotations

import inspect
from typing import Sequence

import torch
from torch import nn

from ..errors import UsageError, suggest
from .config import OptimizerConfig, choice_hint

#: config name → torch.optim class name
OPTIMIZERS = {"sgd": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop", "adadelta": "Adadelta",
              "adam": "Adam", "nadam": "NAdam", "adamw": "AdamW"}


def lr_scales(network) -> dict[str, float]:
    """Parameter name → the ``lr_scale`` of the layer that owns it (only scales ≠ 1)."""
    scales = {}
    for layer in network.layers():
        scale = layer["args"].get("lr_scale", 1.0)
        if layer["path"] and scale != 1.0:
            scales.update({f"{layer['path']}.{w}": scale for w in layer["weights"]})
    return scales


def freeze(model: nn.Module, prefixes: Sequence[str]) -> int:
    """Stop gradients under each module-path prefix; the number of parameters frozen."""
    names = [n for n, _ in model.named_parameters()]
    frozen = 0
    for prefix in prefixes:
        hits = [(n, p) for n, p in model.named_parameters() if n == prefix or n.startswith(prefix + ".")]
        if not hits:
            modules = [m for m, _ in model.named_modules() if m]
            guess = suggest(prefix, modules)
            raise UsageError(f"transfer.freeze: no parameters under '{prefix}'",
                             hint=f"did you mean '{guess}'?" if guess else f"parameters: {names[:5]}...")
        for _, param in hits:
            frozen += param.numel() if param.requires_grad else 0
            param.requires_grad_(False)
    return frozen


def param_groups(model: nn.Module, network, config: OptimizerConfig) -> list[dict]:
    """Trainable parameters grouped by (lr scale, weight decay)."""
    scales = lr_scales(network)
    groups: dict[tuple[float, float], list[tuple[str, nn.Parameter]]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        decay = config.weight_decay if config.decay_norm_and_bias or param.ndim > 1 else 0.0
        groups.setdefault((scales.get(name, 1.0), decay), []).append((name, param))
    if not groups:
        raise UsageError("nothing to train: every parameter is frozen")
    return [{"params": [p for _, p in members], "names": [n for n, _ in members],
             "lr": config.lr * scale, "lr_scale": scale, "weight_decay": decay}
            for (scale, decay), members in groups.items()]


def build_optimizer(groups: list[dict], config: OptimizerConfig) -> torch.optim.Optimizer:
    """The torch optimizer ``config.name`` with its options checked against its signature."""
    name = config.name.lower()
    if name not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer '{config.name}'", hint=choice_hint(name, list(OPTIMIZERS)))
    cls = getattr(torch.optim, OPTIMIZERS[name])
    accepted = set(inspect.signature(cls).parameters) - {"params", "lr", "weight_decay"}
    for key in config.options:
        if key not in accepted:
            known = sorted(accepted) + ["name", "lr", "weight_decay", "decay_norm_and_bias"]
            raise UsageError(f"optimizer {name} has no option '{key}'", hint=choice_hint(key, known))
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in config.options.items()}
    try:
        return cls(groups, lr=config.lr, weight_decay=config.weight_decay, **options)
    except (ValueError, TypeError) as err:
        raise UsageError(f"optimizer {name}: {err}") from None
