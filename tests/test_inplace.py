"""inplace=true is accepted exactly where torch computes what the network without
it computes (analysis/inplace.py), in eval and train mode, backward included.

Each network here takes a parameter ``ip`` that the in-place op under test
receives as ``inplace=ip``.  netdsl elaborates it with ip=false; torch runs
those very modules twice, once as built and once with that op's ``inplace``
flag turned on: "torch disagrees" when the in-place run raises, or changes an
output, a gradient, or the caller's input tensor.  Refused patterns must make
torch disagree; accepted ones, over a sweep of every registry op that takes
``inplace`` after every registry op (op_examples.py), must not.
"""
from __future__ import annotations

import pytest
import torch

import netdsl
from netdsl.analysis.saved import KEEP_OUTPUT_ON_CUDA
from netdsl.backends.pytorch.lowering import layer_paths, lower
from netdsl.errors import ArgumentError, NetdslError
from netdsl.ops import all_ops
from op_examples import EXAMPLES, padding_mask

INPLACE_OPS = sorted(spec.name for spec in all_ops() if spec.arg("inplace") is not None)
REFUSAL = "(inplace=true) would overwrite"


def network(body: str, inputs=((8,),), dtype: str = "float32") -> str:
    lines = [f"input x{i}: {list(shape)} {dtype}" for i, shape in enumerate(inputs)]
    return "network n(ip: bool = false) {\n  " + "\n  ".join(lines + body.strip().splitlines()) + "\n}\n"


# ------------------------------------------------------------ torch as the judge
def _targets(net, source: str) -> list[str]:
    """Module paths of the ops that take inplace=ip (each on a line of its own)."""
    lines = source.splitlines()
    modules = layer_paths(lower(net.analyze().ir))  # unnamed layers are named after their op
    return [modules[node] for node, data in net.ir.nodes(data=True)
            if data["op"] != "input" and "inplace=ip" in lines[data["span"].line - 1]]


def _inputs(net) -> list[torch.Tensor]:
    torch.manual_seed(1)
    xs = []
    for info in net.inputs:
        shape = (2, *net.ir.nodes[info["node"]]["shape"])
        xs.append(padding_mask(shape[1:], shape[0]) if info["dtype"] == "bool" else
                  torch.randint(0, 3, shape) if info["dtype"].startswith("int") else torch.randn(shape))
    return xs


def _run(model, xs, train: bool):
    """Outputs, input and parameter gradients, and the caller's inputs afterwards."""
    model.train(train)
    leaves = [x.clone().requires_grad_(x.is_floating_point()) for x in xs]
    fed = [x.clone() if x.is_floating_point() else x for x in leaves]  # the caller's tensors
    torch.manual_seed(2)
    out = model(*fed)
    outs = out if isinstance(out, tuple) else (out,)
    sum(o.float().sum() for o in outs).backward()
    grads = [x.grad for x in leaves] + [p.grad for p in model.parameters()]
    return [o.detach() for o in outs] + grads + [f.detach() for f in fed]


def _close(x, y) -> bool:
    """Equal up to float32 rounding: in-place elu and selu take their gradient from
    their result, and kernels on strided views round differently (1 ulp, which
    sums of gradients carry on, so the bound scales with the tensor's largest value)."""
    if x is None or y is None:
        return x is None and y is None
    if x.shape != y.shape or not x.is_floating_point():
        return torch.equal(x, y)
    return x.numel() == 0 or bool((x - y).abs().max() <= 1e-5 * x.abs().max() + 1e-6)


def _same(a, b) -> bool:
    return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))


def _passes(net, source: str, inplace: bool) -> list:
    """Eval then train forward and backward, on the modules netdsl built (freshly
    seeded, so both runs start from the same weights and statistics)."""
    torch.manual_seed(0)
    model = net.to_torch()
    for path in _targets(net, source) if inplace else ():
        model.get_submodule(path).inplace = True
    return [_run(model, _inputs(net), train) for train in (False, True)]


def torch_disagrees(source: str) -> bool:
    """Whether turning inplace on (torch's own flag, same modules) changes anything:
    torch raises, or an output, a gradient or the caller's input differs."""
    net = netdsl.parse(source, filename="n.net", params={"ip": False})
    plain = _passes(net, source, inplace=False)
    try:
        inplace = _passes(net, source, inplace=True)
    except RuntimeError:
        return True
    return not all(_same(a, b) for a, b in zip(plain, inplace))


# ------------------------------------------------------------ refused patterns
REFUSED = {
    "a view of a tensor another op reads": (
        "a = linear(8)\nchunk(2, 0)\nrelu(inplace=ip)\nconcat {\n  identity\n  @a\n}",
        "the output of linear at line 3 (through chunk), which concat at line 6 also reads"),
    "another branch reads the input": ("a = linear(8)\nadd {\n  relu(inplace=ip)\n  @a\n}", "also reads"),
    "another branch reads it and saves it": ("a = linear(8)\nmul {\n  @a\n  elu(inplace=ip)\n}", "also reads"),
    "concat reads it after": ("a = linear(8)\nconcat {\n  relu(inplace=ip)\n  @a\n}", "also reads"),
    "sigmoid keeps its output": ("linear(8)\nsigmoid\nrelu(inplace=ip)", "autograd keeps for sigmoid"),
    "tanh keeps its output": ("linear(8)\ntanh\nrelu6(inplace=ip)", "autograd keeps for tanh"),
    "softmax keeps its output": ("linear(8)\nsoftmax\ndropout(0.5, inplace=ip)", "autograd keeps for softmax"),
    "relu keeps its output": ("linear(8)\nrelu\nleaky_relu(inplace=ip)", "autograd keeps for relu"),
    "in-place relu keeps its output": ("linear(8)\nrelu(inplace=true)\ndropout(0.5, inplace=ip)",
                                       "autograd keeps for relu"),
    "in-place leaky_relu keeps its output": ("linear(8)\nleaky_relu(0.1, inplace=true)\nhardswish(inplace=ip)",
                                             "autograd keeps for leaky_relu"),
    "maxout keeps its output": ("linear(8)\nmaxout(2)\nmish(inplace=ip)", "autograd keeps for maxout"),
    "lstm keeps its output": ("reshape((2, 4))\nlstm(4)\nrelu(inplace=ip)", "autograd keeps for lstm"),
    "through a view": ("linear(8)\nsigmoid\nreshape((2, 4))\nrelu(inplace=ip)", "(through reshape)"),
    "through eval-mode dropout": ("linear(8)\nsigmoid\ndropout(0.5)\nrelu(inplace=ip)", "(through dropout)"),
    "the network input": ("relu(inplace=ip)", "the network input 'x0'"),
    "the network input through a view": ("flatten\nselu(inplace=ip)", "the network input 'x0' (through flatten)"),
    "the network input through dropout": ("dropout(0.5)\nsilu(inplace=ip)", "the network input"),
    "a network output": ("linear(8)\noutput feat\nhardsigmoid(inplace=ip)", "the network output 'feat'"),
}


@pytest.mark.parametrize("body, fragment", REFUSED.values(), ids=REFUSED.keys())
def test_refused_with_a_located_error(body, fragment):
    source = network(body)
    with pytest.raises(ArgumentError) as info:
        netdsl.parse(source, filename="n.net", params={"ip": True})
    err = info.value
    assert REFUSAL in err.message and fragment in err.message, err.format()
    target = next(i for i, line in enumerate(source.splitlines(), 1) if "inplace=ip" in line)
    assert (err.span.file, err.span.line) == ("n.net", target), err.format()


@pytest.mark.parametrize("body, fragment", REFUSED.values(), ids=REFUSED.keys())
def test_torch_disagrees_with_each_refusal(body, fragment):
    assert torch_disagrees(network(body))


ACCEPTED = {
    "torchvision conv-bn-relu": ("reshape((2, 2, 2))\nconv(4, 1)\nbatchnorm\nrelu(inplace=ip)", (8,)),
    "torchvision residual": ("conv(2, 1)\nresidual { conv(2, 1)\nbatchnorm }\nrelu(inplace=ip)", (2, 3, 3)),
    "one chunk of a fresh tensor": ("linear(8)\nchunk(2, 0)\nrelu(inplace=ip)", (8,)),
    "through a view": ("linear(8)\nreshape((2, 4))\ntranspose(0, 1)\nelu(inplace=ip)", (8,)),
    "after in-place dropout": ("linear(8)\ndropout(0.5, inplace=true)\nrelu(inplace=ip)", (8,)),
    "after in-place relu6": ("linear(8)\nrelu6(inplace=true)\nrelu(inplace=ip)", (8,)),
    "linear's output read by a later add": ("linear(8)\nrelu(inplace=ip)\nresidual { linear(8) }", (8,)),
}


@pytest.mark.parametrize("body, shape", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted_patterns_compute_what_the_plain_network_computes(body, shape):
    source = network(body, (shape,))
    netdsl.parse(source, params={"ip": True})
    assert not torch_disagrees(source)


def test_the_zoo_keeps_its_inplace_activations():
    from conftest import ARCH
    for path in sorted(ARCH.glob("*.net")):
        netdsl.load(path)  # resnet, densenet, vgg, squeezenet, inception... use relu(inplace=true)


# ------------------------------------------------------------ the generated sweep
def _producers():
    """The first example of every op, run on a fresh tensor (scale(1) first)."""
    for op, examples in EXAMPLES.items():
        example = examples[0]
        if len(example.inputs) == 1 and example.dtype == "float32":
            yield op, f"scale(1)\n{example.call}", example.inputs, "float32"
        else:
            yield op, example.call, example.inputs, example.dtype


SWEEP = [pytest.param(name, body, inputs, dtype, op, id=f"{name}>{op}")
         for name, body, inputs, dtype in _producers() for op in INPLACE_OPS]


@pytest.mark.parametrize("name, body, inputs, dtype, op", SWEEP)
def test_every_inplace_op_after_every_op_is_refused_exactly_when_torch_disagrees(name, body, inputs, dtype, op):
    source = network(f"{body}\n{op}(inplace=ip)", inputs, dtype)
    try:
        netdsl.parse(source, params={"ip": True})
    except ArgumentError as err:
        if REFUSAL not in err.message:
            raise
        if name in KEEP_OUTPUT_ON_CUDA - {"lstm"}:  # CPU's unfused gru and rnn keep no output
            assert f"autograd keeps for {name}'s backward" in err.message
            return
        assert torch_disagrees(source), err.format()
        return
    except NetdslError:  # the op does not take this input (dropout2d needs [C, H, W]...)
        with pytest.raises(NetdslError):
            netdsl.parse(source, params={"ip": False})
        return
    assert not torch_disagrees(source)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="cuDNN's recurrent kernels need CUDA")
@pytest.mark.parametrize("cls", [torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN])
def test_cudnn_recurrent_layers_keep_their_output(cls):
    """Why gru and rnn keep their output (saved.KEEP_OUTPUT_ON_CUDA) though on CPU they do not."""
    layer = cls(4, 3, batch_first=True).cuda()
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        out, _ = layer(torch.randn(2, 5, 4, device="cuda", requires_grad=True))
    assert any(t.untyped_storage().data_ptr() == out.untyped_storage().data_ptr() for t in saved)
