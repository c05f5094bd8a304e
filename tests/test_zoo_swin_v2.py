"""Swin Transformer V2: the shifted_window_attention_v2 op against torchvision's own
ShiftedWindowAttentionV2, and a small Swin V2 written with lib/swin_v2.net against
torchvision's SwinTransformer (V2 blocks and patch merging) at a size where every
padding path runs (odd maps before patch merging, maps that are no multiple of the
window, a window that covers the map).  swin_v2_t/s/b are twins in test_zoo_twins.py."""

import pytest
import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.swin_transformer import (PatchMergingV2, ShiftedWindowAttentionV2, SwinTransformer,
                                                 SwinTransformerBlockV2)

import netdsl
from netdsl.analysis.receptive_field import Unstated
from netdsl import runtime
from torch_oracle import assert_generated_source_equal
from test_zoo_twins import perturb_constants

GEOMETRIES = [
    ((14, 14), (7, 7), (3, 3), 2, True),    # two windows per axis, shifted
    ((9, 11), (4, 3), (2, 1), 2, True),     # padded to whole windows, rectangular
    ((5, 5), (7, 7), (3, 3), 4, True),      # one window covers the map: the shift is dropped
    ((16, 8), (4, 8), (2, 4), 1, False),    # one axis covered (its shift dropped), no biases
]


def op_pair(window, shift, heads, bias):
    """torchvision's module with every parameter random (logit scales past the cap of
    log 100 included) and ours loaded from it strictly."""
    torch.manual_seed(0)
    theirs = ShiftedWindowAttentionV2(8 * heads, list(window), list(shift), heads, qkv_bias=bias, proj_bias=bias)
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_()  # std 0.02 and zero biases would hide a misplaced term
        theirs.logit_scale.uniform_(0.0, 6.0)
    ours = runtime.ShiftedWindowAttentionV2(8 * heads, window, shift, heads, qkv_bias=bias, proj_bias=bias)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours, theirs


# ------------------------------------------------------------ the op against torchvision's module
@pytest.mark.parametrize("size, window, shift, heads, bias", GEOMETRIES)
def test_window_attention_v2_is_torchvisions(size, window, shift, heads, bias, one_torch_thread):
    ours, theirs = op_pair(window, shift, heads, bias)
    x = torch.randn(2, *size, 8 * heads)
    assert torch.equal(ours.eval()(x), theirs.eval()(x))


@pytest.mark.parametrize("size, window, shift, heads, bias", GEOMETRIES[:2])
def test_window_attention_v2_gradients_are_torchvisions(size, window, shift, heads, bias, one_torch_thread):
    """The k third of the qkv bias gets no gradient in either: it is zeroed in the forward."""
    ours, theirs = op_pair(window, shift, heads, bias)
    x = torch.randn(2, *size, 8 * heads)
    ours.train()(x).square().sum().backward()
    theirs.train()(x).square().sum().backward()
    for (name, mine), their in zip(ours.named_parameters(), theirs.parameters()):
        assert torch.equal(mine.grad, their.grad), name
    c = 8 * heads
    assert not ours.qkv.bias.grad[c:2 * c].any() and ours.qkv.bias.grad[:c].any()


@pytest.mark.parametrize("window", [(7, 7), (4, 3), (2, 8)])
def test_buffers_and_initial_values_are_torchvisions(window):
    """The coordinate table and index as torchvision computes them, on a fresh module and
    on one built through the meta device (which leaves buffers empty until reset)."""
    theirs = ShiftedWindowAttentionV2(8, list(window), [0, 0], 2)
    fresh = runtime.ShiftedWindowAttentionV2(8, window, (0, 0), 2)
    with torch.device("meta"):
        later = runtime.ShiftedWindowAttentionV2(8, window, (0, 0), 2)
    later.to_empty(device="cpu").reset_parameters()
    for ours in (fresh, later):
        for name in ("relative_coords_table", "relative_position_index", "logit_scale"):
            assert torch.equal(getattr(ours, name), getattr(theirs, name)), name


def test_window_attention_v2_static_numbers(net_from):
    """A 9x11 map in 4x3 windows pads to 12x12 (P = 144, N = 12), C = 16, 2 heads; the
    bias MLP runs over T = 7·5 offsets once per forward: torch counts it once at any batch."""
    net = net_from("network n { input [9, 11, 16]\n attn: shifted_window_attention_v2(16, (4, 3), (2, 1), 2) }")
    p, n, c, heads, t = 144, 12, 16, 2, 7 * 5
    per_sample, once = 4 * p * c * c + 2 * p * n * c, t * 512 * (2 + heads)
    assert net.output_shapes["out"] == (9, 11, 16)
    assert net.macs == per_sample + once
    assert net.params == 3 * c * c + 3 * c + c * c + c + heads + 512 * 2 + 512 + heads * 512
    assert net.buffers == t * 2 + n * n
    model = net.to_torch().eval()
    for batch in (1, 3):
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            model(torch.randn(batch, 9, 11, 16))
        assert counter.get_total_flops() // 2 == batch * per_sample + once
        assert net.summary(batch=batch).totals["macs"] == batch * per_sample + once  # what summarize says


def test_window_attention_v2_refuses_one_pixel_windows(net_from):
    """torchvision divides the coordinates by window − 1: a 1-wide window gives NaN."""
    with pytest.raises(netdsl.NetdslError, match="window_size"):
        net_from("network n { input [8, 8, 16]\n shifted_window_attention_v2(16, (1, 4), 0, 2) }")


def test_window_attention_v2_refuses_channels_first_input(net_from):
    with pytest.raises(netdsl.NetdslError, match="dim is 16") as error:
        net_from("network n { input [16, 8, 8]\n shifted_window_attention_v2(16, 4, 2, 2) }")
    assert "channels-last" in error.value.hint


# ------------------------------------------------------------ a small Swin V2 against torchvision's
SMALL = dict(embed_dim=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4], window_size=[3, 3])
SMALL_NET = """import "lib/swin_v2.net"
network small_swin_v2 {
    input [3, 60, 52]
    inline swin_v2(16, (2, 2, 2, 2), (1, 2, 2, 4), 3, 0.1, 10)
}
"""


def small_pair():
    """Ours and torchvision's, ours with every constant tensor made random and loaded
    into theirs: maps 15x13, 8x7, 4x4, 2x2 (odd ones padded before merging)."""
    torch.manual_seed(0)
    net = netdsl.parse(SMALL_NET, filename="small_swin_v2.net")  # lib/swin_v2.net: found in the zoo
    ours = net.to_torch().eval()
    perturb_constants(ours)
    theirs = SwinTransformer(patch_size=[4, 4], stochastic_depth_prob=0.1, num_classes=10, block=SwinTransformerBlockV2,
                             downsample_layer=PatchMergingV2, **SMALL).eval()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    return net, ours, theirs


def test_small_swin_v2_is_torchvisions(one_torch_thread):
    net, ours, theirs = small_pair()
    assert net.params == sum(p.numel() for p in theirs.parameters())
    assert net.buffers == sum(b.numel() for b in theirs.buffers())
    fresh = SwinTransformer(patch_size=[4, 4], block=SwinTransformerBlockV2, downsample_layer=PatchMergingV2, **SMALL)
    for name, buffer in fresh.named_buffers():  # torchvision's own buffers, not ours copied
        assert torch.equal(ours.get_buffer(name), buffer), name
    x = torch.randn(2, *net.input_shape)
    with torch.no_grad():
        assert (ours(x) - theirs(x)).abs().max().item() <= 1e-5
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        theirs(x[:1])
    assert net.macs == counter.get_total_flops() // 2


def test_small_swin_v2_stochastic_depth_is_torchvisions():
    _, ours, theirs = small_pair()
    got = sorted(round(m.p, 12) for m in ours.modules() if isinstance(m, runtime.StochasticDepth))
    want = [round(m.p, 12) for m in theirs.modules() if isinstance(m, torchvision.ops.StochasticDepth)]
    assert got == sorted(want * 2)  # torchvision applies each block's module twice
    assert max(got) == pytest.approx(0.1)


def test_small_swin_v2_generated_source_has_the_same_outputs(one_torch_thread):
    net, ours, _ = small_pair()
    assert "ShiftedWindowAttentionV2" in assert_generated_source_equal(net, ours)


def test_small_swin_v2_saved_activations_match_autograd(one_torch_thread):
    """The training estimate's saved activations (the V2 attention's per-sample tensors
    and its once-per-batch bias MLP, the patch merging copies, stochastic depth masks)
    equal what autograd keeps on CPU, batch 3."""
    from autograd_memory import kept_by_autograd
    from netdsl.analysis.train_memory import saved_activation_bytes
    net = netdsl.parse(SMALL_NET, filename="small_swin_v2.net").analyze()
    model = net.to_torch().train()
    kept = kept_by_autograd(model, [torch.randn(3, *net.input_shape)])
    assert saved_activation_bytes(net.ir, 3, device="cpu") == kept


# ------------------------------------------------------------ the zoo files
def test_swin_v2_t_summary_and_field():
    """256x256 in 4x4 patches: maps 64, 32, 16, 8; the last stage's 8x8 map is one 8x8
    window, its attention global; earlier stages have several windows, no field claimed."""
    net = netdsl.load("swin_v2_t")
    assert (net.params, net.macs) == (28_351_570, 5_939_690_496)
    attention = [d for d in net.layers() if d["op"] == "shifted_window_attention_v2"]
    assert attention[-1]["rf"] == "global"
    assert isinstance(attention[0]["rf"], Unstated)  # 64x64 in 8x8 windows: a field per position, none claimed


def test_summarize_swin_v2_t(capsys):
    """The last bounded field is the patch embedding's (4 px; V2's blocks start with the
    windowed attention, which claims none); the pooled output sees the whole input."""
    from netdsl.cli import main
    assert main(["summarize", "swin_v2_t"]) == 0
    out = capsys.readouterr().out
    assert "28,351,570" in out and "swin_v2_block" in out
    assert "Receptive field: 4 x 4 px, stride 4 x 4, padding 0 x 0 at features.0.2 (layernorm); " \
           "the output sees the whole input" in out
