"""Regressions for what the fuzzer (bench/fuzz.py) found in loading, analysis
and error reporting: each case once ended in a traceback, a wrong network or
a misquoted line."""
import pytest

import netdsl
from netdsl.analysis.receptive_field import CAP
from netdsl.errors import ArgumentError, NetdslError, UsageError
from netdsl.report.render import network_field_text
from netdsl.report.summary import build_summary
from netdsl.workload import MAX_LEVELS


def _nested_recursion(kind: str, nest: int, calls: int) -> str:
    opener = {"group": "{ ", "repeat": "repeat 1 { ", "if": "if true { ", "residual": "residual { "}[kind]
    body = opener * nest + "f(n - 1)" + " }" * nest
    return (f"block f(n: int) {{\n if n > 0 {{ {body} }} else {{ relu }}\n}}\n"
            f"network net {{\n input [3]\n f({calls})\n}}\n")


def test_mutual_recursion_through_repeat_and_if_is_a_located_error():
    text = ("block a { b }\nblock b { repeat 1 { if true { a } } }\n"
            "network net {\n  input [3]\n  a\n}\n")
    with pytest.raises(ArgumentError, match="nested more than 100 deep") as info:
        netdsl.parse(text, "rec.net")
    assert info.value.span.line == 2
    shown = str(info.value)
    assert "more calls" in shown and shown.count("in block") <= 13  # a long trace is folded


@pytest.mark.parametrize("kind", ["group", "repeat", "if", "residual"])
def test_expansion_depth_is_bounded_whatever_nests(kind):
    per_call = 1 + 6 + 1  # the if, six openers, the block's own body
    assert netdsl.parse(_nested_recursion(kind, 6, 99)).to_torch is not None
    assert 99 * per_call <= MAX_LEVELS
    for nest, calls in [(7, 99), (60, 99)]:  # over MAX_LEVELS before 100 block calls
        with pytest.raises(ArgumentError, match=f"nest more than {MAX_LEVELS} deep"):
            netdsl.parse(_nested_recursion(kind, nest, calls))


def test_workload_bound_of_a_recursion_with_changing_arguments_stays_shallow():
    with pytest.raises(ArgumentError, match="blocks nested more than 100 deep"):
        netdsl.parse(_nested_recursion("repeat", 1, 100_000))


def test_receptive_field_of_huge_strides_saturates_instead_of_overflowing():
    text = "network n {\n  input [3, 32, 32]\n  repeat 20 { conv(2, 1, stride=2 ** 62, padding=1) }\n}\n"
    net = netdsl.parse(text)
    field = net.analyze().ir.nodes[len(net.ir) - 1]["rf"]
    assert field.saturated and max(field.stride) == CAP
    record = build_summary(net)["receptive_field"]
    assert record["saturated"] and "clipped at 2**64" in network_field_text(record)


def test_exact_centre_of_a_field_stays_exact():
    net = netdsl.parse("network n {\n  input [1, 9, 9]\n  conv(1, 2)\n}\n").analyze()
    assert net.ir.nodes[1]["rf"].center == (0.5, 0.5)
    net = netdsl.parse("network n {\n  input [1, 9, 9]\n  conv(1, 3)\n}\n").analyze()
    assert net.ir.nodes[1]["rf"].center == (1, 1)


@pytest.mark.parametrize("text, line", [
    ("network net {\n  input [12]\n  output out\n  relu\n}\n", 3),
    ("network net {\n  input [12]\n  output o1 = relu\n  output o1 = tanh\n}\n", 4),
    ("network net {\n  input [12]\n  repeat 2 { output o = relu }\n  tanh\n}\n", 3),
])
def test_duplicate_output_names_are_refused(text, line):
    with pytest.raises(ArgumentError, match="output") as info:
        netdsl.parse(text)
    assert info.value.span.line == line


def test_an_output_named_out_as_the_last_statement_is_the_main_output():
    net = netdsl.parse("network net {\n  input [12]\n  relu\n  output out\n}\n")
    assert list(net.output_shapes) == ["out"]
    assert len(net.to_torch()(__import__("torch").zeros(2, 12)).shape) == 2


@pytest.mark.parametrize("text, line", [
    ("network net {\x0c input [3]\n\n  reul\n}\n", 3),       # form feed: whitespace, not a line break
    ("network net {\x0b input [3]\n  reul\n}\n", 1),          # vertical tab: not netdsl text at all
    ("network net {\r input [3]\r\r  reul\r}\r", 4),          # old Mac line endings
    ("network net {\r\n input [3]\r\n\r\n  reul\r\n}\r\n", 4),  # Windows line endings
    ("\ufeffnetwork net {\n input [3]\n\n  reul\n}\n", 4),    # a byte-order mark
])
def test_errors_quote_the_line_the_lexer_counted(text, line):
    with pytest.raises(NetdslError) as info:
        netdsl.parse(text, "breaks.net")
    assert info.value.span.line == line
    quoted = str(info.value).splitlines()[1]
    assert quoted.startswith(f"{line:>4} |")
    if line > 1:
        assert quoted.endswith("  reul")


def test_a_byte_order_mark_is_not_a_syntax_error(tmp_path):
    path = tmp_path / "bom.net"
    path.write_bytes(b"\xef\xbb\xbfnetwork net {\r\n  input [3]\r\n  relu\r\n}\r\n")
    assert netdsl.load(path).output_shapes == {"out": (3,)}


def test_non_utf8_error_is_located(tmp_path):
    path = tmp_path / "latin1.net"
    path.write_bytes("network net {\n  input [3] # café\n}\n".encode("latin-1"))
    with pytest.raises(UsageError, match="not UTF-8") as info:
        netdsl.load(path)
    assert (info.value.span.line, info.value.span.column) == (2, 18)


def test_source_registry_keeps_recent_texts_only(monkeypatch):
    from netdsl.errors import SourceRegistry
    monkeypatch.setattr(SourceRegistry, "_texts", type(SourceRegistry._texts)())
    monkeypatch.setattr(SourceRegistry, "KEEP_CHARS", 100)
    for i in range(10):
        SourceRegistry.add(f"f{i}.net", "x" * 30 + "\n" + "y" * 9)
    assert SourceRegistry.line("f0.net", 1) is None
    assert SourceRegistry.line("f9.net", 2) == "y" * 9


def test_nesting_limit_inside_a_label_points_into_the_label():
    # found by the third 100k fuzz run: the span was the label text's own 1:69
    deep = "(" * 65 + "i" + ")" * 65
    text = f"network n {{\n  input [3]\n  repeat 2 as i {{ a{{{deep}}}: relu }}\n}}\n"
    with pytest.raises(NetdslError, match="brackets nested 65 deep") as info:
        netdsl.parse(text, "lab.net")
    span = info.value.span
    assert (span.file, span.line) == ("lab.net", 3)
    assert text.splitlines()[2][span.column - 1] == "("
