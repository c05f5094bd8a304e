"""Every example network in examples/ elaborates, meets its expectations and runs."""
import pytest
import torch

import netdsl
from conftest import ROOT
from netdsl.analysis.expect import check_expectations

EXAMPLES = sorted((ROOT / "examples").glob("*.net"))


def test_examples_exist():
    assert {p.stem for p in EXAMPLES} >= {"unet", "se_resnet", "transfer_learning"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_builds_and_runs(path):
    net = netdsl.load(path).analyze()
    check_expectations(net)
    model = net.to_torch().eval()
    assert sum(p.numel() for p in model.parameters()) == net.params
    with torch.no_grad():
        out = model(torch.randn(1, *net.input_shape))
    assert tuple(out.shape[1:]) == net.output_shapes["out"]


def test_transfer_example_freezes_the_stem_and_slows_the_last_stage():
    net = netdsl.load(ROOT / "examples" / "transfer_learning.net")
    model = net.to_torch()
    assert not model.conv1.weight.requires_grad and not model.bn1.weight.requires_grad
    scales = {d["path"]: d["args"]["lr_scale"] for d in net.layers() if d["path"]}
    assert scales["layer4.0.conv1"] == 0.1 and scales["layer3.0.conv1"] == 1.0
    assert net.trainable_params == net.params - 64 * 3 * 7 * 7 - 2 * 64
