"""``netdsl.fold_batchnorm`` and ``netdsl compile --inference``: batch norms baked
into their convs give the eval-mode outputs of the unfolded module (the oracle:
the same weights run through torch's own BatchNorm), and the folded source is
the folded in-memory module."""
import pytest
import torch
from torch import nn

import netdsl
from netdsl.commands.compile import check_generated
from netdsl.errors import BackendError

from conftest import ARCH
BATCHNORM = nn.modules.batchnorm._BatchNorm


def randomize_batchnorm(model: nn.Module) -> None:
    """Fresh BN layers are near-identity and would hide a wrong fold."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, BATCHNORM):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                if m.running_mean is not None:
                    m.running_mean.uniform_(-0.2, 0.2)
                    m.running_var.uniform_(0.5, 1.5)


def count(model: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


@pytest.mark.parametrize("name, size", [("resnet18", 64), ("vgg11_bn", 32), ("densenet121", 32)])
def test_folded_outputs_equal_the_eval_module(name, size):
    torch.manual_seed(0)
    model = netdsl.load(ARCH / f"{name}.net").to_torch().eval()
    randomize_batchnorm(model)  # near-identity BNs would hide a wrong fold
    folded = netdsl.fold_batchnorm(model)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        want, got = model(x), folded(x)
    assert (got - want).abs().max().item() <= 1e-4 * max(1.0, want.abs().max().item())
    assert not folded.training and model.training is False
    left = count(folded, BATCHNORM)
    if name == "densenet121":  # norm0 and each layer's norm2 follow a conv; the rest follow a concat
        after_conv = [n for n, m in model.named_modules() if isinstance(m, BATCHNORM)
                      and n.rpartition(".")[2] in ("norm0", "norm2")]
        assert len(after_conv) == 59 and left == count(model, BATCHNORM) - 59
    else:
        assert left == 0
        convs = [m for m in folded.modules() if isinstance(m, nn.Conv2d)]
        assert convs and all(c.bias is not None for c in convs)


def test_fold_leaves_the_original_untouched_and_keeps_dtype():
    model = netdsl.load(ARCH / "resnet18.net").to_torch(dtype=torch.float64).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded = netdsl.fold_batchnorm(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert {p.dtype for p in folded.parameters()} == {torch.float64}
    assert sum(p.numel() for p in folded.parameters()) == \
        sum(p.numel() for p in model.parameters()) - 2 * sum(m.num_features for m in model.modules()
                                                              if isinstance(m, BATCHNORM)) \
        + sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d) and m.bias is None)


FOLDS = """network n { input [3, 8, 8]
  a: conv(4, 3, padding=1, bias=false) bn1: batchnorm relu
  b: conv(4, 3, padding=1) bn2: batchnorm(track_running_stats=false)
  shared: conv(4, 1)
  residual { bn3: batchnorm }
  flatten
  fc: linear(6) bn4: batchnorm
}"""


def test_only_a_sole_consumer_in_eval_semantics_is_folded(net_from):
    net = net_from(FOLDS)
    model = net.to_torch().eval()
    randomize_batchnorm(model)
    folded = netdsl.fold_batchnorm(model)
    names = {n.rpartition(".")[2] for n, _ in folded.named_modules()}
    # bn1 and bn4 fold; bn2 uses batch statistics even in eval; bn3's conv also feeds the skip
    assert {"bn2", "bn3"} <= names and not {"bn1", "bn4"} & names
    assert folded.fc.bias is not None and folded.a.bias is not None
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(folded(x), model(x), atol=1e-5)


def test_a_module_from_elsewhere_needs_its_network(net_from):
    net = net_from(FOLDS)
    with pytest.raises(BackendError, match="built by net.to_torch"):
        netdsl.fold_batchnorm(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)))
    other = net_from("network m { input [3, 8, 8]\n conv(5, 3) batchnorm }")
    with pytest.raises(BackendError, match="does not match"):
        netdsl.fold_batchnorm(net.to_torch(), other)


def test_inference_source_is_the_folded_module():
    net = netdsl.load(ARCH / "resnet18.net")
    text = net.to_source(inference=True)
    assert "BatchNorm" not in text and "nn.Conv2d(c, c, 3, padding=1)" in text
    assert "outputs match" in check_generated(net, text, inference=True)


def test_compile_inference_cli(tmp_path, capsys):
    from netdsl.cli import main
    out = tmp_path / "m.py"
    assert main(["compile", str(ARCH / "lenet5.net"), "--inference", "-o", str(out), "--check"]) == 0
    assert "outputs match" in capsys.readouterr().out
