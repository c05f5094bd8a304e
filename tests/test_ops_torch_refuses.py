"""Whatever passes netdsl's static checks builds and runs in torch, and what it
refuses torch refuses: each class of refusal checked against torch itself.

The refused calls (op_examples.REFUSED) must raise a located netdsl error AND
fail in torch (tests/torch_oracle.py builds them from the op's own torch rule).
The accepted side is generated from the registry: every example's per-sample
shape is torch's at two batch sizes, every initializer on every weighted op is
accepted exactly when torch accepts it, and pooling, broadcasting and dtype
rules are compared with torch over grids.
"""
import functools
import itertools
import warnings
import math

import pytest
import torch

import netdsl
from netdsl.analysis.shapes import infer_dtype, infer_shape
from netdsl.errors import ArgumentError, NetdslError, ShapeError
from netdsl.expr import INITIALIZERS, make_initializer
from netdsl.ops import Args, all_ops, bind_args, get_op
from netdsl.ops.initializers import NONLINEARITIES, RULES
from netdsl.ops.registry import WEIGHT_ARGS, check_value
from op_examples import EXAMPLES, REFUSED, Example
from torch_oracle import BATCH_SIZES, RAISED, build, call_parts, loose_args, outcome, sample, torch_refuses

INIT_ARG = WEIGHT_ARGS[0]
ACCEPTED_CASES = [pytest.param(example, id=f"{op}:{example.call}:{list(example.inputs)}:{example.dtype}")
                  for op, examples in EXAMPLES.items() for example in examples]
REFUSED_CASES = [pytest.param(kind, case, id=f"{kind}: {case.example.call} {list(case.example.inputs)} "
                                             f"{case.example.dtype}")
                 for kind, cases in REFUSED.items() for case in cases]


def test_elaboration_gives_every_node_a_dtype():
    """The dtype refusals below rely on it (netdsl/elaborate.py calls infer_dtype)."""
    net = netdsl.parse("network n {\n input [3] int64\n identity\n}")
    assert [data.get("dtype") for data in net.nodes()] == ["int64", "int64"]


# ------------------------------------------------------------ refused calls
@pytest.mark.parametrize("kind, case", REFUSED_CASES)
def test_netdsl_refuses_with_a_located_error(kind, case):
    with pytest.raises(NetdslError) as info:
        netdsl.parse(case.example.source(), filename="refused.net")
    err = info.value
    assert type(err).__name__ == case.error, err.format()
    assert case.fragment in err.format()
    call_line = 2 + len(case.example.inputs)  # after `network example {` and the inputs
    assert (err.span.file, err.span.line) == ("refused.net", call_line), err.format()


@pytest.mark.parametrize("kind, case", REFUSED_CASES)
def test_torch_refuses_it_too(kind, case):
    assert torch_refuses(case.example), f"torch runs {case.example.call}: netdsl must accept it"


# ------------------------------------------------------------ accepted calls
@pytest.mark.parametrize("example", ACCEPTED_CASES)
def test_accepted_examples_mean_the_same_at_every_batch_size(example):
    """torch's per-sample output shape is netdsl's at batch 2 and 3: nothing
    broadcasts the batch dim against another dim."""
    net = netdsl.parse(example.source())
    assert {outcome(example, batch) for batch in BATCH_SIZES} == {net.output_shapes["out"]}


WEIGHTED = [pytest.param(EXAMPLES[spec.name][0], id=spec.name) for spec in all_ops() if spec.has_weights]


def _with_argument(call: str, argument: str) -> str:
    return f"{call[:-1]}, {argument})" if call.endswith(")") else f"{call}({argument})"


def _accepts(example: Example) -> bool:
    try:
        netdsl.parse(example.source())
    except ArgumentError:
        return False
    return True


@pytest.mark.parametrize("example", WEIGHTED)
def test_every_initializer_is_accepted_exactly_when_torch_accepts_it(example):
    for name, key in itertools.product(sorted(RULES), ("init", "bias_init")):
        trial = Example(_with_argument(example.call, f"{key}={name}()"), example.inputs, example.dtype)
        assert _accepts(trial) != torch_refuses(trial), trial.call


def test_initializer_rules_cover_exactly_the_initializers_the_language_offers():
    assert set(RULES) == set(INITIALIZERS)
    for name, defaults in INITIALIZERS.items():
        assert set(RULES[name].args) == set(defaults), name
        check_value("linear", INIT_ARG, make_initializer(name, [], {}))  # the defaults pass


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_every_accepted_nonlinearity_is_one_torch_knows(nonlinearity):
    weight = torch.empty(4, 6)
    torch.nn.init.kaiming_normal_(weight, nonlinearity=nonlinearity)
    assert _accepts(Example(f"linear(4, init=kaiming_normal(nonlinearity=\"{nonlinearity}\"))", ((6,),)))


@pytest.mark.parametrize("name", sorted(RULES))
def test_initializer_arguments_refuse_what_is_not_a_finite_number(name):
    for key, check in RULES[name].args.items():
        for bad in (math.nan, math.inf, True, "x", (1.0, 2.0), make_initializer("normal", [], {})):
            spec = {**make_initializer(name, [], {}), key: bad}
            with pytest.raises(ArgumentError, match=f"'{key}' must be"):
                check_value("linear", INIT_ARG, spec)


# ------------------------------------------------------------ arguments: numbers
NUMERIC = [pytest.param(spec, arg, id=f"{spec.name}.{arg.name}")
           for spec in all_ops() for arg in spec.args if arg.type in ("float", "number", "floats")]
INTEGRAL = [pytest.param(spec, arg, id=f"{spec.name}.{arg.name}")
            for spec in all_ops() for arg in spec.args if arg.type in ("int", "ints", "shape", "padding")]


@pytest.mark.parametrize("spec, arg", NUMERIC)
def test_non_finite_numbers_are_refused(spec, arg):
    bads = [math.nan, math.inf, -math.inf, 10 ** 400, 1e39, -3.5e38]
    bads += [(1.0, math.nan), (2.0, 1e300)] if arg.type == "floats" else []
    for bad in bads:
        with pytest.raises(ArgumentError, match="finite"):
            check_value(spec.name, arg, bad)


@pytest.mark.parametrize("spec, arg", INTEGRAL + NUMERIC)
def test_bools_never_pass_as_numbers(spec, arg):
    for bad in (True, (True, 2), (2, False)):
        with pytest.raises(ArgumentError):
            check_value(spec.name, arg, bad)


# ------------------------------------------------------------ pooling against torch
def _pool_cases(kind: str):
    """Sizes, kernels, strides and dilations small enough to reach every edge; paddings
    up to one past half the kernel (torch's limit)."""
    dilations = (1, 2) if kind == "max" else (1,)
    grid = itertools.product(range(1, 6), range(1, 5), range(1, 4), dilations, (False, True))
    for size, k, s, d, ceil in grid:
        for p in range(k // 2 + 2):
            yield size, k, s, p, d, ceil


def _torch_pool_size(kind, axes, size, k, s, p, d, ceil):
    """torch's output size along the first spatial axis (the others: size 3, kernel 1), or RAISED."""
    cls = getattr(torch.nn, f"{kind.capitalize()}Pool{axes}d")
    rest = axes - 1
    kwargs = dict(kernel_size=(k, *[1] * rest), stride=(s, *[1] * rest), padding=(p, *[0] * rest),
                  ceil_mode=ceil)
    if kind == "max":
        kwargs["dilation"] = (d, *[1] * rest)
    try:
        return cls(**kwargs)(torch.zeros(1, 2, size, *[3] * rest)).shape[2]
    except RuntimeError:
        return RAISED


@pytest.mark.parametrize("kind, axes", itertools.product(("max", "avg"), (1, 2, 3)))
def test_pooled_sizes_match_torch_over_a_grid(kind, axes):
    op, rest = f"{kind}pool", axes - 1
    for size, k, s, p, d, ceil in _pool_cases(kind):
        keywords = dict(kernel=(k, *[1] * rest), stride=(s, *[1] * rest), padding=(p, *[0] * rest),
                        ceil_mode=ceil, **({"dilation": (d, *[1] * rest)} if kind == "max" else {}))
        try:
            ours = infer_shape(op, bind_args(get_op(op), [], keywords), [(2, size, *[3] * rest)])[1]
        except NetdslError:
            ours = RAISED
        assert ours == _torch_pool_size(kind, axes, size, k, s, p, d, ceil), (size, k, s, p, d, ceil)


@pytest.mark.parametrize("kind, axes", itertools.product(("max", "avg"), (1, 2, 3)))
def test_adaptive_pooled_sizes_match_torch(kind, axes):
    cls = getattr(torch.nn, f"Adaptive{kind.capitalize()}Pool{axes}d")
    op = f"adaptive_{kind}pool"
    for size, out in itertools.product(range(1, 6), range(1, 8)):
        shape = (2, size, *[3] * (axes - 1))
        ours = infer_shape(op, bind_args(get_op(op), [out], {}), [shape])
        assert ours == tuple(cls(out)(torch.zeros(1, *shape)).shape[1:])


# ------------------------------------------------------------ broadcasting against torch
SHAPES = [s for rank in (1, 2, 3) for s in itertools.product((1, 2, 4), repeat=rank)]


def _torch_sum(a, b):
    """The per-sample shape of a + b for batch sizes 2 and 3, or None: torch
    raises, or its answer depends on the batch size."""
    seen = set()
    for batch in BATCH_SIZES:
        try:
            out = torch.zeros(batch, *a) + torch.zeros(batch, *b)
            seen.add(tuple(out.shape[1:]) if out.shape[0] == batch else "moved")
        except RuntimeError:
            seen.add(RAISED)
    return seen.pop() if len(seen) == 1 and RAISED not in seen else None


def test_add_broadcasts_exactly_as_torch_does_with_the_batch_dim():
    for a, b in itertools.product(SHAPES, repeat=2):
        try:
            ours = infer_shape("add", Args(), [a, b])
        except ShapeError:
            ours = None
        assert ours == _torch_sum(a, b), (a, b)


# ------------------------------------------------------------ dtypes against torch
DTYPES = ("float32", "float16", "bfloat16", "float64", "int64", "int32")


@pytest.mark.parametrize("op", ["add", "mul", "concat", "matmul"])
def test_merge_dtypes_follow_torch(op):
    from netdsl import runtime
    fn = getattr(runtime, op)
    for first, second in itertools.product(DTYPES, repeat=2):
        try:
            ours = infer_dtype(op, bind_args(get_op(op), [], {}), [first, second])
        except ShapeError:
            ours = None
        x, y = (torch.ones(2, 3, 3, dtype=getattr(torch, d)) for d in (first, second))
        try:
            theirs = str(fn(x, y).dtype).removeprefix("torch.")
        except RuntimeError:
            theirs = None
        assert ours == theirs, (first, second)


@pytest.mark.parametrize("example", ACCEPTED_CASES)
def test_every_dtype_netdsl_accepts_runs_in_torch(example):
    name, positional, keywords = call_parts(example.call)
    spec = get_op(name)
    args = loose_args(spec, positional, keywords)
    for dtype in ("float32", "int64", "int32"):
        try:
            ours = infer_dtype(spec.name, args, [dtype] * len(example.inputs))
        except ShapeError:
            continue
        fn = build(spec, args, example.inputs)
        out = fn(*(sample(shape, dtype, 2) for shape in example.inputs))
        assert str(out.dtype).removeprefix("torch.") == ours, dtype


def test_dtypes_flow_through_a_chain_and_the_model_agrees():
    net = netdsl.parse("network n {\n input ids: [6] int64\n reshape((2, 3))\n embedding(10, 4)\n"
                       " linear(3)\n}")
    assert [data["dtype"] for data in net.nodes()] == ["int64", "int64", "float32", "float32"]
    out = net.to_torch()(torch.randint(0, 10, (2, 6)))
    assert out.dtype == torch.float32 and tuple(out.shape) == (2, *net.output_shapes["out"])


@pytest.mark.parametrize("gain, accepted", [(9.0e37, True), (1.0e38, False)])
def test_xavier_gain_bound_sits_where_torchs_interval_stops_being_a_float32(gain, accepted):
    """netdsl's bound, float32 max / (2·√3), keeps uniform_'s interval (±gain·√3 at most) a float32:
    just inside it torch draws finite weights, just outside netdsl refuses."""
    source = Example(f"linear(4, init=xavier_uniform(gain={gain}))", ((1,),)).source()
    if not accepted:
        with pytest.raises(NetdslError, match="'gain' must be a finite number from 0"):
            netdsl.parse(source)
        return
    weight = netdsl.parse(source).to_torch().state_dict()["0.weight"]
    assert torch.isfinite(weight).all() and weight.abs().max() > 1e36


@pytest.mark.parametrize("dim, accepted", [(-3, True), (-4, False), (2, True), (3, False)])
def test_softmax_dims_exclude_the_batch(dim, accepted):
    """On [3, 4, 5], netdsl dims -3..2 are torch's -3..-1 and 1..3 on the batched tensor;
    -4 would be the batch dim and 3 is past the end: refused."""
    source = Example(f"softmax(dim={dim})", ((3, 4, 5),)).source()
    if not accepted:
        with pytest.raises(ShapeError, match=f"dim {dim} out of range"):
            netdsl.parse(source)
        return
    x = torch.randn(2, 3, 4, 5)
    with torch.no_grad():
        torch.testing.assert_close(netdsl.parse(source).to_torch()(x), torch.softmax(x, dim if dim < 0 else dim + 1))


@pytest.mark.parametrize("call, hinted", [("softplus(beta=1e300)", True), ("leaky_relu(-3.5e38)", True),
                                          ("softplus(beta=\"x\")", False)])
def test_numbers_past_float32_get_a_hint(call, hinted):
    with pytest.raises(ArgumentError) as info:
        netdsl.parse(Example(call).source())
    assert ("torch holds numbers as float32" in (info.value.hint or "")) == hinted


def _torch_initializes(name: str, **arguments) -> bool:
    """Whether torch.nn.init fills a 4×6 weight with finite numbers given ``arguments``."""
    weight = torch.empty(4, 6)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            getattr(torch.nn.init, f"{name}_")(weight, **arguments)
    except (ValueError, RuntimeError, ZeroDivisionError):
        return False
    return bool(torch.isfinite(weight).all())


@pytest.mark.parametrize("name, argument, value", [
    ("normal", "std", 0.0), ("normal", "std", -1e-30),
    ("trunc_normal", "std", 0.0), ("trunc_normal", "std", 1e-30),
    ("xavier_uniform", "gain", 0.0), ("xavier_uniform", "gain", -1e-30),
    ("xavier_normal", "gain", 0.0), ("uniform", "b", 0.0), ("uniform", "b", -1e-30),
])
def test_initializer_boundaries_are_torchs(name, argument, value):
    """Just at the edge of each range (a zero spread, an empty interval) netdsl
    accepts an initializer exactly when torch fills the weight with it."""
    call = f"linear(4, init={name}({argument}={value!r}))"
    assert _accepts(Example(call, ((6,),))) == _torch_initializes(name, **{argument: value}), call


@pytest.mark.parametrize("source, refused_by_torch, hint", [
    ("input x: [5] float32\n embedding(10, 4)",
     lambda: torch.nn.Embedding(10, 4)(torch.rand(2, 5)), "declare the input with an integer dtype"),
    ("input x: [3, 8, 8] int64\n conv(4, 3)",
     lambda: torch.nn.Conv2d(3, 4, 3)(torch.ones(2, 3, 8, 8, dtype=torch.int64)), "look them up with embedding"),
    ("input x: [6] bool\n relu", lambda: torch.nn.ReLU()(torch.ones(2, 6, dtype=torch.bool)), "is a mask"),
])
def test_a_wrong_input_dtype_is_refused_with_a_hint_for_its_kind(source, refused_by_torch, hint):
    with pytest.raises(RuntimeError):
        refused_by_torch()
    with pytest.raises(NetdslError) as info:
        netdsl.parse(f"network n {{\n {source}\n}}\n", "dtype.net")
    assert hint in (info.value.hint or "") and info.value.span.line == 3


@pytest.mark.parametrize("first", ("bool", *DTYPES))
def test_promotion_is_torchs(first):
    """netdsl's output dtype of mixed inputs (concat, add) is torch.promote_types'."""
    from netdsl.ops.dtypes import promote
    for second in ("bool", *DTYPES):
        for group in ([first], [first, second], [first, second, "int32"]):
            want = functools.reduce(torch.promote_types, [getattr(torch, d) for d in group])
            assert promote(group) == str(want).removeprefix("torch."), group
