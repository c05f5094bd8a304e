"""``to_torch(features=[...])``: timm's features_only contract, checked against
torchvision's own ``create_feature_extractor`` on the same weights."""
import pytest
import torch

import netdsl
from netdsl.errors import ArgumentError, UnknownName

torchvision = pytest.importorskip("torchvision")
from torchvision.models.feature_extraction import create_feature_extractor  # noqa: E402

LAYERS = ["layer1", "layer2", "layer3", "layer4"]


@pytest.fixture(scope="module")
def resnet50_pair():
    torch.manual_seed(0)
    reference = torchvision.models.resnet50().eval()
    for m in reference.modules():  # randomised statistics: a wrong map cannot hide behind identity bns
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    ours = netdsl.load("resnet50").to_torch(features=LAYERS).eval()
    ours.load_state_dict({k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")},
                         strict=True)  # the head is gone, every other key is torchvision's
    return ours, reference


def test_feature_maps_equal_torchvisions_feature_extractor(resnet50_pair):
    ours, reference = resnet50_pair
    extractor = create_feature_extractor(reference, {name: name for name in LAYERS})
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        got, want = ours(x), extractor(x)
    assert isinstance(got, tuple) and len(got) == 4
    for name, tensor in zip(LAYERS, got):
        torch.testing.assert_close(tensor, want[name], rtol=1e-4, atol=1e-5)


def test_feature_info_is_static_and_matches_the_maps(resnet50_pair):
    ours, _ = resnet50_pair
    assert ours.feature_info == [{"module": "layer1", "num_chs": 256, "reduction": 4},
                                 {"module": "layer2", "num_chs": 512, "reduction": 8},
                                 {"module": "layer3", "num_chs": 1024, "reduction": 16},
                                 {"module": "layer4", "num_chs": 2048, "reduction": 32}]
    with torch.no_grad():
        maps = ours(torch.randn(1, 3, 224, 224))
    for info, tensor in zip(ours.feature_info, maps):
        assert tensor.shape[1] == info["num_chs"] and 224 // tensor.shape[2] == info["reduction"]


def test_features_cut_the_head_and_keep_the_analysis():
    net = netdsl.load("resnet18")
    cut = net.features(["layer2"])
    assert cut.params < net.params and "fc" not in {a.get("path") for _, a in cut.ir.nodes(data=True)}
    assert cut.output_shapes == {"layer2": (128, 28, 28)}
    assert [(i.module, i.channels, i.reduction) for i in cut.feature_info] == [("layer2", 128, 8)]


def test_a_leaf_layer_and_an_inplace_reader_of_it(tmp_path):
    net = netdsl.load("resnet18")
    module = net.to_torch(features=["layer1.0.bn1"]).eval()  # the relu after it is in place
    assert module.feature_info == [{"module": "layer1.0.bn1", "num_chs": 64, "reduction": 4}]
    with torch.no_grad():
        out = module(torch.randn(1, 3, 64, 64))
    assert (out < 0).any()  # a batch norm's output, not overwritten by the in-place relu after it


def test_torch_module_names_of_unnamed_layers_are_accepted():
    net = netdsl.load("resnet18")
    module = net.to_torch(features=["layer1.0.relu"])  # the IR numbers it layer1.0.2
    assert module.feature_info == [{"module": "layer1.0.relu", "num_chs": 64, "reduction": 4}]
    assert "layer1.0.relu" in dict(net.to_torch().named_modules())


def test_unknown_and_unusable_modules_are_located_errors():
    net = netdsl.load("resnet18")
    with pytest.raises(UnknownName, match="did you mean 'layer2'"):
        net.features(["layr2"])
    with pytest.raises(ArgumentError, match="not a feature map"):
        net.features(["fc"])
    with pytest.raises(ArgumentError, match="non-empty list"):
        net.features("layer2")
