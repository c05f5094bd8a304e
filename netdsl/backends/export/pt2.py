"""torch.export (``.pt2``): an ``ExportedProgram`` saved with ``torch.export.save``;
load it with ``torch.export.load(path).module()`` and call it with the .net
file's input names as keywords (``model(tokens=ids)``); it returns a dict of
outputs by name.  Needs only torch."""
from __future__ import annotations

from pathlib import Path

import torch

from ...errors import BackendError
from .common import (ExportOptions, ExportReport, dynamic_shapes, example_inputs, exported_output_names,
                     float64_outputs, named_module, quiet_export, reference_outputs, verify)


def write_pt2(network, path: Path, options: ExportOptions) -> ExportReport:
    """Trace with ``torch.export.export`` (batch axis symbolic), save, and with
    ``options.check`` load the file back and compare it with torch at another batch."""
    module = named_module(network, options.module)
    inputs = example_inputs(network, options.batch)
    names = exported_output_names(module, inputs)
    try:
        with quiet_export():
            program = torch.export.export(module, (), kwargs=inputs,
                                          dynamic_shapes=dynamic_shapes(inputs, options.dynamic_batch))
    except Exception as err:  # noqa: BLE001 — torch.export raises many types; all mean "cannot export"
        raise BackendError(f"torch.export of {network.name} failed: {type(err).__name__}: "
                           f"{(str(err).strip().splitlines() or [''])[0][:300]}") from None
    torch.export.save(program, str(path))
    report = ExportReport(str(path), "pt2", list(inputs), names, options.dynamic_batch, files=[str(path)])
    return _check(report, module, network, options) if options.check else report


def _check(report: ExportReport, module, network, options: ExportOptions) -> ExportReport:
    batch = options.batch + 1 if options.dynamic_batch else options.batch
    inputs = example_inputs(network, batch, seed=1)
    loaded = torch.export.load(report.path).module()
    with torch.no_grad():
        got = loaded(**inputs)
    if list(got) != report.output_names:
        raise BackendError(f"{report.path}: the loaded program returns {list(got)}, not {report.output_names}")
    return verify(report, list(got.values()), reference_outputs(module, inputs),
                  exact=lambda: float64_outputs(module, inputs))
