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


def test_values_a_later_step_reads_stay_until_then():
    # a long-range ref (x read after several steps) and an auxiliary head skipped in eval
    net = netdsl.parse("""
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
""")
    model = net.to_torch()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        model.eval()
        out = model(x)
        model.train()
        y, aux = model(x)
    assert torch.equal(out, y) and aux.shape == (2, 2)
