"""Names in generated forwards: variables for values, and shape comments.

Variables: a chain reuses one name (``x``, or ``out`` while ``x`` is still
needed); a value kept for later (a branch, a skip, a dense feature) is named
after the layer that made it.  Shapes: a class shared by several scopes
prints each dimension as a number when all instances agree, else as a
parameter (``c``, ``c * 4``) or relative to its input (``H // 2``).
"""
from __future__ import annotations

from typing import Callable

from ...ir import Graph
from .lowering import ScopePlan, Step
from .safe import fresh_name
from .source_classes import ClassDef, express, same_values

_AXES = {1: "C", 2: "CL", 3: "CHW", 4: "CDHW"}


def value_names(plan: ScopePlan, inputs: list[str], producer_name: Callable[[Step], str],
                reserved: frozenset[str] = frozenset()) -> dict[int, str]:
    """A variable name for every value of a scope's forward; none is in ``reserved``
    (the module's class and imported names) or shadows a builtin."""
    end = len(plan.steps)
    uses: dict[int, list[int]] = {}
    for index, step in enumerate(plan.steps):
        for node in step.inputs:
            uses.setdefault(node, []).append(index)
    for node in plan.outputs:
        uses.setdefault(node, []).append(end)
    names = dict(zip(plan.inputs, inputs))
    holder = {name: node for node, name in names.items()}
    for index, step in enumerate(plan.steps):
        free = {n for n, v in holder.items() if max(uses.get(v, [-1])) <= index}
        for k, node in enumerate(step.outs):
            if len(step.outs) == 1 and _is_chain(plan, index, node, uses):
                name = _chain_name(step, names, holder, free, reserved)
            elif len(step.outs) == 1 and _is_tapped(plan, node, uses) and _is_free("x", holder, free):
                name = "x"
            else:
                base = producer_name(step) + (f"_{k}" if len(step.outs) > 1 else "")
                name = _fresh(base, holder, free, reserved)
            names[node] = name
            holder[name] = node
            free.discard(name)
    return names


def _is_chain(plan: ScopePlan, index: int, node: int, uses: dict) -> bool:
    """Used once, right away, as the only input — or the scope's final value."""
    end = len(plan.steps)
    used = uses.get(node, [])
    if used == [index + 1] and index + 1 < end:
        return plan.steps[index + 1].inputs == [node]
    return used == [end] and index == end - 1


def _is_tapped(plan: ScopePlan, node: int, uses: dict) -> bool:
    """Read by several single-input layers (a tap such as an auxiliary head), never merged."""
    used = uses.get(node, [])
    return all(i < len(plan.steps) and plan.steps[i].inputs == [node] for i in used)


def _chain_name(step: Step, names: dict, holder: dict, free: set, reserved: frozenset) -> str:
    """The input's name when it is a chain name itself, else ``x``, else ``out``."""
    options = ["x", "out"]
    if len(step.inputs) == 1 and names[step.inputs[0]] in options:
        options.insert(0, names[step.inputs[0]])
    for name in options:
        if _is_free(name, holder, free):
            return name
    return _fresh("h", holder, free, reserved)


def _is_free(name: str, holder: dict, free: set) -> bool:
    return name not in holder or name in free


def _fresh(base: str, holder: dict, free: set, reserved: frozenset) -> str:
    base = fresh_name(base, reserved)
    name, count = base, 2
    while not _is_free(name, holder, free) or fresh_name(name, reserved) != name:
        name, count = f"{base}_{count}", count + 1
    return name


class ShapeNamer:
    """Shape comments for one class, symbolic where its instances differ."""

    def __init__(self, graph: Graph, cls: ClassDef):
        self.graph = graph
        self.cls = cls

    def of_value(self, index: int) -> str:
        return self._format([p.inputs[index] for p in self.cls.instances])

    def of_step(self, index: int, k: int) -> str:
        return self._format([p.steps[index].outs[k] for p in self.cls.instances])

    def of_child(self, path: tuple[str, ...]) -> str:
        """The output shape of the member at ``path`` (inside sequential scopes)."""
        nodes = []
        for plan in self.cls.instances:
            for name in path[:-1]:
                plan = plan.children[name]
            step = next(s for s in plan.steps if s.target == path[-1] and not s.is_function)
            nodes.append(step.outs[0])
        return self._format(nodes)

    def _format(self, nodes: list[int]) -> str:
        shapes = [self.graph.nodes[n]["shape"] for n in nodes]
        rank = len(shapes[0])
        dims = [self._dim(axis, rank, [s[axis] for s in shapes]) for axis in range(rank)]
        return "[" + ", ".join(["N", *dims]) + "]"

    def _dim(self, axis: int, rank: int, values: list) -> str:
        if same_values(values):
            return str(values[0])
        found = express(values, [(p.name, p.values) for p in self.cls.params])
        if found is None:
            found = express(values, self._input_axis(axis, rank))
        return found[1] if found else "?"

    def _input_axis(self, axis: int, rank: int) -> list[tuple[str, list]]:
        """The instances' input size along ``axis``, under its letter (H, W, ...)."""
        if not self.cls.first.inputs:
            return []
        shapes = [self.graph.nodes[p.inputs[0]]["shape"] for p in self.cls.instances]
        letters = _AXES.get(len(shapes[0]), "")
        if len(shapes[0]) != rank or any(len(s) != rank for s in shapes):
            return []
        return [(letters[axis], [s[axis] for s in shapes])]
