"""ONNX export through torch's exporter (``torch.onnx.export(dynamo=True)``), checked
by running the file in onnxruntime.  Needs the export extra: onnx, onnxscript
(torch's exporter translates with it) and onnxruntime (the check)."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from ...errors import BackendError, UsageError
from .common import (ExportOptions, ExportReport, dynamic_shapes, example_inputs, exported_output_names,
                     float64_outputs, named_module, quiet_export, reference_outputs, verify)

INSTALL = "pip install 'netdsl[export]'"
#: protobuf caps one file at 2 GiB: larger weights go to a side file ``NAME.onnx.data``
INLINE_BYTES = 1 << 30


@contextmanager
def needs(feature: str):
    """An ImportError inside becomes a UsageError naming the package and the extra."""
    try:
        yield
    except ImportError as err:
        top = (err.name or "a package").partition(".")[0]
        raise UsageError(f"{feature} needs the package {top}, which cannot be imported ({err})",
                         hint=f"install the export extra: {INSTALL}") from None


def write_onnx(network, path: Path, options: ExportOptions) -> ExportReport:
    """Write ``path`` (and ``path.data`` for weights over INLINE_BYTES); with
    ``options.check``, run it in onnxruntime at another batch and compare with torch."""
    with needs("ONNX export"):
        import onnx  # noqa: F401 — torch's exporter needs both; fail early, by name
        import onnxscript  # noqa: F401
    import torch
    module = named_module(network, options.module)
    inputs = example_inputs(network, options.batch)
    names = exported_output_names(module, inputs)
    external = _weight_bytes(module) > INLINE_BYTES
    try:
        with quiet_export():
            torch.onnx.export(module, (), str(path), kwargs=inputs, verbose=False, external_data=external,
                              dynamic_shapes=dynamic_shapes(inputs, options.dynamic_batch),
                              input_names=list(inputs), output_names=names, opset_version=options.opset)
    except Exception as err:  # noqa: BLE001 — the exporter raises many types; all mean "cannot export"
        raise BackendError(f"ONNX export of {network.name} failed: {_first_line(err)}",
                           hint="try the torch.export format (-o FILE.pt2) or another --opset") from None
    files = [str(path)] + ([f"{path}.data"] if external else [])
    report = ExportReport(str(path), "onnx", list(inputs), names, options.dynamic_batch, files=files)
    return _check(report, module, network, options) if options.check else report


def _check(report: ExportReport, module, network, options: ExportOptions) -> ExportReport:
    batch = options.batch + 1 if options.dynamic_batch else options.batch  # another batch proves the axis
    inputs = example_inputs(network, batch, seed=1)
    return verify(report, run_onnxruntime(report.path, inputs), reference_outputs(module, inputs),
                  exact=lambda: float64_outputs(module, inputs))


def run_onnxruntime(path: str, inputs: dict) -> list:
    """The outputs of the ONNX file at ``path`` in onnxruntime on the CPU, in file order."""
    with needs("checking an ONNX export"):
        import onnxruntime
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {name: tensor.numpy() for name, tensor in inputs.items()})


def opset_of(path: str) -> int:
    """The default-domain opset the file declares."""
    with needs("reading an ONNX file"):
        import onnx
    model = onnx.load(path, load_external_data=False)
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def _weight_bytes(module) -> int:
    tensors = [*module.parameters(), *module.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:300] if text else ''}"
