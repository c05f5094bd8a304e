"""``netdsl render``: draw a network with Graphviz (DOT text needs no Graphviz)."""
from __future__ import annotations

import sys

from ..cli import add_network_arguments, command, load_network
from ..errors import UsageError

HELP = "draw the network: svg, png, pdf or dot (format from the -o extension)"


def _depth(text: str):
    if text == "all":
        return 10**6
    if text == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--depth takes a number, 'auto' or 'all', got {text!r}") from None


@command("render", HELP)
class Render:
    @staticmethod
    def add_arguments(p):
        add_network_arguments(p)
        p.add_argument("-o", "--output", metavar="FILE",
                       help="out.svg / .png / .pdf / .dot (default: DOT text on stdout)")
        p.add_argument("--depth", default="auto", metavar="N",
                       help="scope levels drawn open: 0 = top-level blocks as boxes, 'all' = every layer, "
                            "'auto' (default) = the deepest that keeps the picture to --max-nodes")
        p.add_argument("--max-nodes", type=int, default=64, metavar="N", help="node budget of --depth auto")
        p.add_argument("--compact", action="store_true", help="fuse conv → norm → activation chains into one node")
        p.add_argument("--rankdir", default="TB", type=str.upper, choices=("TB", "LR", "BT", "RL"),
                       help="direction of the data flow (default TB: top to bottom)")
        p.add_argument("--highlight", metavar="EXPR",
                       help="mark layers matching e.g. 'macs>1e8', 'params>=1M', 'rf>100'")
        p.add_argument("--heat", metavar="METRIC", help="colour layers by a metric instead of by kind, e.g. macs")
        p.add_argument("--macs", action="store_true", help="show MACs next to parameter counts")
        p.add_argument("--no-fold", action="store_true", help="draw every instance of repeated blocks")
        p.add_argument("--no-legend", action="store_true", help="leave the colour legend out")

    @staticmethod
    def run(args) -> int:
        from ..backends.diagram.model import DiagramOptions
        options = DiagramOptions(depth=_depth(args.depth), compact=args.compact, rankdir=args.rankdir,
                                 highlight=args.highlight, heat=args.heat, macs=args.macs,
                                 fold=not args.no_fold, max_nodes=args.max_nodes, legend=not args.no_legend)
        net = load_network(args)
        dot_text = net.render(args.output, **vars(options))
        if args.output:
            print(f"wrote {args.output}", file=sys.stderr)
        else:
            sys.stdout.write(dot_text)
        return 0
