"""Receptive fields against gradient support in torch.

The oracle: with positive weights (constant 1/fan-in), max-pooling replaced by
average pooling of the same geometry, eval-mode BN with unit statistics and an
input of ones, an input pixel is in a unit's field exactly when the unit's
gradient with respect to it is non-zero.  The zoo's networks are checked in
test_receptive_field_zoo.py.
"""
from fractions import Fraction

import pytest
import torch
from torch import nn

import netdsl
from netdsl.analysis.receptive_field import GLOBAL, ReceptiveField, Unstated
from op_examples import EXAMPLES



# ---------------------------------------------------------------- oracle
def _fan_in(param: torch.Tensor) -> int:
    return max(param[0].numel(), 1) if param.dim() > 1 else 1


def positive(model: nn.Module) -> nn.Module:
    """Positive weights (random in [0.5, 1.5] / fan-in, seeded: equal channels would
    make a layer norm over channels constant and its gradient vanish), zero biases,
    average instead of max pooling, ReLU for ReLU6, float64."""
    from netdsl.runtime import GlobalPool
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias") and "norm" not in name:
                param.zero_()
            else:
                scale = torch.rand(param.shape, generator=generator, dtype=torch.float64) + 0.5
                param.copy_(scale / _fan_in(param))
    for parent in list(model.modules()):
        for child_name, child in parent.named_children():
            replacement = _average_twin(child, GlobalPool)
            if replacement is not None:
                setattr(parent, child_name, replacement)
    return model.double().eval()


def _average_twin(module: nn.Module, global_pool):
    dims = {nn.MaxPool1d: nn.AvgPool1d, nn.MaxPool2d: nn.AvgPool2d, nn.MaxPool3d: nn.AvgPool3d}
    adaptive = {nn.AdaptiveMaxPool1d: nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool2d: nn.AdaptiveAvgPool2d,
                nn.AdaptiveMaxPool3d: nn.AdaptiveAvgPool3d}
    if type(module) in dims:
        if module.dilation not in (1, (1,) * len(str(module.dilation))):
            pytest.skip("dilated max pooling has no average-pooling twin")
        return dims[type(module)](module.kernel_size, module.stride, module.padding, module.ceil_mode)
    if type(module) in adaptive:
        return adaptive[type(module)](module.output_size)
    if isinstance(module, global_pool) and module.kind == "max":
        return global_pool("avg")
    if isinstance(module, nn.ReLU6):  # residual sums of ones pass 6, where ReLU6 has no gradient
        return nn.ReLU()
    return None


def support(model: nn.Module, shape, unit) -> list[tuple[int, int]]:
    """Per spatial axis, the first and last input pixel the output ``unit`` depends on."""
    generator = torch.Generator().manual_seed(1)  # positive, and unequal across channels (layer norms)
    x = (torch.rand(1, *shape, generator=generator, dtype=torch.float64) + 0.5).requires_grad_()
    y = model(x.clone())  # a non-leaf, so in-place layers may overwrite it
    picked = y[(0, slice(None), *unit)]  # weighted unequally: a norm's channels sum to a constant
    (picked * (torch.rand(picked.shape, generator=generator, dtype=torch.float64) + 0.5)).sum().backward()
    hits = x.grad[0].abs().sum(0).nonzero()
    return [(int(hits[:, a].min()), int(hits[:, a].max())) for a in range(hits.shape[1])]


def window(field: ReceptiveField, unit) -> list[tuple[Fraction, Fraction]]:
    """The analytic window of ``unit``: [u·stride − padding, … + size − 1] per axis."""
    return [(u * s - p, u * s - p + r - 1) for u, r, s, p in zip(unit, field.size, field.stride, field.padding)]


# ---------------------------------------------------------------- op examples
#: Spatial examples whose field the oracle cannot check, and why (any other one must be checkable).
UNCHECKABLE = {
    "conv:conv(2, 3, padding=2, padding_mode=\"circular\")": "the only unit's window starts in the padding",
    "conv_transpose:deconv(2, 3, dilation=2)": "4 pixels per axis: every window reaches the padding "
                                               "(the 9-pixel example is checked)",
    "softmax:softmax(dim=-1)": "the softmax axis is whole: every window reaches the padding",
    "softmax:softmax(dim=1)": "the softmax axis is whole: every window reaches the padding",
    "maxpool:maxpool(2, ceil_mode=true)": "3 pixels, ceil_mode: the 2nd window ends past the input",
    "avgpool:avgpool(2, padding=1)": "2 pixels, padding 1: every window has a padded pixel",
    "avgpool:avgpool(2, ceil_mode=true)": "3 pixels, ceil_mode: the 2nd window ends past the input",
    **dict.fromkeys((f"shifted_window_attention:{call}" for call in (
        "shifted_window_attention(8, 3, 0, 2)", "shifted_window_attention(8, 3, 1, 2)",
        "window_attention(12, (2, 3), (1, 1), 3, qkv_bias=false, proj_bias=false)")),
        "several windows: each position sees its own, a field per position that no geometry states "
        "(none is claimed; the one-window example is global and checked)"),
    **dict.fromkeys((f"shifted_window_attention_v2:{call}" for call in (
        "shifted_window_attention_v2(8, 4, 0, 2)", "shifted_window_attention_v2(8, 3, 1, 2)",
        "window_attention_v2(12, (2, 3), (1, 1), 3, qkv_bias=false, proj_bias=false)")),
        "Swin V2, several windows: as V1, no field is claimed (the one-window example is checked)"),
}


def _spatial_examples():
    for op, group in EXAMPLES.items():
        for example in group:
            if len(example.inputs) == 1 and len(example.inputs[0]) >= 2 and example.dtype == "float32":
                yield f"{op}:{example.id}", example


def _inside_units(field, shape, out) -> list:
    return [u for u in _all_units(out)
            if all(lo >= 0 and hi <= n - 1 for (lo, hi), n in zip(window(field, u), shape[1:]))]


def _all_units(out):
    grid = [[]]
    for size in out:
        grid = [g + [i] for g in grid for i in range(size)]
    return grid


def _checkable(example) -> bool:
    """A field on spatial axes (views such as flatten have none) that is global, or
    has an output unit whose whole window lies inside the input."""
    net = netdsl.parse(example.source()).analyze()
    field, out = net.layers()[-1]["rf"], net.layers()[-1]["shape"][1:]
    if field is None or isinstance(field, Unstated):  # no field claimed: nothing to check
        return False
    return field == GLOBAL or bool(_inside_units(field, net.input_shape, out))


CHECKED = [pytest.param(example, id=name) for name, example in _spatial_examples()
           if name not in UNCHECKABLE and _checkable(example)]


def test_only_the_listed_examples_are_unchecked():
    unchecked = {name for name, example in _spatial_examples() if not _checkable(example)}
    viewless = {name for name in unchecked if name.split(":")[0] in ("flatten", "reshape")}
    assert unchecked - viewless == set(UNCHECKABLE)


@pytest.mark.parametrize("example", CHECKED)
def test_example_field_bounds_gradient_support(example):
    net = netdsl.parse(example.source()).analyze()
    field = net.layers()[-1]["rf"]
    model = positive(net.to_torch())
    shape = net.input_shape
    out = net.layers()[-1]["shape"][1:]
    if field != GLOBAL and field.dims:  # a permute moved the spatial axes: put them back in place
        full = net.layers()[-1]["shape"]
        model, out = _channels_first(model, field.dims, len(full)), [full[d] for d in field.dims]
    if field == GLOBAL:
        last = [m - 1 for m in out] if len(out) == len(shape) - 1 else []
        assert support(model, shape, last) == [(0, n - 1) for n in shape[1:]]
        return
    _check_interior_units(model, shape, out, field)


def _channels_first(model, dims, rank):
    """The model's output with the remaining dim first and the spatial axes after it."""
    rest = [d for d in range(rank) if d not in dims]
    order = (0, *(d + 1 for d in rest), *(d + 1 for d in dims))
    return lambda x: model(x).permute(*order)


def _check_interior_units(model, shape, out, field) -> None:
    """Each unit whose window lies inside the input depends on pixels of that window
    only, and the widest such dependence has the analytic size."""
    units = _inside_units(field, shape, out)
    assert units, "no output unit has its whole field inside the input"
    widest = [0] * len(out)
    for unit in units:
        for axis, ((lo, hi), (a, b)) in enumerate(zip(support(model, shape, unit), window(field, unit))):
            assert a <= lo and hi <= b, f"unit {unit} axis {axis}: support {lo}..{hi} outside {a}..{b}"
            widest[axis] = max(widest[axis], hi - lo + 1)
    assert tuple(widest) == field.pixels


# ---------------------------------------------------------------- rules
def test_chain_formula_size_stride_padding_centre(net_from):
    net = net_from("network n { input [1, 64, 64]\n conv(1, 3, stride=2, padding=1)\n"
                   " conv(1, 3, dilation=2, padding=2)\n maxpool(2) }").analyze()
    rf = [d["rf"] for d in net.layers()]
    assert rf[0] == ReceptiveField((3, 3), (2, 2), (1, 1))
    assert rf[1] == ReceptiveField((11, 11), (2, 2), (5, 5))  # 3 + 2·(3−1)·2
    assert rf[2] == ReceptiveField((13, 13), (4, 4), (5, 5))
    assert rf[2].center == (1, 1) and all(type(c) is int for c in rf[2].center)  # printed "1", not "1.0"
    half = net_from("network n { input [1, 8, 8]\n conv(1, 2) }").analyze().layers()[-1]["rf"]
    assert half.center == (0.5, 0.5) and all(type(c) is float for c in half.center)


def test_misaligned_paths_are_flagged_and_joined(net_from):
    net = net_from("""network n { input [1, 16, 16]
      add {
        conv(1, 3, padding=1)
        conv(1, 3, padding=(0, 2, 1, 1))
      } }""").analyze()
    joined = net.layers()[-1]["rf"]
    assert joined.misaligned
    assert joined.pixels == (4, 3)
    aligned = net_from("network n { input [1, 16, 16]\n add {\n conv(1, 3, padding=1)\n conv(1, 1) } }")
    assert not aligned.analyze().layers()[-1]["rf"].misaligned


def test_paths_with_equal_centres_but_different_strides_are_misaligned(net_from):
    """A stride-2 path and a crop both start at pixel 0, but unit u reads pixel 2u on
    one and u on the other: the joined window moves differently from either."""
    net = net_from("network n { input [1, 8, 8]\n add { conv(1, 1, stride=2)\n"
                   " { chunk(2, 0, dim=1) chunk(2, 0, dim=2) } } }").analyze()
    fields = [d["rf"] for d in net.layers()]
    assert fields[0].center == fields[2].center and fields[0].stride != fields[2].stride
    assert fields[-1].misaligned
    x = torch.ones(1, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    positive(net.to_torch())(x)[0, 0, 3, 3].backward()
    assert sorted(map(tuple, x.grad[0, 0].nonzero().tolist())) == [(3, 3), (6, 6)]


def test_global_nodes_and_flat_nodes(net_from):
    net = net_from("network n { input [3, 16, 16]\n conv(4, 3) adaptive_avgpool(1) flatten linear(2) }")
    fields = [d["rf"] for d in net.analyze().layers()]
    assert isinstance(fields[0], ReceptiveField) and fields[1:] == [GLOBAL] * 3
    flat = net_from("network n { input [3, 8, 8]\n flatten linear(2) }").analyze()
    assert [d["rf"] for d in flat.layers()] == [None, GLOBAL]
    assert flat.receptive_field.pixels == (1, 1)  # the input itself


def test_upsampling_stride_is_fractional(net_from):
    net = net_from("network n { input [1, 16, 16]\n conv(1, 3, stride=2, padding=1) "
                   "conv_transpose(1, 2, stride=2) }").analyze()
    field = net.layers()[-1]["rf"]
    assert field.stride == (1, 1) and field.size == (4, 4)  # the composed window covers every phase
    # each unit reads conv unit u // 2 exactly: 3 pixels, in the column and the headline alike
    assert field.pixels == net.receptive_field.pixels == (3, 3) and not field.position_dependent


@pytest.mark.parametrize("up", ["conv_transpose(4, 2, stride=2)", "upsample(scale_factor=2)",
                                'upsample(scale_factor=2, mode="bilinear")',
                                "conv_transpose(4, 3, stride=2, padding=1, output_padding=1)"])
def test_encoder_decoder_centre_field_equals_gradient_support(net_from, up):
    net = net_from(f"""network unet {{ input [1, 40, 40]
      skip = conv(4, 3, padding=1) relu
      maxpool(2) conv(4, 3, padding=1) conv(4, 3, padding=1) {up}
      concat {{
        @skip
        identity
      }}
      conv(2, 3, padding=1) }}""").analyze()
    node = net.outputs[0]["node"]
    unit = [(m - 1) // 2 for m in net.ir.nodes[node]["shape"][1:]]
    measured = support(positive(net.to_torch()), net.input_shape, unit)
    field = net.receptive_field  # size: the centre unit's; pixels: the most over positions
    assert [hi - lo + 1 for lo, hi in measured] == list(field.size)
    assert [lo for lo, _ in measured] == [lo for lo, _ in window(field, unit)]
    assert all(lo <= size <= hi for size, (lo, hi) in zip(field.size, field.spread))


@pytest.mark.parametrize("chain, taps", [("upsample(scale_factor=2)\n conv(1, 3)", 3),
                                         ("upsample(scale_factor=2, mode=\"bilinear\")", 1)])
def test_fractional_centre_is_where_torch_samples_unit_0(net_from, chain, taps):
    """torch maps upsampled position k to input coordinate (k + 0.5)/2 − 0.5 (align_corners=False);
    unit 0 of a conv of ``taps`` over it is centred on the mean of positions 0..taps−1."""
    field = net_from(f"network n {{ input [1, 12, 12]\n {chain} }}").analyze().layers()[-1]["rf"]
    want = sum(Fraction(2 * k + 1, 4) - Fraction(1, 2) for k in range(taps)) / taps
    assert field.center == (want, want)


@pytest.mark.parametrize("branch", ["{ reshape((2, 36)) reshape((2, 6, 6)) }", "transpose(1, 2)"])
def test_a_join_with_a_reshaped_or_reordered_path_is_bounded_by_the_whole_input(net_from, branch):
    """A path through a reshape (no field) or with its axes swapped may bring any
    pixel to any position: the join states the one bound netdsl can prove, the
    whole input, and each unit's support is indeed inside it (here it is the unit's
    own pixel and, transposed, its mirror)."""
    net = net_from(f"network n {{ input [2, 6, 6]\n add {{ identity\n {branch} }} }}").analyze()
    assert net.layers()[-1]["rf"] == GLOBAL
    x = torch.ones(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    net.to_torch()(x)[0, 0, 1, 4].backward()
    pixels = {tuple(p) for p in x.grad[0, 0].nonzero().tolist()}
    assert pixels == ({(1, 4)} if "reshape" in branch else {(1, 4), (4, 1)})
