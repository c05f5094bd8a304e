"""Pooling at its edges, against torch's pooling layers built here.

ceil_mode adds a last, partial window, except when that window would start in
the right padding: torch drops it (its pooling_output_shape rule).  Padding,
dilation and count_include_pad change what the windows cover.
"""
import itertools

import pytest
import torch
from torch import nn

import netdsl
from netdsl.errors import ShapeError


def static_shape(call: str, shape) -> tuple:
    net = netdsl.parse(f"network n {{\n input x: {list(shape)}\n {call}\n}}", filename="pool.net")
    return net.output_shapes["out"]


def torch_shape(layer: nn.Module, shape) -> tuple:
    with torch.no_grad():
        return tuple(layer(torch.randn(1, *shape)).shape[1:])


def test_ceil_mode_drops_a_last_window_that_starts_in_the_padding():
    """5 pixels, kernel 2, stride 2, padding 1: windows start at −1, 1, 3 and 5; the one at 5
    starts in the right padding, so 3 outputs, not ceil((5 + 2 − 2) / 2) + 1 = 4."""
    assert torch_shape(nn.MaxPool1d(2, 2, padding=1, ceil_mode=True), (1, 5)) == (1, 3)
    assert static_shape("maxpool(2, stride=2, padding=1, ceil_mode=true)", (1, 5)) == (1, 3)
    assert static_shape("avgpool(2, stride=2, padding=1, ceil_mode=true)", (1, 5)) == (1, 3)


def test_ceil_mode_keeps_a_partial_window_that_starts_inside():
    """6 pixels, kernel 3, stride 2: floor gives 2 windows; ceil adds one starting at 4."""
    assert static_shape("maxpool(3, stride=2, ceil_mode=true)", (2, 6, 6)) == (2, 3, 3)
    assert static_shape("maxpool(3, stride=2)", (2, 6, 6)) == (2, 2, 2)


SWEEP = [(size, kernel, stride, padding, ceil)
         for size, kernel, stride in itertools.product(range(1, 9), range(1, 5), range(1, 4))
         for padding in range(0, kernel // 2 + 1) for ceil in (False, True) if kernel <= size + 2 * padding]


def test_max_and_average_pooling_shapes_sweep():
    """Every small geometry: netdsl's static shape is torch's, or both refuse."""
    for size, kernel, stride, padding, ceil in SWEEP:
        args = f"{kernel}, stride={stride}, padding={padding}, ceil_mode={str(ceil).lower()}"
        for op, layer in (("maxpool", nn.MaxPool2d), ("avgpool", nn.AvgPool2d)):
            torch_layer = layer(kernel, stride, padding, ceil_mode=ceil)
            try:
                want = torch_shape(torch_layer, (1, size, size + 1))
            except RuntimeError:
                with pytest.raises(ShapeError):
                    static_shape(f"{op}({args})", (1, size, size + 1))
                continue
            assert static_shape(f"{op}({args})", (1, size, size + 1)) == want, (op, args, size)


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_average_pooling_values_with_padding_and_ceil_mode(count_include_pad):
    """The built model averages as torch's own layer does (the divisor of padded windows)."""
    call = f"avgpool(3, stride=2, padding=1, ceil_mode=true, count_include_pad={str(count_include_pad).lower()})"
    net = netdsl.parse(f"network n {{\n input x: [2, 6, 7]\n {call}\n}}")
    reference = nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=count_include_pad)
    x = torch.randn(2, 2, 6, 7)
    with torch.no_grad():
        torch.testing.assert_close(net.to_torch().eval()(x), reference(x))
    assert net.output_shapes["out"] == (2, 4, 4)


def test_dilated_max_pooling_field_spans_the_holes():
    """kernel 3, dilation 2: a window covers 5 pixels; stride 2 after a stride-1 conv 3."""
    net = netdsl.parse("network n {\n input x: [1, 20, 20]\n conv(1, 3)\n maxpool(3, stride=2, dilation=2)\n}")
    field = net.receptive_field
    assert (field.size, field.stride) == ((7, 7), (2, 2))
    assert net.output_shapes["out"] == (1, 7, 7)
    assert torch_shape(nn.MaxPool2d(3, 2, dilation=2), (1, 18, 18)) == (1, 7, 7)
