"""Block figures: a network as PlotNeuralNet-like 3-d boxes sized by the
tensor shapes, with skip connections as arcs and merges as balls, written as a
standalone TikZ ``.tex`` (and PDF, SVG or PNG when TeX is installed).

    >>> text = to_tikz(net.analyze().ir)                 # the .tex text
    >>> render_blocks(net.analyze().ir, "resnet18.pdf")  # needs pdflatex, lualatex or tectonic

No torch, no graphviz, no PlotNeuralNet: the TikZ macros are in the file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Optional

from ...errors import UsageError
from ...ir import Graph
from ..diagram.model import DiagramOptions, build_diagram
from .layout import place
from .tikz import document
from .units import group_level, make_unit

FORMATS = ("tex", "pdf", "svg", "png")


@dataclass(frozen=True)
class BlockOptions:
    """What the figure shows: ``depth`` levels open (None: the deepest that keeps
    at most ``max_units`` units), repeated blocks folded unless ``fold`` is false."""

    depth: Optional[int] = None
    max_units: int = 28
    fold: bool = True

    def diagram_options(self) -> DiagramOptions:
        return DiagramOptions(depth=self.depth, compact=True, fold=self.fold,
                              max_nodes=self.max_units, legend=False)


def to_tikz(graph: Graph, options: BlockOptions = BlockOptions()) -> str:
    """The figure of an analysed IR graph as a standalone TikZ document."""
    diagram = build_diagram(graph, options.diagram_options())
    level = group_level(diagram)
    units = [make_unit(diagram, d, level) for d in diagram.nodes]
    edges = [(e.src, e.dst) for e in diagram.edges if not e.repeat]
    owner = {n: d.key for d in diagram.nodes for n in d.represented}
    outputs = graph.graph.get("outputs", [])
    main = owner[outputs[0]["node"]] if outputs else units[-1].key
    routes = place(units, edges, main)
    name = graph.graph.get("name", "network")
    return document(units, routes, f"{name}, depth {diagram.depth}")


def output_format(path: str | FilePath) -> str:
    fmt = FilePath(path).suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise UsageError(f"--style blocks cannot write {str(path)!r}",
                         hint=f"use one of the extensions: {', '.join('.' + f for f in FORMATS)}")
    return fmt


def render_blocks(graph: Graph, path: str | FilePath, options: BlockOptions = BlockOptions()) -> str:
    """Write the figure to ``path`` (.tex, .pdf, .svg or .png); return the TikZ text."""
    fmt = output_format(path)
    text = to_tikz(graph, options)
    if fmt == "tex":
        FilePath(path).write_text(text, encoding="utf-8")
    else:
        from .compile import convert
        FilePath(path).write_bytes(convert(text, fmt))
    return text
