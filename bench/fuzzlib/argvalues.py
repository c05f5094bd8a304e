"""Arguments of an op call, drawn from the op's declared ``Arg`` specs.

Each ``Arg`` declares a type, a default, choices and a range; the generic
draw uses only those.  Hints keyed by argument name (kernel, groups, dim ...)
narrow values to ones that fit the incoming shape, so that most generated
calls are valid; ``boundary`` values sit on or beyond the declared edges and
``invalid`` calls break one rule on purpose (type, range, choice, name,
count).
"""
from __future__ import annotations

import math
import random
from typing import Any, Optional

from netdsl.ops.registry import REQUIRED, Arg, OpSpec, all_args

from .exprs import E, initializer, lit, raw

SKIP = object()  # leave the argument out
SIZES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
INITS = ('kaiming_normal(mode="fan_out", nonlinearity="relu")', "kaiming_uniform()",
         "xavier_normal(gain=2)", "xavier_uniform()", "normal(0, 0.01)", "trunc_normal(std=0.02)",
         "uniform(-0.1, 0.1)", "constant(0.5)", "zeros()", "ones()", "orthogonal()")


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0] or [1]


def spatial_dims(shape: tuple) -> tuple:
    return shape[1:] if len(shape) >= 2 else ()


def per_axis(rng: random.Random, shape: tuple, low: int, high_of) -> Any:
    """An int or a tuple with one value per spatial axis, each within its axis."""
    axes = spatial_dims(shape) or (max(shape[-1], 1),)
    values = tuple(rng.randint(low, max(low, high_of(d))) for d in axes)
    return values[0] if len(set(values)) == 1 and rng.random() < 0.7 else values


def _dim(rng, shape):
    return rng.randint(-len(shape), len(shape) - 1)


def _reshape(rng, shape):
    total = math.prod(shape)
    dims, rest = [], total
    for _ in range(rng.randint(0, 2)):
        d = rng.choice(divisors(rest))
        dims.append(d)
        rest //= d
    dims.append(rest)
    rng.shuffle(dims)
    if rng.random() < 0.3:
        dims[rng.randrange(len(dims))] = -1
    return tuple(dims)


def _permutation(rng, shape):
    dims = list(range(len(shape)))
    rng.shuffle(dims)
    return tuple(dims)


def _upsample_mode(rng, shape):
    fits = {2: "linear", 3: rng.choice(["bilinear", "bicubic"]), 4: "trilinear"}
    return rng.choice(["nearest", fits.get(len(shape), "nearest")])


#: name → draw(rng, shape, chosen) for values that fit the incoming shape.
HINTS = {
    "out_channels": lambda r, s, c: r.choice(SIZES),
    "out_features": lambda r, s, c: r.choice(SIZES),
    "hidden_size": lambda r, s, c: r.choice(SIZES[:7]),
    "embedding_dim": lambda r, s, c: r.choice(SIZES),
    "num_embeddings": lambda r, s, c: r.randint(2, 64),
    "padding_idx": lambda r, s, c: r.choice([None, 0, 1, -1]),
    "max_norm": lambda r, s, c: r.choice([None, 1.0, 0.5]),
    "kernel": lambda r, s, c: per_axis(r, s, 1, lambda d: min(d, 4)),
    "stride": lambda r, s, c: r.choice([None, 1, 2, 3]) if c.get("_pool") else per_axis(r, s, 1, lambda d: 2),
    "dilation": lambda r, s, c: r.choice([1, 1, 2]),
    "padding": lambda r, s, c: _padding(r, s, c),
    "output_padding": lambda r, s, c: r.choice([0, 0, 1]),
    "groups": lambda r, s, c: r.choice(divisors(s[0])),
    "pieces": lambda r, s, c: r.choice(divisors(s[0])),
    "multiplier": lambda r, s, c: r.randint(1, 3),
    "chunks": lambda r, s, c: r.randint(1, 4),
    "index": lambda r, s, c: r.randint(0, max(0, c.get("chunks", 1) - 1)),
    "dim": lambda r, s, c: _dim(r, s) if r.random() < 0.7 else 0,
    "start": lambda r, s, c: _dim(r, s),
    "end": lambda r, s, c: _dim(r, s),
    "dim0": lambda r, s, c: _dim(r, s),
    "dim1": lambda r, s, c: _dim(r, s),
    "dims": lambda r, s, c: _permutation(r, s) if c.get("_op") == "permute" else r.randint(1, len(s)),
    "shape": lambda r, s, c: _reshape(r, s),
    "size": lambda r, s, c: r.randint(1, 5) if c.get("_op") == "lrn" else per_axis(r, s, 1, lambda d: 2 * d),
    "scale_factor": lambda r, s, c: r.choice([0.5, 1, 1.5, 2, 3, (2, 1), (1, 2, 2)]),
    "mode": lambda r, s, c: _upsample_mode(r, s) if c.get("_op") == "upsample" else SKIP,
    "align_corners": lambda r, s, c: r.choice([None, True, False]),
    "output_size": lambda r, s, c: per_axis(r, s, 1, lambda d: d),
    "num_layers": lambda r, s, c: r.randint(1, 3),
    "p": lambda r, s, c: r.choice([0.0, 0.1, 0.5, 1.0]),
    "dropout": lambda r, s, c: r.choice([0.0, 0.2]),
    "eps": lambda r, s, c: r.choice([1e-5, 0.001, 0.1]),
    "momentum": lambda r, s, c: r.choice([0.1, 0.01, 0.0, 1.0]),
    "lr_scale": lambda r, s, c: r.choice([0.1, 1.0, 2.0]),
    "init": lambda r, s, c: initializer(r.choice(INITS)),
    "bias_init": lambda r, s, c: initializer(r.choice(INITS[4:])),
}


def _padding(rng, shape, chosen):
    kernel = chosen.get("kernel", 1)
    small = min(kernel) if isinstance(kernel, tuple) else kernel
    if chosen.get("_op") == "pad":
        return per_axis(rng, shape, 0, lambda d: min(2, d - 1))
    if chosen.get("_padding_words") and rng.random() < 0.3:
        return rng.choice(["same", "valid"])
    return rng.randint(0, max(0, small // 2))


def generic(arg: Arg, rng: random.Random) -> Any:
    """A value from the declared type, choices and range alone."""
    if arg.choices:
        return rng.choice(arg.choices)
    low = arg.minimum if arg.minimum is not None else -3
    high = arg.maximum if arg.maximum is not None else low + 4
    if arg.type in ("int", "ints"):
        return rng.randint(int(low), int(high))
    if arg.type in ("float", "number", "floats"):
        return round(rng.uniform(low, high), 3)
    if arg.type == "bool":
        return rng.random() < 0.5
    if arg.type == "padding":
        return rng.randint(0, 2)
    if arg.type == "shape":
        return (rng.randint(1, 4),)
    return SKIP


def draw(arg: Arg, spec: OpSpec, shape: tuple, chosen: dict, rng: random.Random) -> Any:
    hint = HINTS.get(arg.name)
    value = hint(rng, shape, chosen) if hint else SKIP
    if value is SKIP:
        value = generic(arg, rng)
    return value


def as_expr(value: Any) -> E:
    return value if isinstance(value, E) else lit(value)


def include_probability(arg: Arg, spec: OpSpec) -> float:
    if arg.required:
        return 1.0
    if arg.name in ("trainable", "lr_scale", "init", "bias_init"):
        return 0.04
    return 0.3


def valid_values(spec: OpSpec, shape: tuple, rng: random.Random) -> dict:
    """Argument name → value (Python value or E), most of them fitting ``shape``."""
    chosen: dict = {"_op": spec.name, "_pool": spec.category == "pool",
                    "_padding_words": any(a.type == "padding" for a in spec.args)}
    for arg in all_args(spec):
        if rng.random() < include_probability(arg, spec):
            value = draw(arg, spec, shape, chosen, rng)
            if value is not SKIP:
                chosen[arg.name] = value
    if "groups" in chosen and "out_channels" in chosen and rng.random() < 0.8:
        chosen["out_channels"] = chosen["groups"] * rng.choice([1, 2, 4])
    return {k: v for k, v in chosen.items() if not k.startswith("_")}


def arrange(spec: OpSpec, values: dict, rng: random.Random) -> tuple[list, list]:
    """Split values into positional (a prefix of the declared order) and keyword arguments."""
    pos, kw = [], []
    positional = True
    for arg in spec.args:
        if arg.name not in values:
            positional = False
            continue
        if positional and rng.random() < 0.7:
            pos.append(as_expr(values[arg.name]))
        else:
            positional = False
            kw.append((arg.name, as_expr(values[arg.name])))
    declared = {a.name for a in spec.args}
    kw += [(k, as_expr(v)) for k, v in values.items() if k not in declared]
    rng.shuffle(kw)
    return pos, kw


# ------------------------------------------------------------ edges and mistakes
def boundary_value(arg: Arg, rng: random.Random) -> Optional[E]:
    """A value on or past the edge of what the declaration allows, or odd floats."""
    options: list[E] = []
    if arg.minimum is not None:
        options.append(lit(type_cast(arg, arg.minimum)))
    if arg.maximum is not None:
        options.append(lit(type_cast(arg, arg.maximum)))
    if arg.type in ("int", "ints", "padding"):
        options += [lit(0), lit(-1), lit(2**31 - 1), lit(2**62), raw("10 ** 18", 10**18)]
    if arg.type in ("float", "number", "floats"):
        options += [lit(0.0), lit(1e-300), lit(1e300), raw("1e400", math.inf),
                    raw("1e400 - 1e400", math.nan), raw("-1e400", -math.inf)]
    if arg.type in ("ints", "floats", "shape"):
        options += [lit(()), lit((1,)), lit((1, 1, 1, 1, 1))]
    return rng.choice(options) if options else None


def type_cast(arg: Arg, value):
    return int(value) if arg.type in ("int", "ints", "padding") else float(value)


def wrong_value(arg: Arg, rng: random.Random) -> E:
    options = [lit("bogus"), lit(None), lit(True), lit(2.5), lit((1, 2, 3, 4, 5)),
               raw("10 ** 400", None), raw("2 ** 63", 2**63), raw("[[1]]", None)]
    if arg.minimum is not None:
        options.append(lit(type_cast(arg, arg.minimum) - 1))
    if arg.maximum is not None:
        options.append(lit(type_cast(arg, arg.maximum) + 1))
    if arg.choices:
        options.append(lit(str(rng.choice(arg.choices))[:-1] + "x"))
    return rng.choice(options)


def break_call(spec: OpSpec, pos: list, kw: list, rng: random.Random) -> tuple[list, list]:
    """Make one deliberate mistake in a call's arguments."""
    declared = list(all_args(spec))
    choice = rng.randrange(6)
    if choice == 0 and declared:
        arg = rng.choice(declared)
        kw = [(k, e) for k, e in kw if k != arg.name] + [(arg.name, wrong_value(arg, rng))]
    elif choice == 1:
        kw = kw + [(rng.choice(["bogus", "kernal", "strides", "in_channels"]), lit(1))]
    elif choice == 2 and kw:
        kw = kw + [kw[0]]
    elif choice == 3:
        pos = pos + [lit(1)] * (len(spec.args) + 1 - len(pos))
    elif choice == 4 and any(a.default is REQUIRED for a in spec.args):
        pos, kw = [], [(k, e) for k, e in kw if spec.arg(k) is None or not spec.arg(k).required]
    else:
        pos = pos + [lit("x")]
    return pos, kw
