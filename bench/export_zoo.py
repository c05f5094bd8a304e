#!/usr/bin/env python3
"""Which zoo networks export, and how exactly: every ``netdsl/architectures/*.net``
to ONNX (run in onnxruntime) and to torch.export (.pt2, loaded back), each at
its own input size with a dynamic batch axis, compared with the torch module
at another batch.  Batch-norm statistics are first measured on a random batch
(``calibrated``) so that outputs depend on the input ("output spread": how
much the output changes between two samples).  Prints a markdown table: per
format the max abs difference "of" the largest output magnitude (its scale),
or why the export was refused, and the seconds each took.  "torch vs torch" is
torch's own fp32 variation: the same module on the same inputs run another valid
way (channels_last inputs; oneDNN off), the scale any exporter's difference is
judged against.

    pip install 'netdsl[export]'
    python3 bench/export_zoo.py [NAME ...] [--formats onnx,pt2] [--threads 1]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "netdsl" / "architectures"


def calibrated(net):
    """The module with batch-norm statistics measured on one random batch, as
    training would leave them.  At initialisation (mean 0, variance 1) the signal
    of a deep network such as EfficientNet fades out and its output no longer
    depends on the input, which would make the comparison vacuous."""
    import torch
    from netdsl.backends.export.common import example_inputs
    model = net.to_torch()
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a plain average: one batch sets the statistics
    with torch.no_grad():
        model.train()(*example_inputs(net, 4, seed=2).values())
    for norm in norms:
        norm.momentum = 0.1
    return model.eval()


def spread(net, model) -> float:
    """How much the main output changes between two random samples (0: ignores its input)."""
    import torch
    from netdsl.backends.export.common import example_inputs
    with torch.no_grad():
        out = model(*example_inputs(net, 2, seed=3).values())
    out = out[0] if isinstance(out, tuple) else out
    return float((out[0] - out[1]).abs().max())


def torch_variation(net, model) -> float:
    """The largest change in torch's own fp32 output when the same module runs on
    the same inputs another valid way: image inputs as channels_last, and with
    oneDNN (mkldnn) off, so convolutions take another kernel.  Two correct fp32
    computations of a deep network differ by this much; 0 for networks whose
    kernels neither choice reaches."""
    import torch
    from netdsl.backends.export.common import example_inputs
    inputs = list(example_inputs(net, 3, seed=1).values())

    def run(layout=torch.contiguous_format):
        with torch.no_grad():
            out = model(*(x.contiguous(memory_format=layout) if x.dim() == 4 else x for x in inputs))
        return out[0] if isinstance(out, tuple) else out

    base = run()
    others = [run(torch.channels_last)] if any(x.dim() == 4 for x in inputs) else []
    torch.backends.mkldnn.enabled = False
    try:
        others.append(run())
    finally:
        torch.backends.mkldnn.enabled = True
    return max(float((base - other).abs().max()) for other in others)


def export_cell(net, model, folder: Path, fmt: str) -> str:
    """``diff of scale (seconds)`` for one export, or ``no: reason``."""
    from netdsl.errors import NetdslError
    path = folder / f"{net.name}.{fmt}"
    start = time.perf_counter()
    try:
        report = net.export(path, module=model)
    except NetdslError as err:
        return f"no: {err.message[:160]}"
    finally:
        for leftover in folder.glob(f"{net.name}.{fmt}*"):
            leftover.unlink()  # VGG's ONNX is 0.5 GB: keep one at a time
    seconds = time.perf_counter() - start
    return f"{report.max_abs_diff:.1e} of {report.max_abs_output:.1e} ({seconds:.0f} s)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="zoo names (default: every file)")
    parser.add_argument("--formats", default="onnx,pt2")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    import torch
    import netdsl
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    formats = args.formats.split(",")
    names = args.names or sorted(p.stem for p in ZOO.glob("*.net"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; tolerance 1e-4\n")
    print("| network | params | output spread | torch vs torch | "
          + " | ".join(f"{f}: max abs diff of max abs output (time)" for f in formats) + " |")
    print("|---|--:|--:|--:|" + "---|" * len(formats), flush=True)
    with tempfile.TemporaryDirectory(prefix="netdsl-export-zoo-") as folder:
        for name in names:
            torch.manual_seed(0)
            try:
                net = netdsl.load(name)
            except netdsl.NetdslError as err:  # a file that does not load has nothing to export
                print(f"| {name} | — | — | — | no: does not load: {err.message[:120]} | |", flush=True)
                continue
            model = calibrated(net)
            cells = [export_cell(net, model, Path(folder), fmt) for fmt in formats]
            print(f"| {name} | {net.params:,} | {spread(net, model):.1e} | {torch_variation(net, model):.1e} | "
                  + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
