#!/usr/bin/env python3
"""How fast is a cold ``netdsl summarize``?  Prints wall times and ratios.

1. ``netdsl summarize architectures/resnet152.net`` as a whole process, against
   a torchinfo summary of torchvision's resnet152 as a whole process (import
   torch, build the model, summarize a 1x3x224x224 input), rounds interleaved
   so both see the same machine load; the ratio is of the medians.
2. Generated deep networks (bench/generate.py) of 10,000 and 100,000 layers.

netdsl's bytecode is compiled first, as ``pip install`` does (torch's already
is), so neither side pays for compiling its sources.

    pip install torchinfo   # the comparison only; netdsl does not need it
    python3 bench/summarize_speed.py [--rounds 3] [--skip-torchinfo]
"""
from __future__ import annotations

import argparse
import compileall
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import deep_network  # noqa: E402

TORCHINFO = ("import torchvision, torchinfo; "
             "torchinfo.summary(torchvision.models.resnet152(), input_size=(1, 3, 224, 224))")
TARGETS = {10_000: 1.5, 100_000: 15.0}


def wall(cmd: list[str]) -> float:
    """Seconds one process takes, start to exit (its output discarded)."""
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def summarize_cmd(path) -> list[str]:
    return [sys.executable, "-m", "netdsl", "summarize", str(path)]


def resnet152() -> Path:
    """The zoo's resnet152.net, or a generated stand-in of the same depth if absent."""
    path = ROOT / "architectures" / "resnet152.net"
    if path.exists():
        return path
    print("architectures/resnet152.net is missing: using a generated stand-in of 516 nodes")
    stand_in = Path(tempfile.mkdtemp()) / "resnet152_standin.net"
    stand_in.write_text(deep_network(516, channels=64, size=56))
    return stand_in


def compare_with_torchinfo(rounds: int) -> None:
    net = resnet152()
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(wall(summarize_cmd(net)))
        theirs.append(wall([sys.executable, "-c", TORCHINFO]))
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"netdsl summarize {net.name}: median {a:.3f} s (min {min(ours):.3f}) over {rounds} runs")
    print(f"torchinfo resnet152:          median {b:.3f} s (min {min(theirs):.3f})")
    print(f"ratio (torchinfo / netdsl):   {b / a:.1f}x median, {min(theirs) / min(ours):.1f}x best "
          f"(target >= 15x, aim 20x)")


def deep(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for layers, target in TARGETS.items():
            path = Path(tmp) / f"deep{layers}.net"
            path.write_text(deep_network(layers))
            times = [wall(summarize_cmd(path)) for _ in range(max(1, rounds if layers <= 10_000 else 1))]
            best = min(times)
            verdict = "ok" if best <= target else "OVER"
            print(f"generated {layers:>7,} layers: {best:.2f} s (target <= {target} s) {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-torchinfo", action="store_true")
    args = parser.parse_args()
    compileall.compile_dir(str(ROOT / "netdsl"), quiet=1)
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(f"python {sys.version.split()[0]}, load average {load}")
    if args.skip_torchinfo:
        pass
    elif importlib.util.find_spec("torchinfo") is None:
        print("torchinfo is not installed (pip install torchinfo): skipping the comparison")
    else:
        compare_with_torchinfo(args.rounds)
    deep(args.rounds)


if __name__ == "__main__":
    main()
