"""``netdsl sweep``: ``netdsl train`` once per value of a setting; overlaid curves, one table."""
from __future__ import annotations

from pathlib import Path

from ..cli import command, load_network
from ..errors import UsageError
from .train import Train, _flag_overrides


@command("sweep", "train once per value of a setting (--vary, or a config's sweep: section); "
                  "overlaid curves and a summary table")
class Sweep:
    @staticmethod
    def add_arguments(p):
        Train.add_arguments(p)  # every train flag applies to every run
        p.add_argument("--vary", action="append", default=[], metavar="KEY=V1,V2,...",
                       help="one run per value: a training setting (optimizer.name=sgd,adam) "
                            "or a network parameter (set.dropout=0,0.5)")
        p.add_argument("--activation-stats", action="store_true",
                       help="also record per-layer activation mean/std/zeros at initialisation "
                            "and after training: OUT/activations.png and .json")

    @staticmethod
    def run(args) -> int:
        from ..training.progress import terminal_bar
        from ..training.sweep import parse_vary, plan, read_sweep_config, run_sweep, table
        if args.resume is not None:
            raise UsageError("netdsl sweep does not resume runs",
                             hint="resume one run with netdsl train ... --resume OUT/<run>")
        base, variants, file_params = read_sweep_config(args.config)
        for text in args.vary:
            variants = _combine(variants, parse_vary(text))
        out = Path(args.out or base.get("out") or "out/sweep")
        runs = plan(variants, base, args.override + _flag_overrides(args), out,
                    lambda params: load_network(_with_params(args, file_params, params)))
        bars = None if args.no_progress else terminal_bar()
        log = lambda line: print(line, flush=True)  # noqa: E731
        stats, hook = _statistics_hook(args.activation_stats)
        results = run_sweep(runs, out, log=log, progress=bars, after_run=hook)
        print(table(results), flush=True)
        if stats:
            _write_statistics(stats, out, log)
        print(f"saved {out}/sweep.png, sweep.md, sweep.json"
              + (", activations.png, activations.json" if stats else "")
              + f" and one folder per run", flush=True)
        return 0


def _combine(first: list, second: list) -> list:
    """Variants of a second --vary multiply the first's (a grid), names joined by '+'."""
    if not first:
        return second
    from ..training.sweep import Variant
    return [Variant(f"{a.name}+{b.name}", {**a.settings, **b.settings}) for a in first for b in second]


def _with_params(args, file_params: dict, run_params: dict):
    """The namespace whose --set is the config's ``set:``, then --set, then the run's (the
    last word wins)."""
    from argparse import Namespace
    return Namespace(**{**vars(args), "set": _assignments(file_params) + list(args.set)
                        + _assignments(run_params)})


def _assignments(params: dict) -> list[str]:
    return [f"{key}={str(value).lower() if isinstance(value, bool) else value}"
            for key, value in params.items()]


def _statistics_hook(enabled: bool):
    if not enabled:
        return {}, None
    from ..training.activation_stats import run_statistics
    stats: dict = {}

    def record(planned, result) -> None:
        stats[result.name] = run_statistics(planned.network, planned.config)
    return stats, record


def _write_statistics(stats: dict, out: Path, log) -> None:
    from ..training.activation_stats import plot_statistics, statistics_table, write_statistics
    write_statistics(stats, out / "activations.json")
    plot_statistics(stats, out / "activations.png")
    for stage in ("init", "trained"):
        log(f"activation std per layer, {stage}:\n{statistics_table(stats, stage)}")
