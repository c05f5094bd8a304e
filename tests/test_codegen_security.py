"""Generated source never carries a payload (issue 8, item 1).

Every spot where text from a .net file, the command line or the API reaches
generated source gets a payload that, if it ever ran, would create a marker
file and set a builtin.  The oracles are Python and torch themselves: the
generated file is imported and run as a script in a fresh interpreter, its
globals inspected, its state_dict compared with ``net.to_torch()``'s, and
``netdsl compile --check`` must either pass or fail with a netdsl error.
"""
import ast
import builtins
import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ARCH, ROOT

import netdsl
from netdsl.backends.pytorch.safe import py_literal
from netdsl.backends.pytorch.validate import validate_generated
from netdsl.cli import main
from netdsl.commands.compile import check_generated
from netdsl.errors import ArgumentError, BackendError

MARKER = "PWNED"
CODE = f'import builtins as b;b.{MARKER}=1;open("{MARKER}","w").close()'
#: Each breaks out of a different context: a docstring on one line (as repr()
#: writes values), a docstring across lines, a naive quote-escaping, a comment.
PAYLOADS = {
    "docstring": f'x""";{CODE};"""',
    "newline": f'x"""\n{CODE}\n"""',
    "backslash": f'x\\"""\n{CODE}\n"""',
    "comment": f'x\n{CODE}\n#\u202e\\N{{x}}',
}

NETWORK = """network n(s: str = {default}) {{
  input [1, 8, 8]
  conv(2, 3)
  relu
  {extra}
  flatten
  fc: linear(3)
}}
"""
BLOCK = "block b(s: str = {payload}) {{ relu }}\n"

PROBE = r"""
import builtins, importlib.util, json, os, runpy, sys, types, torch

def intended(name, value):
    if (name, value) in (("torch", torch), ("nn", torch.nn)):
        return True
    if name == "build":
        return isinstance(value, types.FunctionType) and value.__module__ == "generated_probe"
    return isinstance(value, type) and issubclass(value, torch.nn.Module) \
        and value.__module__ in ("generated_probe", "netdsl.runtime")

def probe(path):
    os.chdir(os.path.dirname(path))
    spec = importlib.util.spec_from_file_location("generated_probe", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    extra = [n for n, v in vars(module).items() if not n.startswith("__") and not intended(n, v)]
    keys = list(module.build().state_dict())
    runpy.run_path(path, run_name="__main__")
    pwned = hasattr(builtins, "PWNED")
    if pwned:
        del builtins.PWNED
    return {"extra": extra, "keys": keys, "pwned": pwned}

print(json.dumps({path: probe(path) for path in sys.argv[1:]}))
"""


def net_string(text: str) -> str:
    """``text`` as a netdsl string literal (netdsl/parser.py ``_unquote`` reads it back)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def write_net(folder: Path, name: str = "net.net", default: str = '"ok"', extra: str = "",
              prefix: str = "") -> Path:
    path = folder / name
    path.write_text(prefix + NETWORK.format(default=default, extra=extra), encoding="utf-8")
    return path


def spot_network_default(folder, payload):
    return write_net(folder, default=net_string(payload)), []


def spot_block_default(folder, payload):
    return write_net(folder, extra="b()", prefix=BLOCK.format(payload=net_string(payload))), []


def spot_set_value(folder, payload):
    return write_net(folder), ["--set", f"s={payload}"]


def spot_file_name(folder, payload):
    return write_net(folder, name=payload + ".net"), []


def spot_folder_name(folder, payload):
    inner = folder / payload
    inner.mkdir()
    return write_net(inner), []


SPOTS = {name[5:]: spot for name, spot in globals().items() if name.startswith("spot_")}
CASES = [(spot, payload) for spot in sorted(SPOTS) for payload in sorted(PAYLOADS)]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Every (spot, payload) compiled with ``netdsl compile -o``, then probed in one
    fresh interpreter: imported, built and run as a script."""
    cases = {}
    for spot, payload in CASES:
        folder = tmp_path_factory.mktemp(f"{spot}-{payload}")
        source, options = SPOTS[spot](folder, PAYLOADS[payload])
        out = folder / "out.py"
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(folder)
            assert main(["compile", str(source), "-o", str(out), *options]) == 0
        cases[spot, payload] = (folder, source, options, out)
    proc = subprocess.run([sys.executable, "-c", PROBE, *(str(c[3]) for c in cases.values())],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reports = json.loads(proc.stdout.strip().splitlines()[-1])
    return {key: (*case, reports[str(case[3])]) for key, case in cases.items()}


@pytest.fixture
def clean_marker(tmp_path, monkeypatch):
    """Run inside tmp_path (a payload would write its marker here); check nothing ran."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert not (tmp_path / MARKER).exists(), "the payload ran"
    assert not hasattr(builtins, MARKER), "the payload ran"


@pytest.mark.parametrize("spot, payload", CASES)
def test_payloads_in_every_string_spot_never_run(spot, payload, generated, monkeypatch, capsys):
    folder, source, options, out, report = generated[spot, payload]
    validate_generated(out.read_text(encoding="utf-8"))
    assert report["pwned"] is False and not (folder / MARKER).exists(), "the payload ran"
    assert report["extra"] == [], "the module defines more than its classes and build()"
    params = {options[1].split("=", 1)[0]: options[1].split("=", 1)[1]} if options else None
    assert report["keys"] == list(netdsl.load(source, params=params).to_torch().state_dict())
    monkeypatch.chdir(folder)
    assert main(["compile", str(source), "--check", *options]) == 0, capsys.readouterr().err
    assert "outputs match" in capsys.readouterr().out
    assert not (folder / MARKER).exists() and not hasattr(builtins, MARKER), "the payload ran"


def test_payloads_through_the_api_never_run(clean_marker):
    """Values only the API can carry (NUL, CR, line separators), and the file's own name."""
    payload = "".join(PAYLOADS.values()) + "\r\x00\x0b\u2028\U0001f600" + CODE
    path = write_net(clean_marker, name=PAYLOADS["newline"] + ".net")
    net = netdsl.load(path, params={"s": payload})
    text = net.to_source()  # no source given: names the graph's file
    validate_generated(text)
    assert "outputs match" in check_generated(net, text)


def test_payloads_cannot_make_labels(clean_marker, capsys):
    """A label made from a string must still be a name: refused, with a netdsl error."""
    for payload in PAYLOADS.values():
        path = write_net(clean_marker, default=net_string(payload), extra="a{s}: relu")
        assert main(["compile", str(path), "--check"]) == ArgumentError.exit_code
        assert "Traceback" not in capsys.readouterr().err


def test_labels_with_a_trailing_newline_are_refused(net_from):
    with pytest.raises(ArgumentError):
        net_from('network n(s: str = "b") { input [3, 4, 4]\n a{s}: relu }', params={"s": "b\n"})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -0.0, 1e-310, 0.1, "\u202e\"'\\\x00",
                                   "\U0001f600", ("a", 1.5, (True, None)), [1, {"k": -math.inf}]])
def test_literals_read_back_as_the_same_value(value):
    """Python itself is the oracle: the literal evaluates to the value, bit for bit."""
    text = py_literal(value)
    assert text.isascii() and "\n" not in text
    again = eval(text, {"__builtins__": {"float": float}})  # noqa: S307 — the point of the test
    assert _bits(again) == _bits(value)


def _bits(value):
    if isinstance(value, float):
        return ("float", struct.pack("<d", value))
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, [_bits(v) for v in value])
    if isinstance(value, dict):
        return ("dict", [(_bits(k), _bits(v)) for k, v in value.items()])
    return (type(value).__name__, value)


def test_literals_refuse_what_they_cannot_write():
    class Sneaky(int):
        def __repr__(self):
            return "__import__('os')"
    with pytest.raises(BackendError):
        py_literal(Sneaky(3))
    with pytest.raises(BackendError):
        py_literal(object())


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_network_parameters_compile_to_twins(value, net_from):
    """Allowed where they do nothing (the header); the check compares outputs bit for bit."""
    net = net_from("network n(v: float = 1.0) { input [3, 4, 4]\n conv(2, 1) relu }",
                   params={"v": value})
    text = net.to_source()
    assert f"v={value!r}" in text
    assert "outputs match" in check_generated(net, text)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_layer_arguments_are_refused_before_either_backend(value, net_from):
    with pytest.raises(ArgumentError):
        net_from("network n(v: float = 1.0) { input [3, 4, 4]\n pad(1, value=v) }", params={"v": value})


CLASHING = ("nn", "self", "torch", "super", "x", "int", "float", "len", "print", "object",
            "match", "type", "_", "getattr", "build", "model", "Conv2d", "nn_")


def test_parameter_names_that_clash_are_renamed_never_shadowing(net_from):
    params = ", ".join(f"{name}: int" for name in CLASHING)
    body = " ".join(f"conv({name}, 1)" for name in CLASHING)
    calls = [", ".join(str(i + k) for i in range(1, len(CLASHING) + 1)) for k in (0, 1)]
    net = net_from(f"block b({params}) {{ {body} }}\nnetwork n {{ input [3, 4, 4]\n"
                   f"  b({calls[0]})\n  b({calls[1]}) }}")
    text = net.to_source()
    assert "outputs match" in check_generated(net, text)
    namespace: dict = {}
    exec(compile(text, "clash.py", "exec"), namespace)  # noqa: S102 — validated just above
    signature = list(namespace["B"].__init__.__code__.co_varnames[1:len(CLASHING) + 2])
    assert len(signature) == len(CLASHING) + 1  # in_channels and one per block argument
    shadowing = set(signature) & (set(dir(builtins)) | {"self", "torch", "nn", "super", "B", "N"})
    assert not shadowing


def test_forward_variables_and_inputs_never_shadow(net_from):
    labels = ("torch", "getattr", "self", "nn", "super", "print", "matmul", "x")
    branches = "\n".join(f"    {label}: conv(2, 1)" for label in labels)
    net = net_from(f"network n {{ input getattr: [3, 4, 4]\n  concat {{\n{branches}\n  }}\n  relu }}")
    assert "outputs match" in check_generated(net, net.to_source())


def test_imported_functions_are_never_shadowed(net_from):
    """``matmul`` is imported from netdsl.runtime: a kept value or label named so cannot rebind it."""
    net = net_from("network n { input a: [3, 4]\n  input b: [4, 2]\n  m = matmul { @a\n @b }\n"
                   "  matmul: linear(2)\n  concat(dim=-1) { @m\n identity } }")
    text = net.to_source()
    assert "from netdsl.runtime import matmul" in text
    assert "outputs match" in check_generated(net, text)


# ------------------------------------------------------------ the validator
@pytest.mark.parametrize("path", sorted(ARCH.glob("*.net")), ids=lambda p: p.stem)
def test_the_validator_accepts_everything_the_generator_writes(path):
    validate_generated(netdsl.load(path).to_source())


def _lenet() -> str:
    return netdsl.load(ARCH / "lenet5.net").to_source()


MUTATIONS = {
    "import os": lambda t: t.replace("from torch import nn\n", "from torch import nn\nimport os\n"),
    "import as": lambda t: t.replace("import torch\n", "import torch as nn\n"),
    "from os import system": lambda t: t.replace("import torch\n", "import torch\nfrom os import system\n"),
    "top-level call": lambda t: t.replace("\n\nclass ", '\n\nprint("hi")\n\n\nclass ', 1),
    "class body call": lambda t: t.replace('    output_names', '    __import__("os").system("true")\n'
                                           '    output_names'),
    "call in __init__": lambda t: t.replace("super().__init__()\n", 'super().__init__()\n'
                                            '        __import__("os").system("true")\n'),
    "eval in forward": lambda t: t.replace("        return x\n", '        x = eval("x")\n        return x\n'),
    "getattr on torch": lambda t: t.replace("super().__init__()\n", 'super().__init__()\n'
                                            '        self.q = getattr(torch, "hub")\n'),
    "torch.hub": lambda t: t.replace("super().__init__()\n", 'super().__init__()\n'
                                     '        self.q = torch.hub.load("a", "b")\n'),
    "default argument": lambda t: t.replace("def build()", 'def build(a=__import__("os"))'),
    "decorator": lambda t: t.replace("\nclass ", "\n@print\nclass ", 1),
    "lambda": lambda t: t.replace("super().__init__()\n", "super().__init__()\n        self.q = lambda: 0\n"),
    "walrus": lambda t: t.replace("        return x\n", "        x = (y := x)\n        return x\n"),
    "shadow a builtin": lambda t: t.replace("        return x\n", "        getattr = x\n        return x\n"),
    "dunder attribute": lambda t: t.replace("        return x\n", "        x = x.__class__\n        return x\n"),
    "f-string": lambda t: t.replace("        return x\n", '        x = f"{x}"\n        return x\n'),
    "main block extra": lambda t: t.replace("    model = build().eval()\n",
                                            "    import os\n    model = build().eval()\n"),
    "annotation call": lambda t: t.replace("-> None:", '-> __import__("os"):', 1),
    "child method": lambda t: t.replace("        return x\n", "        self.apply(print)\n        return x\n"),
    "coding cookie": lambda t: t.replace("\n\n", "\n# -*- coding: utf-7 -*-\n", 1),
    "bidi text": lambda t: t.replace("# x: ", "# \u202ex: ", 1),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_the_validator_rejects_what_the_generator_never_writes(name):
    original = _lenet()
    mutated = MUTATIONS[name](original)
    assert mutated != original
    ast.parse(mutated)  # still Python: the validator, not the parser, must refuse it
    validate_generated(original)
    with pytest.raises(BackendError, match="generated source refused"):
        validate_generated(mutated)


def test_check_never_runs_text_that_fails_validation(clean_marker):
    net = netdsl.load(ARCH / "lenet5.net")
    tampered = _lenet().replace("from torch import nn\n", f"from torch import nn\n{CODE}\n")
    with pytest.raises(BackendError, match="refused"):
        check_generated(net, tampered)


def test_check_refuses_an_output_file_that_changed(tmp_path):
    net = netdsl.load(ARCH / "lenet5.net")
    text = net.to_source()
    out = tmp_path / "lenet5.py"
    out.write_text(text + f"\n{CODE}\n", encoding="utf-8")
    with pytest.raises(BackendError, match="changed"):
        check_generated(net, text, str(out))


def test_empty_labelled_groups_agree(net_from):
    net = net_from("network n { input [3, 4, 4]\n conv(2, 1)\n c: { }\n d: { e: { } }\n relu }")
    text = net.to_source()
    assert "outputs match" in check_generated(net, text)
    namespace: dict = {}
    exec(compile(text, "empty.py", "exec"), namespace)  # noqa: S102 — validated by the check
    ours = namespace["build"]()
    theirs = net.to_torch()
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()] \
        == ["", "0", "c", "d", "relu"]
    for model in (ours, theirs):
        assert type(model.c) is type(model.d) is torch.nn.Module  # empty: nothing to run
