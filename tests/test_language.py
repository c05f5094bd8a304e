"""Language constructs, checked on the elaborated graph and against torch."""
import torch

import netdsl


def paths(net):
    return [d["path"] for d in net.layers() if d["path"]]


def forward(net, *shapes):
    model = net.to_torch().eval()
    xs = [torch.randn(2, *s) for s in (shapes or [net.input_shape])]
    with torch.no_grad():
        return model, model(*xs)


def test_chain_numbering_counts_parameter_free_layers(net_from):
    net = net_from("network n { input [3, 8, 8]\n conv(4, 3) relu conv(4, 3)\n head: linear(2) }")
    assert paths(net) == ["0", "1", "2", "head"]


def test_block_params_defaults_and_typed_arguments(net_from):
    net = net_from("""
block unit(c: int, k: int = 3, pad: int = k // 2) { conv(c, k, padding=pad) }
network n { input [3, 8, 8]
  a: unit(4)
  b: unit(6, k=5) }""")
    assert [d["shape"] for d in net.layers()] == [(4, 8, 8), (6, 8, 8)]
    assert paths(net) == ["a.0", "b.0"]


def test_repeat_with_index_and_interpolated_labels(net_from):
    net = net_from("""network n { input [2, 4, 4]
  repeat 3 as i { layer{i+1}: conv(2 * (i + 1), 1) } }""")
    assert paths(net) == ["layer1", "layer2", "layer3"]
    assert net.layers()[-1]["shape"] == (6, 4, 4)


def test_labelled_repeat_is_a_scope_with_auto_indices(net_from):
    net = net_from("""block b(c: int) { conv1: conv(c, 1) }
network n { input [2, 4, 4]
  stage: repeat 2 { b(3) } }""")
    assert paths(net) == ["stage.0.conv1", "stage.1.conv1"]


def test_inline_block_splices_into_parent_numbering(net_from):
    net = net_from("""block s(c: int) { conv(c, 3, padding=1) relu maxpool(2) }
network n { input [3, 8, 8]
  features: { inline s(4) inline s(8) } }""")
    assert paths(net) == [f"features.{i}" for i in range(6)]
    model, _ = forward(net)
    assert isinstance(model.features, torch.nn.Sequential)


def test_residual_identity_and_projection_shortcut(net_from):
    src = """
block basic(c: int, stride: int = 1) {
  residual { conv1: conv(c, 3, stride=stride, padding=1) }
  shortcut if stride != 1 or in.channels != c { downsample: { conv(c, 1, stride=stride) } }
}
network n { input [4, 8, 8]
  a: basic(4)
  b: basic(8, stride=2) }"""
    net = net_from(src)
    assert paths(net) == ["a.conv1", "b.conv1", "b.downsample.0"]
    model, y = forward(net)
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        h = model.a.conv1(x) + x
        want = model.b.conv1(h) + model.b.downsample(h)
        assert torch.allclose(model(x), want, atol=1e-6)


def test_concat_branches_and_merge_shapes(net_from):
    net = net_from("""network n { input [3, 8, 8]
  concat {
    b1: conv(2, 1)
    b2: { conv(1, 1) conv(3, 3, padding=1) }
    b3: maxpool(3, stride=1, padding=1)
  } }""")
    assert net.output_shapes["out"] == (8, 8, 8)
    assert paths(net) == ["b1", "b2.0", "b2.1", "b3"]
    _, y = forward(net)
    assert y.shape == (2, 8, 8, 8)


def test_dense_links_concat_every_previous_output(net_from):
    net = net_from("""network n { input [4, 5, 5]
  block1: dense repeat 3 as i { layer{i+1}: conv(2, 3, padding=1) } }""")
    convs = [d for d in net.layers() if d["op"] == "conv"]
    assert [net.ir.nodes[d["inputs"][0]]["shape"][0] for d in convs] == [4, 6, 8]
    assert net.output_shapes["out"] == (10, 5, 5)
    model, _ = forward(net)
    x = torch.randn(1, 4, 5, 5)
    with torch.no_grad():
        f1 = model.block1.layer1(x)
        f2 = model.block1.layer2(torch.cat([x, f1], 1))
        f3 = model.block1.layer3(torch.cat([x, f1, f2], 1))
        assert torch.allclose(model(x), torch.cat([x, f1, f2, f3], 1), atol=1e-6)


def test_squeeze_excitation_mul_broadcasts(net_from):
    net = net_from("""network n { input [8, 4, 4]
  mul { identity
        { adaptive_avgpool(1) conv(2, 1) relu conv(8, 1) sigmoid } } }""")
    assert net.output_shapes["out"] == (8, 4, 4)
    model, y = forward(net)
    x = torch.randn(2, 8, 4, 4)
    squeeze, excite = model.get_submodule("2"), model.get_submodule("4")  # the branch, by hand
    with torch.no_grad():
        want = x * torch.sigmoid(excite(torch.relu(squeeze(x.mean((2, 3), keepdim=True)))))
        assert torch.allclose(model(x), want, atol=1e-6)
    assert y.shape == (2, 8, 4, 4)


def test_named_values_make_a_unet_dag(net_from):
    net = net_from("""network unet { input x: [3, 16, 16]
  e1 = enc1: conv(4, 3, padding=1)
  e2 = maxpool(2) enc2: conv(8, 3, padding=1)
  up: conv_transpose(4, 2, stride=2)
  d1 = concat { identity
                @e1 }
  head: conv(2, 1) }""")
    assert net.output_shapes["out"] == (2, 16, 16)
    _, y = forward(net)
    assert y.shape == (2, 2, 16, 16)


def test_several_outputs_with_loss_weights(net_from):
    net = net_from("""network n { input [3, 8, 8]
  body: conv(4, 3, padding=1)
  output aux(weight=0.3, aux=true) = aux_head: { adaptive_avgpool(1) flatten linear(5) }
  flatten
  fc: linear(7) }""")
    assert [(o["name"], o["weight"]) for o in net.outputs] == [("out", 1.0), ("aux", 0.3)]
    model, main = forward(net)  # eval mode: the main output alone
    with torch.no_grad():
        _, aux = model.train()(torch.randn(2, 3, 8, 8))
    assert main.shape == (2, 7) and aux.shape == (2, 5)
    assert model.output_names == ["out", "aux"]


def test_conditionals_and_expressions(net_from):
    net = net_from("""block b(c: int, use_bn: bool = true) {
  conv(c, 3, padding=1, bias=not use_bn)
  if use_bn { batchnorm } elif c > 100 { relu } else { tanh }
}
network n(w: float = 1.5) { input [3, 8, 8]
  b(int(16 * w))
  b(max(4, 8 // 2), use_bn=false) }""")
    ops = [d["op"] for d in net.layers()]
    assert ops == ["conv", "batchnorm", "conv", "tanh"]
    assert net.layers()[0]["shape"][0] == 24


def test_imports_relative_to_the_importing_file(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.net").write_text("block unit(c: int) { conv(c, 1) relu }")
    (tmp_path / "main.net").write_text('import "lib/blocks.net"\nnetwork m { input [3, 4, 4]\n unit(5) }')
    net = netdsl.load(tmp_path / "main.net")
    assert net.output_shapes["out"] == (5, 4, 4)


def test_network_parameters_and_input_override(net_from):
    src = "network n(k: int = 10) { input [3, 32, 32]\n conv(8, 3) flatten linear(k) }"
    net = net_from(src, params={"k": "4"}, input_shape=(3, 16, 16))
    assert net.output_shapes["out"] == (4,)
    assert net.input_shape == (3, 16, 16)


def test_init_and_frozen_layers(net_from):
    net = net_from("""network n { input [3, 4, 4]
  c: conv(2, 1, init=constant(0.5), bias_init=zeros(), trainable=false)
  fc: flatten linear(3, init=xavier_uniform()) }""")
    model = net.to_torch()
    assert torch.all(model.c.weight == 0.5) and torch.all(model.c.bias == 0)
    assert not model.c.weight.requires_grad
    assert net.trainable_params == net.params - 8


def test_sequence_input_dtype(net_from):
    net = net_from("network n { input [3, 8] float64\n conv(2, 3) }")
    assert net.inputs[0]["dtype"] == "float64"
    assert net.output_shapes["out"] == (2, 6)


def test_comments_semicolons_and_multiline_arguments(net_from):
    net = net_from("""# a comment
network n {   # another
  input [3, 8, 8]; conv(4,
                        3)   # continues across lines inside parentheses
  relu
}""")
    assert net.output_shapes["out"] == (4, 6, 6)


def test_command_line_overrides_are_read_as_literals(net_from):
    src = "network n(sizes: tuple = (4,), act: str = \"relu\", p: float = 0.5) { input [3]\n linear(sum(sizes)) }"
    net = net_from(src, params={"sizes": "(2, 3, 5)", "act": "elu", "p": "1"})
    assert net.ir.graph["params"] == {"sizes": (2, 3, 5), "act": "elu", "p": 1.0}
    assert net.output_shapes["out"] == (10,)
