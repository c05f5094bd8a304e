#!/usr/bin/env python3
"""Render the example diagrams in examples/ (PNG) from the zoo in architectures/.

    python3 scripts/render_examples.py

Needs Graphviz's ``dot``; the block figures (``*_blocks.png``) need a TeX engine
and poppler's pdftocairo, and are skipped with a note without them.  Each
example shows one thing the renderer does: folded repeats with the first
block's difference, dense-block rails, multi-branch blocks drawn as clusters of
boxes, and the PlotNeuralNet-like figure for papers.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import netdsl  # noqa: E402
from netdsl.backends.diagram.model import DiagramOptions  # noqa: E402
from netdsl.backends.diagram.graphviz import run_dot, to_dot  # noqa: E402
from netdsl.backends.tikz import BlockOptions, to_tikz  # noqa: E402
from netdsl.errors import BackendError  # noqa: E402

EVERY_LEVEL = 10**6
DPI = 110
#: architecture → options; each file is written to examples/<architecture>.png
EXAMPLES = {
    "resnet50": DiagramOptions(depth=EVERY_LEVEL, compact=True, highlight="macs>=1e8"),
    "densenet121": DiagramOptions(depth=2, compact=True),
    "googlenet": DiagramOptions(depth=1, compact=True),
}
#: architecture → block-figure options; written to examples/<architecture>_blocks.png
BLOCKS = {"lenet5": BlockOptions(), "resnet18": BlockOptions()}


def main() -> int:
    out_dir = ROOT / "examples"
    out_dir.mkdir(exist_ok=True)
    for name, options in EXAMPLES.items():
        net = netdsl.load(ROOT / "architectures" / f"{name}.net").analyze()
        target = out_dir / f"{name}.png"
        target.write_bytes(run_dot(to_dot(net.ir, options), "png", dpi=DPI))
        print(f"wrote {target.relative_to(ROOT)}")
    for name, options in BLOCKS.items():
        net = netdsl.load(ROOT / "architectures" / f"{name}.net").analyze()
        target = out_dir / f"{name}_blocks.png"
        try:
            from netdsl.backends.tikz.compile import convert
            target.write_bytes(convert(to_tikz(net.ir, options), "png", dpi=150))
        except BackendError as err:
            print(f"skipped {target.relative_to(ROOT)}: {err}")
            continue
        print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
