"""The inference plan: each batch norm folded into the conv or linear before it.

In eval mode a batch norm is a per-channel affine map, so it can be baked
into the weights and bias of the layer that feeds it.  This rewrites a scope
plan (no torch here): the conv gets ``bias=True`` and takes over the batch
norm's output value, and the batch norm leaves the plan.  Both the in-memory
``fold_batchnorm`` (``fold.py``) and ``netdsl compile --inference`` use it,
so the folded module and the folded source have the same structure.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ...ir import Graph
from .lowering import Leaf, ScopePlan

_CONVS = frozenset(f"{package}.{kind}Conv{n}d" for n in (1, 2, 3)
                   for package, kind in (("torch.nn", ""), ("netdsl.runtime", "Asymmetric")))
_BATCHNORMS = frozenset(f"torch.nn.BatchNorm{n}d" for n in (1, 2, 3))


@dataclass(frozen=True)
class Fold:
    """One folded pair, by module path (``layer1.0.conv1``, ``layer1.0.bn1``)."""

    conv: str
    batchnorm: str


def fold_plan(root: ScopePlan, graph: Graph) -> list[Fold]:
    """Fold in place every batch norm that can be; the pairs folded, in plan order."""
    folds: list[Fold] = []
    stack = [root]
    while stack:
        plan = stack.pop()
        folds += _fold_scope(plan, graph)
        stack += [c for c in reversed(plan.children.values()) if isinstance(c, ScopePlan)]
    return folds


def _fold_scope(plan: ScopePlan, graph: Graph) -> list[Fold]:
    uses: dict[int, int] = {}
    for node in [i for s in plan.steps for i in s.inputs] + plan.outputs:
        uses[node] = uses.get(node, 0) + 1
    producer = {s.outs[0]: s for s in plan.steps if not s.is_function and len(s.outs) == 1}
    folds, dropped = [], []
    for step in plan.steps:
        norm = _member(plan, step, _BATCHNORMS)
        source = producer.get(step.inputs[0]) if norm is not None and len(step.inputs) == 1 else None
        conv = _member(plan, source, _CONVS | {"torch.nn.Linear"}) if source is not None else None
        if conv is None or uses[step.inputs[0]] != 1 or not _foldable(conv, norm, graph):
            continue
        conv.call = replace(conv.call, kwargs={**conv.call.kwargs, "bias": True})
        source.outs = list(step.outs)  # the conv now yields what the batch norm did
        dropped.append(step)
        del plan.children[step.target]
        folds.append(Fold(".".join(plan.path + (source.target,)), ".".join(plan.path + (step.target,))))
    plan.steps = [s for s in plan.steps if all(s is not d for d in dropped)]
    return folds


def _member(plan: ScopePlan, step, targets: frozenset):
    """The leaf a step runs, when it is one of ``targets``."""
    if step is None or step.is_function:
        return None
    child = plan.children.get(step.target)
    return child if isinstance(child, Leaf) and child.call.target in targets else None


def _foldable(conv: Leaf, norm: Leaf, graph: Graph) -> bool:
    """Eval-mode batch norm (running statistics) over the conv's output channels:
    a linear's features are dim 1 only when its output is a plain vector."""
    if not norm.call.kwargs.get("track_running_stats", True):
        return False
    if conv.call.target == "torch.nn.Linear":
        return len(graph.nodes[conv.node]["shape"]) == 1
    return True
