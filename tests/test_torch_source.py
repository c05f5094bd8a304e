"""Generated PyTorch source (``netdsl compile``) against the in-memory module.

The oracle is the in-memory module built from the same plan: the generated
class must have the same state_dict keys and shapes, the same initial
weights under the same seed, and exactly the same outputs.
"""
import os
import subprocess
import sys
import types

import pytest
import torch
from conftest import ARCH, ROOT
from op_examples import padding_mask

import netdsl
from netdsl.backends.pytorch.validate import validate_generated
from netdsl.cli import main

GOLDEN = ROOT / "tests" / "golden" / "py"

INLINE = {
    "residual": """
block unit(c: int, stride: int = 1) {
  residual { conv1: conv(c, 3, stride=stride, padding=1) bn: batchnorm relu }
  shortcut if stride != 1 or in.channels != c { downsample: { conv(c, 1, stride=stride) } }
}
network n { input [4, 8, 8]
  a: unit(4)
  b: unit(8, stride=2)
  c: unit(8) }""",
    "concat": """
block inception(a: int, b: int) {
  concat {
    branch1: conv(a, 1)
    branch2: { conv(b, 1) conv(b, 3, padding=1) }
    branch3: maxpool(3, stride=1, padding=1)
  }
}
network n { input [3, 8, 8]
  i1: inception(2, 3)
  i2: inception(4, 5) }""",
    "dense": """
block layer(growth: int) { norm: batchnorm relu conv: conv(growth, 3, padding=1) }
network n { input [4, 6, 6]
  block1: dense repeat 3 as i { denselayer{i+1}: layer(2) }
  transition: { conv(4, 1) avgpool(2) } }""",
    "mul": """network n { input [8, 4, 4]
  se: mul { identity
            { adaptive_avgpool(1) conv(2, 1) relu conv(8, 1) sigmoid } } }""",
    "refs": """network unet { input x: [3, 16, 16]
  e1 = enc1: conv(4, 3, padding=1)
  e2 = maxpool(2) enc2: conv(8, 3, padding=1)
  up: conv_transpose(4, 2, stride=2)
  d1 = concat { identity
                @e1 }
  head: conv(2, 1) }""",
    "outputs": """network n { input [3, 8, 8]
  body: conv(4, 3, padding=1)
  output aux(weight=0.3, aux=true) = aux_head: { adaptive_avgpool(1) flatten linear(5) }
  flatten
  fc: linear(7) }""",
    "init_and_frozen": """
block unit(c: int) {
  conv(c, 3, padding=1, init=kaiming_normal(mode="fan_out"), bias_init=zeros()) relu
}
network n { input [3, 8, 8]
  stem: conv(4, 1, init=constant(0.5), trainable=false)
  features: { unit(6) unit(6) }
  head: { flatten linear(3, init=normal(std=0.01), trainable=false) } }""",
    "empty_groups": """network n { input [3, 4, 4]
  conv(2, 1)
  c: { }
  d: { e: { } }
  relu }""",
    "awkward_names": """network n { input [3, 4, 4]
  pass: conv(2, 1)
  lambda: { conv(2, 1) relu }
  flatten
  fc: linear(2) }""",
}


def exec_source(text: str) -> types.ModuleType:
    validate_generated(text)  # every generated text these tests see must pass the gate
    module = types.ModuleType("generated")
    exec(compile(text, "generated.py", "exec"), module.__dict__)
    return module


def seeded_pair(net):
    """(generated, in-memory) modules built from the same seed."""
    generated = exec_source(net.to_source())
    torch.manual_seed(0)
    ours = generated.build()
    torch.manual_seed(0)
    theirs = net.to_torch()
    return ours, theirs


def assert_twins(net, batch: int = 2):
    ours, theirs = seeded_pair(net)
    mine, want = ours.state_dict(), theirs.state_dict()
    assert [(k, v.shape) for k, v in mine.items()] == [(k, v.shape) for k, v in want.items()]
    assert all(torch.equal(mine[k], want[k]) for k in want), "same seed, different weights"
    assert [n for n, p in ours.named_parameters() if not p.requires_grad] == \
        [n for n, p in theirs.named_parameters() if not p.requires_grad]
    ours.load_state_dict(want, strict=True)
    ours.eval(), theirs.eval()
    shapes = [net.ir.nodes[i["node"]]["shape"] for i in net.inputs]
    xs = [padding_mask(shape, batch) if i.get("dtype") == "bool" else torch.randn(batch, *shape)
          for i, shape in zip(net.inputs, shapes)]
    with torch.no_grad():
        got, expected = ours(*xs), theirs(*xs)
    if isinstance(expected, tuple):
        assert len(got) == len(expected) and all(map(torch.equal, got, expected))
    else:
        assert torch.equal(got, expected)
    return ours


@pytest.mark.parametrize("name, shape", [("lenet5", None), ("resnet18", (3, 64, 64)),
                                         ("vgg16", (3, 32, 32))])
def test_zoo_sources_are_twins_of_the_in_memory_modules(name, shape):
    assert_twins(netdsl.load(ARCH / f"{name}.net", input_shape=shape))


@pytest.mark.parametrize("case", sorted(INLINE))
def test_inline_networks_are_twins(case, net_from):
    assert_twins(net_from(INLINE[case]))


def test_op_examples_compile_to_twins(net_from):
    from op_examples import EXAMPLES as examples  # noqa: the full table, only here
    for op, cases in examples.items():
        for example in cases:
            if example.dtype.startswith("float"):
                assert_twins(net_from(example.source()))


def test_identical_blocks_share_a_class_with_inferred_parameters(net_from):
    text = net_from(INLINE["residual"] + "\nblock unused() { relu }").to_source()
    assert text.count("class Unit(nn.Module)") == 1
    assert "def __init__(self, c: int) -> None:" in text
    assert "self.a = Unit(4)" in text and "self.c = Unit(8)" in text
    assert "self.b = UnitDownsample()" in text  # one instance: constants only
    assert "x = self.conv1(x)" not in text  # x is still needed by the shortcut
    assert "out = self.conv1(x)  # [N, c, H, W]" in text


def test_root_forward_has_concrete_shape_comments():
    text = netdsl.load(ARCH / "resnet18.net", input_shape=(3, 64, 64)).to_source()
    assert text.count("class Basic(nn.Module)") == 1
    assert "x = self.conv1(x)  # [N, 64, 32, 32]" in text


def test_forward_names_kept_values_after_their_producers(net_from):
    text = net_from(INLINE["concat"]).to_source()
    assert "branch1 = self.branch1(x)" in text
    assert "x = torch.cat([branch1, branch2, branch3], 1)" in text
    dense = net_from(INLINE["dense"]).to_source()
    assert "denselayer1 = self.denselayer1(x)" in dense
    assert "out = torch.cat([x, denselayer1], 1)" in dense


def test_initializers_and_frozen_layers_are_explicit(net_from):
    text = net_from(INLINE["init_and_frozen"]).to_source()
    assert 'nn.init.kaiming_normal_(self[0].weight, mode="fan_out")' in text
    assert "nn.init.zeros_(self[0].bias)" in text
    assert "nn.init.constant_(self.stem.weight, val=0.5)" in text
    assert ".requires_grad_(False)" in text
    ours = assert_twins(net_from(INLINE["init_and_frozen"]))
    assert torch.all(ours.stem.weight == 0.5)


def test_generation_is_deterministic_and_runs(net_from):
    net = netdsl.load(ARCH / "resnet18.net")
    first, second = net.to_source(), netdsl.load(ARCH / "resnet18.net").to_source()
    assert first == second
    assert_twins(netdsl.load(ARCH / "resnet18.net", params={"num_classes": 10}, input_shape=(3, 32, 32)))


def golden_names():
    return sorted(p.stem for p in GOLDEN.glob("*.py"))


def test_core_golden_files_exist():
    assert {"lenet5", "resnet18", "vgg16"} <= set(golden_names())


@pytest.mark.parametrize("name", golden_names())
def test_golden_sources_are_up_to_date(name):
    """Regenerate with tests/golden/py/regenerate.sh after a deliberate change."""
    assert (ARCH / f"{name}.net").exists(), f"golden {name}.py has no architectures/{name}.net: delete it"
    net = netdsl.load(ARCH / f"{name}.net")
    assert net.to_source(f"architectures/{name}.net") == (GOLDEN / f"{name}.py").read_text()


def test_cli_prints_writes_and_checks(tmp_path, capsys):
    assert main(["compile", str(ARCH / "lenet5.net")]) == 0
    assert "class Lenet5(nn.Module)" in capsys.readouterr().out
    out = tmp_path / "sub" / "lenet5.py"
    assert main(["compile", str(ARCH / "lenet5.net"), "-o", str(out), "--check"]) == 0
    assert "outputs match" in capsys.readouterr().out
    proc = subprocess.run([sys.executable, str(out)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0 and "tensor" in proc.stdout, proc.stderr


@pytest.mark.parametrize("suffix", [".onnx", ".PT2"])
def test_compile_to_an_export_suffix_points_at_export_and_writes_nothing(tmp_path, capsys, suffix):
    out = tmp_path / f"my model{suffix}"
    assert main(["compile", "lenet5", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "compile writes PyTorch source" in err and f"netdsl export lenet5 -o '{out}'" in err
    assert not out.exists()


def test_cli_reports_errors_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.net"
    bad.write_text("network n { input [3, 4, 4]\n conv(2, 9) }")
    assert main(["compile", str(bad)]) != 0
    assert "shape error" in capsys.readouterr().err
