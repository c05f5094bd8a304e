"""Memory figures: output bytes, forward peak, and the training estimate.

The saved-activation rules are checked against what autograd really keeps
(``saved_tensors_hooks``, storages counted once, parameters and buffers
excluded) on CPU; bench/gpu_memory.py compares the whole estimate with
``torch.cuda.max_memory_allocated`` on a GPU.
"""
import pytest
import torch

import netdsl
from torch_oracle import countable_attention
from autograd_memory import kept_by_autograd
from conftest import ARCH
from netdsl.analysis.memory import DTYPE_BYTES, FLOAT_DTYPES, activation_bytes, activation_sizes, forward_peak
from netdsl.analysis.train_memory import saved_activation_bytes, training_memory
from netdsl.analysis.saved import APPROXIMATE
from op_examples import EXAMPLES, padding_mask


def inputs(net, batch, requires_grad):
    xs = []
    for info in net.inputs:
        shape = (batch, *net.ir.nodes[info["node"]]["shape"])
        if info["dtype"] == "bool":
            xs.append(padding_mask(shape[1:], batch))
        elif info["dtype"].startswith("int"):
            xs.append(torch.randint(0, 3, shape))
        else:  # a non-leaf copy, so in-place layers may overwrite it
            xs.append(torch.randn(shape, requires_grad=requires_grad).clone())
    return xs


def exact_examples():
    return [pytest.param(e, id=f"{op}:{e.id}") for op, group in EXAMPLES.items() for e in group
            if op not in APPROXIMATE]


@pytest.mark.parametrize("example", exact_examples())
def test_saved_activations_of_each_op_match_autograd(example):
    net = netdsl.parse(example.source()).analyze()
    model = net.to_torch().train()
    kept = kept_by_autograd(model, inputs(net, 2, requires_grad=True))
    assert saved_activation_bytes(net.ir, 2, device="cpu", inputs_require_grad=True) == kept


#: Approximate in general (other backends, fused kernels) but exact on CPU with the math
#: attention backend, where their rules are checked like the others'.
EXACT_ON_CPU = ("lrn", "multihead_attention", "sdpa", "shifted_window_attention")


@pytest.mark.parametrize("example", [pytest.param(e, id=f"{op}:{e.id}") for op in EXACT_ON_CPU
                                     for e in EXAMPLES.get(op, [])])
def test_saved_activations_of_attention_and_lrn_match_autograd_on_cpu(example):
    net = netdsl.parse(example.source()).analyze()
    model = net.to_torch().train()
    with countable_attention():
        kept = kept_by_autograd(model, inputs(net, 2, requires_grad=True))
    assert saved_activation_bytes(net.ir, 2, device="cpu", inputs_require_grad=True) == kept


@pytest.mark.parametrize("name, shape", [("lenet5", None), ("resnet18", (3, 64, 64)),
                                         ("vgg11_bn", (3, 32, 32)), ("mobilenet_v2", (3, 32, 32))])
def test_saved_activations_of_networks_match_autograd(name, shape):
    path = ARCH / f"{name}.net"
    net = netdsl.load(path, input_shape=shape).analyze()
    model = net.to_torch().train()
    kept = kept_by_autograd(model, inputs(net, 3, requires_grad=False))
    assert saved_activation_bytes(net.ir, 3, device="cpu") == kept


def test_output_bytes_follow_dtype_and_keep_integer_inputs(net_from):
    net = net_from("network n { input ids: [7] int64\n embedding(10, 4) }").analyze()
    ids, emb = net.nodes()
    assert (ids["output_bytes"], emb["output_bytes"]) == (7 * 8, 7 * 4 * 4)
    activation_sizes(net.ir, "float16")
    assert (ids["output_bytes"], emb["output_bytes"]) == (7 * 8, 7 * 4 * 2)


CHAIN = "network n {{ input [1, 8, 8]\n conv(4, 3, padding=1) relu(inplace={inplace}) conv(2, 3, padding=1) }}"


def test_forward_peak_of_a_chain_frees_dead_tensors(net_from):
    # input 256 B, conv 1024 B, relu 1024 B, conv 512 B: peak while relu runs.
    net = net_from(CHAIN.format(inplace="false")).analyze()
    assert forward_peak(net.ir) == 2 * 1024
    assert forward_peak(net.ir, batch=3) == 3 * 2 * 1024
    inplace = net_from(CHAIN.format(inplace="true")).analyze()
    assert forward_peak(inplace.ir) == 1024 + 512  # relu writes over the conv output
    assert activation_bytes(net.ir) == 1024 + 1024 + 512
    assert activation_bytes(inplace.ir) == 1024 + 512


def test_forward_peak_keeps_a_residual_input_alive(net_from):
    net = net_from("""network n { input [1, 8, 8]
      residual { conv(1, 3, padding=1) conv(1, 3, padding=1) } }""").analyze()
    # input (256) stays for the add: input + both convs' outputs while the second runs.
    assert forward_peak(net.ir) == 3 * 256
    assert forward_peak(net.ir) < activation_bytes(net.ir) + 256


def test_training_estimate_counts_params_grads_optimizer_and_saved(net_from):
    net = net_from("network n { input [3, 8, 8]\n conv(4, 3, trainable=false) conv(2, 3) }").analyze()
    frozen, trainable = 4 * 3 * 9 + 4, 2 * 4 * 9 + 2
    for optimizer, states in (("sgd", 0), ("momentum", 1), ("adam", 2)):
        memory = training_memory(net.ir, batch=5, optimizer=optimizer)
        assert memory.params == 4 * (frozen + trainable)
        assert memory.grads == 4 * trainable
        assert memory.optimizer == states * 4 * trainable
    memory = training_memory(net.ir, batch=5)
    # Only the second conv trains, so only its input (4x6x6 floats) is saved.
    assert memory.saved_activations == 5 * 4 * 6 * 6 * 4
    half = training_memory(net.ir, batch=5, dtype="float16")
    assert half.params * 2 == memory.params and half.grads * 2 == memory.grads
    # Backward: conv2's output gradient (5 x 2x4x4 floats) and its parameter gradients.
    assert memory.backward_peak == memory.saved_activations + 5 * 32 * 4 + 4 * trainable
    assert memory.total == memory.params + memory.buffers + memory.optimizer + memory.backward_peak


def test_backward_peak_walks_the_graph_in_reverse(net_from):
    net = net_from("network n { input [1, 8, 8]\n conv(2, 3, padding=1) relu conv(1, 3, padding=1) }")
    memory = training_memory(net.analyze().ir, optimizer="sgd")
    # Saved: the input (256 B, for conv1) and relu's output (512 B, for relu and conv2).
    assert memory.saved_activations == 256 + 512
    # While relu's backward runs: all saved tensors, the gradients of relu's and
    # conv1's outputs (512 B each), and conv2's parameter gradients (19 floats).
    assert memory.backward_peak == 768 + 512 + 512 + 19 * 4


def _torch_state_tensors(name: str) -> int:
    """Parameter-sized tensors torch's optimizer keeps per parameter after one step."""
    layer = torch.nn.Linear(3, 4)
    make = {"sgd": lambda p: torch.optim.SGD(p, lr=0.1), "momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
            "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad, "adam": torch.optim.Adam,
            "adamw": torch.optim.AdamW}[name]
    optimizer = make(layer.parameters())
    layer(torch.randn(2, 3)).sum().backward()
    optimizer.step()
    state = optimizer.state[layer.weight]
    return sum(1 for v in state.values() if torch.is_tensor(v) and v.shape == layer.weight.shape)


@pytest.mark.parametrize("name", ["sgd", "momentum", "rmsprop", "adagrad", "adam", "adamw"])
def test_optimizer_state_matches_what_torch_keeps(net_from, name):
    net = net_from("network n { input [6]\n linear(4)\n relu\n linear(2) }").analyze()
    memory = training_memory(net.ir, batch=1, optimizer=name)
    assert memory.optimizer == _torch_state_tensors(name) * 4 * net.trainable_params


@pytest.mark.parametrize("dtype", sorted(DTYPE_BYTES))
def test_bytes_per_element_are_torchs(dtype):
    assert DTYPE_BYTES[dtype] == torch.empty(0, dtype=getattr(torch, dtype)).element_size()
    assert (dtype in FLOAT_DTYPES) == getattr(torch, dtype).is_floating_point


def test_cuda_dropout_keeps_a_one_byte_mask_where_cpu_keeps_an_activation(net_from):
    # fused dropout on CUDA saves a bool mask; on CPU the mask is measured in
    # activation widths (checked against autograd above)
    net = net_from("network n { input [16]\n linear(8) dropout(0.5) linear(4) }").analyze()
    model = net.to_torch().train()
    on_cpu = saved_activation_bytes(net.ir, 3, device="cpu")
    assert on_cpu == kept_by_autograd(model, inputs(net, 3, requires_grad=False))
    assert saved_activation_bytes(net.ir, 3, device="cuda") == on_cpu - 3 * 8 * 4 + 3 * 8 * 1
    activation_sizes(net.ir, "float16")  # the declared float32 input stays; the mask stays one byte
    assert saved_activation_bytes(net.ir, 3, width=2, device="cuda") == 3 * (16 * 4 + 8 + 8 * 2)


@pytest.mark.parametrize("op, gates", [("lstm", 4), ("gru", 3), ("rnn", 1)])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_layers_keep_gates_cell_and_hidden_per_step(net_from, op, gates, bidirectional):
    # the documented cuDNN rule: per step, layer and direction the gate activations,
    # the cell state and the hidden state; plus the input sequence (for the weights' gradient)
    net = net_from(f"network n {{ input [5, 6]\n {op}(hidden_size=7, num_layers=2, "
                   f"bidirectional={str(bidirectional).lower()}) }}").analyze()
    per_step = (gates + 2) * 7 * 2 * (2 if bidirectional else 1)
    assert saved_activation_bytes(net.ir, 3, device="cuda") == 3 * 5 * (per_step + 6) * 4


def test_training_total_adds_the_buffers(net_from):
    net = net_from("network n { input [3, 8, 8]\n conv(4, 3) batchnorm }").analyze()
    memory = training_memory(net.ir, batch=2, optimizer="sgd")
    buffers = sum(b.numel() for b in net.to_torch().buffers())  # running mean, var, batch count
    assert memory.buffers == 4 * buffers == 4 * (4 + 4 + 1)
    assert memory.total == memory.params + memory.buffers + memory.backward_peak


def test_backward_through_a_view_shares_its_gradient_and_frees_by_batch(net_from):
    # input 16×4×4 (1024 B), conv 8×4×4 (512 B; 1,160 params), flatten: a view of it,
    # linear(1) (4 B; 129 params); batch 3. Saved: the input (conv's weight gradient)
    # and the conv output (linear's input): 3 × 1,536 B.
    net = net_from("network n { input [16, 4, 4]\n conv(8, 3, padding=1) flatten linear(1) }").analyze()
    memory = training_memory(net.ir, batch=3, optimizer="sgd")
    assert memory.saved_activations == 3 * 1536
    # linear's backward: its output gradient (3 × 4), the view's (3 × 512, the conv
    # output's too) and its parameter gradients (516 B) = 6,672 B with the saved ones.
    # Then linear's input is freed (3 × 512); the view passes its gradient on as is;
    # conv's backward adds its parameter gradients (4,640 B) to 3 × 1,024 + 3 × 512 + 516.
    assert memory.backward_peak == 3 * 1024 + 3 * 512 + 516 + 4640 == 9764
