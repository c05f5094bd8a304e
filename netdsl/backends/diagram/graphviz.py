"""Graphviz backend: DOT text built here (no graphviz import, byte-deterministic),
images made by the ``dot`` program.

    >>> dot_text = to_dot(net.ir, DiagramOptions(depth=2, compact=True))
    >>> render(net.ir, "resnet18.svg")
"""
from __future__ import annotations

import shutil
import subprocess
from html import escape
from pathlib import Path as FilePath
from typing import Optional

from ...ir import Graph

from ...errors import BackendError, UsageError
from .metrics import (HEAT_COLOURS, drawn_metric, heat_bounds, heat_level,
                              parse_highlight, require_metric, total)
from .model import Diagram, DiagramOptions, DrawnNode, build_diagram, category
from .wrap import plan_wrap
from .style import (BOX_COLOUR, CATEGORY_COLOURS, CLUSTER_FILLS, FOLDED_CLUSTER_FILL,
                            MERGE_SYMBOLS, OTHER, box_label, cluster_label, fmt_count, fmt_shape,
                            input_label, merge_symbol, op_label)

FORMATS = ("dot", "svg", "png", "pdf")
DOT_SECONDS = 300  # layout time allowed to Graphviz (the zoo's largest takes a few seconds)
INSTALL_HINT = ("install Graphviz: apt-get install graphviz (Debian/Ubuntu), brew install graphviz "
                "(macOS), or conda install -c conda-forge graphviz; or write a .dot file instead")
HIGHLIGHT_COLOUR = "#C0392B"
LOOP_COLOUR = "#2E86C1"

GRAPH_DEFAULTS = """\
  graph [fontname="Helvetica", fontsize=11, nodesep=0.3, ranksep=0.32, newrank=true, labelloc=t, labeljust=l];
  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, penwidth=0.8, margin="0.14,0.06", color="#5D6D7E"];
  edge [fontname="Helvetica", fontsize=8, fontcolor="#5D6D7E", color="#85929E", arrowsize=0.6];
"""


def to_dot(graph: Graph, options: DiagramOptions = DiagramOptions()) -> str:
    """The diagram of an elaborated (and analysed) IR graph as DOT text."""
    diagram = build_diagram(graph, options)
    painter = _Painter(diagram)
    name = graph.graph.get("name", "network")
    lines = [f"digraph {_quote(name)} {{", f"  graph [rankdir={options.rankdir}];", GRAPH_DEFAULTS.rstrip("\n"),
             f"  label=<{painter.title()}>;"]
    lines += painter.cluster_body((), "  ")
    plan = plan_wrap(diagram, {d.key: painter.label(d) for d in diagram.nodes}, options.columns)
    lines += [f"  {_quote(e.src)} -> {_quote(e.dst)} [{painter.edge_attrs(e)}"
              f"{', constraint=false' if (e.src, e.dst) in plan.breaks else ''}];" for e in diagram.edges]
    if len(plan.heads) > 1:  # the columns side by side, in order
        lines.append(f"  {{rank=same; {' -> '.join(map(_quote, plan.heads))} [style=invis];}}")
    lines += painter.outputs()
    if options.legend:
        lines.append(f"  legend [shape=plain, style=\"\", label=<{painter.legend()}>];")
    lines.append("}")
    return "\n".join(lines) + "\n"


class _Painter:
    """Turns a Diagram into DOT statements: attributes, labels, colours."""

    def __init__(self, diagram: Diagram):
        self.d = diagram
        self.graph = diagram.graph
        options = diagram.options
        self.highlight = parse_highlight(options.highlight) if options.highlight else None
        if self.highlight:
            require_metric(self.graph, self.highlight.metric, "--highlight")
        if options.heat:
            require_metric(self.graph, options.heat, "--heat")
        self.heat_range = self._heat_range() if options.heat else None

    def title(self) -> str:
        params = total(self.graph, self.graph.nodes, "params")
        deepest = self.d.tree.max_level()
        depth = f" · depth {self.d.depth} of {deepest}" if deepest else ""
        return (f"<b>{escape(self.graph.graph.get('name', ''))}</b>  "
                f"<font point-size=\"10\">{fmt_count(params)} params{depth}</font>")

    # ---------------------------------------------------------------- nodes
    def cluster_body(self, path: tuple, indent: str) -> list[str]:
        """Node statements of this cluster, then its sub-clusters, recursively."""
        lines = [f"{indent}{_quote(d.key)} [{self.node_attrs(d)}];" for d in self.d.nodes if d.cluster == path]
        for sub, run in self.d.clusters.items():
            if len(sub) == len(path) + 1 and sub[:len(path)] == path:
                lines.append(f"{indent}subgraph {_quote('cluster_' + '.'.join(sub))} {{")
                lines.append(f"{indent}  {self.cluster_attrs(sub, run)}")
                lines += self.cluster_title(sub, run, indent + "  ")
                lines += self.cluster_body(sub, indent + "  ")
                lines.append(f"{indent}}}")
        return lines

    def cluster_attrs(self, path: tuple, run) -> str:
        fill = FOLDED_CLUSTER_FILL if run else CLUSTER_FILLS[min(len(path), len(CLUSTER_FILLS)) - 1]
        pen = f'color="{LOOP_COLOUR}"; penwidth=1.4' if run else 'color="#AAB7B8"; penwidth=0.8'
        return f'label=""; style="rounded,filled"; fillcolor="{fill}"; {pen};'

    def cluster_title(self, path: tuple, run, indent: str) -> list[str]:
        """The title as a text node beside the cluster's first node (before it in the
        flow's cross direction), so that edges entering the cluster never cross it."""
        key = _quote("title:" + ".".join(path))
        first = next(d.key for d in self.d.nodes if d.cluster[:len(path)] == path)
        label = cluster_label(self.d, path, run, self.d.options.macs)
        return [f'{indent}{key} [shape=plain, style="", margin=0, label=<{label}>];',
                f"{indent}{{rank=same; {key} -> {_quote(first)} [style=invis, minlen=0];}}"]

    def node_attrs(self, d: DrawnNode) -> str:
        attrs = getattr(self, f"_{d.kind}_attrs")(d)
        if self.highlight and d.kind != "input" and self.highlight.matches(self.graph, d):
            attrs += f', color="{HIGHLIGHT_COLOUR}", penwidth=2.5'
        if self.heat_range and d.kind != "input":
            level = heat_level(drawn_metric(self.graph, d, self.d.options.heat), *self.heat_range)
            attrs += f', fillcolor="{HEAT_COLOURS[level]}"'
        return attrs

    def label(self, d: DrawnNode) -> str:
        """The words of a drawn node (HTML-like), for size estimates."""
        if d.kind == "op":
            return op_label(self.graph, d.nodes, self.d.options.macs, d.title)
        if d.kind == "box":
            return box_label(self.d, d, self.d.options.macs)
        if d.kind == "input":
            return input_label(self.graph, d.nodes[0])
        return "O"

    def _op_attrs(self, d: DrawnNode) -> str:
        label = op_label(self.graph, d.nodes, self.d.options.macs, d.title)
        colour = CATEGORY_COLOURS.get(category(self.graph, d.nodes[0]), OTHER)
        return f'label=<{label}>, fillcolor="{colour}"'

    def _merge_attrs(self, d: DrawnNode) -> str:
        op = self.graph.nodes[d.nodes[0]]["op"]
        return (f'label="{merge_symbol(op)}", tooltip="{op}", shape=circle, width=0.32, height=0.32, '
                f'fixedsize=true, fontsize=11, fillcolor="{CATEGORY_COLOURS["merge"]}"')

    def _input_attrs(self, d: DrawnNode) -> str:
        return f'label=<{input_label(self.graph, d.nodes[0])}>, style="rounded,bold", fillcolor="#FFFFFF"'

    def _box_attrs(self, d: DrawnNode) -> str:
        shape = ", shape=box3d" if d.run else ""
        return (f'label=<{box_label(self.d, d, self.d.options.macs)}>, style="filled,bold", '
                f'fillcolor="{BOX_COLOUR}"{shape}')

    # ---------------------------------------------------------------- edges
    def edge_attrs(self, edge) -> str:
        if edge.repeat:
            return (f'label=" ×{edge.repeat} ", style=dashed, constraint=false, color="{LOOP_COLOUR}", '
                    f'fontcolor="{LOOP_COLOUR}", fontsize=10')
        if not edge.labelled:
            return f'tooltip="{fmt_shape(edge.shape)}"'
        return f'label=" {fmt_shape(edge.shape)} "'

    def outputs(self) -> list[str]:
        owner = {n: d.key for d in self.d.nodes for n in d.represented}
        lines = []
        for k, out in enumerate(self.graph.graph.get("outputs", [])):
            weight = "" if out.get("weight", 1.0) == 1.0 else f" (weight {out['weight']:g})"
            shape = self.graph.nodes[out["node"]]["shape"]
            lines.append(f'  output{k} [label=<<b>output {out["name"]}</b>{weight}>, style="rounded,bold", '
                         f'fillcolor="#FFFFFF"];')
            lines.append(f'  {_quote(owner[out["node"]])} -> output{k} [label=" {fmt_shape(shape)} "];')
        return lines

    # --------------------------------------------------------------- legend
    def legend(self) -> str:
        cells = [self._legend_heat() if self.heat_range else self._legend_categories()]
        if self.highlight:
            cells.append(f'<td border="2" color="{HIGHLIGHT_COLOUR}" bgcolor="#FFFFFF">{escape(str(self.highlight))}</td>')
        return f'<table border="0" cellspacing="3" cellpadding="4"><tr>{"".join(cells)}</tr></table>'

    def _legend_categories(self) -> str:
        present = sorted({category(self.graph, n) for d in self.d.nodes if d.kind == "op" for n in d.nodes})
        cells = [f'<td bgcolor="{CATEGORY_COLOURS.get(c, OTHER)}">{c}</td>' for c in present]
        merges = sorted({self.graph.nodes[d.nodes[0]]["op"] for d in self.d.nodes if d.kind == "merge"})
        cells += [f'<td bgcolor="{CATEGORY_COLOURS["merge"]}">{MERGE_SYMBOLS.get(m, m[:1])} {m}</td>'
                  for m in merges]
        if any(d.kind == "box" for d in self.d.nodes):
            cells.append(f'<td bgcolor="{BOX_COLOUR}" border="1">block (collapsed)</td>')
        return "".join(cells)

    def _heat_range(self) -> tuple[float, float]:
        values = [drawn_metric(self.graph, d, self.d.options.heat) for d in self.d.nodes if d.kind != "input"]
        positive = [v for v in values if v and v > 0] or [1]
        return min(positive), max(positive)

    def _legend_heat(self) -> str:
        bounds = heat_bounds(*self.heat_range)
        cells = [f'<td bgcolor="{HEAT_COLOURS[k + 1]}">≥{fmt_count(b)}</td>' for k, b in enumerate(bounds)]
        return f"<td>{escape(self.d.options.heat)}:</td>" + "".join(cells)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ------------------------------------------------------------------- output
def dot_executable() -> str:
    """Path of Graphviz's ``dot``, or a BackendError saying how to install it."""
    found = shutil.which("dot")
    if found is None:
        raise BackendError("the Graphviz program 'dot' is needed for svg, png and pdf output", hint=INSTALL_HINT)
    return found


def run_dot(dot_text: str, fmt: str, dpi: int = 144) -> bytes:
    """Lay out DOT text with ``dot`` into svg, png or pdf bytes (``dpi``: png only)."""
    args = [dot_executable(), f"-T{fmt}"] + ([f"-Gdpi={dpi}"] if fmt == "png" else [])
    try:
        done = subprocess.run(args, input=dot_text.encode("utf-8"), capture_output=True, check=False,
                              timeout=DOT_SECONDS)
    except subprocess.TimeoutExpired:  # a huge graph from an untrusted file must not hang us
        raise BackendError(f"dot took longer than {DOT_SECONDS} s to lay out the diagram",
                           hint="draw less: --depth 1 folds blocks into one node each; or write "
                                ".dot and lay it out yourself") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise BackendError(f"dot failed ({done.returncode}): {message}")
    return done.stdout


def output_format(path: str | FilePath, fmt: Optional[str] = None) -> str:
    fmt = (fmt or FilePath(path).suffix.lstrip(".")).lower()
    if fmt == "gv":
        fmt = "dot"
    if fmt not in FORMATS:
        raise UsageError(f"cannot tell the output format of {str(path)!r}",
                         hint=f"use one of the extensions: {', '.join('.' + f for f in FORMATS)}")
    return fmt


def render(graph: Graph, path: str | FilePath, options: DiagramOptions = DiagramOptions(),
           fmt: Optional[str] = None) -> str:
    """Write the diagram to ``path`` in the format its extension names; return the DOT text."""
    fmt = output_format(path, fmt)
    dot_text = to_dot(graph, options)
    data = dot_text.encode("utf-8") if fmt == "dot" else run_dot(dot_text, fmt)
    FilePath(path).write_bytes(data)
    return dot_text


def to_svg(graph: Graph, options: DiagramOptions = DiagramOptions()) -> str:
    return run_dot(to_dot(graph, options), "svg").decode("utf-8")
