"""The language-core acceptance: VGG-16 and ResNet-18 are torchvision's models."""
import pytest
import torch
import torchvision

import netdsl
from conftest import ARCH


@pytest.mark.parametrize("name, params", [("vgg16", 138_357_544), ("resnet18", 11_689_512)])
def test_twin_loads_torchvision_weights_and_matches_outputs(name, params):
    net = netdsl.load(ARCH / f"{name}.net")
    assert net.params == params
    model = net.to_torch().eval()
    reference = getattr(torchvision.models, name)().eval()
    assert sum(p.numel() for p in model.parameters()) == params
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert (model(x) - reference(x)).abs().max().item() <= 1e-4
