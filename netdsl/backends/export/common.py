"""What both export formats share: the network as a module with named inputs and
outputs, example inputs, the dynamic batch axis, and the comparison with torch.

Imported only by the export backends (it imports torch)."""
from __future__ import annotations

import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch import nn

from ...errors import BackendError

#: the largest difference allowed between an exported model and the torch module
TOLERANCE = 1e-4
#: the batch the model is traced with: 0 and 1 are sizes torch.export specializes
#: (a dynamic axis traced at 1 becomes the constant 1), so the default is 2
TRACE_BATCH = 2


@dataclass
class ExportOptions:
    format: Optional[str] = None  # "onnx" or "pt2"; None: from the file's suffix
    opset: Optional[int] = None  # ONNX only; None: the exporter's recommended opset
    dynamic_batch: bool = True
    batch: int = TRACE_BATCH  # the traced batch; the only one allowed without dynamic_batch
    check: bool = True  # run the exported file and compare it with torch
    module: Any = None  # an nn.Module built from this network (trained weights); None: a fresh build


@dataclass
class ExportReport:
    path: str
    format: str
    input_names: list[str]
    output_names: list[str]
    dynamic_batch: bool
    max_abs_diff: Optional[float] = None  # None when not checked
    max_abs_output: Optional[float] = None  # torch's largest output magnitude: the diff's scale
    float32_error: Optional[float] = None  # torch fp32 vs fp64, measured when the diff exceeds TOLERANCE
    files: list[str] = field(default_factory=list)

    def summary(self) -> str:
        batch = "dynamic batch" if self.dynamic_batch else "fixed batch"
        verdict = "" if self.max_abs_diff is None else \
            f"; outputs match torch (max abs diff {self.max_abs_diff:.2e} <= {TOLERANCE:g})"
        if self.float32_error is not None:
            verdict = (f"; outputs match torch to float32 rounding (max abs diff {self.max_abs_diff:.2e}; "
                       f"torch's own float32 error {self.float32_error:.2e})")
        return (f"wrote {self.path}: {self.format}, inputs {', '.join(self.input_names)} -> "
                f"outputs {', '.join(self.output_names)}, {batch}{verdict}")


class NamedIO(nn.Module):
    """The network called with keyword inputs named as in the .net file, returning a
    dict of its outputs by name: the names the exported graph's inputs and outputs get.
    In eval mode a network returns its outputs without ``aux=true`` alone."""

    def __init__(self, model: nn.Module, input_names: list[str], output_names: list[str]):
        super().__init__()
        self.model = model
        self.input_names, self.output_names = list(input_names), list(output_names)

    def forward(self, /, **inputs: torch.Tensor) -> dict[str, torch.Tensor]:  # any name, even "self"
        out = self.model(*(inputs[name] for name in self.input_names))
        return dict(zip(self.output_names, out if isinstance(out, tuple) else (out,)))


def named_module(network, model: Optional[nn.Module] = None) -> NamedIO:
    """The network's module (``model``, or a fresh build) wrapped with its input and
    output names, in eval mode: what is deployed is the inference graph."""
    model = network.to_torch() if model is None else model
    names = [o["name"] for o in network.outputs]
    return NamedIO(model, [i["name"] for i in network.inputs], names).eval()


def exported_output_names(module: NamedIO, inputs: dict) -> list[str]:
    """The outputs the eval-mode module really returns (none declared ``aux=true``)."""
    with torch.no_grad():
        return list(module(**inputs))


def example_inputs(network, batch: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random inputs by name; integer inputs (token ids) stay below every
    embedding's vocabulary so they index it; bool inputs (padding masks) pad
    the last position of every other sample."""
    generator = torch.Generator().manual_seed(seed)
    inputs = {}
    for spec in network.inputs:
        shape = (batch, *network.ir.nodes[spec["node"]]["shape"])
        dtype = getattr(torch, spec.get("dtype") or "float32")
        if dtype.is_floating_point:
            inputs[spec["name"]] = torch.randn(shape, generator=generator, dtype=dtype)
        elif dtype == torch.bool:
            inputs[spec["name"]] = torch.zeros(shape, dtype=dtype)
            inputs[spec["name"]][1::2, ..., -1] = shape[-1] > 1
        else:
            inputs[spec["name"]] = torch.randint(0, _index_bound(network), shape, generator=generator, dtype=dtype)
    return inputs


def _index_bound(network) -> int:
    sizes = [d["args"]["num_embeddings"] for d in network.nodes() if "num_embeddings" in d.get("args", {})]
    return min(sizes, default=2)


def dynamic_shapes(inputs: dict, dynamic_batch: bool) -> Optional[dict]:
    """torch.export's spec: dim 0 of every input is one symbolic size named ``batch``."""
    if not dynamic_batch:
        return None
    batch = torch.export.Dim("batch", min=1)
    return {name: {0: batch} for name in inputs}


def max_abs_diff(got: list, want: list) -> float:
    """The largest absolute difference over all outputs: inf when their number or
    shapes differ, NaN when any output holds a NaN the other lacks."""
    if len(got) != len(want):
        return float("inf")
    diffs = []
    for a, b in zip(got, want):
        a, b = torch.as_tensor(a).double(), torch.as_tensor(b).double()
        if a.shape != b.shape:
            return float("inf")
        diffs.append(float((a - b).abs().max()) if a.numel() else 0.0)
    return float("nan") if any(math.isnan(d) for d in diffs) else max(diffs, default=0.0)


def reference_outputs(module: NamedIO, inputs: dict) -> list[torch.Tensor]:
    with torch.no_grad():
        return list(module(**inputs).values())


def float64_outputs(module: NamedIO, inputs: dict) -> list[torch.Tensor]:
    """The outputs of a float64 copy of the module: the exact answer fp32 rounds."""
    import copy
    exact = copy.deepcopy(module).double()
    wide = {k: v.double() if v.is_floating_point() else v for k, v in inputs.items()}
    with torch.no_grad():
        return list(exact(**wide).values())


def verify(report: ExportReport, got: list, want: list, exact=None) -> ExportReport:
    """Record the difference; refuse the export when it exceeds TOLERANCE (or is NaN),
    unless ``exact()`` (float64 outputs) shows torch's own float32 result is no closer
    to the exact one: a deep network (ResNet-152) rounds by more than 1e-4 itself."""
    diff = max_abs_diff(got, want)
    report.max_abs_diff = diff
    report.max_abs_output = max((float(torch.as_tensor(w).abs().max()) for w in want if w.numel()), default=0.0)
    if diff <= TOLERANCE:
        return report
    if exact is not None and not math.isnan(diff):
        truth = exact()
        torch_error, export_error = max_abs_diff(want, truth), max_abs_diff(got, truth)
        report.float32_error = torch_error
        if export_error <= 2 * torch_error:
            return report
    raise BackendError(f"{report.path}: the exported model's outputs differ from torch's by {diff:.3g} "
                       f"(allowed {TOLERANCE:g}, or twice torch's own float32 error)")


@contextmanager
def quiet_export():
    """Silence torch's notes that are not problems of the network: nn.LSTM re-points
    its cached ``_flat_weights`` while traced (torch warns they "were assigned
    during export"; the exported program reads the parameters themselves)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"The tensor attributes .*_flat_weights")
        # several inputs share the one ``batch`` axis: torch notes it names it once
        warnings.filterwarnings("ignore", message=r".*The axis name: batch will not be used")
        # torch's own ONNX decomposition of nn.LSTM calls a deprecated torch helper
        warnings.filterwarnings("ignore", message=r"_check_is_size will be removed", category=FutureWarning)
        yield
