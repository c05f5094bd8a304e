"""torch.compile sees a netdsl module as one graph: the forward that walks the
plan (values in a dict, dropped after their last use, auxiliary heads skipped
in eval) traces without a graph break, in eval and in training mode.  A break
would split the compiled model into pieces joined by Python, which costs
compiled speed (issue 11: compiled >= 1.00x torchvision compiled).

Oracle: dynamo's own account (``torch._dynamo.explain``) of graphs and breaks."""
import pytest
import torch
import torch._dynamo as dynamo

import netdsl
from netdsl.backends.export.common import example_inputs

#: one file per structural feature: residuals, auxiliary heads, dense links,
#: channel split + shuffle, squeeze-excitation and stochastic depth, attention
#: with learned tensors, LayerNorm2d + layer scale + drop-path, token embeddings
CASES = {"resnet18": (3, 64, 64), "googlenet": (3, 64, 64), "densenet121": (3, 64, 64),
         "shufflenet_v2_x1_0": (3, 64, 64), "efficientnet_b0": (3, 64, 64), "vit_b_16": None,
         "convnext_tiny": (3, 64, 64), "gpt_mini": None}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_the_module_compiles_to_one_graph(name, training):
    torch.manual_seed(0)
    net = netdsl.load(name, input_shape=CASES[name])
    model = net.to_torch().train(training)
    inputs = list(example_inputs(net, 2, seed=0).values())
    dynamo.reset()
    try:
        explained = dynamo.explain(model)(*inputs)
    finally:
        dynamo.reset()
    assert (explained.graph_count, explained.graph_break_count) == (1, 0), explained.break_reasons


def test_an_lstm_is_where_torch_itself_breaks_the_graph():
    # dynamo does not trace nn.LSTM (torch's own limit, a hand-written model has it too):
    # fullgraph=True is refused by torch, the default compile still runs and agrees
    net = netdsl.load("lstm_classifier")
    model = net.to_torch().eval()
    inputs = list(example_inputs(net, 2, seed=0).values())
    dynamo.reset()
    try:
        with pytest.raises(Exception, match="LSTM"):
            torch.compile(model, fullgraph=True, backend="eager")(*inputs)
        dynamo.reset()
        with torch.no_grad():
            assert torch.equal(torch.compile(model, backend="eager")(*inputs), model(*inputs))
    finally:
        dynamo.reset()
