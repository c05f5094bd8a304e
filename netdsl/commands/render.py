"""``netdsl render``: draw a network: a Graphviz diagram (DOT text needs no
Graphviz), or with ``--style blocks`` a TikZ figure of 3-d boxes for papers."""
from __future__ import annotations

import sys

from ..cli import add_network_arguments, command, load_network
from ..errors import UsageError
from .summarize import with_examples

HELP = "draw the network: a Graphviz diagram (svg, png, pdf, dot) or a TikZ block figure (tex, pdf, svg, png)"
EPILOG = """examples:
  netdsl render resnet50 -o resnet50.svg                  # format from the extension
  netdsl render densenet121 -o densenet.png --depth 2 --compact --rankdir LR
  netdsl render googlenet --highlight 'macs>1e8' -o googlenet.pdf
  netdsl render lenet5 > lenet5.dot                       # DOT text on stdout
  netdsl render resnet18 --style blocks -o resnet18.tex   # TikZ figure for a paper (.pdf/.svg/.png need TeX)"""
#: Options of the Graphviz style that the block figure does not have, with their defaults.
GRAPH_ONLY = {"compact": False, "rankdir": None, "highlight": None, "heat": None, "macs": False,
              "no_legend": False, "columns": None}


def _depth(text: str):
    if text == "all":
        return 10**6
    if text == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"--depth takes a number, 'auto' or 'all', got {text!r}") from None
    if value < 0:
        raise UsageError(f"--depth must be 0 or more, got {text!r}")
    return value


@command("render", HELP)
class Render:
    @staticmethod
    def add_arguments(p):
        add_network_arguments(p)
        p.add_argument("-o", "--output", metavar="FILE",
                       help="graph: out.svg / .png / .pdf / .dot; blocks: out.tex / .pdf / .svg / .png "
                            "(default: DOT or TikZ text on stdout)")
        p.add_argument("--style", choices=("graph", "blocks"), default="graph",
                       help="graph (default): a Graphviz diagram of the file's hierarchy; blocks: layers as "
                            "3-d boxes sized by their output shape, skip connections as arcs (TikZ)")
        p.add_argument("--depth", default="auto", metavar="N",
                       help="scope levels drawn open: 0 = top-level blocks as boxes, 'all' = every layer, "
                            "'auto' (default) = the deepest that keeps the picture to --max-nodes")
        p.add_argument("--max-nodes", type=int, default=None, metavar="N",
                       help="node budget of --depth auto (default 64; blocks: 28)")
        p.add_argument("--no-fold", action="store_true", help="draw every instance of repeated blocks")
        p.add_argument("--compact", action="store_true", help="fuse conv → norm → activation chains into one node")
        p.add_argument("--rankdir", default=None, type=str.upper, choices=("TB", "LR", "BT", "RL"),
                       help="direction of the data flow (default TB: top to bottom; LR: left to right)")
        p.add_argument("--columns", type=int, default=None, metavar="N",
                       help="wrap a long diagram into N columns (rows with --rankdir LR); default: as many as "
                            "make it about square; 1: never")
        p.add_argument("--highlight", metavar="EXPR",
                       help="mark layers matching e.g. 'macs>1e8', 'params>=1M', 'rf>100'")
        p.add_argument("--heat", metavar="METRIC", help="colour layers by a metric instead of by kind, e.g. macs")
        p.add_argument("--macs", action="store_true", help="show MACs next to parameter counts")
        p.add_argument("--no-legend", action="store_true", help="leave the colour legend out")
        with_examples(p, EPILOG)

    @staticmethod
    def run(args) -> int:
        net = load_network(args)
        text = _blocks(net, args) if args.style == "blocks" else _graph(net, args)
        if args.output:
            print(f"wrote {args.output}", file=sys.stderr)
        else:
            sys.stdout.write(text)
        return 0


def _graph(net, args) -> str:
    from ..backends.diagram.model import DiagramOptions
    options = DiagramOptions(depth=_depth(args.depth), compact=args.compact, rankdir=args.rankdir or "TB",
                             highlight=args.highlight, heat=args.heat, macs=args.macs,
                             fold=not args.no_fold, max_nodes=args.max_nodes or 64, legend=not args.no_legend,
                             columns=args.columns)
    return net.render(args.output, **vars(options))


def _blocks(net, args) -> str:
    from ..backends.tikz import BlockOptions, render_blocks, to_tikz
    given = [name for name, default in GRAPH_ONLY.items() if getattr(args, name) != default]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise UsageError(f"{flags} applies to the Graphviz diagram, not to --style blocks")
    options = BlockOptions(depth=_depth(args.depth), fold=not args.no_fold, max_units=args.max_nodes or 28)
    graph = net.analyze().ir
    return render_blocks(graph, args.output, options) if args.output else to_tikz(graph, options)
