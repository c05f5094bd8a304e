"""``netdsl summarize``: shapes, parameters, MACs/FLOPs, receptive field and
memory of a network, as a table, Markdown, CSV, LaTeX or JSON.  Never imports torch."""
from __future__ import annotations

import argparse
import sys

from ..cli import add_network_arguments, command, load_network, verify_expectations

DTYPES = ("float32", "float16", "bfloat16", "float64")
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adagrad", "adam", "adamw")
FORMATS = ("table", "json", "csv", "md", "latex")
#: Formats read by people: folded to a readable depth unless --depth says otherwise.
#: json and csv are data and keep every layer.
READ_BY_PEOPLE = ("table", "md", "latex")
EPILOG = """examples:
  netdsl summarize resnet50                       # a zoo name or a .net path
  netdsl summarize resnet152 --depth all          # every layer (deep networks fold by default)
  netdsl summarize resnet18 --depth 1 --batch 32 --dtype float16
  netdsl summarize resnet18 --format latex > resnet18_table.tex   # booktabs table for a paper
  netdsl summarize vgg16 --format json            # the stable interface (docs/analysis.md)"""


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def depth_arg(text: str):
    """``--depth``: a positive number, or ``all`` (every layer)."""
    return "all" if text.strip().lower() == "all" else positive_int(text)


def add_report_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by ``summarize`` and ``diff``."""
    p.add_argument("--batch", "-b", type=positive_int, default=1,
                   help="batch size: scales MACs, FLOPs and activation memory (default 1)")
    p.add_argument("--depth", "-d", type=depth_arg, default=None, metavar="N",
                   help="fold everything deeper than N name components into its block's row; "
                        "'all': every layer")
    p.add_argument("--dtype", choices=DTYPES, default="float32",
                   help="element type of weights and activations for the memory figures (default float32)")


def with_examples(p: argparse.ArgumentParser, epilog: str) -> None:
    """Show ``epilog`` (examples) at the end of ``--help``, line breaks kept."""
    p.epilog = epilog
    p.formatter_class = argparse.RawDescriptionHelpFormatter


@command("summarize", "layer table: shapes, params, MACs/FLOPs, receptive field, memory")
class Summarize:
    @staticmethod
    def add_arguments(p):
        add_network_arguments(p)
        add_report_arguments(p)
        p.add_argument("--format", "-f", choices=FORMATS, default="table",
                       help="output format: table (default), md, latex (booktabs), csv, or json "
                            "(a stable interface, docs/analysis.md)")
        p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                       help="optimizer whose state the training-memory estimate counts (default adam)")
        with_examples(p, EPILOG)

    @staticmethod
    def run(args) -> int:
        from ..report.summary import build_summary
        without_cycle_collection()
        net = load_network(args).analyze()
        verify_expectations(net)
        depth = chosen_depth(net, args.depth, args.format)
        summary = build_summary(net, batch=args.batch, dtype=args.dtype, depth=depth,
                                optimizer=args.optimizer)
        print(render(summary, args.format))
        if args.depth is None and depth is not None:
            print(f"(folded to depth {depth}; --depth all for every layer)", file=sys.stderr)
        return 0


def chosen_depth(net, depth, fmt: str):
    """The depth asked for; without one, a readable depth for tables people read."""
    if depth == "all" or (depth is None and fmt not in READ_BY_PEOPLE):
        return None
    if depth is None:
        from ..report.folding import readable_depth
        return readable_depth(net.ir)
    return depth


def without_cycle_collection() -> None:
    """A one-shot command: its objects live until exit, so the cycle collector's
    repeated passes over the growing graph are pure cost (about a quarter of the
    run on big networks)."""
    import gc
    gc.disable()


def render(summary: dict, fmt: str) -> str:
    if fmt == "json":
        import json
        return json.dumps(summary, indent=2)
    from ..report.render import RENDERERS
    return RENDERERS[fmt](summary).rstrip("\n")
