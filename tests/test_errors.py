"""Every class of bad input gives one located, explained error."""
import subprocess
import sys

import pytest

import netdsl
from netdsl.errors import (ArgumentError, ExpectationError, ImportFailure, NetdslError,
                           ParseError, ShapeError, UnknownName)


def error_of(text, **kwargs) -> NetdslError:
    with pytest.raises(NetdslError) as info:
        netdsl.parse(text, filename="bad.net", **kwargs)
    return info.value


def located(err, line, column):
    assert err.span is not None, err.format()
    assert (err.span.file, err.span.line, err.span.column) == ("bad.net", line, column), err.format()
    return err.format()


def test_syntax_error_points_at_the_token():
    err = error_of("network n {\n  input [3, 8, 8]\n  conv(4, 3))\n}")
    assert isinstance(err, ParseError)
    text = located(err, 3, 13)
    assert "unexpected ')'" in text
    assert "   3 |   conv(4, 3))" in text
    assert text.splitlines()[2].endswith("^")


def test_unclosed_brace_reports_end_of_file():
    err = error_of("network n {\n  input [3, 8, 8]\n")
    assert isinstance(err, ParseError) and "end of file" in err.message


def test_unknown_op_suggests_the_closest_name():
    err = error_of("network n {\n  input [3, 8, 8]\n  conv(4, 3) reul\n}")
    assert isinstance(err, UnknownName)
    located(err, 3, 14)
    assert err.message == "unknown op or block 'reul'"
    assert err.hint == "did you mean 'relu'?"


def test_unknown_argument_suggests_the_closest_argument():
    err = error_of("network n {\n  input [3, 8, 8]\n  conv(4, 3, strid=2)\n}")
    assert isinstance(err, UnknownName)
    located(err, 3, 3)
    assert "conv has no argument 'strid'" in err.message
    assert err.hint == "did you mean 'stride'?"


def test_wrong_argument_type():
    err = error_of('network n {\n  input [3, 8, 8]\n  conv(4, "three")\n}')
    assert isinstance(err, ArgumentError)
    located(err, 3, 3)
    assert "argument 'kernel' must be an integer or a tuple of integers, got 'three'" in err.message


def test_wrong_block_parameter_type_and_trace():
    err = error_of("block b(c: int) { conv(c, 1) }\nnetwork n {\n  input [3, 8, 8]\n  b(2.5)\n}")
    assert isinstance(err, ArgumentError)
    assert "parameter 'c' of 'b' must be int, got 2.5" in err.message
    located(err, 4, 3)


def test_shape_mismatch_at_add_names_both_shapes():
    err = error_of("network n {\n  input [3, 8, 8]\n  residual { conv(4, 3, padding=1) }\n}")
    assert isinstance(err, ShapeError)
    located(err, 3, 3)
    assert "add: shapes [4, 8, 8], [3, 8, 8] do not match at dim 0" in err.message


def test_shape_mismatch_at_concat():
    err = error_of("network n {\n  input [3, 8, 8]\n  concat {\n    conv(2, 1)\n    maxpool(2)\n  }\n}")
    assert isinstance(err, ShapeError)
    assert "concat along dim 0: shapes [2, 8, 8], [3, 4, 4] differ outside that dim" in err.message


def test_non_positive_output_size():
    err = error_of("network n {\n  input [3, 8, 8]\n  conv(4, 3) conv(4, 9)\n}")
    assert isinstance(err, ShapeError)
    located(err, 3, 14)
    assert "conv gives a non-positive output size [4, -2, -2] from input [4, 6, 6]" in err.message


def test_error_inside_a_block_shows_the_call_chain():
    src = ("block inner(c: int) {\n  conv(c, 7)\n}\nblock outer(c: int) {\n  inner(c)\n}\n"
           "network n {\n  input [3, 4, 4]\n  outer(8)\n}")
    err = error_of(src)
    assert isinstance(err, ShapeError)
    located(err, 2, 3)
    assert [(f.block, f.span.line) for f in err.trace] == [("outer", 9), ("inner", 5)]
    text = err.format()
    assert "in block 'inner' called at bad.net:5:3" in text
    assert "in block 'outer' called at bad.net:9:3" in text


def test_undefined_value_reference():
    err = error_of("network n {\n  input [3, 8, 8]\n  skip = conv(3, 1)\n  add { identity\n @skp }\n}")
    assert isinstance(err, UnknownName)
    located(err, 5, 2)
    assert err.message == "no value named 'skp' here" and err.hint == "did you mean '@skip'?"


def test_undefined_name_in_expression():
    err = error_of("network n(width: int = 4) {\n  input [3, 8, 8]\n  conv(widht, 1)\n}")
    assert isinstance(err, UnknownName)
    located(err, 3, 8)
    assert err.message == "undefined name 'widht'" and err.hint == "did you mean 'width'?"


def test_import_not_found(tmp_path):
    main = tmp_path / "main.net"
    main.write_text('import "nowhere.net"\nnetwork m { input [3, 4, 4] }')
    with pytest.raises(ImportFailure) as info:
        netdsl.load(main)
    assert info.value.span.line == 1 and "cannot import \"nowhere.net\"" in info.value.message


def test_cyclic_import(tmp_path):
    (tmp_path / "a.net").write_text('import "b.net"\nblock a1 { relu }')
    (tmp_path / "b.net").write_text('import "a.net"\nblock b1 { relu }')
    (tmp_path / "main.net").write_text('import "a.net"\nnetwork m { input [3, 4, 4] }')
    with pytest.raises(ImportFailure) as info:
        netdsl.load(tmp_path / "main.net")
    assert "cyclic import: a.net -> b.net -> a.net" in info.value.message
    assert info.value.span.file.endswith("b.net")


def test_failed_expectation_is_located():
    net = netdsl.parse("network n {\n  input [3, 8, 8]\n  conv(4, 3)\n  expect params == 100\n}", "bad.net")
    from netdsl.analysis.expect import check_expectations
    with pytest.raises(ExpectationError) as info:
        check_expectations(net.analyze())
    located(info.value, 4, 3)
    assert "expectation does not hold: 112 == 100" in info.value.message


def test_cli_prints_the_error_without_traceback_and_exits_nonzero(tmp_path):
    bad = tmp_path / "bad.net"
    bad.write_text("network n {\n  input [3, 8, 8]\n  conv(4, 3) reul\n}\n")
    proc = subprocess.run([sys.executable, "-m", "netdsl", "check", str(bad)], capture_output=True, text=True)
    assert proc.returncode == UnknownName.exit_code
    assert "Traceback" not in proc.stderr
    assert f"{bad}:3:14: name error: unknown op or block 'reul'" in proc.stderr
    assert "hint: did you mean 'relu'?" in proc.stderr


def test_user_text_is_never_evaluated_as_python(net_from):
    err = error_of('network n {\n  input [3, 8, 8]\n  conv(__import__("os"), 1)\n}')
    assert isinstance(err, UnknownName) and err.message == "unknown function '__import__'"


def test_labels_that_torch_modules_reserve_are_refused():
    err = error_of("network n {\n  input [3, 8, 8]\n  train: conv(4, 3)\n}")
    assert isinstance(err, ArgumentError)
    located(err, 3, 3)
    assert err.message == "'train' cannot name a layer: torch modules use that name themselves"


def test_expectations_are_skipped_when_parameters_are_overridden(tmp_path):
    from netdsl.analysis.expect import check_expectations
    src = "network n(c: int = 4) {\n  input [3, 8, 8]\n  conv(c, 3)\n  expect params == 112\n}"
    failures = check_expectations(netdsl.parse(src, "bad.net", params={"c": 8}).analyze())
    assert [(f.span.line, f.message) for f in failures] == [(4, "expectation does not hold: 224 == 112")]
    path = tmp_path / "n.net"
    path.write_text(src)
    proc = subprocess.run([sys.executable, "-m", "netdsl", "check", str(path), "--set", "c=8"],
                          capture_output=True, text=True)
    # the change was asked for: no warning, one line on stdout saying what was skipped
    assert proc.returncode == 0 and proc.stderr == "" and "expect: 1 skipped" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "netdsl", "check", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0 and "skipped" not in proc.stdout, proc.stderr
    path.write_text(src.replace("112", "113"))
    proc = subprocess.run([sys.executable, "-m", "netdsl", "check", str(path)], capture_output=True, text=True)
    assert proc.returncode != 0 and "112 == 113" in proc.stderr  # without overrides they hold the file
