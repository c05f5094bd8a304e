"""`netdsl export`: ONNX run in onnxruntime and torch.export programs loaded back,
both compared with the torch module's own forward (the oracle), at a batch other
than the traced one (the dynamic axis), with the .net file's input/output names."""
import sys

import pytest

import netdsl
from netdsl.cli import main
from netdsl.errors import BackendError, UsageError

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _torch_outputs(model, *inputs):
    with torch.no_grad():
        out = model.eval()(*inputs)
    return out if isinstance(out, tuple) else (out,)


def _perturbed(model):
    """Weights no fresh build has: an export that ignored them would differ."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return model


def _onnx_session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _batch_dims(values):
    return [v.type.tensor_type.shape.dim[0].dim_param for v in values]


def test_lenet5_checkpoint_to_onnx_from_cli_runs_in_onnxruntime_like_torch(tmp_path, capsys):
    from netdsl.training.checkpoint import FORMAT
    model = _perturbed(netdsl.load("lenet5").to_torch())
    checkpoint = tmp_path / "best.pt"
    torch.save({"format": FORMAT, "state_dict": model.state_dict(), "input_shape": [1, 32, 32]}, checkpoint)
    path = tmp_path / "lenet5.onnx"
    assert main(["export", "lenet5", "--checkpoint", str(checkpoint), "-o", str(path)]) == 0
    assert "outputs match torch" in capsys.readouterr().out
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == ["x"] and [o.name for o in proto.graph.output] == ["out"]
    assert _batch_dims(proto.graph.input) == _batch_dims(proto.graph.output) == ["batch"]
    assert not list(tmp_path.glob("*.data"))  # small weights stay inside the one file
    x = torch.randn(5, 1, 32, 32)
    got = _onnx_session(path).run(None, {"x": x.numpy()})[0]
    assert float((torch.from_numpy(got) - _torch_outputs(model, x)[0]).abs().max()) <= 1e-4


def test_trained_module_exports_its_own_weights_to_onnx(tmp_path):
    net = netdsl.load("resnet18", params={"num_classes": 10}, input_shape=(3, 32, 32))
    model = _perturbed(net.to_torch()).train()
    report = net.export(tmp_path / "r18.onnx", module=model, opset=18)
    assert model.training  # the caller's module is left as it was
    from netdsl.backends.export.onnx import opset_of
    assert opset_of(report.path) == 18 and report.max_abs_diff <= 1e-4
    x = torch.randn(5, 3, 32, 32)  # neither the traced batch (2) nor the checked one (3)
    got = _onnx_session(report.path).run(["out"], {"x": x.numpy()})[0]
    want = _torch_outputs(model, x)[0]
    assert got.shape == (5, 10)
    assert float((torch.from_numpy(got) - want).abs().max()) <= 1e-4


def test_lstm_classifier_exports_with_torch_export(tmp_path, capsys):
    path = tmp_path / "lstm.pt2"
    # the zoo file at a shorter sequence: tracing nn.LSTM costs time per step
    assert main(["export", "lstm_classifier", "--set", "length=20", "-o", str(path)]) == 0
    assert "pt2, inputs tokens -> outputs out, dynamic batch" in capsys.readouterr().out
    program = torch.export.load(str(path))
    tokens = torch.randint(0, 20_000, (4, 20))
    got = program.module()(tokens=tokens)
    assert list(got) == ["out"]
    reference = netdsl.load("lstm_classifier", params={"length": 20}).to_torch()
    # the program holds the network under ``model.`` (the wrapper that names inputs)
    reference.load_state_dict({k.removeprefix("model."): v for k, v in program.state_dict.items()})
    assert torch.allclose(got["out"], _torch_outputs(reference, tokens)[0], atol=1e-5, rtol=0)


def test_auxiliary_heads_are_left_out_and_names_follow_the_file(tmp_path, net_from):
    net = net_from("""
network two_inputs {
    input image: [3, 8, 8]
    input extra: [3, 8, 8]
    add { identity
          @image }
    conv(4, 3, padding=1) relu
    output aux(weight=0.3, aux=true) = aux_head: { global_avgpool linear(2) }
    flatten
    logits: linear(5)
}""")
    report = net.export(tmp_path / "two.onnx", dynamic_batch=False, batch=3)
    assert report.input_names == ["image", "extra"] and report.output_names == ["out"]
    session = _onnx_session(report.path)
    assert [i.name for i in session.get_inputs()] == ["image", "extra"]
    assert [o.name for o in session.get_outputs()] == ["out"]
    assert [i.shape[0] for i in session.get_inputs()] == [3, 3]  # the fixed batch


@pytest.mark.parametrize("argv, message", [
    (["-o", "model.tflite"], "cannot tell the export format"),
    (["-o", "model.py"], "PyTorch source (.py) comes from netdsl compile"),
    (["-o", "model.pt2", "--opset", "18"], "--opset applies to ONNX export only"),
    (["-o", "model.onnx", "--batch", "1"], "cannot be traced at batch 1"),
])
def test_bad_requests_are_usage_errors(tmp_path, capsys, argv, message):
    argv = [a if not a.startswith("model.") else str(tmp_path / a) for a in argv]
    assert main(["export", "lenet5", *argv]) == UsageError.exit_code
    assert message in capsys.readouterr().err


def test_missing_onnx_names_the_export_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # import now raises ImportError
    with pytest.raises(UsageError) as caught:
        netdsl.load("lenet5").export(tmp_path / "m.onnx")
    assert "onnxscript" in caught.value.message and "netdsl[export]" in caught.value.hint


def test_outputs_that_differ_from_torch_refuse_the_export():
    from netdsl.backends.export.common import ExportReport, verify
    report = ExportReport("m.onnx", "onnx", ["x"], ["out"], True)
    want = [torch.zeros(2, 3)]
    assert verify(report, [torch.full((2, 3), 5e-5)], want).max_abs_diff == pytest.approx(5e-5)
    for bad in (torch.full((2, 3), 2e-4), torch.full((2, 3), float("nan")), torch.zeros(3, 3)):
        with pytest.raises(BackendError, match="differ from torch"):
            verify(report, [bad], want)


def test_float32_rounding_of_a_deep_network_is_not_an_export_error():
    from netdsl.backends.export.common import ExportReport, verify
    exact = [torch.tensor([1.0, 2.0], dtype=torch.float64)]
    want = [torch.tensor([1.0008, 2.0])]  # torch's own float32 answer is 8e-4 off
    report = ExportReport("m.onnx", "onnx", ["x"], ["out"], True)
    assert verify(report, [torch.tensor([0.9995, 2.0])], want, exact=lambda: exact).float32_error \
        == pytest.approx(8e-4, rel=1e-3)  # 5e-4 off: as close as torch itself
    with pytest.raises(BackendError, match="twice torch's own float32 error"):
        verify(report, [torch.tensor([1.003, 2.0])], want, exact=lambda: exact)  # 3e-3 off
