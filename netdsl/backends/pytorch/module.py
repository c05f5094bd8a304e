"""Scope plans → a live ``nn.Module`` tree (CPU or CUDA).

Module names are the DSL's scope paths, so ``state_dict`` keys equal the
paths ``netdsl summarize`` prints, and equal torchvision's where a .net file
mirrors a torchvision model.
"""
from __future__ import annotations

import functools
import importlib
from collections import OrderedDict
from typing import Any, Union

import torch
from torch import nn

from ...errors import BackendError
from ...runtime import expand_batch, tie_weight
from .build_size import check_build
from .lowering import Leaf, ParamLeaf, ScopePlan, lower


def build_module(network, device: Any = None, dtype: Any = None, memory_format: Any = None,
                 fold_batchnorm: bool = False) -> nn.Module:
    """An ``nn.Module`` for a ``netdsl.Network``, built directly on ``device`` in
    ``dtype``/``memory_format``; refused before any allocation when it would not fit
    ``build_bytes`` (or the CPU and ``device``).

    The tree is constructed on the meta device (no memory), then each layer in
    turn is materialised on the CPU, initialised exactly as an eager build would
    (its own ``reset_parameters``, then the DSL's initializers, in construction
    order: a seed gives the same weights on every device) and moved to the
    target — so the model never exists twice, and never whole in host memory."""
    network.analyze()
    device = torch.get_default_device() if device is None else device  # `with torch.device(...)` too
    on_meta = torch.device(device).type == "meta"
    if not on_meta:  # shapes only on meta: nothing is allocated
        check_build(network, device)
    target = placement(device, dtype, memory_format)
    plan = lower(network.ir, fold_batchnorm)
    module, leaves = build_on_meta(network, plan)
    for leaf, layer in leaves:
        if isinstance(leaf, ParamLeaf):
            _materialize_param(module, network.ir.nodes[leaf.node]["path"], leaf, target)
            continue
        if on_meta:
            layer.to(**target)
            continue
        layer.to_empty(device="cpu")
        _reset(layer)
        apply_inits(layer, leaf.inits)
        layer.to(**target)
    for path, owner in plan.ties:  # after every layer is initialised: the owner's weight wins
        tie_weight(module, path, owner)
    return module


def build_on_meta(network, root: ScopePlan) -> tuple[nn.Module, list[tuple[Leaf, nn.Module]]]:
    """The module tree of a plan on the meta device, and its layers in construction order."""
    leaves: list[tuple[Leaf, nn.Module]] = []
    with torch.device("meta"):
        module = _named(_build_scope(root, leaves), network.name)
    module.output_names = [o["name"] for o in network.outputs]
    module.netdsl_origin = Origin(network)
    return module, leaves


def placement(device: Any = None, dtype: Any = None, memory_format: Any = None) -> dict:
    """``Module.to`` arguments; dtype by name (``"bfloat16"``) or as a torch dtype."""
    named = getattr(torch, dtype, dtype) if isinstance(dtype, str) else dtype
    if dtype is not None and not (isinstance(named, torch.dtype) and named.is_floating_point):
        raise BackendError(f"cannot build a module in dtype {dtype!r}", hint="a floating dtype: float32, bfloat16...")
    target = {"device": torch.device(device) if device is not None else torch.device("cpu"), "dtype": named}
    if memory_format is not None:
        target["memory_format"] = memory_format
    return target


def _materialize_param(root: nn.Module, path: str, leaf: ParamLeaf, target: dict) -> None:
    """A learned tensor made real in its scope, in construction order: zeros, or
    its ``init=`` (the generated source writes the same)."""
    owner_path, _, name = path.rpartition(".")
    owner = root.get_submodule(owner_path) if owner_path else root
    shape = leaf.call.kwargs["shape"]
    if target["device"].type == "meta":
        value = torch.empty(shape, device="meta", dtype=target["dtype"])
        owner.register_parameter(name, nn.Parameter(value, requires_grad=leaf.trainable))
        return
    value = torch.empty(shape) if leaf.inits else torch.zeros(shape)
    with torch.no_grad():
        for _, spec in leaf.inits:
            getattr(nn.init, spec["init"] + "_")(value, **{k: v for k, v in spec.items() if k != "init"})
    value = value.to(device=target["device"], dtype=target["dtype"])
    owner.register_parameter(name, nn.Parameter(value, requires_grad=leaf.trainable))


def _reset(layer: nn.Module) -> None:
    """Initialise a materialised layer as its constructor did: children first, then
    the module's own ``reset_parameters`` (``_reset_parameters`` in some torch classes)."""
    for child in layer.children():
        _reset(child)
    owns = any(True for _ in layer.parameters(recurse=False)) or any(True for _ in layer.buffers(recurse=False))
    if owns:
        reset = getattr(layer, "reset_parameters", None) or getattr(layer, "_reset_parameters", None)
        if reset is None:
            raise BackendError(f"{type(layer).__name__} has no reset_parameters: it cannot be "
                               "initialised after construction on the meta device")
        reset()


class Origin:
    """The network a module was built from (for ``fold_batchnorm``): shared, never
    copied by ``deepcopy``, and dropped when the module is pickled."""

    def __init__(self, network):
        self.network = network

    def __deepcopy__(self, memo) -> "Origin":
        return self

    def __reduce__(self):
        return (type(None), ())


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


def _build_child(child: Union[Leaf, ScopePlan], leaves: list) -> Union[nn.Module, nn.Parameter]:
    if isinstance(child, ParamLeaf):  # a meta placeholder until build_module materializes it
        leaves.append((child, None))
        return nn.Parameter(torch.empty(child.call.kwargs["shape"]), requires_grad=child.trainable)
    return _build_leaf(child, leaves) if isinstance(child, Leaf) else _build_scope(child, leaves)


def _build_scope(plan: ScopePlan, leaves: list) -> nn.Module:
    if plan.path and plan.empty:
        return nn.Module()  # owns nothing; the generated source writes the same
    children = OrderedDict((name, _build_child(c, leaves)) for name, c in plan.children.items())
    if plan.sequential:
        return nn.Sequential(children)
    return GraphScope(plan, children)


def _build_leaf(leaf: Leaf, leaves: list) -> nn.Module:
    module = resolve(leaf.call.target)(**leaf.call.kwargs)
    if not leaf.trainable:
        module.requires_grad_(False)
    leaves.append((leaf, module))
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
            if isinstance(child, nn.Parameter):
                self.register_parameter(name, child)
            else:
                self.add_module(name, child)
        self._inputs = list(plan.inputs)
        self._outputs = list(plan.outputs)
        self._eval_outputs = list(plan.eval_outputs)
        self._training_only = frozenset(plan.training_only)  # auxiliary heads: skipped in eval
        self._steps = [(s.target if not s.is_function else resolve(s.target), s.is_function,
                        list(s.inputs), list(s.outs), dict(s.kwargs), s.is_param) for s in plan.steps]
        self._frees = {mode: _last_uses(plan, skipped) for mode, skipped in
                       ((True, frozenset()), (False, self._training_only))}

    def forward(self, *inputs: torch.Tensor):
        values = dict(zip(self._inputs, inputs))
        skipped = frozenset() if self.training else self._training_only
        frees = self._frees[self.training]
        for index, (target, is_function, ins, outs, kwargs, is_param) in enumerate(self._steps):
            if index in skipped:
                continue
            fn = target if is_function else self._modules[target] if not is_param \
                else functools.partial(expand_batch, getattr(self, target))
            result = fn(*(values[i] for i in ins), **kwargs)
            if len(outs) == 1:
                values[outs[0]] = result
            else:
                values.update(zip(outs, result))
            for name in frees[index]:  # dead from here on: its memory can be reused now
                del values[name]
        outputs = self._outputs if self.training else self._eval_outputs
        if len(outputs) == 1:
            return values[outputs[0]]
        return tuple(values[o] for o in outputs)


def _last_uses(plan: ScopePlan, skipped: frozenset) -> list[tuple[str, ...]]:
    """Per step, the values no later step reads and the scope does not return: the
    forward drops them right after that step, as a hand-written forward's locals
    are overwritten, instead of holding every intermediate until the scope ends."""
    returned = set(plan.outputs) | set(plan.eval_outputs)
    last: dict[str, int] = {}
    for index, step in enumerate(plan.steps):
        if index in skipped:
            continue
        for name in (*step.inputs, *step.outs):  # an unread output dies where it is made
            last[name] = index
    frees: list[list[str]] = [[] for _ in plan.steps]
    for name, index in last.items():
        if name not in returned:
            frees[index].append(name)
    return [tuple(names) for names in frees]
