"""Regressions for what the 100,000-case fuzz run of 2026-12-05 (seed 20261205)
found: each once ended in a traceback, a hang or a line quoted from another file."""
import random

import pytest

import netdsl
from netdsl.backends.diagram import wrap
from netdsl.errors import ArgumentError, LimitError, NetdslError, UsageError


def test_a_recurrent_layer_count_is_bounded_by_the_graph_limit():
    text = "network net {\n    input [4, 21]\n    rnn(4, 10 ** 18)\n}\n"
    with pytest.raises(LimitError, match=r"limit graph=") as info:  # was a MemoryError
        netdsl.parse(text, "rnn.net")
    assert (info.value.span.line, info.value.span.column) == (3, 5)
    assert "--limit graph=" in info.value.hint
    assert netdsl.parse(text.replace("10 ** 18", "3")).params == sum(
        4 * f + 4 * 4 + 4 + 4 for f in (21, 4, 4))  # weight_ih, weight_hh, two biases per layer


@pytest.mark.parametrize("weight", ["()", "(1, 2)", '"x"', "true", "-1", "1e400 - 1e400"])
def test_an_output_weight_must_be_a_finite_non_negative_number(weight):
    text = f"network net {{\n    input [4]\n    output o(weight={weight}) = linear(2)\n}}\n"
    with pytest.raises(NetdslError) as info:  # was TypeError: float() of a tuple
        netdsl.parse(text, "w.net")
    assert info.value.span is not None and info.value.span.line == 3


def test_an_output_weight_of_zero_is_accepted():
    net = netdsl.parse("network net {\n input [4]\n output o(weight=0) = linear(2)\n}\n")
    assert net.graph.graph["outputs"][0]["weight"] == 0.0


def _brute_covering(intervals, total):
    return [sum(1 for lo, hi in intervals if lo < t <= hi) for t in range(total + 2)]


def test_diagram_cut_scores_count_what_the_quadratic_definition_counts():
    rng = random.Random(5)
    for _ in range(50):
        total = rng.randint(1, 40)
        intervals = [tuple(sorted((rng.randint(0, total), rng.randint(0, total)))) for _ in range(rng.randint(0, 20))]
        assert wrap._covering(intervals, total) == _brute_covering(intervals, total)


def test_a_25000_layer_chain_renders_with_a_linear_wrap():
    net = netdsl.parse("network net {\n input x: [4, 8, 28]\n repeat 25_000 { relu }\n}\n")
    dot = net.render()  # was a 10 s+ hang in choosing the column cuts
    assert dot.count("->") >= 25_000


def test_a_file_that_is_not_utf8_is_quoted_from_itself(tmp_path):
    netdsl.parse("network other {\n input [3]\n relu\n flatten\n}\n", str(tmp_path / "f.net"))  # same name, older text
    path = tmp_path / "f.net"
    path.write_bytes(b"network n {\r    input [3, 8, 8]\r  relu \xff conv(3)\n}\n")
    with pytest.raises(UsageError, match="not UTF-8") as info:
        netdsl.load(path)
    assert (info.value.span.line, info.value.span.column) == (3, 8)  # a lone \r ends a line, as in the lexer
    assert "  relu \ufffd conv(3)" in info.value.format()


def test_a_file_over_the_size_limit_quotes_its_own_first_line():
    netdsl.parse("network old {\n input [3]\n}\n", "big.net")
    text = "network big {\n input [3]\n" + " relu\n" * 40 + "}\n"
    with pytest.raises(LimitError, match="file_bytes") as info:
        netdsl.parse(text, "big.net", limits=netdsl.Limits(file_bytes=100))
    assert "network big {" in info.value.format() and "network old" not in info.value.format()


def test_several_networks_point_at_the_second_and_name_the_option():
    text = "network a {\n input [3]\n}\nnetwork b {\n input [3]\n}\n"
    with pytest.raises(UsageError, match="several networks") as info:
        netdsl.parse(text, "two.net")
    assert info.value.span.line == 4 and "--network" in info.value.hint


def test_a_network_parameter_without_a_value_points_at_the_parameter():
    with pytest.raises(ArgumentError, match="needs a value for parameter 'c'") as info:
        netdsl.parse("network n(c: int) {\n input [3]\n linear(c)\n}\n", "np.net")
    assert (info.value.span.line, info.value.span.column) == (1, 11)
    assert "--set c=" in info.value.hint
    assert netdsl.parse("network n(c: int) {\n input [3]\n linear(c)\n}\n", params={"c": 4}).output_shapes


@pytest.mark.parametrize("size, stride, hint", [
    (32, 2, "shortcut { conv(32, 1, stride=2, bias=false) bn }"),
    (7, 2, "shortcut { conv(32, 1, stride=2, bias=false) bn }"),  # 7 → 4, as a strided 1×1 conv gives
    (8, 1, "shortcut { conv(32, 1, bias=false) bn }"),
])
def test_a_residual_whose_body_changes_the_shape_suggests_the_projection(size, stride, hint):
    text = (f"network n {{\n input [16, {size}, {size}]\n residual {{\n"
            f"  conv(32, 3, stride={stride}, padding=1)\n }}\n}}\n")
    with pytest.raises(netdsl.errors.ShapeError) as info:
        netdsl.parse(text, "res.net")
    assert info.value.span.line == 3 and hint in info.value.hint
    fixed = text.replace(" }\n}", " } shortcut {\n  " + hint.split("{ ")[1].rstrip(" }") + "\n }\n}")
    assert netdsl.parse(fixed).output_shapes  # the suggestion works


def test_a_residual_off_by_padding_says_to_pad():
    text = "network n {\n input [16, 32, 32]\n residual {\n  conv(16, 3)\n }\n}\n"
    with pytest.raises(netdsl.errors.ShapeError) as info:
        netdsl.parse(text, "res.net")
    assert "padding=kernel // 2" in info.value.hint


@pytest.mark.parametrize("after", ["selu(inplace=true)", "reshape((32,)) dropout(inplace=true)"])
def test_an_inplace_op_may_not_overwrite_a_learned_tensors_view(after):
    # the second 100,000-case run: torch refused these (an expanded view / a leaf's view)
    text = f"network n {{\n input [4, 8]\n relu p: parameter([4, 8], init=uniform()) {after}\n}}\n"
    with pytest.raises(ArgumentError, match="learned tensor's view") as info:
        netdsl.parse(text, "p.net")
    assert info.value.span.line == 3
    assert netdsl.parse(text.replace("inplace=true", "inplace=false")).output_shapes
