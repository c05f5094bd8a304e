"""What each initializer of ``init=`` / ``bias_init=`` accepts, checked before torch sees it.

netdsl/expr.py (INITIALIZERS) names the initializers and their defaults,
mirroring torch.nn.init; this table says which values each argument takes
and how many dims the initialized tensor needs.  Every refusal here is one
torch would make when building the model (a test checks each against torch):
fan-based initializers need a weight of rank ≥ 2 to compute fan in and out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import ArgumentError, suggest

#: torch.nn.init.calculate_gain's nonlinearities (kaiming_*'s ``nonlinearity=``).
NONLINEARITIES = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu")
FAN_MODES = ("fan_in", "fan_out")

#: Which parameters each initializing argument reaches: the last part of the
#: parameter's name starts with the prefix (the backends match the same way).
INIT_TARGETS = (("init", "weight"), ("bias_init", "bias"))


#: The largest float32: torch holds op and initializer arguments as float32 scalars.
FLOAT32_MAX = 3.4028234663852886e38


def is_finite_number(v: Any) -> bool:
    """An int or float (never a bool) that torch can hold as a float32: neither nan
    nor ±inf, nor beyond float32's range (softplus(beta=1e300) overflows)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return abs(float(v)) <= FLOAT32_MAX  # False for nan
    except OverflowError:  # an int too large for a float
        return False


def range_hint(value: Any) -> str | None:
    """A hint for a number refused only for exceeding float32's range."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value \
            and abs(value) != float("inf") and not is_finite_number(value):
        return f"torch holds numbers as float32: at most {FLOAT32_MAX:.3g} in magnitude"
    return None


@dataclass(frozen=True)
class Check:
    """One argument's rule: a predicate and the words that describe it."""

    words: str
    ok: Callable[[Any], bool]
    choices: tuple = ()


NUMBER = Check("a finite number", is_finite_number)
NON_NEGATIVE = Check("a finite number ≥ 0", lambda v: is_finite_number(v) and v >= 0)
POSITIVE = Check("a finite number > 0", lambda v: is_finite_number(v) and v > 0)
#: xavier_uniform draws from ±gain·√3·√(2 / (fan_in + fan_out)), at most ±gain·√3: the
#: interval's width must stay a float32.
XAVIER_GAIN = Check(f"a finite number from 0 to {FLOAT32_MAX / (2 * 3 ** 0.5):.3g}",
                    lambda v: is_finite_number(v) and 0 <= v <= FLOAT32_MAX / (2 * 3 ** 0.5))


def one_of(names: tuple) -> Check:
    return Check("one of " + ", ".join(f'"{n}"' for n in names),
                 lambda v: isinstance(v, str) and v in names, names)


@dataclass(frozen=True)
class InitRule:
    min_rank: int = 0  # dims the initialized tensor needs
    args: dict = field(default_factory=dict)  # argument → Check
    ordered: tuple = ()  # (low, high): an interval torch's uniform_ takes: low ≤ high, width a float32


_KAIMING = InitRule(2, {"a": NUMBER, "mode": one_of(FAN_MODES), "nonlinearity": one_of(NONLINEARITIES)})
# xavier with a negative gain asks uniform_ for an empty range (normal_ for std < 0)
_XAVIER = InitRule(2, {"gain": XAVIER_GAIN})

RULES: dict[str, InitRule] = {
    "kaiming_normal": _KAIMING,
    "kaiming_uniform": _KAIMING,
    "xavier_normal": _XAVIER,
    "xavier_uniform": _XAVIER,
    "orthogonal": InitRule(2, {"gain": NUMBER}),
    "normal": InitRule(0, {"mean": NUMBER, "std": NON_NEGATIVE}),
    # trunc_normal divides by std
    "trunc_normal": InitRule(0, {"mean": NUMBER, "std": POSITIVE, "a": NUMBER, "b": NUMBER}, (("a", "b"),)),
    "uniform": InitRule(0, {"a": NUMBER, "b": NUMBER}, (("a", "b"),)),
    "constant": InitRule(0, {"val": NUMBER}),
    "zeros": InitRule(),
    "ones": InitRule(),
}


def check_initializer(op: str, arg: str, spec: dict) -> None:
    """Refuse an initializer torch would refuse: an unknown name, a value of the
    wrong kind (an initializer, string, bool or tuple where a number goes), a
    number out of range or an empty interval."""
    name = spec.get("init")
    rule = RULES.get(name) if isinstance(name, str) else None
    if rule is None:
        guess = suggest(str(name), RULES)
        raise ArgumentError(f"{op}: {arg}= names no initializer: {describe(name)}",
                            hint=f"did you mean {guess}()?" if guess else f"initializers: {', '.join(RULES)}")
    for key, value in spec.items():
        if key != "init":
            _check_argument(op, f"{arg}={name}()", rule, key, value)
    for low, high in rule.ordered:
        if low in spec and high in spec and not 0 <= spec[high] - spec[low] <= FLOAT32_MAX:
            raise ArgumentError(f"{op}: {arg}={name}() needs {low} ≤ {high}, at most "
                                f"{FLOAT32_MAX:.3g} apart, got {low}={spec[low]}, {high}={spec[high]}")


def _check_argument(op: str, where: str, rule: InitRule, key: str, value: Any) -> None:
    check = rule.args.get(key)
    if check is None:
        raise ArgumentError(f"{op}: {where} has no argument '{key}'",
                            hint=f"arguments: {', '.join(rule.args)}" if rule.args else "it takes no arguments")
    if not check.ok(value):
        guess = suggest(value, check.choices) if isinstance(value, str) and check.choices else None
        raise ArgumentError(f"{op}: {where}: '{key}' must be {check.words}, got {describe(value)}",
                            hint=f"did you mean \"{guess}\"?" if guess else range_hint(value))


def check_init_ranks(op: str, args: dict, weights: dict) -> None:
    """Refuse a fan-based initializer (kaiming, xavier, orthogonal) on a weight of
    fewer than 2 dims, e.g. batchnorm's [C]: torch cannot compute its fans."""
    for key, prefix in INIT_TARGETS:
        spec = args.get(key)
        if spec is None:
            continue
        need = RULES[spec["init"]].min_rank
        for name, shape in weights.items():
            if name.rpartition(".")[2].startswith(prefix) and len(shape) < need:
                raise ArgumentError(
                    f"{op}: {key}={spec['init']}() needs a tensor of at least {need} dims "
                    f"(it computes fan in and fan out), but '{name}' has shape {list(shape)}",
                    hint="for 1-d weights and biases use normal(), uniform(), trunc_normal(), "
                         "constant(), zeros() or ones()")


def describe(value: Any) -> str:
    """A value as netdsl source writes it, for messages and docs/ops.md."""
    if value is None:
        return "none"
    if isinstance(value, dict) and "init" in value:
        return f"the initializer {value['init']}()"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "(" + ", ".join(describe(v) for v in value) + ")"
    return repr(value)
