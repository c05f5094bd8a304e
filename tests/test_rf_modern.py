"""Receptive fields of post-2017 blocks against gradient support (the oracle of
tests/test_receptive_field.py): channels-last pointwise MLPs (ConvNeXt),
transposed convolutions, position-dependent fields (U-Net) and attention."""
from pathlib import Path

import pytest
import torch

import netdsl
from netdsl.analysis.receptive_field import GLOBAL, ReceptiveField, Unstated, centre_field
from test_receptive_field import positive, support

ROOT = Path(__file__).resolve().parent.parent

CONVNEXT = """network n { input [4, 15, 15]
  residual {
    dwconv(7, padding=3)
    permute((1, 2, 0)) layernorm linear(16) gelu linear(4)
    permute((2, 0, 1))
  }
  conv(4, 3, padding=1)
}"""


def _unit_support(net, node, unit):
    net.ir.graph["outputs"] = [{"name": "f", "node": node, "weight": 1.0}]
    return support(positive(net.to_torch()), net.input_shape, unit)


def test_channels_last_mlp_keeps_the_spatial_field():
    net = netdsl.parse(CONVNEXT).analyze()
    fields = {d["op"]: d["rf"] for d in net.layers()}
    assert fields["linear"].dims == (0, 1) and fields["linear"].size == (7, 7)  # H, W moved first
    assert fields["add"] == ReceptiveField((7, 7), (1, 1), (3, 3))
    assert net.receptive_field.pixels == (9, 9)
    node = net.outputs[0]["node"]
    assert _unit_support(net, node, [7, 7]) == [(3, 11), (3, 11)]  # 9 pixels centred on 7


def test_linear_over_a_spatial_axis_is_whole_along_that_axis_only():
    net = netdsl.parse("network n { input [2, 6, 9]\n linear(9) }").analyze()
    field = net.layers()[-1]["rf"]
    assert field.pixels == (1, 17) and field.padding == (0, 8)
    lo_hi = _unit_support(net, net.outputs[0]["node"], [3, 4])
    assert lo_hi == [(3, 3), (0, 8)]  # one row, every column


def test_transposed_conv_column_agrees_with_the_headline():
    net = netdsl.parse("network n { input [1, 16, 16]\n conv(1, 3, stride=2, padding=1)\n"
                       " conv_transpose(1, 2, stride=2) }").analyze()
    column = net.layers()[-1]["rf"]
    assert column.pixels == net.receptive_field.pixels == (3, 3) and not column.position_dependent
    node = net.outputs[0]["node"]
    for unit in ([6, 6], [7, 7]):
        assert [hi - lo + 1 for lo, hi in _unit_support(net, node, unit)] == [3, 3]


@pytest.mark.parametrize("chain", [
    "conv_transpose(1, 2, stride=3, dilation=2) conv(1, 3)",  # taps 2 px apart on a 3 px grid
    "conv_transpose(1, 4, stride=2, padding=1) conv(1, 3) conv_transpose(1, 3, stride=3, dilation=2)",
    "conv(1, 3) conv_transpose(1, 5, stride=3, dilation=2) conv(1, 2)",
])
def test_transposed_conv_whose_stride_does_not_divide_its_dilation(chain):
    """A range of outputs may miss inputs at the ends of the relaxed range: the spread
    (fewest, most pixels over output positions) is what gradient support gives."""
    net = netdsl.parse("network n { input [1, 24, 24]\n " + chain + " }").analyze()
    node = net.outputs[0]["node"]
    spread = net.ir.nodes[node]["rf"].spread[0]
    sizes = set()
    for u in range(net.output_shapes["out"][1]):
        try:
            (lo, hi), _ = _unit_support(net, node, [u, u])
        except RuntimeError:  # a unit no input reaches (the stride's gaps): only the bias
            continue
        if lo > 0 and hi < 23:  # interior units: the border clips the others
            sizes.add(hi - lo + 1)
    assert (min(sizes), max(sizes)) == spread and net.receptive_field.pixels[0] == spread[1]


def test_unet_field_depends_on_position_and_reports_min_and_max():
    net = netdsl.load(ROOT / "examples" / "unet.net", params={"c": 2}).analyze()
    head = net.outputs[0]["node"]
    field = net.ir.nodes[head]["rf"]
    assert field.position_dependent and net.receptive_field.spread == field.spread
    (lo, hi), _ = field.spread
    assert net.receptive_field.pixels[0] == hi  # the headline and the column agree
    sizes = set()
    for u in range(60, 68):  # two periods of the 8-pixel grid near the centre
        (a, b), _ = _unit_support(net, head, [u, 64])
        sizes.add(b - a + 1)
    assert (min(sizes), max(sizes)) == (lo, hi)


def test_attention_makes_the_field_global():
    net = netdsl.parse("network n { input [4, 8, 8]\n conv(8, 3, padding=1)\n flatten(1)\n"
                       " permute((1, 0))\n mha(8, 2) }").analyze()
    assert net.layers()[-1]["rf"] == GLOBAL
    x = torch.ones(1, 4, 8, 8, dtype=torch.float64, requires_grad=True)
    model = positive(net.to_torch())
    model(x)[0, 0].sum().backward()  # the first token depends on every pixel
    assert bool((x.grad[0].abs().sum(0) > 0).all())


def test_layernorm2d_is_pointwise_in_space():
    net = netdsl.parse("network n { input [4, 7, 7]\n dwconv(3, padding=1)\n layernorm2d }").analyze()
    assert net.layers()[-1]["rf"].pixels == (3, 3)
    assert _unit_support(net, net.outputs[0]["node"], [3, 3]) == [(2, 4), (2, 4)]


# ------------------------------------------------------------ after windowed attention
#: Swin's stage: channels-last windows claim no field ("unstated") but keep their positions.
WINDOWS = """network n {{ input [4, 6, 6]
  param scale: [8] init=ones()
  conv(8, 3, padding=1) permute((1, 2, 0))
  shifted_window_attention(8, 3, 1, 2)
  {after}
}}"""


def _depends_on_every_pixel(net) -> bool:
    x = torch.ones(1, *net.input_shape, dtype=torch.float64, requires_grad=True)
    out = positive(net.to_torch())(x)
    out[(0,) * out.dim()].backward()  # the first unit
    return bool((x.grad[0].abs().sum(0) > 0).all())


@pytest.mark.parametrize("after", [
    "permute((2, 0, 1)) adaptive_avgpool(1)",                   # the positions, moved back, then pooled
    "gelu permute((2, 0, 1)) adaptive_avgpool(1)",              # a pointwise op keeps the positions
    "linear(4) transpose(0, 1) permute((2, 1, 0)) adaptive_avgpool(1)",  # two reorders: W, H swapped back
    "permute((2, 0, 1)) layernorm(2)",                          # normalized over H and W together
    "mul { identity\n @scale } permute((2, 0, 1)) layernorm(2)",  # a broadcast [C] gain keeps the positions
])
def test_a_pool_over_the_positions_after_windows_is_global(after):
    net = netdsl.parse(WINDOWS.format(after=after)).analyze()
    layers = net.layers()
    assert all(isinstance(d["rf"], Unstated) for d in layers[3:-1])
    assert layers[-1]["rf"] == GLOBAL
    assert _depends_on_every_pixel(net)


@pytest.mark.parametrize("after, dims", [
    ("gelu", (0, 1)),
    ("permute((2, 0, 1))", (1, 2)),
    ("transpose(0, 1)", (1, 0)),
    ("permute((2, 0, 1)) adaptive_avgpool((1, 6))", (1, 2)),  # pools H only: W's positions remain
    ("flatten(0, 1)", None),                                  # [36, C]: positions kept, axes merged
    ("flatten(0, 1) linear(4)", None),
])
def test_positions_after_windows_follow_each_reorder(after, dims):
    net = netdsl.parse(WINDOWS.format(after=after)).analyze()
    assert net.layers()[-1]["rf"] == Unstated(dims)


@pytest.mark.parametrize("after", ["permute((2, 0, 1)) adaptive_avgpool((1, 6))", "flatten(0, 1) linear(4)",
                                   "add { identity\n { flatten reshape((6, 6, 8)) } }"])  # a flat path, same shape
def test_mixing_part_of_the_positions_after_windows_claims_no_global_field(after):
    net = netdsl.parse(WINDOWS.format(after=after)).analyze()
    assert not _depends_on_every_pixel(net)  # the oracle: a global claim would be wrong
    assert net.layers()[-1]["rf"] != GLOBAL


def test_flattening_after_windows_leaves_no_field():
    net = netdsl.parse(WINDOWS.format(after="flatten")).analyze()
    assert net.layers()[-1]["rf"] is None
    net = netdsl.parse(WINDOWS.format(after="flatten linear(3)")).analyze()
    assert net.layers()[-1]["rf"] == GLOBAL and _depends_on_every_pixel(net)


def test_attention_over_one_partition_of_a_map_is_global():
    """MaxViT's attention on a map reshaped into groups: one group holds every
    position, so each output depends on every pixel; several groups claim no field."""
    one = netdsl.parse("network n { input [12, 3, 3]\n conv(12, 1) reshape((1, 12, 9)) permute((0, 2, 1))\n"
                       " relative_position_attention(12, 4, 3) }").analyze()
    assert one.layers()[-2]["rf"] is None and one.layers()[-1]["rf"] == GLOBAL
    assert _depends_on_every_pixel(one)
    four = netdsl.parse("network n { input [12, 6, 6]\n conv(12, 1) reshape((4, 12, 9)) permute((0, 2, 1))\n"
                        " relative_position_attention(12, 4, 3) }").analyze()
    assert four.layers()[-1]["rf"] is None


@pytest.mark.parametrize("chain", ["upsample(scale_factor=2) conv(1, 3)",
                                   "upsample(scale_factor=2) conv(1, 3) conv(1, 3, stride=2, padding=1)",
                                   "upsample(scale_factor=3, mode=\"bilinear\") conv(1, 2)"])
def test_centre_field_is_the_support_of_the_centre_unit(chain):
    """After upsampling, windows differ by phase; the exact field reported is the
    centre unit's: its size and padding place the pixels that unit depends on."""
    net = netdsl.parse(f"network n {{ input [1, 11, 10]\n {chain} }}").analyze()
    node = net.outputs[0]["node"]
    field = centre_field(net.ir, node)
    unit = [(n - 1) // 2 for n in net.ir.nodes[node]["shape"][1:]]
    window = [(u * s - p, u * s - p + r - 1) for u, s, p, r in zip(unit, field.stride, field.padding, field.size)]
    assert _unit_support(net, node, unit) == window


@pytest.mark.parametrize("chain, pixels", [("upsample(scale_factor=2) conv(1, 3)", 2),  # 1.5 input pixels
                                          ("upsample(scale_factor=3) conv(1, 3, stride=3) avgpool(2)", 2),
                                          ("upsample(scale_factor=3) conv(1, 3, stride=3) avgpool(2, stride=1)", 2),
                                          ("upsample(scale_factor=3, mode=\"bilinear\") conv(1, 5, stride=2)", 3)])
def test_field_on_a_second_input_is_its_widest_window(chain, pixels):
    """A map computed from the second input only: no exact column is carried back
    to the main input, so the field states the widest window over one period of
    units; gradient support on that input agrees."""
    net = netdsl.parse("network n {\n input a: [1, 8, 8]\n input b: [1, 13, 13]\n"
                       f" y = @b {chain}\n output y = @y\n}}").analyze()
    node = net.outputs[0]["node"]
    field, side = net.ir.nodes[node]["rf"], net.ir.nodes[node]["shape"][1]
    assert field.spread == () and not field.integral
    model = positive(net.to_torch())
    widths = set()
    for u in range(side // 4, side - side // 4):  # units whose windows stay inside the input
        b = (torch.rand(1, 1, 13, 13, dtype=torch.float64) + 0.5).requires_grad_()
        model(torch.rand(1, 1, 8, 8, dtype=torch.float64), b)[0, 0, u, side // 2].backward()
        rows = b.grad[0, 0].abs().sum(1).nonzero()
        widths.add(int(rows.max() - rows.min() + 1))
    assert field.pixels == (max(widths), max(widths)) == (pixels, pixels)


def test_the_exact_field_is_carried_back_to_the_first_input():
    """With two inputs, the exact column of a map computed from the first one (the
    main input) is carried back to it, not to the second."""
    net = netdsl.parse("network n {\n input a: [1, 11, 11]\n input b: [1, 7, 7]\n"
                       " y = @a upsample(scale_factor=2) conv(1, 3)\n z = @b conv(1, 1)\n"
                       " output y = @y\n output z = @z\n}").analyze()
    node = net.outputs[0]["node"]
    field = centre_field(net.ir, node)
    assert field is not None and field.pixels == (2, 2)


def test_channel_concat_keeps_the_field_and_spatial_concat_has_none():
    """Concatenated channels sit at the same positions: the branches' fields join.
    Along H the second input's rows move below the first's: no common field."""
    net = netdsl.parse("network n { input [2, 9, 9]\n concat { conv(2, 3, padding=1)\n"
                       " conv(2, 5, padding=2) } }").analyze()
    assert net.layers()[-1]["rf"] == ReceptiveField((5, 5), (1, 1), (2, 2))
    assert _unit_support(net, net.outputs[0]["node"], [4, 4]) == [(2, 6), (2, 6)]
    spatial = netdsl.parse("network n { input [2, 9, 9]\n concat(dim=1) { conv(2, 3, padding=1)\n"
                           " conv(2, 5, padding=2) } }").analyze()
    assert spatial.layers()[-1]["rf"] is None


def test_a_side_branch_does_not_change_the_exact_field_of_the_main_path():
    """Carrying the centre unit's box back skips nodes off its path (a side head)."""
    with_side = netdsl.parse("network n { input [1, 11, 11]\n u = upsample(scale_factor=2)\n"
                             " side = @u conv(1, 1)\n main = @u conv(1, 3) conv(1, 3, stride=2)\n"
                             " output main = @main\n output side = @side }").analyze()
    alone = netdsl.parse("network n { input [1, 11, 11]\n upsample(scale_factor=2) conv(1, 3)"
                         " conv(1, 3, stride=2) }").analyze()
    main = with_side.outputs[0]["node"]
    assert centre_field(with_side.ir, main) == centre_field(alone.ir, alone.outputs[0]["node"])
    field = centre_field(with_side.ir, main)
    unit = [(n - 1) // 2 for n in with_side.ir.nodes[main]["shape"][1:]]
    window = [(u * s - p, u * s - p + r - 1) for u, s, p, r in zip(unit, field.stride, field.padding, field.size)]
    assert _unit_support(with_side, main, unit) == window


@pytest.mark.parametrize("call, axis", [("softmax(dim=1)", 0), ("softmax(dim=-1)", 1), ("linear(7)", 1),
                                        ("permute((0, 2, 1)) linear(5) permute((0, 2, 1))", 0)])
def test_an_axis_mixed_whole_has_the_tightest_window_holding_every_unit(call, axis):
    """Along a mixed axis of n pixels each unit depends on all n: the field is the
    tightest stride-1 window holding that support for every unit (2n − 1 wide,
    padded n − 1); the other axis stays pointwise."""
    net = netdsl.parse(f"network n {{ input [2, 5, 7]\n {call} }}").analyze()
    field = net.layers()[-1]["rf"]
    n = net.input_shape[1 + axis]
    node = net.outputs[0]["node"]
    for unit in ([0, 0], [4, 6], [2, 3]):
        lo, hi = _unit_support(net, node, unit)[axis]
        (a, b) = [(u * s - p, u * s - p + r - 1) for u, s, p, r in
                  zip(unit, field.stride, field.padding, field.size)][axis]
        assert (lo, hi) == (0, n - 1) and a <= lo and hi <= b
    first, last = [0, 0], [4, 6]
    assert first[axis] * field.stride[axis] - field.padding[axis] + field.size[axis] - 1 == n - 1  # unit 0: ends at n−1
    assert last[axis] * field.stride[axis] - field.padding[axis] == 0  # the last unit starts at 0
    other = 1 - axis
    assert (field.size[other], field.stride[other], field.padding[other]) == (1, 1, 0)
