"""padding="same" against models netdsl did not build.

At stride 1 the reference is torch's own ``Conv2d(padding="same")``; at
stride > 1 (which torch refuses) it is TensorFlow's rule, written out here:
output ceil(size / stride), total padding max((out − 1)·stride + span − size, 0)
with span = dilation·(kernel − 1) + 1, the smaller half before.
"""
import math

import pytest
import torch
import torch.nn.functional as F

import netdsl

pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")


def netdsl_conv(call: str, shape):
    net = netdsl.parse(f"network n {{\n input x: {list(shape)}\n {call}\n}}", filename="same.net")
    torch.manual_seed(0)
    return net, net.to_torch().eval()


def weights(model):
    params = dict(model.named_parameters())
    (weight,) = [p for name, p in params.items() if name.endswith("weight")]
    biases = [p for name, p in params.items() if name.endswith("bias")]
    return weight, biases[0] if biases else None


@pytest.mark.parametrize("kernel, dilation, shape", [
    (3, 1, (2, 9, 9)), (4, 1, (2, 9, 8)), (2, 1, (2, 5, 7)), (5, 2, (3, 11, 10)),
    ((2, 3), (3, 1), (2, 8, 9)), ((4, 1), 1, (1, 6, 6)),
])
def test_stride_1_equals_torch_same(kernel, dilation, shape):
    k = kernel if isinstance(kernel, int) else tuple(kernel)
    net, model = netdsl_conv(f"conv(4, {k}, padding=\"same\", dilation={dilation})", shape)
    reference = torch.nn.Conv2d(shape[0], 4, k, padding="same", dilation=dilation)
    weight, bias = weights(model)
    with torch.no_grad():
        reference.weight.copy_(weight)
        reference.bias.copy_(bias)
        x = torch.randn(2, *shape)
        want = reference(x)
        torch.testing.assert_close(model(x), want)
    assert net.output_shapes["out"] == tuple(want.shape[1:]) == (4, *shape[1:])


def tf_pads(x, kernel, stride: int, dilation: int = 1) -> tuple:
    """F.pad's (left, right, top, bottom) for TensorFlow's SAME rule."""
    pads = []
    for size, k in reversed(list(zip(x.shape[2:], kernel))):
        out = math.ceil(size / stride)
        total = max((out - 1) * stride + dilation * (k - 1) + 1 - size, 0)
        pads += [total // 2, total - total // 2]
    return tuple(pads)


def tf_same(x, weight, bias, stride: int, dilation: int = 1, groups: int = 1):
    """TensorFlow's SAME convolution in 2-d: its pads, then a plain conv."""
    padded = F.pad(x, tf_pads(x, weight.shape[2:], stride, dilation))
    return F.conv2d(padded, weight, bias, stride=stride, dilation=dilation, groups=groups)


@pytest.mark.parametrize("kernel, stride, dilation, shape", [
    (3, 2, 1, (2, 10, 11)), (4, 2, 1, (2, 9, 9)), (3, 3, 1, (1, 10, 7)), (1, 2, 1, (2, 5, 5)),
    (5, 2, 2, (2, 13, 12)), (7, 4, 1, (1, 9, 15)), (2, 3, 1, (1, 2, 2)),
    (1, 5, 1, (1, 10, 9)),  # stride past the kernel: the rule's padding would be negative, TF pads 0
])
def test_stride_above_1_follows_tensorflows_rule(kernel, stride, dilation, shape):
    net, model = netdsl_conv(f"conv(3, {kernel}, stride={stride}, padding=\"same\", dilation={dilation})", shape)
    weight, bias = weights(model)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        want = tf_same(x, weight, bias, stride, dilation)
        torch.testing.assert_close(model(x), want)
    assert tuple(want.shape[2:]) == tuple(math.ceil(n / stride) for n in shape[1:])
    assert net.output_shapes["out"] == tuple(want.shape[1:])


def test_depthwise_same_at_stride_2_follows_tensorflows_rule():
    net, model = netdsl_conv("dwconv(3, stride=2, padding=\"same\")", (4, 10, 9))
    weight, bias = weights(model)
    x = torch.randn(2, 4, 10, 9)
    with torch.no_grad():
        torch.testing.assert_close(model(x), tf_same(x, weight, bias, stride=2, groups=4))
    assert tf_pads(x, (3, 3), 2) == (1, 1, 0, 1)  # 9 → 5: 2 pads, one each side; 10 → 5: 1 pad, after
    assert net.output_shapes["out"] == (4, 5, 5)


def test_pad_takes_before_after_per_axis_in_axis_order():
    """pad((0, 1, 2, 3)) on [C, H, W]: H gets (0, 1), W gets (2, 3); F.pad lists the last axis first."""
    net = netdsl.parse("network n {\n input x: [2, 4, 5]\n pad((0, 1, 2, 3), value=1.5)\n}")
    x = torch.randn(2, 2, 4, 5)
    with torch.no_grad():
        torch.testing.assert_close(net.to_torch()(x), F.pad(x, (2, 3, 0, 1), value=1.5))
    assert net.output_shapes["out"] == (2, 5, 10)


def test_valid_padding_is_torchs():
    net, model = netdsl_conv("conv(3, 3, padding=\"valid\", dilation=2)", (2, 9, 8))
    weight, bias = weights(model)
    x = torch.randn(2, 2, 9, 8)
    with torch.no_grad():
        want = F.conv2d(x, weight, bias, padding="valid", dilation=2)
        torch.testing.assert_close(model(x), want)
    assert net.output_shapes["out"] == tuple(want.shape[1:]) == (3, 5, 4)


@pytest.mark.parametrize("call, stride", [("conv(3, 3, padding=(1, 0, 2, 3))", 1),
                                          ("conv(3, 3, stride=2, padding=(2, 1, 0, 3), bias=false)", 2)])
def test_conv_takes_before_after_padding_per_axis_in_axis_order(call, stride):
    """conv(padding=(1, 0, 2, 3)) on [C, H, W]: H padded (1, 0), W (2, 3), as F.pad
    with the last axis first and an unpadded torch conv would do."""
    net, model = netdsl_conv(call, (2, 6, 7))
    weight, bias = weights(model)
    x = torch.randn(2, 2, 6, 7)
    numbers = [int(n) for n in call.split("padding=(")[1].split(")")[0].split(",")]
    expected = F.conv2d(F.pad(x, (*numbers[2:], *numbers[:2])), weight, bias, stride=stride)
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected)
    assert net.output_shapes["out"] == tuple(expected.shape[1:])


@pytest.mark.parametrize("mode, padding, size, accepted", [
    ("circular", 3, 2, False), ("circular", 2, 2, True), ("reflect", 2, 2, False), ("reflect", 1, 2, True),
    ("constant", 5, 2, True), ("replicate", 5, 2, True),
])
def test_pad_wider_than_the_input_is_refused_exactly_when_torch_refuses(mode, padding, size, accepted):
    source = f"network n {{\n input x: [1, {size}, {size}]\n pad({padding}, mode=\"{mode}\")\n}}"
    x = torch.randn(1, 1, size, size)
    if accepted:
        assert tuple(netdsl.parse(source).to_torch()(x).shape) == tuple(F.pad(x, (padding,) * 4, mode=mode).shape)
        return
    with pytest.raises(RuntimeError):
        F.pad(x, (padding,) * 4, mode=mode)
    with pytest.raises(netdsl.NetdslError, match=f"{mode} padding"):
        netdsl.parse(source)


@pytest.mark.parametrize("mode, padding, shape", [
    ("reflect", 3, (3, 9)), ("reflect", 3, (9, 3)), ("reflect", 2, (3, 9)),      # too wide along H or W only
    ("circular", 4, (3, 9)), ("circular", 4, (9, 3)), ("circular", 3, (3, 9)),
])
@pytest.mark.parametrize("op", ["conv", "pad"])
def test_padding_wider_than_one_axis_is_refused_exactly_when_torch_refuses(mode, padding, shape, op):
    x = torch.randn(1, 2, *shape)
    call = f"conv(2, 3, padding={padding}, padding_mode=\"{mode}\")" if op == "conv" else \
        f"pad({padding}, mode=\"{mode}\")"
    try:
        F.pad(x, (padding,) * 4, mode=mode)
        torch_accepts = True
    except RuntimeError:
        torch_accepts = False
    try:
        netdsl_conv(call, (2, *shape))
        accepted = True
    except netdsl.NetdslError as err:
        assert f"{mode} padding" in err.message
        accepted = False
    assert accepted == torch_accepts


@pytest.mark.parametrize("call, module", [("pad(1)", torch.nn.ZeroPad2d), ("pad(1, value=0.0)", torch.nn.ZeroPad2d),
                                          ("pad(1, value=-0.5)", torch.nn.ConstantPad2d),
                                          ("pad(1, mode=\"reflect\")", torch.nn.ReflectionPad2d)])
def test_pad_builds_the_module_a_person_would_write(call, module):
    net = netdsl.parse(f"network n {{\n input x: [2, 4, 5]\n {call}\n}}")
    (layer,) = [m for m in net.to_torch().modules() if isinstance(m, torch.nn.modules.padding._ConstantPadNd)
                or type(m).__name__.endswith("Pad2d")]
    assert type(layer) is module
