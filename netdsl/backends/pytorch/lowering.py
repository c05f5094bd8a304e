"""IR graph → a tree of scope plans: the one source of truth for both the
in-memory ``nn.Module`` and the generated Python source.

A ``ScopePlan`` is one module of the tree: its children (leaf layers and
nested scopes, in numbering order) and a straight-line forward (``steps``).
A scope whose steps are a plain chain of its children becomes
``nn.Sequential`` — exactly how torchvision builds ``features``/``layer1``.
Torch is not imported here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

from ...ir import Graph

from ...ops.registry import TorchCall, get_op


@dataclass
class Leaf:
    """One layer module: the constructor to call and what to do after."""

    name: str
    node: int
    call: TorchCall
    inits: list[tuple[str, dict]] = field(default_factory=list)  # (param prefix, init spec)
    trainable: bool = True


class ParamLeaf(Leaf):
    """A learned tensor: an ``nn.Parameter`` attribute of its scope, not a child
    module (``call.kwargs["shape"]`` is its shape; no init: zeros)."""


@dataclass
class Step:
    """``outs = target(*inputs, **kwargs)``; target is a child name or a function path."""

    target: str
    inputs: list[int]
    outs: list[int]
    kwargs: dict = field(default_factory=dict)
    is_function: bool = False
    is_param: bool = False  # ``expand_batch(self.<target>, input)``


@dataclass
class ScopePlan:
    path: tuple[str, ...]
    block: Optional[str]
    children: dict[str, Union[Leaf, "ScopePlan"]] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    #: indices of steps only auxiliary outputs need: skipped in eval mode (the root only)
    training_only: frozenset = frozenset()
    #: the root of an inference plan: the (conv, batch norm) pairs folded (``fold_plan.Fold``)
    folds: list = field(default_factory=list)
    #: the root's outputs declared ``aux=true``: training aids, as torchvision's aux heads
    aux_outputs: frozenset = frozenset()
    #: the root's tied weights: (layer path, owner path), applied once every layer exists
    ties: list = field(default_factory=list)

    @property
    def eval_outputs(self) -> list[int]:
        """What forward returns in eval mode: every output but the auxiliary ones."""
        return [o for o in self.outputs if o not in self.aux_outputs]

    @property
    def name(self) -> str:
        return self.path[-1] if self.path else ""

    @property
    def empty(self) -> bool:
        """No steps, and no children but empty scopes (``c: { }``): a bare ``nn.Module()``."""
        return not self.steps and all(isinstance(c, ScopePlan) and c.empty for c in self.children.values())

    @property
    def sequential(self) -> bool:
        """True when forward is ``x = child(x)`` over every child in order."""
        if not self.path or len(self.inputs) != 1 or len(self.outputs) != 1:
            return False
        if any(isinstance(c, ParamLeaf) for c in self.children.values()):
            return False  # nn.Sequential runs modules only
        if [s.target for s in self.steps] != list(self.children) or not self.steps:
            return False
        value = self.inputs[0]
        for step in self.steps:
            if step.is_function or step.inputs != [value] or len(step.outs) != 1:
                return False
            value = step.outs[0]
        return value == self.outputs[0]


def lower(graph: Graph, fold_batchnorm: bool = False) -> ScopePlan:
    """Build the scope-plan tree of an elaborated (and param-counted) graph;
    ``fold_batchnorm``: the inference plan, batch norms folded into the conv
    or linear before them (``fold_plan.py``)."""
    plans = _make_plans(graph)
    members = _members(graph, plans)
    leaves = _leaves_by_scope(graph)
    for path, plan in plans.items():
        if path:
            plan.inputs, plan.outputs = _boundary(graph, members[path])
    for path, plan in plans.items():
        _fill_children(graph, plan, plans, leaves.get(path, {}))
        _fill_steps(graph, plan, members, plans)
    root = plans[()]
    root.inputs = [i["node"] for i in graph.graph["inputs"]]
    root.outputs = [o["node"] for o in graph.graph["outputs"]]
    root.aux_outputs = frozenset(o["node"] for o in graph.graph["outputs"] if o.get("aux"))
    root.ties = [(data["path"], graph.nodes[data["tied_to"]]["path"])
                 for _, data in graph.nodes(data=True) if "tied_to" in data]
    if fold_batchnorm:
        from .fold_plan import fold_plan
        root.folds = fold_plan(root, graph)
    _name_unnamed_layers(root, graph)
    root.training_only = frozenset(_needed(root, root.outputs) - _needed(root, root.eval_outputs))
    return root


def layer_paths(root: ScopePlan) -> dict[int, str]:
    """IR node → the module path of its layer (``layer1.0.relu`` for the IR's
    ``layer1.0.2``: unnamed parameter-free layers are named after their op)."""
    paths, stack = {}, [root]
    while stack:
        plan = stack.pop()
        for name, child in plan.children.items():
            if isinstance(child, Leaf):
                paths[child.node] = ".".join(plan.path + (name,))
            else:
                stack.append(child)
    return paths


def is_inline_sequential(plan: ScopePlan) -> bool:
    """Anonymous numbered chains without initializers print as ``nn.Sequential(...)``
    (torchvision's ``features``); their numbers are their positions."""
    numbered = list(plan.children) == [str(i) for i in range(len(plan.children))]
    plain = not any(isinstance(c, Leaf) and c.inits for c in plan.children.values())
    return plan.block is None and plan.sequential and numbered and plain


def _name_unnamed_layers(plan: ScopePlan, graph: Graph) -> None:
    """Unnamed layers that hold no tensors take their op's name (``relu``,
    ``relu_1``) instead of their number, so code reads ``self.relu``; numbered
    layers with parameters or buffers keep their number (their state_dict
    keys, torchvision's), and so does every member of an inline Sequential."""
    for child in plan.children.values():
        if isinstance(child, ScopePlan):
            _name_unnamed_layers(child, graph)
    if plan.path and is_inline_sequential(plan):
        return
    taken, renamed, counts = set(plan.children), {}, {}
    for name, child in plan.children.items():
        data = graph.nodes[child.node] if isinstance(child, Leaf) else None
        if data is not None and name.isdigit() and not data["params"] and not data["buffers"]:
            renamed[name] = child.name = _numbered(data["op"], taken, counts)
            taken.add(child.name)
    if renamed:
        plan.children = {renamed.get(n, n): c for n, c in plan.children.items()}
        for step in plan.steps:
            if not step.is_function:
                step.target = renamed.get(step.target, step.target)


def _numbered(base: str, taken: set, counts: dict) -> str:
    """``base``, else ``base_1``, ``base_2``... (``counts``: where to go on looking)."""
    base = base if base.isidentifier() and not base.startswith("_") else "layer"
    count, name = counts.get(base, 0), base if base not in counts else ""
    while not name or name in taken:
        count += 1
        name = f"{base}_{count}"
    counts[base] = count
    return name


def _needed(plan: ScopePlan, values: list[int]) -> set[int]:
    """Indices of the steps that compute ``values``."""
    wanted, needed = set(values), set()
    for index in reversed(range(len(plan.steps))):
        step = plan.steps[index]
        if wanted.intersection(step.outs):
            needed.add(index)
            wanted.update(step.inputs)
    return needed


def _make_plans(graph: Graph) -> dict[tuple, ScopePlan]:
    return {path: ScopePlan(path, info.block) for path, info in graph.graph["scopes"].items()}


def _members(graph: Graph, plans: dict) -> dict[tuple, list[int]]:
    """Every scope's nodes, its nested scopes' included, in creation order."""
    members: dict[tuple, list[int]] = {path: [] for path in plans}
    for node in sorted(graph.nodes):
        scope = graph.nodes[node]["scope"]
        for depth in range(len(scope) + 1):
            members[scope[:depth]].append(node)
    return members


def _leaves_by_scope(graph: Graph) -> dict[tuple, dict[str, int]]:
    leaves: dict[tuple, dict[str, int]] = {}
    for node, data in graph.nodes(data=True):
        if data["name"] is not None:
            leaves.setdefault(data["scope"], {})[data["name"]] = node
    return leaves


def _fill_children(graph: Graph, plan: ScopePlan, plans: dict, leaves: dict) -> None:
    for name in graph.graph["scopes"][plan.path].children:
        if name in leaves:
            plan.children[name] = _leaf(graph, leaves[name])
        else:
            plan.children[name] = plans[plan.path + (name,)]


def _leaf(graph: Graph, node: int) -> Leaf:
    data = graph.nodes[node]
    spec, args = get_op(data["op"]), data["args"]
    ins = [graph.nodes[i]["shape"] for i in data["inputs"]]
    if data["op"] == "parameter":
        inits = [("", args["init"])] if args.get("init") is not None else []
        return ParamLeaf(data["name"], node, spec.torch(args, ins), inits, args.get("trainable", True))
    inits = [(prefix, args[key]) for key, prefix in (("init", "weight"), ("bias_init", "bias"))
             if args.get(key) is not None]
    return Leaf(data["name"], node, spec.torch(args, ins), inits, args.get("trainable", True))


def _fill_steps(graph: Graph, plan: ScopePlan, members: dict, plans: dict) -> None:
    depth, emitted = len(plan.path), set()
    for node in members[plan.path]:
        data = graph.nodes[node]
        if data["op"] == "input":
            continue
        if data["scope"] == plan.path:
            plan.steps.append(_node_step(graph, node))
            continue
        child = data["scope"][: depth + 1]
        if child not in emitted:
            emitted.add(child)
            sub = plans[child]
            plan.steps.append(Step(child[-1], list(sub.inputs), list(sub.outputs)))


def _node_step(graph: Graph, node: int) -> Step:
    data = graph.nodes[node]
    if data["name"] is not None:
        return Step(data["name"], list(data["inputs"]), [node], is_param=data["op"] == "parameter")
    spec = get_op(data["op"])
    call = spec.torch(data["args"], [graph.nodes[i]["shape"] for i in data["inputs"]])
    return Step(call.target, list(data["inputs"]), [node], dict(call.kwargs), is_function=True)


def _boundary(graph: Graph, nodes: list[int]) -> tuple[list[int], list[int]]:
    """Values flowing into a set of nodes from outside, and out of it."""
    inside = set(nodes)
    ins: list[int] = []
    for node in nodes:
        for src in graph.nodes[node]["inputs"]:
            if src not in inside and src not in ins:
                ins.append(src)
    network_outs = {o["node"] for o in graph.graph["outputs"]}
    outs = [n for n in nodes if n in network_outs or any(s not in inside for s in graph.successors(n))]
    if not outs and nodes:  # a dead-end scope (its value is never used) still returns its last value
        outs = [nodes[-1]]
    return ins, outs
