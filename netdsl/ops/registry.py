"""The op registry: each op is one ``OpSpec`` declaring everything about it.

An op declares its arguments as data (``Arg``), and small pure functions for
its output shape, its weights and buffers, its MACs and elementwise FLOPs,
its receptive-field geometry, and the torch constructor that implements it;
and the input dtypes it computes on (``dtypes``).
Nothing here imports torch: the torch rule returns a ``TorchCall`` naming a
class by its dotted path, which the backends instantiate or print.

Op families (one module each) import only this module and ``common``, the
rules they share; ``initializers`` checks ``init=`` values, ``dtypes`` the
dtypes flowing between ops.

Shapes exclude the batch dimension: ``(C, H, W)`` for images.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from ..errors import ArgumentError, UnknownName, suggest
from ..limits import check_count
from .dtypes import ACCEPTS
from .initializers import check_initializer, is_finite_number, range_hint

Shape = tuple[int, ...]
REQUIRED = object()

#: Argument kinds the binder knows how to check.
ARG_TYPES = {"int", "float", "bool", "str", "ints", "padding", "number", "any", "init", "shape", "floats"}


@dataclass(frozen=True)
class Arg:
    """One declared argument of an op."""

    name: str
    type: str
    default: Any = REQUIRED
    choices: tuple = ()
    doc: str = ""
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    above: Optional[float] = None  # exclusive lower bound: values must be > above
    count: bool = False  # a repetition count (stacked layers): bounded by the graph limit

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class TorchCall:
    """How torch implements a node: a class (module) or a function, by dotted path."""

    target: str
    kwargs: dict = field(default_factory=dict)
    functional: bool = False


@dataclass(frozen=True)
class AxisRF:
    """Receptive-field geometry of one layer along one spatial axis."""

    kernel: int = 1
    stride: float = 1  # < 1 for upsampling / transposed convolution
    padding: float = 0
    dilation: int = 1
    # a transposed conv's scatter: input i reaches only outputs i·S − P + j·D (S = 1/stride,
    # D = dilation·S), so a range of outputs may miss the ends of the relaxed input range
    scatter: bool = False


#: Marker returned by an ``rf`` rule for layers that see their whole input.
GLOBAL = "global"

#: Returned by an ``rf`` rule whose units each see a window that depends on where
#: they are (Swin's several attention windows): positions still match the input's,
#: but no per-axis geometry states the field, so none is claimed, here or after.
WINDOWED = "windowed"

#: Returned by an ``rf`` rule when output positions stop corresponding to input
#: positions (reshape, spatial concat): like after flatten, the node has no field.
NO_FIELD: tuple = ()


@dataclass(frozen=True)
class Permuted:
    """Returned by an ``rf`` rule of ops that reorder dims (permute, transpose):
    output dim i holds input dim ``order[i]``; positions move with their axis."""

    order: tuple[int, ...]


class Args(dict):
    """Bound, validated argument values; also readable as attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _no_weights(a: Args, ins: Sequence[Shape]) -> dict[str, Shape]:
    return {}


def _zero(a: Args, ins: Sequence[Shape], out: Shape) -> int:
    return 0


@dataclass(frozen=True)
class OpSpec:
    """Everything netdsl knows about one op."""

    name: str
    category: str
    doc: str
    args: tuple[Arg, ...]
    shape: Callable[[Args, Sequence[Shape]], Shape]
    torch: Callable[[Args, Sequence[Shape]], TorchCall]
    weights: Callable[[Args, Sequence[Shape]], dict[str, Shape]] = _no_weights
    buffers: Callable[[Args, Sequence[Shape]], dict[str, Shape]] = _no_weights
    macs: Callable[[Args, Sequence[Shape], Shape], int] = _zero
    flops: Callable[[Args, Sequence[Shape], Shape], int] = _zero
    rf: Optional[Callable[[Args, Sequence[Shape]], Any]] = None
    arity: Optional[int] = 1  # None: any number of inputs (merges)
    # with arity None: a layer (a module with weights) that reads the current value,
    # or its branches `op { @a\n @b }` as its inputs (cross-attention), not a merge
    layer_on_branches: bool = False
    # input dims whose positions every output mixes (linear: the last): the field
    # becomes whole along those that are spatial, and stays local along the others
    mixes: Optional[Callable[[Args, Sequence[Shape]], tuple[int, ...]]] = None
    aliases: tuple[str, ...] = ()
    input_rank: tuple[int, ...] = ()  # allowed input ranks (batch excluded); empty = any
    has_weights: bool = False  # accepts init= / bias_init=
    # the output is a (batch-expanded) view of the op's own weight and its input gives
    # only the batch size (a learned tensor): no gradient flows to the input, saving
    # it keeps weight memory, and writing into it would write into the weight
    weight_view: bool = False
    dtypes: str = "float"  # input dtypes it takes: a key of dtypes.ACCEPTS ("float", "integer", "any", ...)
    # (MACs, FLOPs) of work torch runs once per forward whatever the batch (Swin V2's
    # position-bias MLP): part of macs/flops, which are batch 1's; a batch of B counts it once
    once: Optional[Callable[[Args, Sequence[Shape]], tuple[int, int]]] = None
    # how many of the last inputs are bool masks (attention's key-padding mask), from the arguments
    masks: Optional[Callable[[Args], int]] = None

    def arg(self, name: str) -> Optional[Arg]:
        return next((a for a in self.args if a.name == name), None)


#: Arguments every op accepts; they steer training, not the op itself.
COMMON_ARGS = (
    Arg("trainable", "bool", True, doc="false freezes the layer's weights (transfer learning)"),
    Arg("lr_scale", "float", 1.0, doc="multiplier on the learning rate of this layer's weights"),
)
WEIGHT_ARGS = (
    Arg("init", "init", None, doc="initializer of the weight, e.g. kaiming_normal(mode=\"fan_out\")"),
    Arg("bias_init", "init", None, doc="initializer of the bias, e.g. constant(0)"),
    Arg("tie", "str", None, doc="module path of a layer whose weight this one shares "
                                "(GPT-2's head: tie=\"wte\"); counted, initialised and trained once"),
)

_OPS: dict[str, OpSpec] = {}


def register(spec: OpSpec) -> OpSpec:
    """Add an op (and its aliases) to the registry."""
    if spec.dtypes not in ACCEPTS:
        raise ValueError(f"op {spec.name!r}: dtypes={spec.dtypes!r} is not one of {sorted(ACCEPTS)}")
    for key in (spec.name, *spec.aliases):
        if key in _OPS:
            raise ValueError(f"op {key!r} registered twice")
        _OPS[key] = spec
    return spec


def all_ops() -> list[OpSpec]:
    """Every registered op once, in name order."""
    _load_builtin_ops()
    return sorted({id(s): s for s in _OPS.values()}.values(), key=lambda s: s.name)


def op_names() -> list[str]:
    _load_builtin_ops()
    return sorted(_OPS)


def is_weight_view(op: str) -> bool:
    """Whether ``op``'s output is a view of its own weight (``OpSpec.weight_view``);
    False for ``input`` and names the registry does not hold."""
    spec = get_op(op)
    return spec is not None and spec.weight_view


def get_op(name: str) -> Optional[OpSpec]:
    _load_builtin_ops()
    return _OPS.get(name)


def lookup(name: str, extra_names: Sequence[str] = ()) -> OpSpec:
    """The op called ``name``, or an UnknownName error with a did-you-mean."""
    spec = get_op(name)
    if spec is None:
        guess = suggest(name, [*_OPS, *extra_names])
        raise UnknownName(f"unknown op or block '{name}'", hint=f"did you mean '{guess}'?" if guess else None)
    return spec


def all_args(spec: OpSpec) -> tuple[Arg, ...]:
    extra = WEIGHT_ARGS if spec.has_weights else ()
    return spec.args + extra + COMMON_ARGS


def bind_args(spec: OpSpec, positional: Sequence[Any], keywords: dict[str, Any]) -> Args:
    """Match call arguments to the spec's declared arguments and validate them."""
    declared = all_args(spec)
    names = [a.name for a in declared]
    if len(positional) > len(spec.args):
        raise ArgumentError(f"{spec.name} takes at most {len(spec.args)} positional "
                            f"argument(s), got {len(positional)}")
    values = dict(zip(names, positional))
    for key, value in keywords.items():
        if key not in names:
            guess = suggest(key, names)
            raise UnknownName(f"{spec.name} has no argument '{key}'",
                              hint=f"did you mean '{guess}'?" if guess else f"arguments: {', '.join(names)}")
        if key in values:
            raise ArgumentError(f"{spec.name} got argument '{key}' twice")
        values[key] = value
    bound = Args()
    for arg in declared:
        if arg.name in values:
            bound[arg.name] = check_value(spec.name, arg, values[arg.name])
        elif arg.required:
            raise ArgumentError(f"{spec.name} needs argument '{arg.name}'")
        else:
            bound[arg.name] = arg.default
    return bound


def check_value(op: str, arg: Arg, value: Any) -> Any:
    """Validate one value against its declared type, range and choices."""
    if value is None and not arg.required and arg.default is None:
        return None
    ok = _TYPE_CHECKS[arg.type](value)
    if not ok:
        raise ArgumentError(f"{op}: argument '{arg.name}' must be {_TYPE_WORDS[arg.type]}, got {value!r}",
                            hint=range_hint(value))
    if arg.type == "init":
        check_initializer(op, arg.name, value)
    if arg.choices and value not in arg.choices:
        guess = suggest(str(value), [str(c) for c in arg.choices])
        raise ArgumentError(f"{op}: argument '{arg.name}' must be one of "
                            f"{', '.join(map(repr, arg.choices))}, got {value!r}",
                            hint=f"did you mean {guess!r}?" if guess else None)
    for v in value if isinstance(value, tuple) else (value,):
        if not _is_num(v):
            continue
        if arg.minimum is not None and v < arg.minimum:
            raise ArgumentError(f"{op}: argument '{arg.name}' must be >= {arg.minimum}, got {value!r}")
        if arg.above is not None and v <= arg.above:
            raise ArgumentError(f"{op}: argument '{arg.name}' must be > {arg.above}, got {value!r}")
        if arg.maximum is not None and v > arg.maximum:
            raise ArgumentError(f"{op}: argument '{arg.name}' must be <= {arg.maximum}, got {value!r}")
        if arg.count:
            check_count(f"{op}({arg.name}={v:,})", v)
    if arg.type == "float" and isinstance(value, int):
        return float(value)
    return value


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    """An int or float torch can hold as a float32: nan, inf and 1e300 make it fail."""
    return is_finite_number(v)


def _is_ints(v) -> bool:
    return _is_int(v) or (isinstance(v, tuple) and len(v) > 0 and all(_is_int(x) for x in v))


_TYPE_CHECKS = {
    "int": _is_int,
    "float": _is_num,
    "number": _is_num,
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "ints": _is_ints,
    "floats": lambda v: _is_num(v) or (isinstance(v, tuple) and all(_is_num(x) for x in v)),
    "padding": lambda v: _is_ints(v) or v in ("same", "valid"),
    "shape": lambda v: isinstance(v, tuple) and all(_is_int(x) for x in v),
    "init": lambda v: isinstance(v, dict) and "init" in v,
    "any": lambda v: True,
}
_TYPE_WORDS = {
    "int": "an integer", "float": "a finite number", "number": "a finite number", "bool": "true or false",
    "str": "a string", "ints": "an integer or a tuple of integers",
    "floats": "a finite number or a tuple of finite numbers",
    "padding": "an integer, a tuple of integers, \"same\" or \"valid\"",
    "shape": "a tuple of integers", "init": "an initializer such as kaiming_normal()",
    "any": "a value",
}


_loaded = False


def _load_builtin_ops() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from . import _builtin  # noqa: F401  (registers every built-in op)
