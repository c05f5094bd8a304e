"""What torch's kernels take, checked at both edges against torch itself.

- Integers: pooling kernels convert kernel, stride, padding and dilation to C
  ints; conv axes are int64 once padded; a transposed conv spreads its input
  over (size - 1)·stride positions in int64; lrn pools with an int kernel.
  Just below each bound netdsl accepts and torch runs; just above netdsl
  refuses with a located error and torch fails.
- Padded intermediates: the copies a conv (asymmetric or reflect/replicate/
  circular padding) and lrn pad their input into count against the
  tensor_elements limit like any op output, and netdsl's asymmetric convs pad
  only the excess of the wider side (the fuzzer's dwconv with dilation 2³¹-1
  asked for 300 GB).
- Strided inputs: every op example runs on a transposed, permuted or chunked
  (non-contiguous) view of its input, as on a contiguous one.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import netdsl
from netdsl.errors import ArgumentError, LimitError, ShapeError
from netdsl.limits import Limits
from op_examples import EXAMPLES, padding_mask

INT32_MAX, INT64_MAX = 2**31 - 1, 2**63 - 1


def source(call: str, shape) -> str:
    return f"network n {{\n  input x: {list(shape)}\n  {call}\n}}\n"


def refused(call: str, shape, error=ArgumentError, fragment: str = ""):
    with pytest.raises(error) as info:
        netdsl.parse(source(call, shape), filename="b.net")
    assert (info.value.span.file, info.value.span.line) == ("b.net", 3), info.value.format()
    assert fragment in info.value.message
    return info.value


def runs(call: str, shape) -> torch.Tensor:
    """netdsl accepts it and its torch module runs forward and backward in train mode."""
    net = netdsl.parse(source(call, shape))
    x = torch.randn(2, *shape, requires_grad=True)
    out = net.to_torch().train()(x)
    out.sum().backward()
    assert tuple(out.shape) == (2, *net.output_shapes["out"])
    return out


def torch_fails(fn) -> bool:
    try:
        fn()
    except RuntimeError:
        return True
    return False


# ------------------------------------------------------------ pooling: C ints
def _pool(kind: str, rank: int, **kwargs):
    cls = getattr(torch.nn, f"{kind.capitalize()}Pool{rank}d")
    return cls(**kwargs)


def _pool_cases():
    """(op, spatial rank, keyword, other keywords): one argument at the bound at a time."""
    for kind in ("max", "avg"):
        for rank in (1, 2, 3):
            yield kind, rank, "stride", {"kernel_size": 3}
            if not (kind == "avg" and rank == 3):  # 3-d avg pooling needs the input >= the kernel
                yield kind, rank, "kernel_size", {"padding": "half"}
            if kind == "max":
                yield kind, rank, "dilation", {"kernel_size": 1}


NETDSL_NAME = {"kernel_size": "kernel", "stride": "stride", "dilation": "dilation"}


@pytest.mark.parametrize("kind, rank, key, others", list(_pool_cases()),
                         ids=lambda v: str(v) if not isinstance(v, dict) else "")
def test_pooling_integers_stop_where_torch_converts_them_to_c_ints(kind, rank, key, others):
    shape = (2, *(9,) * rank)
    for value, fits in ((INT32_MAX, True), (INT32_MAX + 1, False)):
        kwargs = {**others, key: value}
        if kwargs.get("padding") == "half":
            kwargs["padding"] = value // 2
        call = f"{kind}pool(" + ", ".join(
            f"{'kernel' if k == 'kernel_size' else k}={v}" for k, v in kwargs.items()) + ")"
        x = torch.randn(2, *shape, requires_grad=True)  # the autograd path: 1-d max pooling casts too
        if fits:
            runs(call, shape)
            assert not torch_fails(lambda: _pool(kind, rank, **kwargs)(x))
        else:
            refused(call, shape, fragment=f"'{NETDSL_NAME.get(key, key)}' must be <= {INT32_MAX}")
            assert torch_fails(lambda: _pool(kind, rank, **kwargs)(x))


def test_the_fuzzers_avgpool_stride_is_refused():
    refused("avgpool(4, stride=2 ** 62, padding=1, ceil_mode=true)", (3, 31), fragment="'stride' must be <=")
    assert torch_fails(lambda: torch.nn.AvgPool1d(4, stride=2**62, padding=1, ceil_mode=True)(torch.randn(2, 3, 31)))


def test_lrn_size_stops_where_its_pooling_kernel_does():
    """torch's lrn averages the squares with avg_pool (size, 1): a C int.  Past it the
    padded squares alone are 2³¹ channels, so the proof calls that pooling directly."""
    refused(f"lrn({INT32_MAX + 1})", (4, 3), fragment=f"'size' must be <= {INT32_MAX}")
    squares = torch.randn(2, 1, 4, 3)
    assert torch_fails(lambda: F.avg_pool2d(squares, (INT32_MAX + 1, 1), stride=1))
    netdsl.parse(source(f"lrn({INT32_MAX})", (4, 3)))
    meta = torch.randn(2, 4, 3, device="meta")
    assert F.local_response_norm(meta, INT32_MAX).shape == meta.shape


# ------------------------------------------------------------ conv: int64 axes
# A kernel of 2 dilated to span the padded axis but 2 positions keeps outputs small.
def _conv(before: int, after: int) -> str:
    dilation = 9 + before + after - 3
    return f"conv1d(4, 2, dilation={dilation}, padding=({before}, {after}))"


def test_a_padded_conv_axis_stops_at_int64():
    half = (INT64_MAX - 9) // 2  # 9 + 2·half = INT64_MAX
    runs(_conv(half, half), (3, 9))
    runs(_conv(half - 1, half + 1), (3, 9))  # asymmetric: the runtime pads one element, the conv the rest
    refused(_conv(half + 1, half), (3, 9), ShapeError, f"past the {INT64_MAX:,}")
    refused(_conv(half + 1, half + 1), (3, 9), ShapeError, "spatial axis 0")
    conv = torch.nn.Conv1d(3, 4, 2, dilation=9 + 2 * half + 2 - 3, padding=half + 1)
    assert torch_fails(lambda: conv(torch.randn(2, 3, 9)))
    assert not torch_fails(lambda: torch.nn.Conv1d(3, 4, 2, dilation=9 + 2 * half - 3, padding=half)(
        torch.randn(2, 3, 9)))


def test_a_transposed_conv_stride_stops_where_int64_does():
    runs(f"conv_transpose(4, 1, stride={2**62 - 1}, padding={2**62 - 2})", (3, 3))
    refused(f"conv_transpose(4, 1, stride={2**62}, padding={2**62 - 1})", (3, 3), ShapeError, "past the")
    layer = torch.nn.ConvTranspose1d(3, 4, 1, stride=2**62, padding=2**62 - 1)
    assert torch_fails(lambda: layer(torch.randn(2, 3, 3)))
    # exactly int64's largest value (7 steps of INT64_MAX / 7) still runs, in torch too
    runs(f"conv_transpose(1, 1, stride={INT64_MAX // 7}, padding={2**62 - 1})", (1, 8))
    layer = torch.nn.ConvTranspose1d(1, 1, 1, stride=INT64_MAX // 7, padding=2**62 - 1)
    assert not torch_fails(lambda: layer(torch.randn(2, 1, 8)))
    # each axis with its own stride: only W (3 positions) spreads past int64
    refused(f"conv_transpose(4, 1, stride=(1, {2**62}), padding=(0, {2**62 - 1}))", (3, 1, 3), ShapeError,
            "past the")
    layer = torch.nn.ConvTranspose2d(3, 4, 1, stride=(1, 2**62), padding=(0, 2**62 - 1))
    assert torch_fails(lambda: layer(torch.randn(2, 3, 1, 3)))


def test_the_fuzzers_dilated_same_dwconv_pads_one_element_and_runs():
    call = "dwconv(3, stride=2, padding=\"same\", dilation=2147483647)"
    runs(call, (9, 4))
    model = netdsl.parse(source(call, (9, 4))).to_torch()
    (conv,) = [m for m in model.modules() if hasattr(m, "excess")]
    assert conv.excess == (0, 1) and conv.padding == (INT32_MAX - 1,)


@pytest.mark.parametrize("call, shape", [
    ("conv(4, 3, padding=(0, 1, 1, 2))", (3, 9, 9)), ("conv(6, 3, stride=2, padding=\"same\")", (3, 10, 11)),
    ("dwconv(2, padding=\"same\", dilation=3)", (2, 9, 8)), ("sepconv(4, 4, padding=\"same\")", (3, 9)),
    ("conv(2, 3, padding=(2, 0, 0, 1, 1, 3))", (2, 4, 5, 6))])
def test_asymmetric_convs_equal_an_explicit_pad_then_conv(call, shape):
    model = netdsl.parse(source(call, shape)).to_torch().eval()
    (conv,) = [m for m in model.modules() if hasattr(m, "asymmetric_padding")]
    base = type(conv).__mro__[2]  # AsymmetricConv2d → _AsymmetricPadding → nn.Conv2d
    plain = base(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                 dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None)
    plain.load_state_dict(conv.state_dict())
    x = torch.randn(2, *shape)
    assert torch.allclose(conv(x), plain(F.pad(x, conv.asymmetric_padding)), atol=1e-6)


# ------------------------------------------------------------ padded copies count as tensors
SMALL = Limits(tensor_elements=1_000)


@pytest.mark.parametrize("call, shape, elements", [
    ("conv1d(4, 3, stride=1000, padding=(0, 2000))", (3, 9), 3 * 2009),
    ("conv(4, 3, stride=1000, padding=500, padding_mode=\"replicate\")", (3, 9), 3 * 1009),
    ("sepconv(4, 3, stride=1000, padding=(2000, 0))", (3, 9), 3 * 2009),
    ("lrn(2000)", (4, 3), (4 + 1999) * 3)])
def test_padded_copies_count_against_tensor_elements(call, shape, elements):
    with pytest.raises(LimitError) as info:
        netdsl.parse(source(call, shape), filename="b.net", limits=SMALL)
    assert f"{elements:,} elements" in info.value.message and info.value.span.line == 3
    assert netdsl.parse(source(call, shape)).output_shapes["out"][1:] < (10,)  # the output itself is small


def test_a_padded_copy_of_exactly_the_limit_is_allowed():
    """Like an op output, a padded copy may hold tensor_elements, not one more."""
    call, shape = "conv1d(4, 3, stride=1000, padding=(0, 2000))", (3, 9)  # copy of 3 × 2009
    assert netdsl.parse(source(call, shape), limits=Limits(tensor_elements=3 * 2009))
    with pytest.raises(LimitError):
        netdsl.parse(source(call, shape), limits=Limits(tensor_elements=3 * 2009 - 1))


# ------------------------------------------------------------ strided inputs
def _strided(shape, view: str):
    """(raw input shape, the view op turning it into a strided ``shape``), or None."""
    rank = len(shape)
    if view == "transpose" and rank >= 2:
        return (shape[-1], *shape[1:-1], shape[0]), f"transpose(0, {rank - 1})"
    if view == "permute" and rank >= 3:
        return tuple(reversed(shape)), f"permute({tuple(reversed(range(rank)))})"
    if view == "chunk":
        return (2 * shape[0], *shape[1:]), "chunk(2, 1, dim=0)"
    return None


STRIDED = [pytest.param(example, view, id=f"{view}>{example.id}:{list(example.inputs)}")
           for examples in EXAMPLES.values() for example in examples if not example.prelude
           for view in ("transpose", "permute", "chunk")
           if all(_strided(shape, view) for shape in example.inputs)]


def _strided_source(example, view: str) -> str:
    lines = []
    for i, (shape, dtype) in enumerate(zip(example.inputs, example.dtypes)):
        raw, op = _strided(shape, view)
        lines.insert(i, f"input r{i}: {list(raw)} {dtype}")
        lines.append(f"x{i} = @r{i} {op}")
    return "network strided {\n  " + "\n  ".join(lines) + f"\n  {example.call}\n}}\n"


def _ids(shape, high: int, generator) -> torch.Tensor:
    return torch.randint(0, high, shape, generator=generator)


@pytest.mark.parametrize("example, view", STRIDED)
def test_every_op_runs_on_strided_views_as_on_contiguous_input(example, view):
    strided = netdsl.parse(_strided_source(example, view))
    plain = netdsl.parse(example.source())
    models = []
    for net in (strided, plain):
        torch.manual_seed(0)
        models.append(net.to_torch().eval())
    generator = torch.Generator().manual_seed(1)
    if example.dtype.startswith("int"):
        xs = [_ids((2, *shape), 3, generator) for shape in example.inputs]
    else:
        xs = [padding_mask(shape, 2) if dtype == "bool" else torch.randn(2, *shape, generator=generator)
              for shape, dtype in zip(example.inputs, example.dtypes)]
    raws = []
    for x, shape in zip(xs, example.inputs):
        raw = x.transpose(1, len(shape)) if view == "transpose" else \
            x.permute(0, *reversed(range(1, len(shape) + 1))) if view == "permute" else torch.cat([x, x], 1)
        raws.append(raw.contiguous())
    with torch.no_grad():
        assert torch.allclose(models[0](*raws), models[1](*xs), atol=1e-5)
    leaves = [r.clone().requires_grad_(r.is_floating_point()) for r in raws]
    out = models[0].train()(*leaves)
    if out.requires_grad:  # token ids through shape-only ops carry no gradient
        out.float().sum().backward()


# ------------------------------------------------------------ backward
def test_sparse_embedding_gradients_cannot_be_scaled_by_frequency():
    """Found by the strided sweep: torch's backward refuses the pair unless the table is frozen."""
    call = "embedding(9, 2, scale_grad_by_freq=true, sparse=true)"
    with pytest.raises(ArgumentError, match="scale_grad_by_freq") as info:
        netdsl.parse(f"network n {{\n  input x: [4] int64\n  {call}\n}}\n", filename="b.net")
    assert info.value.span.line == 3
    table = torch.nn.Embedding(9, 2, scale_grad_by_freq=True, sparse=True)
    assert torch_fails(lambda: table(torch.tensor([[1, 2, 1, 0]])).sum().backward())
    netdsl.parse(f"network n {{\n  input x: [4] int64\n  {call[:-1]}, trainable=false)\n}}\n")
