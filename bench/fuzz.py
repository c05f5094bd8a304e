"""Grammar-aware fuzzer for netdsl (issue 8).

    python bench/fuzz.py --cases 3000 --seed 1 --workers 2 --timeout 10 --json fuzz.json

Cases are programs generated from the grammar and the op registry's argument
specs (mostly valid, a fraction deliberately off), mutated zoo files and
mutated generated programs.  Each goes through parse, the analyses, the
summary, the DOT diagram and the PyTorch source; valid small ones are built
with torch and run in eval and train mode, and the static shapes, parameter
and buffer counts are compared with torch's.  Other exceptions, hangs and
mismatches are grouped, shrunk to a minimal input and printed; the exit
status is 1 when there are any.  The same seed gives the same cases.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.fuzzlib import campaign, report  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=1000, help="number of cases (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed; the same seed gives the same cases")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per case before it counts as a hang")
    p.add_argument("--shrink-budget", type=int, default=500,
                   help="runs spent shrinking each failure group's input (0: no shrinking)")
    p.add_argument("--json", metavar="OUT", help="also write the outcome as JSON to OUT")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)

    def progress(done: int, seconds: float) -> None:
        if not args.quiet:
            print(f"  {done}/{args.cases} cases, {done / seconds:.1f}/s", file=sys.stderr, flush=True)
    outcome = campaign.run(args.cases, args.seed, args.workers, args.timeout, args.shrink_budget, progress)
    print(report.text(outcome))
    if args.json:
        Path(args.json).write_text(report.as_json(outcome))
    return 1 if report.failed(outcome) else 0


if __name__ == "__main__":
    sys.exit(main())
