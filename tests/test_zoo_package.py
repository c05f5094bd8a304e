"""The zoo ships inside the package (issue 12): names work wherever paths do,
user files import its block libraries, `netdsl list` shows it, and
`netdsl.create` builds a module in one call.  The last test builds the wheel
and uses it from a folder outside the checkout."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import netdsl
from netdsl import zoo
from netdsl.cli import main
from netdsl.errors import UsageError

from test_zoo_twins import TWINS

ROOT = Path(__file__).resolve().parent.parent

USER_FILE = '''import "lib/resnet.net"
network mine(num_classes: int = 10) {
    input [3, 64, 64]
    inline stem
    layer1: basic_layer(64, 2)
    inline head(num_classes)
}
'''


def test_twin_lines_name_exactly_the_twins_the_twin_tests_check():
    declared = {name: zoo.twin(zoo.ROOT / f"{name}.net") for name in zoo.names()}
    assert {n for n, t in declared.items() if t} == {t.file for t in TWINS}
    assert all(t == f"torchvision.models.{n}" for n, t in declared.items() if t)


def test_a_bare_name_loads_the_zoo_file_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert netdsl.load("resnet50").params == 25_557_032
    assert main(["check", "vgg16"]) == 0


def test_a_local_file_wins_over_the_zoo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet50").write_text("network tiny {\n  input [3]\n  relu\n}\n")
    assert netdsl.load("resnet50").name == "tiny"


def test_an_unknown_name_suggests_a_zoo_network(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="no such file or zoo network") as info:
        netdsl.load("resnet5")
    assert "resnet50" in info.value.hint


def test_user_files_import_the_zoo_library_from_anywhere(tmp_path):
    path = tmp_path / "mine.net"
    path.write_text(USER_FILE)
    net = netdsl.load(path)
    assert net.output_shapes == {"out": (10,)}
    reference = netdsl.load("resnet18").to_torch().state_dict()
    own = net.to_torch().state_dict()
    assert own["layer1.0.conv1.weight"].shape == reference["layer1.0.conv1.weight"].shape


def test_a_local_library_wins_over_the_zoo_library(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "resnet.net").write_text("block basic_layer(c: int, n: int) { relu }\n"
                                                   "block stem { relu }\nblock head(k: int) { flatten linear(k) }\n")
    path = tmp_path / "mine.net"
    path.write_text(USER_FILE)
    assert netdsl.load(path).params == 3 * 64 * 64 * 10 + 10


def test_list_shows_every_network_with_its_figures(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert f"{len(zoo.names())} networks" in out
    row = next(line for line in out.splitlines() if line.startswith("resnet50 "))
    assert "25.56 M" in row and "4.09 G" in row and "3x224x224" in row and "torchvision.models.resnet50" in row
    assert main(["list", "vgg1?_bn", "-f", "names"]) == 0
    assert capsys.readouterr().out.split() == ["vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]


def test_list_json_figures_equal_the_networks_own():
    row = zoo.entry("lenet5")
    net = netdsl.load("lenet5").analyze()
    assert (row["params"], row["macs"], row["input"]) == (net.params, net.macs, list(net.input_shape))


def test_create_builds_a_module_named_after_the_network_with_overrides():
    model = netdsl.create("resnet18", num_classes=10)
    assert type(model).__name__ == "resnet18"
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 10)


def test_create_loads_weights_and_keeps_a_new_head_fresh(tmp_path):
    source = netdsl.create("resnet18")
    torch.save(source.state_dict(), tmp_path / "r18.pth")
    model = netdsl.create("resnet18", num_classes=7, weights=str(tmp_path / "r18.pth"))
    assert torch.equal(model.conv1.weight, source.conv1.weight)
    assert model.weights_report.missing == ["fc.bias", "fc.weight"]


def test_create_with_torchvision_weights_needs_a_twin():
    with pytest.raises(UsageError, match="no torchvision twin"):
        netdsl.create("lenet5", weights="torchvision")


def test_create_with_torchvision_weights_asks_torchvision_for_the_twin(monkeypatch):
    import torchvision
    asked = []

    def builder(name):
        def build(weights):
            asked.append((name, weights))
            return torchvision.models.resnet18()
        return build
    monkeypatch.setattr(torchvision.models, "get_model_builder", builder)
    model = netdsl.create("resnet18", weights="torchvision:IMAGENET1K_V1")
    assert asked == [("resnet18", "IMAGENET1K_V1")]
    assert not model.weights_report.missing


def test_the_wheel_carries_the_zoo(tmp_path):
    wheels, target, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "work"
    work.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(ROOT)], check=True, capture_output=True)
    wheel = next(wheels.glob("netdsl-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    run = lambda *args: subprocess.run([sys.executable, *args], cwd=work, env=env, capture_output=True,
                                       text=True, timeout=300)
    (work / "mine.net").write_text(USER_FILE)
    summary = run("-m", "netdsl", "summarize", "resnet50")
    assert summary.returncode == 0 and "25,557,032" in summary.stdout, summary.stderr
    listing = run("-m", "netdsl", "list")
    assert listing.returncode == 0 and "torchvision.models.resnet50" in listing.stdout
    assert run("-m", "netdsl", "check", "mine.net").returncode == 0
    api = run("-c", "import netdsl; assert netdsl.__file__.startswith(%r); "
                    "print(type(netdsl.create('lenet5')).__name__, netdsl.load('vgg16').params)" % str(target))
    assert api.stdout.split() == ["lenet5", "138357544"], api.stderr
