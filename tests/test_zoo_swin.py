"""Swin Transformer: the shifted_window_attention op against torchvision's own
ShiftedWindowAttention, and a small Swin written with lib/swin.net against
torchvision's SwinTransformer at a size where every padding path runs (odd maps
before patch merging, maps that are no multiple of the window, a window that
covers the map).  swin_t/s/b themselves are twins in test_zoo_twins.py."""

import pytest
import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.swin_transformer import ShiftedWindowAttention, SwinTransformer

import netdsl
from netdsl.analysis.receptive_field import Unstated
from netdsl import runtime
from torch_oracle import assert_generated_source_equal
from test_zoo_twins import perturb_constants


# ------------------------------------------------------------ the op against torchvision's module
@pytest.mark.parametrize("size, window, shift, heads, bias", [
    ((14, 14), (7, 7), (3, 3), 2, True),    # two windows per axis, shifted
    ((9, 11), (4, 3), (2, 1), 2, True),     # padded to whole windows, rectangular
    ((5, 5), (7, 7), (3, 3), 4, True),      # one window covers the map: the shift is dropped
    ((16, 8), (4, 8), (2, 4), 1, False),    # one axis covered (its shift dropped), no biases
])
def test_window_attention_is_torchvisions(size, window, shift, heads, bias, one_torch_thread):
    torch.manual_seed(0)
    theirs = ShiftedWindowAttention(8 * heads, list(window), list(shift), heads, qkv_bias=bias, proj_bias=bias)
    with torch.no_grad():
        theirs.relative_position_bias_table.normal_()  # std 0.02 would hide a misplaced bias
    ours = runtime.ShiftedWindowAttention(8 * heads, window, shift, heads, qkv_bias=bias, proj_bias=bias)
    ours.load_state_dict(theirs.state_dict(), strict=True)  # the index buffer included
    assert torch.equal(ours.relative_position_index, theirs.relative_position_index)
    x = torch.randn(2, *size, 8 * heads)
    assert torch.equal(ours.eval()(x), theirs.eval()(x))


def test_window_attention_static_numbers(net_from):
    """A 9x11 map in 4x3 windows pads to 12x12 (P = 144 positions, N = 12 tokens), C = 16."""
    net = net_from("network n { input [9, 11, 16]\n attn: shifted_window_attention(16, (4, 3), (2, 1), 2) }")
    p, n, c = 144, 12, 16
    assert net.output_shapes["out"] == (9, 11, 16)
    assert net.macs == 4 * p * c * c + 2 * p * n * c
    assert net.params == 3 * c * c + 3 * c + c * c + c + (2 * 4 - 1) * (2 * 3 - 1) * 2
    assert net.buffers == n * n


def test_window_attention_refuses_channels_first_input(net_from):
    with pytest.raises(netdsl.NetdslError, match="dim is 16") as error:
        net_from("network n { input [16, 8, 8]\n shifted_window_attention(16, 4, 2, 2) }")
    assert "channels-last" in error.value.hint


# ------------------------------------------------------------ a small Swin against torchvision's
SMALL = dict(embed_dim=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4], window_size=[3, 3])
SMALL_NET = """import "lib/swin.net"
network small_swin {
    input [3, 60, 52]
    inline swin(16, (2, 2, 2, 2), (1, 2, 2, 4), 3, 0.1, 10)
}
"""


def small_pair():
    """Ours and torchvision's, ours with every constant tensor made random and
    loaded into theirs: maps 15x13, 8x7, 4x4, 2x2 (odd ones padded before merging)."""
    torch.manual_seed(0)
    net = netdsl.parse(SMALL_NET, filename="small_swin.net")  # lib/swin.net: found in the zoo
    ours = net.to_torch().eval()
    perturb_constants(ours)
    theirs = SwinTransformer(patch_size=[4, 4], stochastic_depth_prob=0.1, num_classes=10, **SMALL).eval()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    return net, ours, theirs


def test_small_swin_is_torchvisions(one_torch_thread):
    net, ours, theirs = small_pair()
    assert net.params == sum(p.numel() for p in theirs.parameters())
    assert net.buffers == sum(b.numel() for b in theirs.buffers())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, *net.input_shape)
    with torch.no_grad():
        assert (ours(x) - theirs(x)).abs().max().item() <= 1e-5
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        theirs(x[:1])
    assert net.macs == counter.get_total_flops() // 2


def test_small_swin_stochastic_depth_is_torchvisions():
    _, ours, theirs = small_pair()
    got = sorted(round(m.p, 12) for m in ours.modules() if isinstance(m, runtime.StochasticDepth))
    want = [round(m.p, 12) for m in theirs.modules() if isinstance(m, torchvision.ops.StochasticDepth)]
    assert got == sorted(want * 2)  # torchvision applies each block's module twice
    assert max(got) == pytest.approx(0.1)


def test_small_swin_generated_source_has_the_same_outputs(one_torch_thread):
    net, ours, _ = small_pair()
    assert_generated_source_equal(net, ours)


def test_swin_t_summary_and_field():
    """The last stage's 7x7 map is one 7x7 window: its attention is global."""
    net = netdsl.load("swin_t")
    assert (net.params, net.macs) == (28_288_354, 4_490_566_656)
    last = [d for d in net.layers() if d["op"] == "shifted_window_attention"][-1]
    assert last["rf"] == "global"
    first = [d for d in net.layers() if d["op"] == "shifted_window_attention"][0]
    assert isinstance(first["rf"], Unstated)  # 56x56 in 7x7 windows: a field per position, none claimed


def test_small_swin_saved_activations_match_autograd(one_torch_thread):
    """The training estimate's saved activations (window attention, the patch merging
    copies, stochastic depth masks) equal what autograd keeps on CPU, batch 3."""
    from autograd_memory import kept_by_autograd
    from netdsl.analysis.train_memory import saved_activation_bytes
    net = netdsl.parse(SMALL_NET, filename="small_swin.net").analyze()
    model = net.to_torch().train()
    kept = kept_by_autograd(model, [torch.randn(3, *net.input_shape)])
    assert saved_activation_bytes(net.ir, 3, device="cpu") == kept
