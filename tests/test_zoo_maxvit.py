"""MaxViT: the relative_position_attention op against torchvision's own
RelativePositionalMultiHeadAttention, and small MaxViTs written with
lib/maxvit.net against torchvision's MaxVit class at sizes where every path
runs (windows and grids of several groups, a grid of 1x1 windows and a window
covering the map in the last stage, identity and pooled MBConv shortcuts, three
stages).  maxvit_t itself is a twin in test_zoo_twins.py."""

import pytest
import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.maxvit import MaxVit, PartitionAttentionLayer, RelativePositionalMultiHeadAttention

import netdsl
from netdsl import runtime
from torch_oracle import assert_generated_source_equal
from test_zoo_twins import perturb_constants, randomize_batchnorm


# ------------------------------------------------------------ the op against torchvision's module
@pytest.mark.parametrize("dim, head_dim, size, groups", [
    (16, 4, 3, 5),     # four heads, several groups
    (8, 8, 2, 3),      # one head
    (24, 8, 7, 1),     # one group: a window covering the map
])
def test_attention_is_torchvisions(dim, head_dim, size, groups, one_torch_thread):
    torch.manual_seed(0)
    theirs = RelativePositionalMultiHeadAttention(dim, head_dim, size * size)
    with torch.no_grad():
        theirs.relative_position_bias_table.normal_()  # std 0.02 would hide a misplaced bias
    ours = runtime.RelativePositionalMultiHeadAttention(dim, head_dim, size * size)
    ours.load_state_dict(theirs.state_dict(), strict=True)  # the index buffer included
    theirs.load_state_dict(ours.state_dict(), strict=True)
    assert torch.equal(ours.relative_position_index, theirs.relative_position_index)
    x = torch.randn(2, groups, size * size, dim)
    assert torch.equal(ours(x), theirs(x))
    strided = torch.randn(2, size * size, groups, dim).transpose(1, 2)  # as a grid's axis swap leaves it
    assert torch.equal(ours(strided), theirs(strided))


def test_attention_static_numbers(net_from):
    """G = 4 groups of N = 9 tokens (3x3), C = 16 in 4 heads of 4."""
    net = net_from("network n { input [4, 9, 16]\n attn: relative_position_attention(16, 4, 3) }")
    g, n, c, heads = 4, 9, 16, 4
    assert net.output_shapes["out"] == (4, 9, 16)
    assert net.macs == 4 * g * n * c * c + 2 * g * n * n * c
    assert net.params == 3 * c * c + 3 * c + c * c + c + (2 * 3 - 1) ** 2 * heads
    assert net.buffers == n * n
    assert net.flops == 2 * net.macs + 4 * heads * g * n * n + 4 * g * n * c


@pytest.mark.parametrize("call, shape, fragment", [
    ("relative_position_attention(16, 4, 3)", (4, 9, 8), "the input has 8 features, dim is 16"),
    ("relative_position_attention(16, 5, 3)", (4, 9, 16), "head_dim=5 must divide dim=16"),
    ("relative_position_attention(16, 4, 3)", (4, 8, 16), "groups of 8 tokens, but partition_size=3 means 9"),
])
def test_attention_refuses_mismatched_input(net_from, call, shape, fragment):
    with pytest.raises(netdsl.NetdslError, match=fragment):
        net_from(f"network n {{ input {list(shape)}\n {call} }}")


WINDOWS = """network n {{
    input [8, {side}, {side}]
    reshape((8, {g}, 2, {g}, 2)) permute((1, 3, 2, 4, 0)) reshape(({g} * {g}, 4, 8))
    relative_position_attention(8, 4, 2)
}}"""


def test_attention_field_is_a_groups_own(net_from):
    """Each position sees its own window: none claimed for several, global for one."""
    several = net_from(WINDOWS.format(side=4, g=2)).analyze().layers()[-1]
    assert several["rf"] is None
    assert net_from(WINDOWS.format(side=2, g=1)).analyze().layers()[-1]["rf"] == "global"


# ------------------------------------------------------------ the partition layers
PARTITION = """import "lib/maxvit.net"
network n {{ input [8, {h}, {w}]
 maxvit_partition_attention("{kind}", 2, 4, 0.0) }}"""


@pytest.mark.parametrize("kind, side", [("window", 8), ("grid", 8), ("grid", 2)])
def test_partition_layer_is_torchvisions(kind, side, net_from, one_torch_thread):
    """Reshapes and permutes in the .net, one torchvision PartitionAttentionLayer; a 2x2
    grid of 1x1 windows is one group of the whole map."""
    torch.manual_seed(0)
    ours = net_from(PARTITION.format(h=side, w=side, kind=kind)).to_torch().eval()
    perturb_constants(ours)
    theirs = PartitionAttentionLayer(8, 4, 2, kind, (side, side), 4, torch.nn.GELU, torch.nn.LayerNorm,
                                     0.0, 0.0, 0.0).eval()
    theirs.load_state_dict({k.removeprefix("0."): v for k, v in ours.state_dict().items()}, strict=True)
    x = torch.randn(2, 8, side, side)
    assert torch.equal(ours(x), theirs(x))


def test_grid_of_a_non_square_map_is_refused(net_from):
    """torchvision cuts both axes by the height's cell: its bias no longer fits the groups."""
    with pytest.raises(netdsl.NetdslError, match="groups of 2 tokens, but partition_size=2 means 4"):
        net_from(PARTITION.format(h=8, w=4, kind="grid"))
    theirs = PartitionAttentionLayer(8, 4, 2, "grid", (8, 4), 4, torch.nn.GELU, torch.nn.LayerNorm, 0.0, 0.0, 0.0)
    with pytest.raises(RuntimeError):
        theirs(torch.randn(1, 8, 8, 4))


# ------------------------------------------------------------ small MaxViTs against torchvision's
SMALL = {  # id: (side, partition size, stage widths, stage depths)
    "p2": (32, 2, (8, 16, 32), (2, 1, 2)),     # maps 8, 4, 2: the last a single window, a grid of 1x1
    "p3": (48, 3, (8, 16, 16), (1, 2, 2)),     # maps 12, 6, 3: 3x3 windows, grids with 4 and 2 apart
}
SMALL_NET = """import "lib/maxvit.net"
network small_maxvit {{
    input [3, {side}, {side}]
    inline maxvit(8, {widths}, {depths}, 4, {size}, 0.1, 10)
}}
"""


def small_pair(name: str):
    """Ours and torchvision's, ours with BN statistics and every constant tensor made
    random and loaded into theirs."""
    side, size, widths, depths = SMALL[name]
    torch.manual_seed(0)
    net = netdsl.parse(SMALL_NET.format(side=side, size=size, widths=widths, depths=depths),
                       filename="small_maxvit.net")  # lib/maxvit.net: found in the zoo
    ours = net.to_torch().eval()
    randomize_batchnorm(ours)
    perturb_constants(ours)
    theirs = MaxVit(input_size=(side, side), stem_channels=8, partition_size=size, block_channels=list(widths),
                    block_layers=list(depths), head_dim=4, stochastic_depth_prob=0.1, num_classes=10).eval()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    return net, ours, theirs


@pytest.mark.parametrize("name", SMALL)
def test_small_maxvit_is_torchvisions(name, one_torch_thread):
    net, ours, theirs = small_pair(name)
    assert net.params == sum(p.numel() for p in theirs.parameters())
    assert net.buffers == sum(b.numel() for b in theirs.buffers())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, *net.input_shape)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))  # the same ops in the same order
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        theirs(x[:1])
    assert net.macs == counter.get_total_flops() // 2


@pytest.mark.parametrize("name", SMALL)
def test_small_maxvit_stochastic_depth_is_torchvisions(name):
    """Every layer's probability is numpy.linspace's, bit for bit; torchvision applies each
    partition layer's module twice (we have two) and has none where p = 0 in MBConv."""
    _, ours, theirs = small_pair(name)
    want = {n: m.p for n, m in theirs.named_modules() if isinstance(m, torchvision.ops.StochasticDepth)}
    got = {n: m.p for n, m in ours.named_modules() if isinstance(m, runtime.StochasticDepth)}
    assert {n: got[n] for n in want} == want

    def layer(name: str) -> str:
        return ".".join(name.split(".")[:4])  # blocks.i.layers.j
    per_layer = {layer(n): p for n, p in want.items() if "window_attention" in n}
    assert {n: per_layer[layer(n)] for n in got} == got
    assert max(got.values()) == 0.1


def test_small_maxvit_generated_source_has_the_same_outputs(one_torch_thread):
    net, ours, _ = small_pair("p2")
    assert_generated_source_equal(net, ours)


def test_small_maxvit_saved_activations_match_autograd(one_torch_thread):
    """The training estimate's saved activations (the attention, the partitions'
    copies, stochastic depth masks) equal what autograd keeps on CPU, batch 3."""
    from autograd_memory import kept_by_autograd
    from netdsl.analysis.train_memory import saved_activation_bytes
    side, size, widths, depths = SMALL["p2"]
    net = netdsl.parse(SMALL_NET.format(side=side, size=size, widths=widths, depths=depths),
                       filename="small_maxvit.net").analyze()
    model = net.to_torch().train()
    kept = kept_by_autograd(model, [torch.randn(3, *net.input_shape)])
    assert saved_activation_bytes(net.ir, 3, device="cpu") == kept


def test_maxvit_t_summary():
    """torchvision's published figures: 30,919,624 parameters, 5.558 GFLOPs (its MACs)."""
    net = netdsl.load("maxvit_t")
    assert (net.params, net.macs) == (30_919_624, 5_558_046_720)
    attention = [d for d in net.layers() if d["op"] == "relative_position_attention"]
    assert len(attention) == 2 * (2 + 2 + 5 + 2)
    assert [d["shape"] for d in attention[:2]] == [(64, 49, 64), (64, 49, 64)]  # 64 windows, 64 grids, of 7x7
