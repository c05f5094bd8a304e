"""The in-memory module frees each intermediate after its last use, as a
hand-written forward does: its inference peak equals torchvision's.

Oracle: the bytes of op outputs alive at once, counted by a dispatch mode that
sees every tensor torch creates (tests/autograd_memory.py), for netdsl's module
and torchvision's own on the same input.  Before values were freed, every DAG
scope held all its intermediates to its end (resnet50: 2.2x torchvision's peak).
"""
import pytest
import torch
import torchvision

import netdsl
from autograd_memory import peak_inference_bytes

TWINS = {"resnet50": {}, "googlenet": dict(aux_logits=True, init_weights=False, transform_input=False),
         "densenet121": {}, "inception_v3": dict(init_weights=False)}


@pytest.mark.parametrize("name", sorted(TWINS))
def test_inference_peak_equals_torchvisions(name):
    torch.manual_seed(0)
    net = netdsl.load(name)
    x = torch.randn(1, *net.input_shape)
    ours = net.to_torch().eval()
    theirs = getattr(torchvision.models, name)(**TWINS[name]).eval()
    assert peak_inference_bytes(ours, [x]) <= peak_inference_bytes(theirs, [x])


SKIP_AND_AUX = """
network skip {
    input x: [3, 8, 8]
    a = @x conv(4, 3, padding=1)
    relu
    conv(4, 3, padding=1)
    b = @a conv(4, 1)
    y = add { @b
              @x conv(4, 1) }
    output y
    output aux(aux=true) = @a flatten linear(2)
}
"""


def test_values_a_later_step_reads_stay_until_then():
    # a long-range ref (x read after several steps) and an auxiliary head skipped in eval
    model = netdsl.parse(SKIP_AND_AUX).to_torch()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        model.eval()
        out = model(x)
        model.train()
        y, aux = model(x)
    assert torch.equal(out, y) and aux.shape == (2, 2)


def test_each_value_is_dropped_right_after_its_last_reader():
    # the plan's steps: 0 a=conv(x) 1 relu 2 conv (read by nothing) 3 b=conv(a) 4 conv(x)
    # 5 y=add 6 flatten(a) 7 linear (the aux head, skipped in eval)
    model = netdsl.parse(SKIP_AND_AUX).to_torch()
    reads = [(ins, outs) for _, _, ins, outs, _, _ in model._steps]
    assert reads == [([0], [1]), ([1], [2]), ([2], [3]), ([1], [4]), ([0], [5]), ([4, 5], [6]),
                     ([1], [7]), ([7], [8])]
    training, evaluation = model._frees[True], model._frees[False]
    assert training == [(), (), (2, 3), (), (0,), (4, 5), (1,), (7,)]  # 3: unread, dropped where made
    assert evaluation == [(), (), (2, 3), (1,), (0,), (4, 5), (), ()]  # a's last reader in eval: b
    assert all(6 not in names and 8 not in names for names in training)  # returned values stay
