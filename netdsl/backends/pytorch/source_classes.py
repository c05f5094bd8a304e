"""Scope plans → the classes of generated PyTorch source (no torch here).

Every scope of the plan tree becomes either an inline ``nn.Sequential(...)``
expression (an anonymous, numerically named chain) or an instance of a
generated class.  Scopes with the same structure share one class; the
constructor arguments that differ between them become the class's
parameters, named after the block's own arguments where the values line up
(``Basic(c)`` rather than ``Basic_64``, ``Basic_128``...).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Optional, Union

from ...ir import Graph
from .lowering import Leaf, ScopePlan, is_inline_sequential
from .safe import fresh_name, is_plain_name

Child = Union[Leaf, ScopePlan]
#: Functions the source writes inline (``a + b``, ``a * b``, ``torch.cat``): never imported.
INLINE_FUNCTIONS = frozenset({"netdsl.runtime.add", "netdsl.runtime.mul", "netdsl.runtime.concat"})
SlotKey = tuple[tuple[str, ...], str]  # (member path inside the class, argument name)


@dataclass
class Param:
    """One constructor parameter of a generated class: its value per instance."""

    name: str
    values: list


@dataclass
class ClassDef:
    name: str
    instances: list[ScopePlan]
    params: list[Param] = field(default_factory=list)
    slot_exprs: dict[SlotKey, str] = field(default_factory=dict)
    #: ``slot_exprs`` by member: member path → {argument name: expression}
    member_exprs: dict[tuple[str, ...], dict[str, str]] = field(default_factory=dict)

    @property
    def first(self) -> ScopePlan:
        return self.instances[0]

    @property
    def is_root(self) -> bool:
        return not self.first.path

    @cached_property
    def sequential(self) -> bool:
        """Cached: ``ScopePlan.sequential`` walks every step on each call."""
        return self.first.sequential


@dataclass
class SourcePlan:
    """The classes to write (dependencies first, the network last) and who uses which."""

    classes: list[ClassDef]
    class_of: dict[int, ClassDef]  # id(scope plan) → its class; absent: inline nn.Sequential
    args_of: dict[int, list]       # id(scope plan) → constructor argument values
    imported: frozenset[str] = frozenset()  # names the module imports (netdsl.runtime's)

    @property
    def module_names(self) -> frozenset[str]:
        """Module-level names: no parameter or variable may take one."""
        return self.imported | {c.name for c in self.classes}

    def class_for(self, plan: ScopePlan) -> Optional[ClassDef]:
        return self.class_of.get(id(plan))


def camel_case(name: str) -> str:
    """``vgg_stage`` → ``VggStage``; ``layer1`` → ``Layer1``."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name) if w]
    text = "".join(w[0].upper() + w[1:] for w in words) or "Scope"
    return text if text[0].isalpha() else "Scope" + text


def plan_classes(root: ScopePlan, graph: Graph) -> SourcePlan:
    """Group the scope tree into classes and infer each class's parameters."""
    groups: dict[tuple, list[ScopePlan]] = {}
    _collect(root, groups, {})
    imported = imported_names(root)
    classes = _name_classes(groups, imported)
    plan = SourcePlan(classes, {}, {}, imported)
    reserved = plan.module_names
    for cls in classes:
        for instance in cls.instances:
            plan.class_of[id(instance)] = cls
        _infer_params(cls, plan, graph, reserved)
    return plan


def _collect(plan: ScopePlan, groups: dict, memo: dict) -> None:
    """Post-order: a class's children are grouped before the class itself."""
    for child in plan.children.values():
        if isinstance(child, ScopePlan):
            _collect(child, groups, memo)
    if plan.path and (is_inline_sequential(plan) or plan.empty):
        return
    groups.setdefault(_signature(plan, memo), []).append(plan)


def _signature(plan: ScopePlan, memo: dict) -> tuple:
    """Everything about a scope except the values that may become parameters."""
    if id(plan) not in memo:
        members = tuple((name, _member_signature(c, memo)) for name, c in plan.children.items())
        memo[id(plan)] = (_base_name(plan), plan.sequential, members, _steps_signature(plan))
    return memo[id(plan)]


def _member_signature(child: Child, memo: dict) -> tuple:
    if isinstance(child, Leaf):
        inits = tuple((prefix, tuple(sorted(spec.items()))) for prefix, spec in child.inits)
        return ("leaf", child.call.target, tuple(child.call.kwargs), inits, child.trainable)
    if child.empty:
        return ("empty",)
    if is_inline_sequential(child):
        return ("seq",) + tuple((n, _member_signature(c, memo)) for n, c in child.children.items())
    return ("class", _signature(child, memo))


def _steps_signature(plan: ScopePlan) -> tuple:
    """The forward's data flow with node ids renumbered locally."""
    local: dict[int, int] = {}

    def index(node: int) -> int:
        return local.setdefault(node, len(local))

    for node in plan.inputs:
        index(node)
    steps = tuple((s.target, s.is_function, tuple(map(index, s.inputs)), tuple(map(index, s.outs)),
                   repr(sorted(s.kwargs.items()))) for s in plan.steps)
    return steps, tuple(map(index, plan.outputs))


def _base_name(plan: ScopePlan) -> str:
    if plan.block is not None:
        return camel_case(plan.block)
    return camel_case(plan.name) if not plan.name.isdigit() else "Scope" + plan.name


def imported_names(root: ScopePlan) -> frozenset[str]:
    """What generated source will import: every class or function outside torch
    that it does not write inline."""
    targets, stack = [], [root]
    while stack:
        plan = stack.pop()
        for child in plan.children.values():
            if isinstance(child, Leaf):
                targets.append(child.call.target)
            else:
                stack.append(child)
        targets += [s.target for s in plan.steps if s.is_function and s.target not in INLINE_FUNCTIONS]
        targets += ["netdsl.runtime.expand_batch" for s in plan.steps if s.is_param]
    targets += ["netdsl.runtime.tie_weight" for _ in root.ties[:1]]
    return frozenset(t.rpartition(".")[2] for t in targets if not t.startswith("torch"))


def _name_classes(groups: dict[tuple, list[ScopePlan]], imported: frozenset[str]) -> list[ClassDef]:
    """Variants of one base name get a suffix: their one extra child, else ``_2``..."""
    classes: list[ClassDef] = []
    taken: dict[str, ScopePlan] = {}
    next_suffix: dict[str, int] = {}  # base → the first ``_N`` not yet known to be taken
    for signature, instances in groups.items():
        base = fresh_name(signature[0], imported)  # never ``None``, ``Exception``, an import
        name = base
        if base in taken:
            extra = [n for n in instances[0].children
                     if n not in taken[base].children and not n.isdigit()]
            name = base + camel_case(extra[0]) if len(extra) == 1 else base
            count = next_suffix.get(base, 2)
            while name in taken:
                name, count = f"{base}_{count}", count + 1
            next_suffix[base] = count
        taken.setdefault(base, instances[0])
        taken[name] = instances[0]
        classes.append(ClassDef(name, instances))
    return classes


# ------------------------------------------------------------ parameters
def _slots(plan: ScopePlan, source: SourcePlan, path: tuple = ()) -> dict[SlotKey, Any]:
    """Every constructor value inside one scope instance, keyed by where it goes."""
    slots: dict[SlotKey, Any] = {}
    for name, child in plan.children.items():
        key = path + (name,)
        if isinstance(child, Leaf):
            slots.update({(key, k): v for k, v in child.call.kwargs.items()})
        elif source.class_for(child) is None:
            slots.update(_slots(child, source, key))
        else:
            params = source.class_for(child).params
            slots.update({(key, p.name): v for p, v in zip(params, source.args_of[id(child)])})
    return slots


def _infer_params(cls: ClassDef, source: SourcePlan, graph: Graph, reserved: frozenset[str]) -> None:
    """Values that differ between instances become parameters, named where possible."""
    per_instance = [_slots(p, source) for p in cls.instances]
    candidates = _candidates(cls.instances, graph, reserved)
    known = Candidates(candidates)
    generic: list[tuple[str, list]] = []
    taken = set(reserved) | {n for n, _ in candidates}
    used: set[str] = set()
    for key in per_instance[0]:
        values = [slots[key] for slots in per_instance]
        if same_values(values):
            continue
        found = known.express(values)
        if found is None:
            name = _generic_name(key, taken)
            generic.append((name, values))
            known.add(name, values)
            taken.add(name)
            found = (name, name)
        used.add(found[0])
        cls.slot_exprs[key] = found[1]
        cls.member_exprs.setdefault(key[0], {})[key[1]] = found[1]
    ordered = sorted(candidates, key=lambda c: c[0] not in ("in_channels", "in_features"))
    cls.params = [Param(n, v) for n, v in ordered + generic if n in used]
    for index, instance in enumerate(cls.instances):
        source.args_of[id(instance)] = [p.values[index] for p in cls.params]


def _candidates(instances: list[ScopePlan], graph: Graph, reserved: set[str]) -> list[tuple[str, list]]:
    """Names a parameter may take: the block's arguments (renamed when they would
    shadow what generated code uses: ``nn`` → ``nn_``), then the input width."""
    infos = [graph.graph["scopes"][p.path] for p in instances]
    out: list[tuple[str, list]] = []
    for name in infos[0].args:
        if is_plain_name(name) and all(_is_literal(info.args.get(name)) for info in infos):
            others = (set(infos[0].args) - {name}) | {n for n, _ in out}
            out.append((fresh_name(name, reserved | others), [info.args[name] for info in infos]))
    shapes = [graph.nodes[p.inputs[0]]["shape"] if p.inputs else () for p in instances]
    if all(shapes) and all(len(s) == len(shapes[0]) for s in shapes):
        width = "in_features" if len(shapes[0]) == 1 else "in_channels"
        if width not in {n for n, _ in out}:
            out.append((width, [s[0] for s in shapes]))
    return out


def _is_literal(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_is_literal(v) for v in value)
    return isinstance(value, (int, float, str, bool))


def _generic_name(key: SlotKey, taken: set[str]) -> str:
    path, arg = key
    for name in (arg, "_".join(path + (arg,))):
        name = name if not name[0].isdigit() else "m" + name
        if is_unused(name, taken):
            return name
    count = 2
    while not is_unused(f"{arg}_{count}", taken):
        count += 1
    return f"{arg}_{count}"


def is_unused(name: str, taken: set[str] | frozenset[str]) -> bool:
    """``fresh_name(name, taken) == name`` without copying ``taken`` (which
    ``fresh_name`` does on every call: quadratic when called per member)."""
    return name not in taken and fresh_name(name) == name


def same_values(values: list) -> bool:
    """True when all values are equal and of one type (``True`` is not ``1``)."""
    return len({repr(v) for v in values}) == 1


def express(values: list, candidates: list[tuple[str, list]]) -> Optional[tuple[str, str]]:
    """(name, expression) of a candidate that yields ``values``: ``c``, ``c * 4``, ``c // 2``."""
    return Candidates(candidates).express(values)


class Candidates:
    """Named value lists (one value per instance), indexed so that finding the
    one that yields given values costs about the same however many there are:
    an exact match by the values' reprs, a multiple or divisor among those
    proportional to them (same values divided by their gcd).  The first
    candidate in order wins, as a plain scan would find it."""

    def __init__(self, candidates: list[tuple[str, list]] = ()):
        self._exact: dict[tuple, str] = {}
        self._proportional: dict[tuple, list[tuple[str, list]]] = {}
        for name, values in candidates:
            self.add(name, values)

    def add(self, name: str, values: list) -> None:
        self._exact.setdefault(tuple(map(repr, values)), name)
        if all(_positive_int(v) for v in values):
            self._proportional.setdefault(_reduced(values), []).append((name, values))

    def express(self, values: list) -> Optional[tuple[str, str]]:
        name = self._exact.get(tuple(map(repr, values)))
        if name is not None:
            return name, name
        if not all(_positive_int(v) for v in values):
            return None
        for name, known in self._proportional.get(_reduced(values), []):
            found = _scaled(name, known, values)
            if found is not None:
                return found
        return None


def _scaled(name: str, known: list, values: list) -> Optional[tuple[str, str]]:
    """``name * k`` or ``name // k`` when that gives ``values`` exactly."""
    if values[0] % known[0] == 0 and values[0] > known[0]:
        factor = values[0] // known[0]
        if all(v == k * factor for v, k in zip(values, known)):
            return name, f"{name} * {factor}"
    if known[0] % values[0] == 0 and known[0] > values[0]:
        factor = known[0] // values[0]
        if all(k % factor == 0 and v == k // factor for v, k in zip(values, known)):
            return name, f"{name} // {factor}"
    return None


def _reduced(values: list) -> tuple:
    """Positive integers divided by their gcd: equal for any two lists one of
    which is a whole multiple of the other."""
    divisor = math.gcd(*values)
    return tuple(v // divisor for v in values)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
