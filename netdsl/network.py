"""The user-facing ``Network``: an elaborated IR graph plus its analyses."""
from __future__ import annotations

import gc
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional, Sequence

from .analysis.inplace import check_inplace
from .analysis.ties import check_ties
from .analysis.params import count_params
from .elaborate import elaborate
from .errors import ShapeError
from .ir import Graph
from .limits import DEFAULT as DEFAULT_LIMITS, Limits, using
from .program import Program, load_program, parse_program


class Network:
    """One elaborated network.

    ``graph`` is the IR as a ``networkx.DiGraph``.  netdsl itself works on
    ``ir``, a ``netdsl.ir.Graph`` with the same interface and contents, because
    importing networkx costs more than a whole ``netdsl summarize``; the
    networkx graph is built from it the first time ``graph`` is read."""

    def __init__(self, graph: Graph, program: Optional[Program] = None,
                 limits: Optional[Limits] = None):
        self.ir = graph
        self.program = program
        self.limits = limits or DEFAULT_LIMITS  # what the load allowed; builds obey build_bytes
        self._analyzed = False
        self._networkx = None

    @property
    def graph(self):
        """The analysed IR as a ``networkx.DiGraph`` (built once, on first use):
        the same nodes, edges, node attributes and graph attributes as ``ir``."""
        if self._networkx is None:
            self._networkx = self.analyze().ir.to_networkx()
        return self._networkx

    # ------------------------------------------------------------- facts
    @property
    def name(self) -> str:
        return self.ir.graph["name"]

    @property
    def inputs(self) -> list[dict]:
        return self.ir.graph["inputs"]

    @property
    def outputs(self) -> list[dict]:
        return self.ir.graph["outputs"]

    @property
    def input_shape(self) -> tuple:
        return self.ir.nodes[self.inputs[0]["node"]]["shape"]

    @property
    def output_shapes(self) -> dict[str, tuple]:
        return {o["name"]: self.ir.nodes[o["node"]]["shape"] for o in self.outputs}

    def nodes(self) -> list[dict]:
        """Node attribute dicts in topological (creation) order, inputs included."""
        self.analyze()
        return [self.ir.nodes[n] for n in sorted(self.ir.nodes)]

    def _total(self, attribute: str) -> int:
        return sum(d[attribute] for d in self.nodes())

    def layers(self) -> list[dict]:
        return [d for d in self.nodes() if d["op"] != "input"]

    @property
    def params(self) -> int:
        return self._total("params")

    @property
    def trainable_params(self) -> int:
        return self._total("trainable_params")

    @property
    def buffers(self) -> int:
        return self._total("buffers")

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one forward pass of one sample (FlopCounterMode / 2)."""
        return self._total("macs")

    @property
    def flops(self) -> int:
        """2·MACs plus elementwise work, one sample (docs/analysis.md)."""
        return self._total("flops")

    @property
    def receptive_field(self):
        """The ``ReceptiveField`` of the centre unit of the main output's last feature
        map on the main input (None if the network has no spatial axes)."""
        from .analysis.receptive_field import centre_field, feature_node
        node = feature_node(self.analyze().ir, self.outputs[0]["node"])
        return None if node is None else centre_field(self.ir, node)

    def analyze(self) -> "Network":
        """Run the analysis passes once; they write node attributes."""
        if not self._analyzed:
            self._analyzed = True
            count_params(self.ir)
            from .analysis import run_passes
            run_passes(self.ir)
        return self

    # ------------------------------------------------------------- backends
    def to_torch(self, device: Any = None, dtype: Any = None, memory_format: Any = None,
                 features: Optional[Sequence[str]] = None):
        """An ``nn.Module`` computing this network (imports torch), built directly on
        ``device`` in ``dtype`` and ``memory_format`` (a seed gives the same weights
        as a CPU build).  Refused (``BackendError``) before allocating when its
        parameters and buffers exceed ``limits.build_bytes`` or the memory available.

        ``features=["layer2", "layer3"]``: a backbone returning those modules'
        outputs (a tuple, in that order) with ``feature_info`` — timm's
        ``features_only``; its state_dict keys are the full network's, less the head."""
        from .backends.pytorch.module import build_module
        if features is None:
            return build_module(self, device, dtype, memory_format)
        cut = self.features(features)
        module = build_module(cut, device, dtype, memory_format)
        module.feature_info = [{"module": i.module, "num_chs": i.channels, "reduction": i.reduction}
                               for i in cut.feature_info]
        return module

    def features(self, names: Sequence[str]) -> "Network":
        """This network cut to what the feature maps of modules ``names`` need, those
        maps as its outputs; ``feature_info`` lists their channels and reductions."""
        from .features import feature_info, prune_to_features
        infos = feature_info(self.analyze().ir, names)
        cut = Network(prune_to_features(self.ir, infos), self.program, self.limits)
        cut.feature_info = infos
        return cut

    def to_source(self, source: Optional[str] = None, inference: bool = False) -> str:
        """Readable PyTorch source defining this network; ``source`` names the .net file.
        ``inference``: batch norms folded into their convs (``netdsl.fold_batchnorm``)."""
        from .backends.pytorch.source import generate
        return generate(self, source, inference)

    def export(self, path: str | Path, **options):
        """Write the eval-mode network to ``path``: ONNX (``.onnx``) or torch.export
        (``.pt2``), inputs and outputs named as in the file, a dynamic batch axis;
        checked against torch unless ``check=False``.  ``options``: format, opset,
        dynamic_batch, batch, check (docs/export.md).  Returns an ``ExportReport``."""
        from .backends.export import export_network
        return export_network(self, path, **options)

    def render(self, path: Optional[str | Path] = None, **options) -> str:
        """The Graphviz DOT text of this network's diagram; with ``path``, also
        write the diagram there (format from the extension: .dot .svg .png .pdf).
        ``options`` are ``DiagramOptions`` fields: depth, compact, rankdir, highlight, heat..."""
        from .backends.diagram.model import DiagramOptions
        from .backends.diagram.graphviz import render, to_dot
        chosen = DiagramOptions(**options)
        self.analyze()
        return render(self.ir, path, chosen) if path is not None else to_dot(self.ir, chosen)

    def summary(self, depth: Any = "auto", batch: int = 1, dtype: str = "float32", optimizer: str = "adam"):
        """The ``netdsl summarize`` report as an object: ``.rows``, ``.totals``,
        ``.to_dict()``, ``.to_markdown()``, ``.to_latex()``, ``str()``, and a
        table in Jupyter.  ``depth``: "auto" (readable), "all", or N."""
        from .report.api import summarize
        return summarize(self, depth=depth, batch=batch, dtype=dtype, optimizer=optimizer)

    def _repr_svg_(self) -> Optional[str]:
        """Jupyter shows a network as its diagram (None, a plain repr, without Graphviz)."""
        from .backends.diagram.graphviz import to_svg
        from .errors import BackendError
        try:
            return to_svg(self.analyze().ir)
        except BackendError:
            return None

    def _repr_html_(self) -> str:
        """Jupyter: the summary's header lines above the diagram (when Graphviz is there)."""
        import html
        from .report.render import footer
        from .report.summary import build_summary
        head = "\n".join([repr(self), *footer(build_summary(self, depth=1))])
        svg = self._repr_svg_() or ""
        return f"<pre>{html.escape(head)}</pre>{svg}"

    def __repr__(self) -> str:
        return f"<Network {self.name}: {len(self.ir)} nodes, input {list(self.input_shape)}>"


def load(path: str | Path, network: Optional[str] = None, params: Optional[dict] = None,
         input_shape: Optional[Sequence[int]] = None, limits: Optional[Limits] = None) -> Network:
    """Parse, import and elaborate a .net file into a ``Network``.

    ``limits`` (``netdsl.Limits``) bounds what the file may cost: file and
    literal sizes, nesting, integer sizes, expansion, import folders, and the
    bytes a later ``to_torch()`` may allocate.  The defaults suit untrusted files."""
    with using(limits) as active:
        return _build(lambda: load_program(path), network, params, input_shape, active)


def parse(text: str, filename: str = "<string>", network: Optional[str] = None,
          params: Optional[dict] = None, input_shape: Optional[Sequence[int]] = None,
          limits: Optional[Limits] = None) -> Network:
    """Like ``load`` but from text; imports resolve relative to the current directory."""
    with using(limits) as active:
        return _build(lambda: parse_program(text, filename), network, params, input_shape, active)


def _build(read_program, network, params, input_shape, limits: Limits) -> Network:
    shapes = {None: tuple(input_shape)} if input_shape else {}
    try:
        with _no_cycle_collection(), _stack_headroom():
            program = read_program()
            graph = elaborate(program, network, params, shapes)
            check_inplace(graph)
            check_ties(graph)
        graph.graph["overridden"] = bool(params or input_shape)
        return Network(graph, program, limits)
    except ShapeError as err:
        if input_shape and err.hint is None:
            err.hint = (f"the input shape was overridden with {list(input_shape)} (--input); "
                        "it may be too small for this network")
        raise


#: Python frames elaboration may need: MAX_LEVELS nested bodies of about ten
#: frames each, plus an expression MAX_EXPR deep; the defaults stop at 1,000.
_FRAMES = 12_000


@contextmanager
def _stack_headroom():
    """Let the bounded nesting limits, not Python's default stack limit, decide."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, _FRAMES))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


@contextmanager
def _no_cycle_collection():
    """Loading allocates many small objects and frees none: the cyclic garbage
    collector would rescan them again and again (a third of the time at 100k layers)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
