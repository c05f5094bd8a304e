"""Parameter groups and optimizers.

Groups come from the network: layers with ``trainable=false`` (or under a
``transfer.freeze`` prefix) are left out, layers with ``lr_scale=`` get their
own group with ``lr × scale``, and with ``decay_norm_and_bias: false`` biases
and norm scales (1-d parameters) get no weight decay.

Defaults are torch's own, read from the optimizer's signature: the learning
rate (SGD 1e-3 — 0.01 on an old torch whose SGD has none —, Adagrad and
RMSprop 0.01, Adadelta 1.0, Adam and AdamW 1e-3, NAdam 2e-3) and the weight
decay (AdamW 0.01, the others 0) apply unless the config sets them.  Options
are coerced to the type of torch's default (``eps: 1e-8`` read by YAML as a
string becomes a float) and range-checked, all in ``check_optimizer``, which
``TrainConfig.validate()`` calls.
"""
from __future__ import annotations

import inspect
from typing import Sequence

import torch
from torch import nn

from ..errors import UsageError, suggest
from .checks import Bounds, check_choice, check_number, choice_hint, coerce
from .config import OPTIMIZERS, OptimizerConfig

#: an optimizer without a default learning rate in torch (SGD before torch 2.2) gets this one
FALLBACK_LR = 0.01
#: ranges of torch optimizer options, whichever optimizer takes them
OPTION_BOUNDS = {name: Bounds.parse(text) for name, text in {
    "momentum": "[0, 1)", "dampening": "[0, 1]", "betas": "[0, 1)", "eps": ">= 0",
    "alpha": "[0, 1]", "rho": "[0, 1]", "lr_decay": ">= 0", "initial_accumulator_value": ">= 0",
    "momentum_decay": ">= 0"}.items()}
#: the config's own keys, not passed on as options
OWN_KEYS = ("name", "lr", "weight_decay", "decay_norm_and_bias")


def lr_scales(network) -> dict[str, float]:
    """Parameter name → the ``lr_scale`` of the layer that owns it (only scales ≠ 1)."""
    scales = {}
    for layer in network.layers():
        scale = layer["args"].get("lr_scale", 1.0)
        if layer["path"] and scale != 1.0:
            scales.update({f"{layer['path']}.{w}" if w else layer["path"]: scale  # "": a learned tensor
                           for w in layer["weights"]})
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
    lr, weight_decay = resolved(config)
    scales = lr_scales(network)
    groups: dict[tuple[float, float], list[tuple[str, nn.Parameter]]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        decay = weight_decay if config.decay_norm_and_bias or param.ndim > 1 else 0.0
        groups.setdefault((scales.get(name, 1.0), decay), []).append((name, param))
    if not groups:
        raise UsageError("nothing to train: every parameter is frozen")
    return [{"params": [p for _, p in members], "names": [n for n, _ in members],
             "lr": lr * scale, "lr_scale": scale, "weight_decay": decay}
            for (scale, decay), members in groups.items()]


def build_optimizer(groups: list[dict], config: OptimizerConfig) -> torch.optim.Optimizer:
    """The torch optimizer ``config.name`` with its options checked against its signature."""
    check_optimizer(config)
    return _construct(optimizer_class(config.name), groups, config)


# ------------------------------------------------------------ checking and defaults
def optimizer_class(name: str) -> type:
    """``adam`` → ``torch.optim.Adam``."""
    if name.lower() not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer '{name}'", hint=choice_hint(name, list(OPTIMIZERS)))
    return getattr(torch.optim, OPTIMIZERS[name.lower()])


def torch_defaults(cls: type) -> dict:
    """Argument → default value in the signature of a torch optimizer (no default: absent)."""
    return {k: p.default for k, p in inspect.signature(cls).parameters.items()
            if k != "params" and p.default is not inspect.Parameter.empty}


def default_lr(name: str) -> float:
    """Torch's default learning rate for optimizer ``name`` (``FALLBACK_LR`` if it has none)."""
    lr = torch_defaults(optimizer_class(name)).get("lr", FALLBACK_LR)
    return float(lr) if isinstance(lr, (int, float)) else FALLBACK_LR


def resolved(config: OptimizerConfig) -> tuple[float, float]:
    """(learning rate, weight decay): the config's, else torch's defaults."""
    lr = config.lr if config.lr is not None else default_lr(config.name)
    decay = config.weight_decay
    if decay is None:
        decay = float(torch_defaults(optimizer_class(config.name)).get("weight_decay", 0.0))
    return lr, decay


def check_optimizer(config: OptimizerConfig) -> None:
    """Check the name and options against torch, in place; fill in lr and weight decay."""
    config.name = check_choice(config.name, tuple(OPTIMIZERS), "optimizer.name")
    cls = optimizer_class(config.name)
    defaults = torch_defaults(cls)
    config.lr, config.weight_decay = resolved(config)
    config.options = {key: _option(key, value, defaults, config.name)
                      for key, value in config.options.items()}
    _construct(cls, [torch.zeros(1, requires_grad=True)], config)  # torch's own cross-checks


def _option(key: str, value, defaults: dict, name: str):
    """One optimizer option coerced to the type of torch's default and range-checked."""
    accepted = set(defaults) - {"lr", "weight_decay"}
    where = f"optimizer.{key}"
    if key not in accepted:
        raise UsageError(f"training setting '{where}': optimizer {name} has no option '{key}'",
                         hint=choice_hint(str(key), sorted(accepted) + list(OWN_KEYS)))
    default = defaults[key]
    if isinstance(default, tuple):
        return _pair(value, default, where)
    if default is None:  # foreach, fused: None means "torch decides"
        return value if value is None else coerce(value, bool, where)
    kind = bool if isinstance(default, bool) else float
    value = coerce(value, kind, where)
    if kind is float:
        check_number(value, OPTION_BOUNDS.get(key, Bounds.parse(">= 0")), where)
    return value


def _pair(value, default: tuple, where: str) -> tuple:
    """``betas: [0.9, 0.99]``: as many numbers as torch's default has, each in range."""
    if not isinstance(value, (list, tuple)) or len(value) != len(default):
        raise UsageError(f"training setting '{where}' must be a list of {len(default)} numbers, "
                         f"got {value!r}", hint=f"torch's default: {list(default)}")
    items = tuple(coerce(v, float, f"{where}[{i}]") for i, v in enumerate(value))
    for i, item in enumerate(items):
        check_number(item, OPTION_BOUNDS.get(where.split(".")[-1]), f"{where}[{i}]")
    return items


def _construct(cls: type, params, config: OptimizerConfig) -> torch.optim.Optimizer:
    lr, weight_decay = resolved(config)
    try:
        return cls(params, lr=lr, weight_decay=weight_decay, **config.options)
    except (ValueError, TypeError, RuntimeError) as err:
        raise UsageError(f"optimizer {config.name}: {err}") from None
