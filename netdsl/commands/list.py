"""``netdsl list``: the networks that ship with netdsl, with their figures."""
from __future__ import annotations

import fnmatch

from ..cli import command


@command("list", "the zoo's networks: parameters, MACs, input, receptive field, torchvision twin")
class List:
    @staticmethod
    def add_arguments(p):
        p.add_argument("pattern", nargs="?", default="*",
                       help="only names matching this glob (e.g. 'resnet*'); a plain word matches as a substring")
        p.add_argument("--format", "-f", choices=("table", "json", "names"), default="table",
                       help="table (default), json, or bare names one per line")
        p.epilog = "example: netdsl list 'vgg*' ; then: netdsl summarize vgg16"

    @staticmethod
    def run(args) -> int:
        from .. import zoo
        names = matching(zoo.names(), args.pattern)
        if args.format == "names":
            print("\n".join(names))
            return 0
        rows = [zoo.entry(name) for name in names]
        if args.format == "json":
            import json
            print(json.dumps(rows, indent=2))
        else:
            print(table(rows))
        return 0


def matching(names: list[str], pattern: str) -> list[str]:
    glob = pattern if any(c in pattern for c in "*?[") else f"*{pattern}*"
    return [n for n in names if fnmatch.fnmatchcase(n, glob)]


def table(rows: list[dict]) -> str:
    from ..report.render import si
    header = ("name", "params", "MACs", "input", "RF", "twin")
    cells = [header] + [(r["name"], si(r["params"]), si(r["macs"]),
                         "x".join(map(str, r["input"])), _field(r["receptive_field"]), r["twin"] or "")
                        for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i in (0, 3, 5) else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(line.rstrip() for line in lines) + f"\n{len(rows)} networks; netdsl summarize NAME for one"


def _field(size) -> str:
    if not size:
        return ""
    return str(size[0]) if len(set(size)) == 1 else "x".join(map(str, size))
