"""Hostile .net files end in a located netdsl error, quickly, never a traceback or a hang.

Each case is one class from issue 8 (unbounded work, deep nesting, huge
numbers, NaN, imports of foreign files).  The time bound is generous (the
machines are noisy); what it guards against is minutes and gigabytes.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import netdsl
from netdsl.analysis.expect import check_expectations
from netdsl.errors import ArgumentError, ImportFailure, LimitError, NetdslError, ShapeError, UsageError

HEAD = "network n {\n  input [3, 8, 8]\n  %s\n}\n"

LIMIT_CASES = {
    "repeat_huge": (HEAD % "repeat 1000000000 { relu }", "graph"),
    "power_tower": (HEAD % "repeat 9 ** 9 ** 9 { relu }", "int_bits"),
    "power_big": (HEAD % "linear(2 ** 10 ** 10)", "int_bits"),
    "tuple_times_huge": (HEAD % "conv(8, (1,) * 10**10)", "sequence"),
    "braces_122_deep": (HEAD % ("{ " * 122 + "relu" + " }" * 122), "nesting"),
    "sum_of_483_terms": (HEAD % ("dropout(" + "+".join(["0"] * 483) + ")"), "expr_depth"),
    "brackets_327_deep": (HEAD % ("conv(8, " + "[" * 327 + "3" + "]" * 327 + ")"), "nesting"),
    "label_from_huge_int": (HEAD % "layer{10**5000}: relu", "int_bits"),
    "expect_huge_int": (HEAD % "relu\n  expect params == 10**5000", "int_bits"),
    "linear_10_pow_400": (HEAD % ("flatten linear(1" + "0" * 400 + ")"), "int_bits"),
    "string_literal_1mb": (HEAD % ('dropout(p="' + "a" * 1_000_000 + '")'), "literal_chars"),
    "huge_tensor": ("network n {\n  input [3000000000, 3000000000, 3000000000]\n  relu\n}\n", "tensor_elements"),
}


@pytest.mark.parametrize("name", sorted(LIMIT_CASES))
def test_limit_is_a_located_error_naming_the_limit(name, tmp_path):
    text, limit = LIMIT_CASES[name]
    start = time.perf_counter()
    with pytest.raises(LimitError) as caught:
        check_expectations(netdsl.parse(text, str(tmp_path / "hostile.net")))
    assert time.perf_counter() - start < 3
    error = caught.value
    assert error.span is not None and error.span.file.endswith("hostile.net") and error.span.line >= 1
    assert f"limit {limit}=" in error.message and f"--limit {limit}=" in error.hint


def test_raising_a_limit_lets_trusted_input_through():
    text = HEAD % "repeat 3 { relu }"
    with pytest.raises(LimitError):
        netdsl.parse(text, limits=netdsl.Limits(graph=5))
    assert len(netdsl.parse(text, limits=netdsl.Limits(graph=50)).layers()) == 3


FAN_OUT = "block f(n: int) { if n > 0 { f(n-1) f(n-1) } else { relu } }\n" + HEAD % "f(40)"


@pytest.mark.parametrize("text", [FAN_OUT, HEAD % "repeat 1000 { repeat 1000 { relu } }",
                                  HEAD % "repeat 10 { repeat 10**6 { conv(3, 1) } }"])
def test_hopeless_expansions_are_refused_before_they_start(text):
    start = time.perf_counter()
    with pytest.raises(LimitError, match="limit graph="):
        netdsl.parse(text)
    assert time.perf_counter() - start < 1.5


ZOO = sorted((Path(__file__).parents[1] / "architectures").glob("*.net"))


@pytest.mark.parametrize("path", ZOO, ids=[p.stem for p in ZOO])
def test_the_early_refusal_never_refuses_what_fits(path):
    """The up-front estimate is a lower bound: a limit equal to the work really done passes."""
    work = netdsl.load(path).ir.graph["work"]
    assert netdsl.load(path, limits=netdsl.Limits(graph=work)).ir.graph["work"] == work
    with pytest.raises(LimitError):
        netdsl.load(path, limits=netdsl.Limits(graph=work - 1))


@pytest.mark.parametrize("expr", ["1e400-1e400", "1e400", "-1e400", "float(10**15) ** 30"])
def test_non_finite_numbers_are_refused(expr):
    with pytest.raises(ArgumentError, match="finite|too large|cannot evaluate") as caught:
        netdsl.parse(HEAD % f"dropout({expr})")
    assert caught.value.span is not None


def test_nan_scale_factor_is_refused():
    with pytest.raises(ArgumentError) as caught:
        netdsl.parse(HEAD % "upsample(scale_factor=1e400-1e400)")
    assert caught.value.span.line == 3


def test_bool_is_not_a_size():
    with pytest.raises(ShapeError, match="positive integers"):
        netdsl.parse("network n {\n  input [true, 8]\n  relu\n}\n")


# ------------------------------------------------------------------ imports
FOREIGN = ["/etc/passwd", "/proc/self/environ", "/dev/zero", "/tmp", "", ".", "../outside.net",
           "/etc/../etc/hostname.net"]


@pytest.mark.parametrize("target", FOREIGN)
def test_imports_never_read_foreign_files(target, tmp_path):
    main = tmp_path / "inner" / "main.net"
    main.parent.mkdir()
    (tmp_path / "outside.net").write_text("block secret() { relu }\n")
    main.write_text(f'import "{target}"\n' + HEAD % "relu")
    with pytest.raises(ImportFailure) as caught:
        netdsl.load(main)
    text = caught.value.format()
    assert caught.value.span.file == str(main) and caught.value.span.line == 1
    assert "root:" not in text and "PATH=" not in text and "secret" not in text


def test_imports_inside_the_tree_and_allowed_roots(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "lib.net").write_text("block unit() { relu }\n")
    main = tmp_path / "proj" / "main.net"
    main.parent.mkdir()
    (main.parent / "sub").mkdir()
    (main.parent / "sub" / "local.net").write_text("block local() { relu }\n")
    main.write_text('import "sub/local.net"\nimport "../shared/lib.net"\n' + HEAD % "local unit")
    with pytest.raises(ImportFailure, match="outside the folders"):
        netdsl.load(main)
    net = netdsl.load(main, limits=netdsl.Limits(import_roots=(str(shared),)))
    assert len(net.layers()) == 2


def test_zoo_library_imports_still_work():
    assert netdsl.load(Path(__file__).parents[1] / "architectures" / "resnet18.net").params == 11689512


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_and_oversized_imports_do_not_block(tmp_path):
    os.mkfifo(tmp_path / "pipe.net")
    (tmp_path / "big.net").write_text("# x\n" * 200)
    for target, error in (("pipe.net", "not a regular file"), ("big.net", "limit file_bytes=")):
        (tmp_path / "main.net").write_text(f'import "{target}"\n' + HEAD % "relu")
        with pytest.raises(NetdslError, match=error):
            netdsl.load(tmp_path / "main.net", limits=netdsl.Limits(file_bytes=500))


@pytest.mark.parametrize("content", [b"\xff\xfe network", b"network n {\n input [3]\n \x00 relu }"])
def test_undecodable_or_binary_files_are_errors(content, tmp_path):
    path = tmp_path / "bin.net"
    path.write_bytes(content)
    with pytest.raises(NetdslError):
        netdsl.load(path)


def test_directory_as_the_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not a regular file"):
        netdsl.load(tmp_path)


# ------------------------------------------------------------------ the CLI
def _cli(*argv, env=None):
    return subprocess.run([sys.executable, "-m", "netdsl", *argv], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


def test_cli_prints_no_traceback_for_hostile_files(tmp_path):
    for name, (text, _) in sorted(LIMIT_CASES.items())[:4]:
        path = tmp_path / f"{name}.net"
        path.write_text(text)
        proc = _cli("summarize", str(path))
        assert proc.returncode == LimitError.exit_code, proc.stderr
        assert "Traceback" not in proc.stderr and f"{path}:" in proc.stderr


def test_cli_limit_option_and_its_errors(tmp_path):
    path = tmp_path / "n.net"
    path.write_text(HEAD % "repeat 3 { relu }")
    assert _cli("check", str(path), "--limit", "graph=5").returncode == LimitError.exit_code
    assert _cli("check", str(path), "--limit", "graph=500").returncode == 0
    bad = _cli("check", str(path), "--limit", "grahp=5")
    assert bad.returncode == UsageError.exit_code and "did you mean 'graph'" in bad.stderr


def test_internal_errors_get_their_own_code_and_no_traceback(tmp_path, monkeypatch, capsys):
    from netdsl import cli
    path = tmp_path / "n.net"
    path.write_text(HEAD % "relu")

    def broken(args):
        raise RuntimeError("boom")
    cli._load_command_modules()
    monkeypatch.setitem(cli.COMMANDS, "check", (*cli.COMMANDS["check"][:2], broken))
    assert cli.main(["check", str(path)]) == 70
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: boom" in err and "Traceback" not in err and "report" in err
    assert cli.main(["--debug", "check", str(path)]) == 70
    assert "Traceback" in capsys.readouterr().err
