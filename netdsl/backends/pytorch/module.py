"""Scope plans → a live ``nn.Module`` tree (CPU or CUDA).

Module names are the DSL's scope paths, so ``state_dict`` keys equal the
paths ``netdsl summarize`` prints, and equal torchvision's where a .net file
mirrors a torchvision model.
"""
from __future__ import annotations

import importlib
from collections import OrderedDict
from typing import Any, Union

import torch
from torch import nn

from .build_size import check_build
from .lowering import Leaf, ScopePlan, lower


def build_module(network, device: Any = None) -> nn.Module:
    """An ``nn.Module`` for a ``netdsl.Network``, built on the CPU; refused before
    any allocation when it would not fit ``build_bytes`` (or the CPU and ``device``)."""
    network.analyze()
    check_build(network, device)
    root = lower(network.ir)
    module = _named(_build_scope(root), network.name)
    module.output_names = [o["name"] for o in network.outputs]
    return module


def _named(module: nn.Module, name: str) -> nn.Module:
    """The root module as an instance of a class named after the network, so
    ``print(model)`` and tracebacks read ``resnet18(...)``, not ``GraphScope``.
    The class adds nothing: a subclass of what was built, with that name."""
    base = type(module)
    module.__class__ = type(name, (base,), {"__module__": base.__module__, "__doc__": base.__doc__})
    return module


def resolve(dotted: str):
    """``"torch.nn.Conv2d"`` → the class (or function) itself."""
    module_name, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def _build_child(child: Union[Leaf, ScopePlan]) -> nn.Module:
    return _build_leaf(child) if isinstance(child, Leaf) else _build_scope(child)


def _build_scope(plan: ScopePlan) -> nn.Module:
    if plan.path and plan.empty:
        return nn.Module()  # owns nothing; the generated source writes the same
    children = OrderedDict((name, _build_child(c)) for name, c in plan.children.items())
    if plan.sequential:
        return nn.Sequential(children)
    return GraphScope(plan, children)


def _build_leaf(leaf: Leaf) -> nn.Module:
    module = resolve(leaf.call.target)(**leaf.call.kwargs)
    apply_inits(module, leaf.inits)
    if not leaf.trainable:
        module.requires_grad_(False)
    return module


def apply_inits(module: nn.Module, inits) -> None:
    """Apply DSL initializers (``init=``, ``bias_init=``) to matching parameters."""
    for prefix, spec in inits:
        fn = getattr(nn.init, spec["init"] + "_")
        kwargs = {k: v for k, v in spec.items() if k != "init"}
        with torch.no_grad():
            for name, param in module.named_parameters():  # sepconv's live in its children
                if name.rpartition(".")[2].startswith(prefix):
                    fn(param, **kwargs)


class GraphScope(nn.Module):
    """A scope whose forward is a DAG: runs its plan's steps in order."""

    def __init__(self, plan: ScopePlan, children: "OrderedDict[str, nn.Module]"):
        super().__init__()
        for name, child in children.items():
            self.add_module(name, child)
        self._inputs = list(plan.inputs)
        self._outputs = list(plan.outputs)
        self._steps = [(s.target if not s.is_function else resolve(s.target), s.is_function,
                        list(s.inputs), list(s.outs), dict(s.kwargs)) for s in plan.steps]

    def forward(self, *inputs: torch.Tensor):
        values = dict(zip(self._inputs, inputs))
        for target, is_function, ins, outs, kwargs in self._steps:
            fn = target if is_function else self._modules[target]
            result = fn(*(values[i] for i in ins), **kwargs)
            if len(outs) == 1:
                values[outs[0]] = result
            else:
                values.update(zip(outs, result))
        if len(self._outputs) == 1:
            return values[self._outputs[0]]
        return tuple(values[o] for o in self._outputs)
