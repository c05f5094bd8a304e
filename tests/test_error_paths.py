"""Error paths through the command line: each gives its error family's exit code
and a message that names the problem (docs/errors.md), never a traceback."""
import pytest
import torch

from conftest import ARCH
from netdsl.cli import main
from netdsl.errors import ArgumentError, BackendError, ShapeError, UnknownName, UsageError
from netdsl.network import Network

LENET = str(ARCH / "lenet5.net")


def fails(capsys, argv, error, fragment: str) -> str:
    """Run the CLI; it must exit with ``error``'s code and print ``fragment``."""
    status = main(argv)
    err = capsys.readouterr().err
    assert status == error.exit_code, err
    assert fragment in err and "Traceback" not in err, err
    return err


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# ------------------------------------------------------------ command-line arguments
@pytest.mark.parametrize("option, value, error, fragment", [
    ("--input", "axb", UsageError, "--input must look like 3x224x224, got 'axb'"),
    ("--input", "3x", ShapeError, "give --input as many sizes as the declared shape, e.g. 1x32x32"),
    ("--set", "num_classes", UsageError, "--set needs NAME=VALUE, got 'num_classes'"),
    ("--set", "=3", UsageError, "--set needs NAME=VALUE, got '=3'"),
    ("--set", "num_classes=0.5", ArgumentError, "num_classes"),
])
def test_malformed_input_and_set(capsys, option, value, error, fragment):
    fails(capsys, ["summarize", LENET, option, value], error, fragment)


@pytest.mark.parametrize("depth", ["-1", "0", "x"])
def test_bad_depth_is_an_argument_error(capsys, depth):
    with pytest.raises(SystemExit) as info:
        main(["summarize", LENET, "--depth", depth])
    assert info.value.code == 2
    assert f"--depth/-d: expected a positive integer, got '{depth}'" in capsys.readouterr().err


def test_no_subcommand_prints_the_usage_and_exits_2(capsys):
    status = main([])
    out, err = capsys.readouterr()
    assert status == 2 and "usage: netdsl" in out + err and "COMMAND" in out + err


# ------------------------------------------------------------ which network
def test_several_networks_need_a_choice(capsys, tmp_path):
    path = write(tmp_path, "two.net", "network a { input [3, 8, 8]\n conv(4, 3) }\nnetwork b { input [3, 8, 8]\n relu }\n")
    err = fails(capsys, ["summarize", path], UsageError, "two.net defines several networks; choose one")
    assert "networks: a, b" in err and "two.net:3:1" in err
    assert main(["summarize", path, "--network", "b"]) == 0
    capsys.readouterr()
    fails(capsys, ["summarize", path, "--network", "c"], UnknownName, "no network 'c' in")


def test_a_file_of_blocks_only_has_no_network(capsys, tmp_path):
    path = write(tmp_path, "blocks.net", "block blk(c: int) { conv(c, 3) }\n")
    fails(capsys, ["summarize", path], UsageError, "blocks.net defines no network (only blocks)")


# ------------------------------------------------------------ blocks and ops
@pytest.mark.parametrize("call, fragment", [
    ("blk(4, 5)", "block 'blk' takes 1 argument(s), got 2"),
    ("blk()", "'blk' needs argument 'c'"),
])
def test_block_arity(capsys, tmp_path, call, fragment):
    path = write(tmp_path, "arity.net", f"block blk(c: int) {{ conv(c, 3) }}\nnetwork n {{ input [3, 8, 8]\n {call} }}\n")
    err = fails(capsys, ["summarize", path], ArgumentError, fragment)
    assert "arity.net:3:2" in err


@pytest.mark.parametrize("call, fragment", [
    ("conv(4, 3, padding=1, padding_mode=\"mirror\")",
     "argument 'padding_mode' must be one of 'zeros', 'reflect', 'replicate', 'circular', got 'mirror'"),
    ("conv_transpose(4, 3, stride=2, output_padding=2)", "output_padding 2 must be smaller than stride or dilation"),
    ("conv_transpose(4, 3, output_padding=1)", "output_padding 1 must be smaller than stride or dilation"),
])
def test_padding_mode_and_output_padding(capsys, tmp_path, call, fragment):
    path = write(tmp_path, "pad.net", f"network n {{ input [3, 8, 8]\n {call} }}\n")
    fails(capsys, ["summarize", path], ArgumentError, fragment)


@pytest.mark.parametrize("call", ["conv_transpose(4, 3, stride=2, output_padding=2)",
                                  "conv_transpose(4, 3, output_padding=1)"])
def test_torch_refuses_the_same_output_padding(call):
    """The oracle for the rule above: torch's own layer refuses it too."""
    stride = 2 if "stride=2" in call else 1
    layer = torch.nn.ConvTranspose2d(3, 4, 3, stride=stride, output_padding=2 if stride == 2 else 1)
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        layer(torch.randn(1, 3, 8, 8))


# ------------------------------------------------------------ compile --check
def _wrong_source(replace: tuple[str, str]):
    original = Network.to_source

    def to_source(self, *args, **kwargs):
        return original(self, *args, **kwargs).replace(*replace)
    return to_source


@pytest.mark.parametrize("replace, fragment", [
    (("nn.Tanh()", "nn.Sigmoid()"), "generated module's outputs differ from the in-memory module's"),
    (("nn.Linear(84, 10)", "nn.Linear(84, 10, bias=False)"), "generated state_dict differs: missing ['f7.bias']"),
])
def test_compile_check_reports_a_mismatch(capsys, monkeypatch, replace, fragment):
    monkeypatch.setattr(Network, "to_source", _wrong_source(replace))
    fails(capsys, ["compile", LENET, "--check"], BackendError, fragment)


def test_compile_check_passes_on_the_real_source(capsys):
    assert main(["compile", LENET, "--check"]) == 0
    assert "outputs match" in capsys.readouterr().out


# ------------------------------------------------------------ training configuration and weights
@pytest.mark.parametrize("name, text, fragment", [
    ("list.yaml", "[1, 2]\n", "list.yaml: a training config is a mapping of keys to values"),
    ("bad.yaml", "a: [1,\n", "cannot read training config"),
    ("scalar.yaml", "3\n", "a training config is a mapping of keys to values"),
])
def test_unreadable_or_non_mapping_yaml(capsys, tmp_path, name, text, fragment):
    fails(capsys, ["train", LENET, "--config", write(tmp_path, name, text)], UsageError, fragment)


def test_missing_config_file(capsys, tmp_path):
    fails(capsys, ["train", LENET, "--config", str(tmp_path / "none.yaml")], UsageError,
          "cannot read training config")


@pytest.mark.parametrize("override, fragment", [
    ("epochs", "an override needs KEY=VALUE, got 'epochs'"),
    ("nosuch.key=1", "unknown training setting 'nosuch'"),
    ("epochs.x=1", "training setting 'epochs' must be int, got {'x': 1}"),
])
def test_malformed_overrides(capsys, override, fragment):
    fails(capsys, ["train", LENET, "-O", override], UsageError, fragment)


@pytest.mark.parametrize("weights, fragment", [
    ("missing.pth", "transfer.init_from: no file"),
    ("garbage.pth", "transfer.init_from: cannot read"),
    ("torchvision:nosuchnet", "nosuchnet"),
])
def test_missing_wrong_or_unknown_initial_weights(capsys, tmp_path, monkeypatch, weights, fragment):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "garbage.pth").write_bytes(b"not a torch file")
    fails(capsys, ["train", LENET, "--init-from", weights, "--epochs", "1", "--data", "synthetic",
                   "--out", str(tmp_path / "out")], UsageError, fragment)


def test_weights_of_another_network_do_not_fit_when_strict(capsys, tmp_path):
    path = tmp_path / "other.pth"
    torch.save(torch.nn.Linear(3, 2).state_dict(), path)
    fails(capsys, ["train", LENET, "--init-from", str(path), "--epochs", "1", "--data", "synthetic",
                   "-O", "transfer.skip_mismatched=false", "--out", str(tmp_path / "out")], UsageError,
          "does not fit the network: 2 unused and 10 missing tensors")
