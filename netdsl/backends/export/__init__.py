"""Deployable files from a ``Network``: ONNX (``.onnx``) and torch.export (``.pt2``).

Both trace the eval-mode module once at a small batch with a symbolic batch
axis, name the graph's inputs and outputs after the .net file's, and (by
default) run the written file — onnxruntime for ONNX, ``torch.export.load``
for .pt2 — at another batch, refusing the export when any output differs from
torch's by more than ``TOLERANCE``.  See docs/export.md."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ...errors import UsageError

#: file suffix → format
FORMATS = {".onnx": "onnx", ".pt2": "pt2"}


def format_for(path: Path, chosen: Optional[str] = None) -> str:
    """The format asked for, else the one the suffix names."""
    if chosen is not None:
        if chosen not in FORMATS.values():
            raise UsageError(f"unknown export format {chosen!r}", hint=f"formats: {', '.join(FORMATS.values())}")
        return chosen
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        hint = "name the file .onnx or .pt2, or pass --format onnx|pt2"
        if suffix == ".py":
            hint += "; PyTorch source (.py) comes from netdsl compile"
        raise UsageError(f"cannot tell the export format from {str(path)!r}", hint=hint)
    return FORMATS[suffix]


def export_network(network, path, **options):
    """Write ``network`` to ``path``; ``options`` are ``ExportOptions`` fields
    (format, opset, dynamic_batch, batch, check, module: a trained ``nn.Module``
    of this network to export instead of a fresh build).  Returns an ``ExportReport``."""
    from .common import ExportOptions
    chosen = ExportOptions(**options)
    path = Path(path)
    fmt = format_for(path, chosen.format)
    if chosen.opset is not None and fmt != "onnx":
        raise UsageError("--opset applies to ONNX export only")
    _check_batch(chosen)
    network.analyze()
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "onnx":
        from .onnx import write_onnx as write
    else:
        from .pt2 import write_pt2 as write
    training = chosen.module.training if chosen.module is not None else False
    try:
        return write(network, path, chosen)
    finally:  # the caller's module goes back to the mode it was in
        if chosen.module is not None:
            chosen.module.train(training)


def _check_batch(options) -> None:
    if options.batch < 1:
        raise UsageError(f"the export batch must be >= 1, got {options.batch}")
    if options.dynamic_batch and options.batch < 2:
        raise UsageError("a dynamic batch axis cannot be traced at batch 1: torch.export treats "
                         "sizes 0 and 1 as constants", hint="trace at --batch 2 or more, or add --static-batch")


__all__ = ["FORMATS", "format_for", "export_network"]
