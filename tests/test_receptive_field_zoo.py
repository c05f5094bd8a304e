"""Receptive fields of the zoo's networks against gradient support in torch
(the oracle of test_receptive_field.py), and the sizes measured on torchvision.

Apart from the op examples' checks so that collecting those (mutation testing
runs them per mutant) does not elaborate every zoo file.
"""
from math import gcd

import pytest

import netdsl
from conftest import ARCH
from netdsl.analysis.receptive_field import centre_field, feature_node
from netdsl.analysis.shapes import infer_shape
from netdsl.ops import Args
from test_receptive_field import _channels_first, positive, support, window

#: Sizes measured on torchvision models (design notes §4).
KNOWN = {"alexnet": 195, "vgg16": 212, "vgg19": 268, "resnet18": 435, "resnet50": 427}


WIDTH_ARGS = ("out_channels", "out_features", "hidden_size")


def narrowed(path, input_shape=None):
    """The network of ``path`` with every width divided by the largest factor (at most
    16) that divides them all and leaves the graph valid (chunks, shuffles, adds)."""
    net = netdsl.load(path, input_shape=input_shape)
    widths = [d["args"][k] for d in net.layers() for k in WIDTH_ARGS if isinstance(d["args"].get(k), int)]
    common = gcd(16, *widths)
    for factor in [f for f in range(common, 0, -1) if common % f == 0]:
        try:
            return _narrow(netdsl.load(path, input_shape=input_shape), factor)
        except netdsl.NetdslError:
            continue


def _narrow(net, factor: int):
    nodes = net.ir.nodes
    for node in sorted(nodes):
        data = nodes[node]
        if data["op"] == "input":
            continue
        ins = [nodes[i]["shape"] for i in data["inputs"]]
        data["args"] = _narrow_args(data["args"], ins, factor)
        data["shape"] = infer_shape(data["op"], data["args"], ins)
    return net


def _narrow_args(args: Args, ins, factor: int) -> Args:
    args = Args(args)
    for key in WIDTH_ARGS:
        if isinstance(args.get(key), int):
            args[key] //= factor
    if isinstance(args.get("groups"), int) and args["groups"] > 1:
        args["groups"] = gcd(args["groups"], ins[0][0], args.get("out_channels", ins[0][0]))
    return args


def _loads(path, shape) -> bool:
    try:
        netdsl.load(path, input_shape=shape)
        return True
    except netdsl.NetdslError:
        return False


def _thin_inputs(path) -> list[tuple]:
    """Per spatial axis, an input long enough along that axis for the centre unit's
    field to lie inside it, and as short as the network allows along the others
    (a field along one axis does not depend on the other axes' sizes)."""
    net = netdsl.load(path).analyze()
    channels, *sizes = net.input_shape
    short = next(n for n in [*range(16, max(sizes), 16), max(sizes)] if _loads(path, (channels, *[n] * len(sizes))))
    field = net.receptive_field
    if short == max(sizes) and not _loads(path, (channels, *[short + 32] * len(sizes))):
        return [tuple(net.input_shape)] * len(sizes)  # one input size only (MaxViT's partitions)
    return [_long_along(path, channels, short, axis, len(sizes), field.largest + 2 * int(max(field.stride)))
            for axis in range(len(sizes))]


def _centre_unit(net, node) -> list[int]:
    """The centre unit of ``node`` along its field's spatial axes, wherever a permute put them."""
    shape, dims = net.ir.nodes[node]["shape"], net.ir.nodes[node]["rf"].dims
    return [(shape[d] - 1) // 2 for d in dims] if dims else [(m - 1) // 2 for m in shape[1:]]


def _long_along(path, channels, short, axis, rank, size) -> tuple:
    for _ in range(20):
        shape = (channels, *[size if a == axis else short for a in range(rank)])
        net = netdsl.load(path, input_shape=shape).analyze()
        node = feature_node(net.ir, net.outputs[0]["node"])
        lo, hi = window(centre_field(net.ir, node), _centre_unit(net, node))[axis]
        if lo >= 0 and hi <= size - 1:
            return shape
        size += 32
    raise AssertionError("no input size fits the receptive field")


def architectures():
    return [pytest.param(p, id=p.stem) for p in sorted(ARCH.glob("*.net"))
            if netdsl.load(p).analyze().receptive_field is not None]


@pytest.mark.parametrize("path", architectures())
def test_architecture_field_equals_gradient_support(path):
    for axis, shape in enumerate(_thin_inputs(path)):
        net = narrowed(path, shape).analyze()
        node = feature_node(net.ir, net.outputs[0]["node"])
        field = centre_field(net.ir, node)
        net.ir.graph["outputs"] = [{"name": "features", "node": node, "weight": 1.0}]
        unit, model = _centre_unit(net, node), positive(net.to_torch())
        if field.dims:  # a channels-last feature map (Swin's patch embedding): spatial axes back in place
            model = _channels_first(model, field.dims, len(net.ir.nodes[node]["shape"]))
        lo, hi = support(model, shape, unit)[axis]
        assert hi - lo + 1 == field.pixels[axis]
        assert lo == window(field, unit)[axis][0]


@pytest.mark.parametrize("name, size", sorted(KNOWN.items()))
def test_known_sizes_of_torchvision_models(name, size):
    path = ARCH / f"{name}.net"
    assert netdsl.load(path).receptive_field.pixels == (size, size)


def test_vgg16_and_resnet18_are_in_the_zoo():
    assert (ARCH / "vgg16.net").exists() and (ARCH / "resnet18.net").exists()
