"""Every zoo file with a torchvision twin is that model: same parameters, same
state_dict keys and shapes (so pretrained weights load strictly), same MACs,
and the same outputs, auxiliary heads included, on one random input."""
from dataclasses import dataclass, field

import pytest
import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

import netdsl
from conftest import ARCH

TOLERANCE = 1e-4


@dataclass(frozen=True)
class Twin:
    file: str
    kwargs: dict = field(default_factory=dict)  # for the torchvision.models function of that name
    aux: dict = field(default_factory=dict)  # our output name -> torchvision's output field
    halve_input: bool = True  # compare outputs at half resolution (4x cheaper)

    def reference_on_meta(self) -> torch.nn.Module:
        """Shapes only: builds instantly and skips torchvision's (slow) initialization."""
        with torch.device("meta"):
            model = getattr(torchvision.models, self.file)(**self.kwargs)
        return with_aux_heads(model, self.aux)


# torchvision's Inception models apply an input transform and return aux heads only in
# training mode; the .net files are the plain networks with aux heads as extra outputs.
INCEPTION = dict(aux_logits=True, init_weights=False, transform_input=False)
VGG = [f"vgg{depth}{bn}" for depth in (11, 13, 16, 19) for bn in ("", "_bn")]
RESNET = [f"resnet{depth}" for depth in (18, 34, 50, 101, 152)]
DENSENET = [f"densenet{depth}" for depth in (121, 169, 201)]

TWINS = [
    Twin("alexnet"),
    *map(Twin, VGG),
    *map(Twin, RESNET),
    Twin("resnext50_32x4d"),
    Twin("wide_resnet50_2"),
    *map(Twin, DENSENET),
    Twin("googlenet", kwargs=INCEPTION, aux={"aux1": "aux_logits1", "aux2": "aux_logits2"}),
    # Its aux head needs the full 17x17 grid of a 299x299 input.
    Twin("inception_v3", kwargs=INCEPTION, aux={"aux": "aux_logits"}, halve_input=False),
    Twin("shufflenet_v2_x1_0"),
    Twin("mobilenet_v2"),
    Twin("squeezenet1_0"),
]


def with_aux_heads(model: torch.nn.Module, aux: dict) -> torch.nn.Module:
    """Eval mode everywhere (no dropout, BN on running stats); torchvision's
    Inception models decide on the root's flag whether to run their aux heads."""
    model.eval()
    model.training = bool(aux)
    return model


def randomize_batchnorm(model: torch.nn.Module) -> None:
    """Fresh BN layers are near-identity and would hide a misplaced one."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)


def torch_macs(model: torch.nn.Module, shape: tuple) -> int:
    """FlopCounterMode counts 2 FLOPs per multiply-accumulate; meta tensors suffice."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.empty(1, *shape, device="meta"))
    return counter.get_total_flops() // 2


def named_outputs(out, names: list[str]) -> dict:
    return dict(zip(names, out if isinstance(out, tuple) else (out,)))


def reference_outputs(out, aux: dict) -> dict:
    if not aux:
        return {"out": out}
    return {"out": out.logits, **{ours: getattr(out, theirs) for ours, theirs in aux.items()}}


@pytest.mark.parametrize("twin", TWINS, ids=lambda t: t.file)
def test_zoo_file_is_its_torchvision_twin(twin):
    torch.manual_seed(0)
    net = netdsl.load(ARCH / f"{twin.file}.net")
    model = with_aux_heads(net.to_torch(), twin.aux)
    randomize_batchnorm(model)
    reference = twin.reference_on_meta()
    assert net.macs == torch_macs(reference, net.input_shape)  # static count vs torch's counter

    params = sum(p.numel() for p in reference.parameters())
    assert net.params == params == sum(p.numel() for p in model.parameters())
    theirs = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == theirs
    reference = reference.to_empty(device="cpu")
    reference.load_state_dict(model.state_dict(), strict=True)  # our weights, their model
    model.load_state_dict(reference.state_dict(), strict=True)

    channels, *size = net.input_shape
    x = torch.randn(1, channels, *(s // 2 if twin.halve_input else s for s in size))
    with torch.no_grad():
        want = reference_outputs(reference(x), twin.aux)
        got = named_outputs(model(x), model.output_names)
    assert set(got) == set(want)
    for name in want:
        assert (got[name] - want[name]).abs().max().item() <= TOLERANCE, name
