"""``expect`` statements over the analysis: every metric, located failures."""
import pytest

from netdsl.analysis.expect import METRICS, Metrics, check_expectations
from netdsl.errors import ArgumentError, ExpectationError, UnknownName

NET = """network n {{
  input [3, 32, 32]
  conv(8, 3, padding=1) relu maxpool(2)
  adaptive_avgpool(1) flatten linear(10)
  expect {0}
}}
"""


def expect(net_from, condition: str):
    net = net_from(NET.format(condition))
    check_expectations(net)
    return net


@pytest.mark.parametrize("condition", [
    "params == 8 * 3 * 9 + 8 + 8 * 10 + 10",
    "trainable_params == params and frozen_params == 0 and buffers == 0",
    "macs == 8 * 27 * 32 * 32 + 80",
    "flops > 2 * macs",
    "rf == 4 and rf_size == (4, 4) and rf_stride == (2, 2)",
    "output == [10] and input == [3, 32, 32]",
    "activation_bytes == 4 * (2 * 8 * 32 * 32 + 8 * 16 * 16 + 8 + 10)",  # flatten is a view
    "peak_bytes <= activation_bytes + 3 * 32 * 32 * 4",
])
def test_each_metric_has_its_value(net_from, condition):
    expect(net_from, condition)


def test_a_failing_expectation_is_located_and_explained(net_from):
    with pytest.raises(ExpectationError) as info:
        expect(net_from, "rf >= 400")
    assert info.value.span.line == 5 and info.value.span.column == 3
    assert info.value.message == "expectation does not hold: 4 >= 400"


def test_unknown_metric_suggests_the_closest(net_from):
    with pytest.raises(UnknownName) as info:
        expect(net_from, "parms == 1")
    assert info.value.hint == "did you mean 'params'?"


def test_rf_of_a_network_without_spatial_axes_is_an_error(net_from):
    with pytest.raises(ArgumentError) as info:
        check_expectations(net_from("network n { input [16]\n linear(4)\n expect rf > 1 }"))
    assert "no receptive field" in info.value.message and info.value.span.line == 3


def test_metrics_are_computed_only_when_read(net_from):
    names = Metrics(net_from(NET.format("params > 0")))
    assert set(names) == set(METRICS) and not names.known
    assert names["macs"] > 0 and set(names.known) == {"macs"}


def test_a_fractional_stride_after_upsampling_reads_as_a_plain_float(net_from):
    # each output pixel of a 2× upsample advances half an input pixel: stride 1/2
    net = net_from("network n { input [3, 8, 8]\n conv(4, 3, padding=1) upsample(scale_factor=2)\n"
                   " expect rf_stride == (0.5, 0.5) }")
    check_expectations(net)
    stride = Metrics(net)["rf_stride"]
    assert stride == (0.5, 0.5) and all(type(s) is float for s in stride)
    assert all(type(s) is int for s in Metrics(net_from(NET.format("rf > 0")))["rf_stride"])
