"""``netdsl summarize``: shapes, parameters, MACs/FLOPs, receptive field and
memory of a network, as a table, Markdown, CSV or JSON.  Never imports torch."""
from __future__ import annotations

import argparse

from ..cli import add_network_arguments, command, load_network, verify_expectations

DTYPES = ("float32", "float16", "bfloat16", "float64")
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adagrad", "adam", "adamw")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_report_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by ``summarize`` and ``diff``."""
    p.add_argument("--batch", "-b", type=positive_int, default=1,
                   help="batch size: scales MACs, FLOPs and activation memory (default 1)")
    p.add_argument("--depth", "-d", type=positive_int, default=None, metavar="N",
                   help="fold everything deeper than N name components into its block's row")
    p.add_argument("--dtype", choices=DTYPES, default="float32",
                   help="element type of weights and activations for the memory figures")


@command("summarize", "layer table: shapes, params, MACs/FLOPs, receptive field, memory")
class Summarize:
    @staticmethod
    def add_arguments(p):
        add_network_arguments(p)
        add_report_arguments(p)
        p.add_argument("--format", "-f", choices=("table", "json", "csv", "md"), default="table",
                       help="output format; json is a stable interface (docs/analysis.md)")
        p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                       help="optimizer whose state the training-memory estimate counts (default adam)")

    @staticmethod
    def run(args) -> int:
        from ..report.summary import build_summary
        without_cycle_collection()
        net = load_network(args).analyze()
        verify_expectations(net)
        summary = build_summary(net, batch=args.batch, dtype=args.dtype, depth=args.depth,
                                optimizer=args.optimizer)
        print(render(summary, args.format))
        return 0


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
