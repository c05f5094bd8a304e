"""Every zoo file with a torchvision twin is that model: same parameters, same
state_dict keys and shapes (so pretrained weights load strictly), same MACs,
and the same outputs, auxiliary heads included, on one random input."""
from dataclasses import dataclass, field

import pytest
import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

import netdsl
from torch_oracle import countable_attention
from conftest import ARCH

TOLERANCE = 1e-4


@dataclass(frozen=True)
class Twin:
    file: str
    kwargs: dict = field(default_factory=dict)  # for the torchvision.models function of that name
    aux: dict = field(default_factory=dict)  # our output name -> torchvision's output field
    halve_input: bool = True  # compare outputs at half resolution (4x cheaper)
    side: int = 0  # compare outputs at side x side instead: large nets that work at any size
    tolerance: float = TOLERANCE  # largest output difference allowed
    cpu_build: bool = False  # torchvision computes the widths with tensors: build on CPU, then meta
    perturb: bool = False  # randomize constant-initialised tensors (layer scale, class token, zero head)

    def reference_on_meta(self) -> torch.nn.Module:
        """Shapes only: builds instantly and skips torchvision's (slow) initialization."""
        build = getattr(torchvision.models, self.file)
        if self.cpu_build:
            model = build(**self.kwargs).to("meta")
        else:
            with torch.device("meta"):
                model = build(**self.kwargs)
        return with_aux_heads(model, self.aux)


# torchvision's Inception models apply an input transform and return aux heads only in
# training mode; the .net files are the plain networks with aux heads as extra outputs.
INCEPTION = dict(aux_logits=True, init_weights=False, transform_input=False)
VGG = [f"vgg{depth}{bn}" for depth in (11, 13, 16, 19) for bn in ("", "_bn")]
RESNET = [f"resnet{depth}" for depth in (18, 34, 50, 101, 152)]
DENSENET = [f"densenet{depth}" for depth in (121, 169, 201)]
# Compared at 64x64: all of them downsample by 32 and pool globally.  Their layers run
# in torchvision's order, so outputs agree to float rounding: a tight tolerance catches
# small slips (a sigmoid gate for a hard-sigmoid one changes outputs by about 1e-4).
MODERN = [*(f"efficientnet_b{size}" for size in range(8)),
          *(f"efficientnet_v2_{size}" for size in "sml"),
          "mobilenet_v3_large", "mobilenet_v3_small",
          *(f"mnasnet{alpha}" for alpha in ("0_5", "0_75", "1_0", "1_3"))]
CONVNEXT = [f"convnext_{size}" for size in ("tiny", "small", "base", "large")]
# ViT's position embedding fixes the input size: compared at full size.
VIT = ["vit_b_16", "vit_b_32", "vit_l_16"]
# Swin at full size: the shifted windows' masks act only where a stage has several windows.
# V2 (post-norm, cosine attention, an MLP's position bias) at its 256x256, 8x8 windows.
SWIN = ["swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b"]
# MaxViT's partitions fix the input size (each stage's map a multiple of 7): at full size,
# where its outputs equal torchvision's bit for bit (the same ops in the same order).
MAXVIT = ["maxvit_t"]

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
    *(Twin(name, side=64, tolerance=1e-6) for name in MODERN),
    *(Twin(f"regnet_{xy}_{size}", side=64, tolerance=1e-6, cpu_build=True)
      for xy in "xy" for size in ("400mf", "1_6gf")),
    *(Twin(name, side=64, tolerance=1e-5, perturb=True) for name in CONVNEXT),
    *(Twin(name, halve_input=False, tolerance=1e-5, perturb=True) for name in VIT),
    *(Twin(name, halve_input=False, tolerance=1e-5, perturb=True) for name in SWIN),
    *(Twin(name, halve_input=False, tolerance=0.0, perturb=True) for name in MAXVIT),
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


def perturb_constants(model: torch.nn.Module) -> None:
    """A layer scale of 1e-6 hides its whole branch, a zero head or class token
    hides everything before it, LayerNorm's ones and zeros hide a misplaced one:
    every tensor whose elements are all equal is made random."""
    with torch.no_grad():
        for p in model.parameters():
            if p.numel() > 1 and bool((p == p.flatten()[0]).all()):
                p.uniform_(0.5, 1.5) if p.flatten()[0] != 0 else p.uniform_(-0.2, 0.2)


def with_versions_of(reference: torch.nn.Module, state: dict) -> dict:
    """The state with the module versions torchvision's model records: MNASNet reads
    the default root version 1 as its pre-2019 layout and rebuilds its stem."""
    state._metadata = reference.state_dict()._metadata
    return state


def torch_macs(model: torch.nn.Module, shape: tuple) -> int:
    """FlopCounterMode counts 2 FLOPs per multiply-accumulate; meta tensors suffice.
    Attention as the counter can see it: the math SDPA backend (a fused kernel counts
    0) and no nn.MultiheadAttention fast path (one native call, 0)."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), countable_attention(), counter:
        model(torch.empty(1, *shape, device="meta"))
    return counter.get_total_flops() // 2


def named_outputs(out, names: list[str]) -> dict:
    return dict(zip(names, out if isinstance(out, tuple) else (out,)))


def reference_outputs(out, aux: dict) -> dict:
    if not aux:
        return {"out": out}
    return {"out": out.logits, **{ours: getattr(out, theirs) for ours, theirs in aux.items()}}


@pytest.mark.parametrize("twin", TWINS, ids=lambda t: t.file)
def test_zoo_file_is_its_torchvision_twin(twin, one_torch_thread):
    torch.manual_seed(0)
    net = netdsl.load(ARCH / f"{twin.file}.net")
    model = with_aux_heads(net.to_torch(), twin.aux)
    randomize_batchnorm(model)
    if twin.perturb:
        perturb_constants(model)
    reference = twin.reference_on_meta()
    assert net.macs == torch_macs(reference, net.input_shape)  # static count vs torch's counter

    params = sum(p.numel() for p in reference.parameters())
    assert net.params == params == sum(p.numel() for p in model.parameters())
    theirs = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == theirs
    reference = reference.to_empty(device="cpu")
    reference.load_state_dict(with_versions_of(reference, model.state_dict()), strict=True)  # our weights, their model
    model.load_state_dict(reference.state_dict(), strict=True)

    channels, *size = net.input_shape
    size = [twin.side] * len(size) if twin.side else [s // 2 if twin.halve_input else s for s in size]
    x = torch.randn(1, channels, *size)
    with torch.no_grad():
        want = reference_outputs(reference(x), twin.aux)
        got = named_outputs(model(x), model.output_names)
    assert set(got) == set(want)
    for name in want:
        assert (got[name] - want[name]).abs().max().item() <= twin.tolerance, name
