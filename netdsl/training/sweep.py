"""A sweep: the same training run once per value of a setting, curves overlaid.

Each *variant* is a name plus the settings it changes — training config keys
(``optimizer.name``) and network parameters (``set.dropout``, what ``--set``
passes).  Every variant trains with ``session.train`` into ``OUT/<name>/``
(same seed, so the runs differ only in what the variant changes); then
``OUT/sweep.png`` overlays their train loss, val loss and val accuracy per
epoch (read back from each run's ``metrics.csv``), and ``OUT/sweep.md`` /
``sweep.json`` tabulate the final numbers.  Every config and network is
built and checked before the first run starts, so a typo fails at once.
"""
from __future__ import annotations

import copy
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import yaml

from ..errors import UsageError
from .config import TrainConfig, apply_override, from_dict, read_config_file
from .optional import needs
from .records import read_metrics, save_figure

#: a variant's key with this prefix is a network parameter, not a training setting
NETWORK_PREFIX = "set."
Log = Callable[[str], None]


@dataclass
class Variant:
    name: str
    settings: dict = field(default_factory=dict)  # "optimizer.lr" → value, "set.p" → value

    def config_overrides(self) -> list[str]:
        """``key=value`` overrides (values as JSON, which YAML reads back unchanged)."""
        return [f"{key}={json.dumps(value)}" for key, value in self.settings.items()
                if not key.startswith(NETWORK_PREFIX)]

    def network_params(self) -> dict:
        return {key[len(NETWORK_PREFIX):]: value for key, value in self.settings.items()
                if key.startswith(NETWORK_PREFIX)}


@dataclass
class RunResult:
    name: str
    out: Path
    summary: dict
    seconds: float               # wall time of the whole run (data, epochs, test)


# ------------------------------------------------------------ describing a sweep
def parse_vary(text: str) -> list[Variant]:
    """``optimizer.name=sgd,adam`` or ``set.dropout=0,0.5`` → one variant per value."""
    key, sep, values = text.partition("=")
    items = [v.strip() for v in values.split(",")]
    if not sep or not key.strip() or not all(items):
        raise UsageError(f"--vary needs KEY=V1,V2,..., got {text!r}",
                         hint="e.g. --vary optimizer.name=sgd,adam or --vary set.dropout=0,0.5")
    return [Variant(item, {key.strip(): yaml.safe_load(item)}) for item in items]


def variants_from_mapping(mapping, where: str) -> list[Variant]:
    """A config file's ``sweep:`` section: ``name: {key: value, ...}`` per variant."""
    if not isinstance(mapping, dict) or not mapping:
        raise UsageError(f"{where}: 'sweep' maps each run's name to the settings it changes",
                         hint="sweep: {momentum: {optimizer.momentum: 0.9}, plain: {}}")
    variants = []
    for name, settings in mapping.items():
        if not isinstance(settings, dict) and settings is not None:
            raise UsageError(f"{where}: sweep run '{name}' must map keys to values, got {settings!r}")
        variants.append(Variant(str(name), dict(settings or {})))
    return variants


def read_sweep_config(path: Optional[str]) -> tuple[dict, list[Variant], dict]:
    """A training config file that may hold a ``sweep:`` section (the runs) and a ``set:``
    section (network parameters of every run): (the rest, the variants, the parameters)."""
    if path is None:
        return {}, [], {}
    raw = read_config_file(path)
    runs, params = raw.pop("sweep", None), raw.pop("set", None) or {}
    if not isinstance(params, dict):
        raise UsageError(f"{path}: 'set' maps network parameters to values, got {params!r}")
    return raw, variants_from_mapping(runs, str(path)) if runs is not None else [], params


def folder_name(name: str) -> str:
    """A variant's name as a folder name: letters, digits, ``. _ -``."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "run"
    return safe


# ------------------------------------------------------------ preparing and running
@dataclass
class PlannedRun:
    variant: Variant
    network: object
    config: TrainConfig


def plan(variants: list[Variant], base: dict, overrides: list[str], out: Path,
         load_network: Callable[[dict], object]) -> list[PlannedRun]:
    """Build and check every run's config and network before any training."""
    if not variants:
        raise UsageError("a sweep needs runs: --vary KEY=V1,V2,... or a 'sweep:' section "
                         "in --config")
    folders = [folder_name(v.name) for v in variants]
    if len(set(folders)) != len(folders):
        raise UsageError(f"sweep runs need distinct names, got {', '.join(folders)}")
    runs = []
    for variant, folder in zip(variants, folders):
        raw = copy.deepcopy(base)
        for item in overrides + variant.config_overrides() + [f"out={json.dumps(str(out / folder))}"]:
            apply_override(raw, item)
        try:
            config = from_dict(TrainConfig, raw, "").validate()
        except UsageError as err:
            raise UsageError(f"sweep run '{variant.name}': {err.message}", hint=err.hint) from None
        runs.append(PlannedRun(variant, load_network(variant.network_params()), config))
    return runs


def run_sweep(runs: list[PlannedRun], out: Path, log: Optional[Log] = None,
              progress=None, after_run: Optional[Callable] = None) -> list[RunResult]:
    """Train every planned run in turn; then sweep.png, sweep.md and sweep.json in ``out``.

    ``after_run(planned, result)`` is called after each run (activation statistics)."""
    from .session import train
    log = log or (lambda _: None)
    with needs("drawing OUT/sweep.png"):
        import matplotlib  # noqa: F401 — fail before the first run, not after the last
    results = []
    for index, planned in enumerate(runs, 1):
        log(f"== run {index}/{len(runs)}: {planned.variant.name} "
            f"({describe(planned.variant)}) → {planned.config.out}")
        start = time.perf_counter()
        summary = train(planned.network, planned.config, log=log, progress=progress)
        result = RunResult(planned.variant.name, Path(planned.config.out), summary,
                           time.perf_counter() - start)
        results.append(result)
        if after_run is not None:
            after_run(planned, result)
    out.mkdir(parents=True, exist_ok=True)
    plot_sweep(results, out / "sweep.png")
    (out / "sweep.md").write_text(table(results) + "\n")
    (out / "sweep.json").write_text(json.dumps([row(r) for r in results], indent=2) + "\n")
    return results


def describe(variant: Variant) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in variant.settings.items()) or "the base settings"


# ------------------------------------------------------------ the report
def row(result: RunResult) -> dict:
    """The numbers the summary table shows for one run."""
    summary, test = result.summary, result.summary.get("test") or {}
    final = summary.get("final") or {}
    return {"run": result.name, "epochs": len(summary.get("epochs") or []),
            "train_loss": final.get("train_loss"), "val_loss": final.get("val_loss"),
            "val_accuracy": final.get("val_accuracy"),
            "best_val_accuracy": summary.get("best_val_accuracy"),
            "best_epoch": summary.get("best_epoch"), "test_accuracy": test.get("accuracy"),
            "seconds": round(result.seconds, 1)}


def table(results: list[RunResult]) -> str:
    """A markdown table: final train loss, val loss and accuracy, best val, test, time."""
    lines = ["| run | final train loss | final val loss | final val acc | best val acc (epoch) "
             "| test acc | time |", "|---|---|---|---|---|---|---|"]
    for r in map(row, results):
        lines.append(f"| {r['run']} | {_num(r['train_loss'])} | {_num(r['val_loss'])} | "
                     f"{_pct(r['val_accuracy'])} | {_pct(r['best_val_accuracy'])} "
                     f"({r['best_epoch']}) | {_pct(r['test_accuracy'])} | {r['seconds']:.1f} s |")
    return "\n".join(lines)


def _num(value) -> str:
    return "—" if value is None else f"{value:.4f}"


def _pct(value) -> str:
    return "—" if value is None or value < 0 else f"{value:.1%}"


def plot_sweep(results: list[RunResult], png: Path) -> Optional[Path]:
    """Train loss, val loss, val accuracy and learning rate per epoch, one line per run."""
    from matplotlib.figure import Figure  # no pyplot: no display, no global state
    figure = Figure(figsize=(18, 4), layout="constrained")
    panels = figure.subplots(1, 4)
    columns = (("train_loss", "train loss", 1), ("val_loss", "val loss", 1),
               ("val_accuracy", "val accuracy (%)", 100), ("lr", "learning rate (epoch start)", 1))
    for result in results:
        rows = read_metrics(result.out / "metrics.csv")
        epochs = [int(r["epoch"]) for r in rows]
        for axes, (column, _, scale) in zip(panels, columns):
            axes.plot(epochs, [scale * float(r[column]) for r in rows], "o-", markersize=3,
                      label=result.name)
    for axes, (_, title, _) in zip(panels, columns):
        axes.set(xlabel="epoch", title=title)
        axes.grid(alpha=0.3)
    for log_scale in (panels[0], panels[1], panels[3]):
        log_scale.set_yscale("log")
    panels[2].legend(fontsize="small")
    return save_figure(figure, png)


def replot(out: Path) -> Path:
    """Redraw ``OUT/sweep.png`` of a finished sweep from its runs' metrics.csv files."""
    names = [entry["run"] for entry in json.loads((Path(out) / "sweep.json").read_text())]
    results = [RunResult(name, Path(out) / folder_name(name), {}, 0.0) for name in names]
    return plot_sweep(results, Path(out) / "sweep.png")
