"""``net.to_torch(device=, dtype=, memory_format=)``: built on the meta device and
materialised layer by layer, yet with the weights an eager CPU build draws for the
same seed (the oracle: the generated source's ``build()``, which constructs every
layer directly on the CPU), in the dtype and memory format asked for."""
import types

import pytest
import torch

import netdsl
from netdsl.errors import BackendError

from conftest import ARCH

CASES = [("lenet5", None), ("resnet18", (3, 32, 32)), ("lstm_classifier", None)]


def eager_build(net) -> torch.nn.Module:
    module = types.ModuleType("generated")
    exec(compile(net.to_source(), "generated.py", "exec"), module.__dict__)  # noqa: S102 — our own output
    torch.manual_seed(0)
    return module.build()


def seeded(net, **target) -> torch.nn.Module:
    torch.manual_seed(0)
    return net.to_torch(**target)


@pytest.mark.parametrize("name, shape", CASES)
def test_seeded_weights_equal_an_eager_cpu_build(name, shape):
    net = netdsl.load(ARCH / f"{name}.net", input_shape=shape)
    want = eager_build(net).state_dict()
    got = seeded(net, device="cpu").state_dict()
    assert list(got) == list(want)
    assert all(torch.equal(got[k], want[k]) for k in want)
    assert all(v.device.type == "cpu" for v in got.values())


def test_dtype_casts_floating_tensors_only():
    net = netdsl.load(ARCH / "resnet18.net", input_shape=(3, 32, 32))
    reference = seeded(net).state_dict()
    model = seeded(net, dtype="bfloat16")
    for key, value in model.state_dict().items():
        if reference[key].is_floating_point():
            assert value.dtype == torch.bfloat16 and torch.equal(value, reference[key].to(torch.bfloat16))
        else:  # BatchNorm's num_batches_tracked stays int64
            assert value.dtype == reference[key].dtype
    with torch.no_grad():
        assert model.eval()(torch.randn(2, 3, 32, 32, dtype=torch.bfloat16)).dtype == torch.bfloat16


def test_channels_last_weights():
    net = netdsl.load(ARCH / "resnet18.net", input_shape=(3, 32, 32))
    model = seeded(net, memory_format=torch.channels_last)
    convs = [p for p in model.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
                         for p in convs if p.shape[2:] != (1, 1))
    reference = seeded(net).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model.eval()(x.to(memory_format=torch.channels_last)), reference(x), atol=1e-5)


def test_frozen_layers_stay_frozen_and_nothing_is_left_on_meta(net_from):
    net = net_from("network n { input [3, 8, 8]\n stem: conv(4, 3, trainable=false)\n bn: batchnorm\n"
                   " flatten\n fc: linear(2, init=zeros()) }")
    model = net.to_torch(dtype=torch.float64)
    assert [n for n, p in model.named_parameters() if not p.requires_grad] == ["stem.weight", "stem.bias"]
    assert not any(t.is_meta for t in [*model.parameters(), *model.buffers()])
    assert torch.count_nonzero(model.fc.weight) == 0


def test_a_dtype_that_is_not_floating_is_refused(net_from):
    net = net_from("network n { input [3]\n linear(2) }")
    for dtype in ("int64", torch.int32, "float31"):
        with pytest.raises(BackendError, match="dtype"):
            net.to_torch(dtype=dtype)
