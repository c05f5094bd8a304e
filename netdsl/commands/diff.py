"""``netdsl diff A.net B.net``: what changed in shapes, parameters, MACs and
receptive field, block by block.  Never imports torch."""
from __future__ import annotations

import argparse

from ..cli import command, load_network, verify_expectations
from .summarize import add_report_arguments, with_examples, without_cycle_collection

EPILOG = """examples:
  netdsl diff resnet18 resnet34                    # zoo names or .net paths
  netdsl diff vgg16.net vgg19.net --depth all      # layer by layer (default: depth 2, blocks)
  netdsl diff a.net b.net --input 3x320x320 --format json"""


@command("diff", "compare two networks: shapes, params, MACs and receptive field, block by block")
class Diff:
    @staticmethod
    def add_arguments(p):
        p.add_argument("file_a", help="the first network: a .net path or a zoo name")
        p.add_argument("file_b", help="the second network: a .net path or a zoo name")
        p.add_argument("--network", "-n", help="which network of each file (default: the only one)")
        p.add_argument("--set", "-s", action="append", default=[], metavar="NAME=VALUE",
                       help="override a network parameter in both files")
        p.add_argument("--input", "-i", metavar="SHAPE", help="override both input shapes, e.g. 3x299x299")
        add_report_arguments(p)
        p.set_defaults(depth=2)
        p.add_argument("--format", "-f", choices=("text", "json"), default="text",
                       help="text (default) or json: the same as data")
        with_examples(p, EPILOG)

    @staticmethod
    def run(args) -> int:
        from ..report.diff import diff_summaries, diff_text
        without_cycle_collection()
        a, b = (_summary(args, path) for path in (args.file_a, args.file_b))
        diff = diff_summaries(a, b)
        if args.format == "json":
            import json
            print(json.dumps(diff, indent=2))
        else:
            print(diff_text(diff))
        return 0


def _summary(args, path: str) -> dict:
    from ..report.summary import build_summary
    one = argparse.Namespace(**{**vars(args), "file": path})
    net = load_network(one).analyze()
    verify_expectations(net)
    depth = None if args.depth == "all" else args.depth
    return build_summary(net, batch=args.batch, dtype=args.dtype, depth=depth)
