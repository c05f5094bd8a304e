"""MACs against torch's own counter: FlopCounterMode total / 2, exactly.

Every registry example and every architecture in architectures/ is checked
(architectures on the meta device).  Recurrent layers, which the counter skips
on CPU, are also checked against explicit cells written with matmuls (and
those cells against the torch module).
"""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import netdsl
from torch_oracle import countable_attention, counting_batch
from conftest import ARCH
from netdsl.ops import get_op
from op_examples import EXAMPLES, padding_mask

RECURRENT = {"lstm", "gru", "rnn"}


def counted_macs(fn, *xs) -> int:
    with countable_attention(), FlopCounterMode(display=False) as counter:
        fn(*xs)
    return counter.get_total_flops() // 2


def example_inputs(net, batch=2, device="cpu"):
    xs = []
    for info in net.inputs:
        shape = (batch, *net.ir.nodes[info["node"]]["shape"])
        if info["dtype"] == "bool":
            xs.append(padding_mask(shape[1:], batch).to(device))
        elif info["dtype"].startswith("int"):
            xs.append(torch.randint(0, 3, shape, device=device))
        else:
            xs.append(torch.randn(shape, device=device) if device != "meta" else torch.empty(shape, device=device))
    return xs


def examples(recurrent: bool):
    return [pytest.param(op, e, id=f"{op}:{e.id}") for op, group in EXAMPLES.items() for e in group
            if (op in RECURRENT) == recurrent]


@pytest.mark.parametrize("op, example", examples(recurrent=False))
def test_example_macs_equal_flop_counter(op, example):
    net = netdsl.parse(example.source())
    model = net.to_torch().eval()
    batch = counting_batch(net, 2)
    assert counted_macs(model, *example_inputs(net, batch)) == batch * net.macs


def architectures():
    return [pytest.param(p, id=p.stem) for p in sorted(ARCH.glob("*.net"))]


@pytest.mark.parametrize("path", architectures())
def test_architecture_macs_equal_flop_counter(path):
    net = netdsl.load(path)
    with torch.device("meta"):  # training mode: auxiliary heads run (and are counted) too
        model = net.to_torch().train()
    # On the meta device torch decomposes recurrent layers into counted matmuls.
    # (batch 2: a training-mode batch norm refuses one value per channel)
    batch = counting_batch(net, 2)
    assert counted_macs(model, *example_inputs(net, batch=batch, device="meta")) == batch * net.macs


def test_flops_are_twice_macs_plus_declared_elementwise_work(net_from):
    net = net_from("network n { input [3, 8, 8]\n conv(4, 3, padding=1) relu\n add { @x\n @x } }")
    conv, relu, add = net.layers()
    assert conv["flops"] == 2 * conv["macs"] + 4 * 8 * 8  # bias
    assert relu["flops"] == 4 * 8 * 8 and relu["macs"] == 0
    assert add["flops"] == 3 * 8 * 8
    assert net.flops == sum(d["flops"] for d in net.layers())


# ---------------------------------------------------------------- recurrent
def _cell(kind, x, h, c, w_ih, w_hh, b_ih, b_hh, nonlinearity):
    """One step of an LSTM/GRU/RNN cell, written with matmuls."""
    gi, gh = torch.matmul(x, w_ih.t()), torch.matmul(h, w_hh.t())
    if b_ih is not None:
        gi, gh = gi + b_ih, gh + b_hh
    if kind == "rnn":
        return (torch.relu if nonlinearity == "relu" else torch.tanh)(gi + gh), c
    if kind == "gru":
        ir, iz, i_n = gi.chunk(3, -1)
        hr, hz, h_n = gh.chunk(3, -1)
        r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
        n = torch.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h, c
    i, f, g, o = (gi + gh).chunk(4, -1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def unrolled(kind, module, x):
    """The module's computation, step by step: every layer and direction."""
    params = dict(module.named_parameters())
    dirs = 2 if module.bidirectional else 1
    for layer in range(module.num_layers):
        outs = []
        for suffix in ("", "_reverse")[:dirs]:
            h = c = x.new_zeros(x.shape[0], module.hidden_size)
            steps = range(x.shape[1] - 1, -1, -1) if suffix else range(x.shape[1])
            seq = {}
            for t in steps:
                names = [f"{p}_l{layer}{suffix}" for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
                h, c = _cell(kind, x[:, t], h, c, *(params.get(n) for n in names),
                             getattr(module, "nonlinearity", "tanh"))
                seq[t] = h
            outs.append(torch.stack([seq[t] for t in range(x.shape[1])], 1))
        x = torch.cat(outs, -1)
    return x if module.return_sequence else x[:, -1]


@pytest.mark.parametrize("op, example", examples(recurrent=True))
def test_recurrent_macs_equal_an_unrolled_cell(op, example):
    net = netdsl.parse(example.source())
    model = net.to_torch().eval()
    (x,) = example_inputs(net)
    module = next(m for m in model.modules() if isinstance(m, torch.nn.RNNBase))
    with torch.no_grad():
        torch.testing.assert_close(unrolled(op, module, x), model(x), rtol=1e-5, atol=1e-5)
        assert counted_macs(lambda t: unrolled(op, module, t), x) == 2 * net.macs


def test_every_recurrent_op_has_an_example():
    recurrent = {op for op in EXAMPLES if get_op(op).category == "recurrent"}
    assert recurrent == RECURRENT
