"""Building a module never allocates blindly (issue 8, item 6).

The size a build will allocate is computed from the IR and checked against
``Limits.build_bytes`` (or the memory available) before any layer exists.
The oracle for the size is torch: the bytes of a built module's parameters
and buffers.
"""
import resource
import time

import pytest
import torch
from conftest import ARCH

import netdsl
from netdsl.backends.pytorch import build_size, module as torch_module
from netdsl.cli import main
from netdsl.errors import BackendError

HUGE = "network huge { input [10]\n  linear(10**7)\n  linear(10**7) }\n"  # 400 TB of weights


def torch_bytes(model: torch.nn.Module) -> int:
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


@pytest.mark.parametrize("name", ["lenet5", "resnet18", "densenet121", "lstm_classifier", "googlenet"])
def test_the_static_size_is_what_torch_allocates(name):
    net = netdsl.load(ARCH / f"{name}.net")
    assert build_size.build_bytes(net) == torch_bytes(net.to_torch())


def test_a_huge_network_is_refused_fast_without_allocating(net_from):
    net = net_from(HUGE)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(BackendError) as caught:
        net.to_torch()
    assert time.perf_counter() - start < 1.0
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 64 * 1024, f"max RSS grew by {grown_kib} KiB"
    message = caught.value.format()
    assert "363.8 TiB" in message and "memory available on cpu" in message
    assert "--limit build_bytes=400000480000000" in message
    assert "netdsl.Limits(build_bytes=400000480000000)" in message
    assert caught.value.exit_code == 9


def test_refusal_comes_before_any_layer_is_built(net_from, monkeypatch):
    def no_layers(leaf):
        raise AssertionError(f"built {leaf.name} before checking the size")
    monkeypatch.setattr(torch_module, "_build_leaf", no_layers)
    with pytest.raises(BackendError):
        net_from(HUGE).to_torch()


def test_an_explicit_limit_is_exact():
    need = torch_bytes(netdsl.load(ARCH / "lenet5.net").to_torch())
    assert netdsl.load(ARCH / "lenet5.net", limits=netdsl.Limits(build_bytes=need)).to_torch()
    tight = netdsl.load(ARCH / "lenet5.net", limits=netdsl.Limits(build_bytes=need - 1))
    with pytest.raises(BackendError, match=f"limit build_bytes={need - 1:,}"):
        tight.to_torch()


def test_small_and_generous_limits():
    with pytest.raises(BackendError, match="build_bytes=1,000"):
        netdsl.load(ARCH / "lenet5.net", limits=netdsl.Limits(build_bytes=1000)).to_torch()
    model = netdsl.load(ARCH / "lenet5.net", limits=netdsl.Limits(build_bytes=10**9)).to_torch()
    assert sum(p.numel() for p in model.parameters()) == 61_706


def test_the_target_device_is_checked_too(net_from, monkeypatch):
    """Builds happen on the CPU, then move: both must have room."""
    room = {"cpu": 10**9, "cuda:0": 100}
    monkeypatch.setattr(build_size, "available_bytes", lambda target: room.get(target))
    net = net_from("network n { input [3, 8, 8]\n conv(8, 3) }")
    with pytest.raises(BackendError, match="memory available on cuda:0"):
        net.to_torch(device="cuda:0")
    assert net.to_torch(device="cpu") is not None  # the CPU has room


def test_cli_compile_check_refuses_with_exit_9(tmp_path, capsys):
    path = tmp_path / "huge.net"
    path.write_text(HUGE)
    assert main(["compile", str(path), "--check"]) == 9
    assert "build_bytes" in capsys.readouterr().err
    assert main(["compile", str(path)]) == 0  # writing source allocates nothing
    assert "nn.Linear(10000000, 10000000)" in capsys.readouterr().out
    lenet = str(ARCH / "lenet5.net")
    assert main(["compile", lenet, "--check", "--limit", "build_bytes=1000"]) == 9
    assert main(["compile", lenet, "--check", "--limit", "build_bytes=1000000000"]) == 0
