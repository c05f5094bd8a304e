"""Receptive fields per spatial axis (Araujo et al., Distill 2019).

Along one axis, output unit ``u`` of a node sees the input pixels in the window
``[u·stride − padding, u·stride − padding + size − 1]`` of the network input:
``stride`` is the effective stride (jump), ``padding`` the effective padding,
and unit 0's centre lies at ``(size − 1)/2 − padding``.  A layer whose rule is
``AxisRF(k, s, p, d)`` maps its output unit ``u`` to its input window
``[u·s − p, u·s − p + d·(k − 1)]``, so through it

    size' = size + d·(k − 1)·stride,  stride' = s·stride,  padding' = padding + p·stride.

Upsampling layers have s < 1 and may have fractional padding and dilation;
their values stay exact (``Fraction``), and ``size`` is then the widest
window over output positions.  Several paths (residual, inception, dense)
join by the union of their windows; when their strides or centres differ the
field is flagged ``misaligned``.  A node that sees its whole input (global
pooling, linear, LSTM) is ``GLOBAL``; a node without spatial axes (after
flatten) has no field (``None``).  After Swin's windowed attention a unit's
window depends on its position in a way per-axis geometry cannot state: such
a node and what follows it keep their positions but claim no field
(``Unstated``) until an op that sees everything makes them ``GLOBAL``.

Values are exact integers, so absurd strides (``stride=2**62`` repeated) would
grow without bound and make every later step slower; they saturate at
``CAP`` pixels, beyond any tensor torch can hold, and the field says so.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from fractions import Fraction
from math import ceil, floor, lcm
from typing import Optional, Union

from ..ops.common import whole_axes_rf
from ..ops.registry import GLOBAL, NO_FIELD, WINDOWED, AxisRF, Permuted, get_op

Number = Union[int, Fraction]
CAP = 1 << 64  # pixels: larger than any axis a tensor can have


@dataclass(frozen=True)
class ReceptiveField:
    """The field of every output unit of a node, per spatial axis."""

    size: tuple[Number, ...]
    stride: tuple[Number, ...]
    padding: tuple[Number, ...]
    misaligned: bool = False
    saturated: bool = False  # some value reached CAP: the true one is at least as large
    dims: tuple[int, ...] = ()  # tensor dim of each axis after a permute; () = channels first (1..n)
    spread: tuple[tuple[int, int], ...] = ()  # (fewest, most) pixels per axis over output positions

    @property
    def position_dependent(self) -> bool:
        """Whether units see windows of different sizes (after upsampling: U-Net)."""
        return any(lo != hi for lo, hi in self.spread)

    @property
    def axis_dims(self) -> tuple[int, ...]:
        return self.dims or tuple(range(1, len(self.size) + 1))

    @cached_property
    def integral(self) -> bool:
        """Whether every value is an int: no upsampling layer before it, so the
        closed form is exact for every output unit."""
        return all(type(v) is int for v in (*self.size, *self.stride, *self.padding))

    @cached_property
    def center(self) -> tuple[Union[Number, float], ...]:
        """Where the centre of output unit 0's window lies, in input pixels (x.5 as a float)."""
        return tuple(_half_or_whole(Fraction(r - 1, 2) - p) if isinstance(r, int) and isinstance(p, int)
                     else Fraction(r - 1, 2) - p for r, p in zip(self.size, self.padding))

    @cached_property
    def pixels(self) -> tuple[int, ...]:
        """Whole input pixels in the widest window, per axis."""
        if self.spread:
            return tuple(hi for _, hi in self.spread)
        if self.integral:
            return self.size
        return tuple(_widest(r, s, p) for r, s, p in zip(self.size, self.stride, self.padding))

    @property
    def largest(self) -> int:
        return max(self.pixels)  # a field has one axis or more (identity_field)


@dataclass(frozen=True)
class Unstated:
    """Positions still match the input's, but no field is claimed (see the module
    docstring); ``dims``: the tensor dims that hold the spatial axes (None: unknown)."""

    dims: Optional[tuple[int, ...]]


Field = Union[ReceptiveField, Unstated, str, None]  # str: GLOBAL


def identity_field(axes: int) -> Optional[ReceptiveField]:
    """The field of an input: each unit sees itself."""
    return ReceptiveField((1,) * axes, (1,) * axes, (0,) * axes) if axes else None


def receptive_fields(graph) -> None:
    """Write ``rf`` (ReceptiveField, GLOBAL or None) on every node."""
    nodes = graph.nodes
    for node, data in nodes(data=True):
        if data["op"] == "input":
            data["rf"] = identity_field(len(data["shape"]) - 1)
            continue
        inputs = [nodes[i] for i in data["inputs"]]
        field = node_field(data, inputs)
        if isinstance(field, ReceptiveField) and not field.integral and not field.spread:
            field = replace(field, spread=_spread(graph, node, field))
        data["rf"] = field


def node_field(data: dict, inputs: list[dict]) -> Field:
    """The field of one node from its inputs' fields and its op's rule."""
    fields = [d["rf"] for d in inputs]
    if GLOBAL in fields:
        return GLOBAL
    unstated = next((f for f in fields if isinstance(f, Unstated)), None)
    if unstated is not None:
        return _after_unstated(data, inputs, unstated)
    joined = join(fields)
    rule = layer_rule(data, inputs, joined)
    if rule == GLOBAL:
        return GLOBAL
    if rule == WINDOWED:
        return Unstated(joined.axis_dims) if isinstance(joined, ReceptiveField) else joined
    if rule == NO_FIELD:  # positions stop matching the input's (reshape, spatial concat)
        return None
    if joined is None or joined == GLOBAL:
        return joined
    if isinstance(rule, Permuted):
        moved = tuple(rule.order.index(d) for d in joined.axis_dims)
        canonical = moved == tuple(range(1, len(moved) + 1))
        return replace(joined, dims=() if canonical else moved, spread=())
    if rule is None:  # pointwise, unless the op reshapes the spatial axes away
        same_rank = len(data["shape"]) == len(inputs[0]["shape"]) if joined.dims else \
            len(data["shape"]) - 1 == len(joined.size)
        # one input: positions, centre unit and period are the input's, so is its spread
        spread = joined.spread if len(inputs) == 1 else ()
        return replace(joined, spread=spread) if same_rank else None
    if len(rule) != len(joined.size):
        return None
    return through(joined, rule)


def _after_unstated(data: dict, inputs: list[dict], unstated: Unstated) -> Field:
    """A node reading an unstated field: global only where that is certain (it
    mixes every spatial axis, or an op that sees everything), none once the
    tensor is flat, else unstated (``dims`` None once a reshape hides them)."""
    fields = [d["rf"] for d in inputs]
    if any(f is None for f in fields) and len({tuple(d["shape"]) for d in inputs}) > 1:
        return GLOBAL  # as join(): a flat path mixes unaligned positions
    spec, shapes, dims = get_op(data["op"]), [d["shape"] for d in inputs], unstated.dims
    if spec.mixes is not None:
        mixed = spec.mixes(data["args"], shapes)
        if dims is not None and all(d in mixed for d in dims):  # an unstated input has rank ≥ 2
            return GLOBAL
        rule = None
    else:
        rule = spec.rf(data["args"], shapes) if spec.rf else None
    if rule == GLOBAL:
        return GLOBAL
    if len(data["shape"]) < 2:
        return None  # flat: no positions left
    if isinstance(rule, Permuted) and dims is not None:
        return Unstated(tuple(rule.order.index(d) for d in dims))
    kept = dims is not None and rule != NO_FIELD and not isinstance(rule, Permuted) \
        and len(data["shape"]) == len(shapes[0])
    return unstated if kept else Unstated(None)


def layer_rule(data: dict, inputs: list[dict], joined: Field = None):
    """What the op does to its input's field ``joined``: per-axis geometry (``AxisRF``
    list), GLOBAL, NO_FIELD, Permuted, or None (pointwise)."""
    spec = get_op(data["op"])
    shapes = [d["shape"] for d in inputs]
    if spec.mixes is not None and isinstance(joined, ReceptiveField):
        return _mixing(spec.mixes(data["args"], shapes), shapes[0], joined)
    if isinstance(joined, ReceptiveField) and joined.dims and spec.rf is not None:
        rule = spec.rf(data["args"], shapes)  # its geometry assumes channels first
        return rule if rule in (GLOBAL, NO_FIELD, WINDOWED) or isinstance(rule, Permuted) else NO_FIELD
    return spec.rf(data["args"], shapes) if spec.rf else None


def _mixing(mixed: tuple[int, ...], shape, field: ReceptiveField):
    """An op that mixes whole dims (linear, layernorm, softmax): a window as wide as
    each mixed spatial axis, pointwise along the others (channels-last linear)."""
    return whole_axes_rf(shape, mixed, field.axis_dims)


def through(field: ReceptiveField, rule: list[AxisRF]) -> ReceptiveField:
    """The field after one layer with per-axis geometry ``rule``."""
    size, stride, padding = [], [], []
    for r, s, p, layer in zip(field.size, field.stride, field.padding, rule):
        k, ls, lp, d = (exact(x) for x in (layer.kernel, layer.stride, layer.padding, layer.dilation))
        size.append(r + d * (k - 1) * s)
        stride.append(ls * s)
        padding.append(p + lp * s)
    return _bounded(size, stride, padding, field.misaligned, field.saturated, field.dims)


def _bounded(size, stride, padding, misaligned: bool, saturated: bool, dims=()) -> ReceptiveField:
    """A field whose values are clipped to ±CAP (``saturated`` once any was)."""
    values = (size, stride, padding)
    if any(abs(v) > CAP for axis in values for v in axis):
        values = [[max(-CAP, min(CAP, v)) for v in axis] for axis in values]
        saturated = True
    return ReceptiveField(*(tuple(axis) for axis in values), misaligned, saturated, tuple(dims))


def _half_or_whole(value: Fraction) -> Union[int, float]:
    """An integral centre as an int, a half-pixel one as a float (x.5)."""
    return int(value) if value.denominator == 1 else float(value)


def join(fields: list[Field]) -> Field:
    """Union of the windows of several paths meeting at a merge (one path: its own field)."""
    first = fields[0]
    if all(f == first for f in fields[1:]):
        return first
    if any(f is None for f in fields) or len({(len(f.size), f.dims) for f in fields}) != 1:
        return GLOBAL  # a flat, differently shaped or permuted input mixes unaligned positions
    axes = range(len(first.size))
    start = [min(-f.padding[a] for f in fields) for a in axes]
    end = [max(f.size[a] - 1 - f.padding[a] for f in fields) for a in axes]
    misaligned = (any(f.misaligned for f in fields) or len({f.stride for f in fields}) > 1
                  or len({f.center for f in fields}) > 1)
    exactness = int if all(f.integral for f in fields) else Fraction  # a fractional path stays visible
    return _bounded([exactness(e - s + 1) for s, e in zip(start, end)],
                    [exactness(max(f.stride[a] for f in fields)) for a in axes],
                    [exactness(-s) for s in start], misaligned, any(f.saturated for f in fields),
                    first.dims)


def exact(value) -> Number:
    """An int or a Fraction for a rule's number.  The built-in rules already give
    those (upsampling converts its scale factors itself); an op's rule may still
    give a float (AxisRF allows one), taken as the simplest nearby fraction."""
    if isinstance(value, (int, Fraction)):
        return value
    if float(value).is_integer():
        return int(value)
    return Fraction(value).limit_denominator(1 << 20)


def _widest(size: Number, stride: Number, padding: Number) -> int:
    """Most whole pixels a window ``[u·stride − padding, … + size − 1]`` holds over units ``u``."""
    period = Fraction(stride).denominator
    return max(floor(start + size - 1) - ceil(start) + 1
               for start in (u * stride - padding for u in range(min(period, 64))))


def feature_node(graph, output: int) -> Optional[int]:
    """The node whose field describes the network: ``output`` itself if it has a
    spatial field, else its nearest ancestor that has one (the last feature map
    before global pooling or flattening)."""
    nodes = graph.nodes
    best, stack, seen = None, [output], {output}
    while stack:
        node = stack.pop()
        if isinstance(nodes[node]["rf"], ReceptiveField):
            best = node if best is None else max(best, node)
            continue
        for source in nodes[node]["inputs"]:
            if source not in seen:
                seen.add(source)
                stack.append(source)
    return best


def centre_field(graph, node: int) -> ReceptiveField:
    """The exact field, on the main input, of the centre unit of ``node`` (a node
    with a spatial field).

    The per-node ``rf`` composes real-valued windows, which after an upsampling
    layer cover every phase of the output grid; here integer index ranges are
    carried back from the one centre unit, so the size is exact in every case.
    Stride and the misalignment flag are the node's; padding places this size.
    """
    field = graph.nodes[node]["rf"]
    if field.integral:
        return field
    unit = _centre_unit(graph, node, field)
    box = _input_box(graph, node, [(u, u) for u in unit], graph.graph["inputs"][0]["node"])
    if box is None:  # the feature map is computed from another input only
        return None
    size = tuple(hi - lo + 1 for lo, hi in box)
    padding = tuple(u * s - lo for u, s, (lo, _) in zip(unit, field.stride, box))
    return ReceptiveField(size, field.stride, padding, field.misaligned, field.saturated,
                          field.dims, field.spread)


def _period(graph, node: int, field: ReceptiveField) -> int:
    """Units after which the windows repeat: each coarser grid upstream rounds unit
    positions with its own phase (an encoder at stride 8 under a decoder at stride 2: 4)."""
    period, stack, seen = 1, [node], {node}
    while stack:
        for source in graph.nodes[stack.pop()]["inputs"]:
            if source not in seen:
                seen.add(source)
                stack.append(source)
    for ancestor in seen - {node}:
        upstream = graph.nodes[ancestor].get("rf")
        if isinstance(upstream, ReceptiveField) and len(upstream.stride) == len(field.stride):
            for mine, theirs in zip(field.stride, upstream.stride):
                if theirs:
                    period = lcm(period, (Fraction(mine) / Fraction(theirs)).denominator)
                if period >= 64:
                    return period
    return period


def _centre_unit(graph, node: int, field: ReceptiveField) -> list[int]:
    shape = graph.nodes[node]["shape"]
    return [(shape[d] - 1) // 2 for d in field.axis_dims]


def _spread(graph, node: int, field: ReceptiveField) -> tuple[tuple[int, int], ...]:
    """(fewest, most) whole pixels per axis over the units of one period of the output
    grid around the centre, each carried back exactly (sizes repeat with that period)."""
    period = min(_period(graph, node, field), 64)
    centre = _centre_unit(graph, node, field)
    sizes = []
    for shift in range(period):
        box = _input_box(graph, node, [(u + shift, u + shift) for u in centre], graph.graph["inputs"][0]["node"])
        if box is None:  # computed from another input only: keep the composed estimate
            return ()
        sizes.append([hi - lo + 1 for lo, hi in box])
    return tuple((min(axis), max(axis)) for axis in zip(*sizes))


def _input_box(graph, node: int, box: list, source: int) -> Optional[list[tuple[int, int]]]:
    """Carry index ranges back from ``node`` (ids are topological) to input ``source``."""
    nodes = graph.nodes
    boxes = {node: box}
    for current in range(node, source, -1):
        box = boxes.pop(current, None)
        if box is None or nodes[current]["op"] == "input":
            continue
        data = nodes[current]
        inputs = [nodes[i] for i in data["inputs"]]
        fields = [d["rf"] for d in inputs]
        rule = layer_rule(data, inputs, join(fields))
        keeps = rule is None or isinstance(rule, Permuted)  # axes move, their positions do not
        before = box if keeps else [_back(lo, hi, axis) for (lo, hi), axis in zip(box, rule)]
        for i in data["inputs"]:
            seen = boxes.get(i)
            boxes[i] = before if seen is None else [(min(a, c), max(b, d))
                                                     for (a, b), (c, d) in zip(seen, before)]
    return boxes.get(source)  # None: ``node`` does not depend on ``source``


def _back(lo: int, hi: int, layer: AxisRF) -> tuple[int, int]:
    """Input pixels read by output units lo..hi of a layer with geometry ``layer``."""
    k, s, p, d = (exact(x) for x in (layer.kernel, layer.stride, layer.padding, layer.dilation))
    first, last = ceil(lo * s - p), floor(hi * s - p + d * (k - 1))
    if not layer.scatter:
        return first, last
    # a transposed conv: input i reaches outputs i·S − P + j·D only; drop ends that reach none
    big_s, big_d = 1 / s, d / s
    big_p = big_d * (k - 1) - p * big_s
    reaches = lambda i: any(lo <= i * big_s - big_p + j * big_d <= hi for j in range(k))
    while first < last and not reaches(first):
        first += 1
    while last > first and not reaches(last):
        last -= 1
    return first, last
