"""Auxiliary heads run only in training mode, as torchvision's GoogLeNet and
Inception v3 do: in eval mode the module returns the main output alone and the
heads are never called (counted with forward hooks), in training mode it returns
the tuple ``(out, aux...)`` in ``output_names`` order — in-memory and generated."""
import types

import pytest
import torch

import netdsl

from conftest import ARCH

HEADS = {"googlenet": ("aux1", "aux2"), "inception_v3": ("AuxLogits",)}


def generated_module(net) -> torch.nn.Module:
    module = types.ModuleType("generated")
    exec(compile(net.to_source(), "generated.py", "exec"), module.__dict__)  # noqa: S102 — our own output
    return module.build()


def head_calls(model: torch.nn.Module, heads, x) -> tuple[int, object]:
    calls = []
    hooks = [model.get_submodule(h).register_forward_hook(lambda *_: calls.append(1)) for h in heads]
    try:
        with torch.no_grad():
            out = model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return len(calls), out


@pytest.mark.parametrize("build", ["to_torch", "source"])
def test_googlenet_skips_its_heads_in_eval(build):
    net = netdsl.load(ARCH / "googlenet.net", input_shape=(3, 96, 96))
    torch.manual_seed(0)
    model = net.to_torch() if build == "to_torch" else generated_module(net)
    x = torch.randn(2, 3, 96, 96)
    calls, out = head_calls(model.eval(), HEADS["googlenet"], x)
    assert calls == 0 and isinstance(out, torch.Tensor) and out.shape == (2, 1000)
    calls, out = head_calls(model.train(), HEADS["googlenet"], x)
    assert calls == 2 and isinstance(out, tuple) and [o.shape for o in out] == [(2, 1000)] * 3
    assert list(model.output_names) == ["out", "aux1", "aux2"]


def test_inception_v3_skips_its_head_in_eval():
    net = netdsl.load(ARCH / "inception_v3.net")
    model = net.to_torch()
    x = torch.randn(2, *net.input_shape)
    calls, out = head_calls(model.eval(), HEADS["inception_v3"], x)
    assert calls == 0 and out.shape == (2, 1000)
    model.training = True  # the root only: dropout and batch norm stay in eval mode
    calls, (main, aux) = head_calls(model, HEADS["inception_v3"], x)
    assert calls == 1 and aux.shape == (2, 1000)
    model.training = False
    with torch.no_grad():
        assert torch.equal(model(x), main)  # the main output does not depend on the mode of the root


def test_a_network_without_auxiliary_outputs_is_unchanged(net_from):
    net = net_from("network n { input [3, 8, 8]\n conv(4, 3)\n flatten\n linear(2) }")
    model = net.to_torch()
    assert "self.training" not in net.to_source()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert model.eval()(x).shape == model.train()(x).shape == (2, 2)
