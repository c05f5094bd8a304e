"""Names in generated forwards: variables for values, and shape comments.

Variables: a chain reuses one name (``x``, or ``out`` while ``x`` is still
needed); a value kept for later (a branch, a skip, a dense feature) is named
after the layer that made it.  Shapes: a class shared by several scopes
prints each dimension as a number when all instances agree, else as a
parameter (``c``, ``c * 4``) or relative to its input (``H // 2``); instances
of different rank get one shape per rank (``[N, 1, 10] or [N, 10]``).
"""
from __future__ import annotations

from typing import Callable

from ...ir import Graph
from .lowering import ScopePlan, Step
from .safe import fresh_name
from .source_classes import Candidates, ClassDef, express, is_unused, same_values

_AXES = {1: "C", 2: "CL", 3: "CHW", 4: "CDHW"}


def value_names(plan: ScopePlan, inputs: list[str], producer_name: Callable[[Step], str],
                reserved: frozenset[str] = frozenset()) -> dict[int, str]:
    """A variable name for every value of a scope's forward; none is in ``reserved``
    (the module's class and imported names) or shadows a builtin."""
    uses = _uses(plan)
    variables = _Variables({node: max(steps) for node, steps in uses.items()}, reserved)
    names = dict(zip(plan.inputs, inputs))
    for node, name in names.items():
        variables.hold(name, node, -1)
    for index, step in enumerate(plan.steps):
        variables.release_at(index)
        for k, node in enumerate(step.outs):
            if len(step.outs) == 1 and _is_chain(plan, index, node, uses):
                name = _chain_name(step, names, variables)
            elif len(step.outs) == 1 and _is_tapped(plan, node, uses) and variables.is_free("x"):
                name = "x"
            else:
                name = variables.fresh(producer_name(step) + (f"_{k}" if len(step.outs) > 1 else ""))
            names[node] = name
            variables.hold(name, node, index)
    return names


def _uses(plan: ScopePlan) -> dict[int, list[int]]:
    """Value → the indices of the steps that read it (``len(steps)``: the scope's output)."""
    uses: dict[int, list[int]] = {}
    for index, step in enumerate(plan.steps):
        for node in step.inputs:
            uses.setdefault(node, []).append(index)
    for node in plan.outputs:
        uses.setdefault(node, []).append(len(plan.steps))
    return uses


class _Variables:
    """Which names hold a value still needed, step by step, in time linear in the steps.

    A name is free once the last step reading its value has come (or at once,
    for a value nobody reads); ``fresh`` takes the first free one of ``base``,
    ``base_2``, ``base_3``... and remembers how far the taken ones reach."""

    def __init__(self, last_use: dict[int, int], reserved: frozenset[str]):
        self.last_use = last_use
        self.reserved = reserved
        self.holder: dict[str, int] = {}             # name → the value it holds
        self.free: set[str] = set()                  # held names whose value is no longer needed
        self.expiring: dict[int, list[tuple[str, int]]] = {}  # step → (name, value) freed then
        self.next_suffix: dict[str, int] = {}        # base → first ``_N`` not known to be taken
        self.bases: dict[str, str] = {}              # producer name → a base that shadows nothing

    def hold(self, name: str, node: int, index: int) -> None:
        """``name`` takes ``node``'s value at step ``index``."""
        self.holder[name] = node
        self.free.discard(name)
        release = max(self.last_use.get(node, -1), index + 1)
        self.expiring.setdefault(release, []).append((name, node))

    def release_at(self, index: int) -> None:
        for name, node in self.expiring.pop(index, ()):
            if self.holder.get(name) == node:
                self.free.add(name)
                self._reopen(name)

    def _reopen(self, name: str) -> None:
        """A freed ``base_N`` lowers where ``fresh(base)`` starts looking."""
        base, _, suffix = name.rpartition("_")
        if suffix.isdigit() and base in self.next_suffix:
            self.next_suffix[base] = min(self.next_suffix[base], int(suffix))

    def is_free(self, name: str) -> bool:
        return name not in self.holder or name in self.free

    def fresh(self, base: str) -> str:
        """The first of ``base``, ``base_2``... that is free and shadows nothing."""
        if base not in self.bases:
            self.bases[base] = fresh_name(base, self.reserved)
        base = self.bases[base]
        if self._available(base):
            return base
        count = self.next_suffix.get(base, 2)
        while not self._available(f"{base}_{count}"):
            count += 1
        self.next_suffix[base] = count + 1  # the caller holds ``base_count`` next
        return f"{base}_{count}"

    def _available(self, name: str) -> bool:
        return self.is_free(name) and is_unused(name, self.reserved)


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


def _chain_name(step: Step, names: dict, variables: _Variables) -> str:
    """The input's name when it is a chain name itself, else ``x``, else ``out``."""
    options = ["x", "out"]
    if len(step.inputs) == 1 and names[step.inputs[0]] in options:
        options.insert(0, names[step.inputs[0]])
    for name in options:
        if variables.is_free(name):
            return name
    return variables.fresh("h")


class ShapeNamer:
    """Shape comments for one class, symbolic where its instances differ.

    Instances whose values differ in rank (a block used before and after a
    ``flatten``) cannot share one symbolic shape: the comment then lists each
    rank's shape, ``[N, 1, 10] or [N, 10]``, in the order instances use them."""

    def __init__(self, graph: Graph, cls: ClassDef):
        self.graph = graph
        self.cls = cls
        self._steps_by_target: dict[int, dict[str, Step]] = {}  # id(plan) → member → its step
        self._params: dict[tuple[int, ...], Candidates] = {}     # instance indices → parameters

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
            nodes.append(self._member_step(plan, path[-1]).outs[0])
        return self._format(nodes)

    def _member_step(self, plan: ScopePlan, member: str) -> Step:
        """The step that runs ``member`` (indexed once per scope, not searched per member)."""
        if id(plan) not in self._steps_by_target:
            index: dict[str, Step] = {}
            for step in plan.steps:
                if not step.is_function:
                    index.setdefault(step.target, step)
            self._steps_by_target[id(plan)] = index
        return self._steps_by_target[id(plan)][member]

    def _format(self, nodes: list[int]) -> str:
        shapes = [self.graph.nodes[n]["shape"] for n in nodes]
        by_rank: dict[int, list[int]] = {}
        for instance, shape in enumerate(shapes):
            by_rank.setdefault(len(shape), []).append(instance)
        return " or ".join(self._format_rank(shapes, instances) for instances in by_rank.values())

    def _format_rank(self, shapes: list[tuple], instances: list[int]) -> str:
        """One shape for the ``instances`` (indices into the class's), all of one rank."""
        rank = len(shapes[instances[0]])
        dims = [self._dim(axis, rank, instances, [shapes[i][axis] for i in instances])
                for axis in range(rank)]
        return "[" + ", ".join(["N", *dims]) + "]"

    def _dim(self, axis: int, rank: int, instances: list[int], values: list) -> str:
        if same_values(values):
            return str(values[0])
        found = self._parameters(instances).express(values)
        if found is None:
            found = express(values, self._input_axis(axis, rank, instances))
        return found[1] if found else "?"

    def _parameters(self, instances: list[int]) -> Candidates:
        """The class's parameters, restricted to ``instances``, indexed once."""
        key = tuple(instances)
        if key not in self._params:
            self._params[key] = Candidates([(p.name, [p.values[i] for i in instances])
                                            for p in self.cls.params])
        return self._params[key]

    def _input_axis(self, axis: int, rank: int, instances: list[int]) -> list[tuple[str, list]]:
        """The instances' input size along ``axis``, under its letter (H, W, ...)."""
        if not self.cls.first.inputs:
            return []
        shapes = [self.graph.nodes[self.cls.instances[i].inputs[0]]["shape"] for i in instances]
        letters = _AXES.get(rank, "")
        if axis >= len(letters) or any(len(s) != rank for s in shapes):
            return []
        return [(letters[axis], [s[axis] for s in shapes])]
