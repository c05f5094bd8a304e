"""Checking cost grows linearly: in file length and in dense-block edges.

Measures, in one run, ``netdsl check``'s work (parse, imports, elaborate,
analyses) on generated files of 10k and 100k lines and on dense blocks of 500
and 2,000 layers, and prints time ratios next to size ratios.  Linear means
the time ratio stays near the size ratio (10× lines → about 10× time; a
dense block's edges grow 16× for 4× layers).  Noisy machines: compare the
ratios, not the seconds.

    python bench/scaling.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import netdsl  # noqa: E402

LINE_UNIT = "    conv(16, 3, padding=1) relu\n"


def long_file(lines: int) -> str:
    """A network written out line by line, in groups of 1,000 lines (one scope each)."""
    body = []
    for group in range(lines // 1000):
        body.append(f"    g{group}: {{\n" + LINE_UNIT * 998 + "    }\n")
    return "network long {\n    input [16, 8, 8]\n" + "".join(body) + "}\n"


def dense_block(layers: int) -> str:
    return ("network densebench {\n    input [16, 4, 4]\n"
            f"    dense repeat {layers} as i {{ layer{{i}}: {{ conv(4, 1) relu }} }}\n}}\n")


def measure(text: str, repeat: int) -> tuple[float, int, int]:
    times, net = [], None
    limits = netdsl.Limits(graph=10**8)
    for _ in range(repeat):
        start = time.perf_counter()
        net = netdsl.parse(text, "bench.net", limits=limits).analyze()
        times.append(time.perf_counter() - start)
    return statistics.median(times), net.ir.number_of_nodes(), net.ir.number_of_edges()


def compare(title: str, small: str, large: str, repeat: int) -> float:
    t1, n1, e1 = measure(small, repeat)
    t2, n2, e2 = measure(large, repeat)
    size = (n2 + e2) / (n1 + e1)
    print(f"{title}: {n1:,} nodes/{e1:,} edges in {t1:.3f} s; {n2:,} nodes/{e2:,} edges in {t2:.3f} s; "
          f"size ×{size:.1f}, time ×{t2 / t1:.1f} (time/size {t2 / t1 / size:.2f})")
    return t2 / t1 / size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"netdsl {netdsl.__version__}, median of {args.repeat}")
    compare("file length 10k -> 100k lines", long_file(10_000), long_file(100_000), args.repeat)
    compare("dense block 500 -> 2,000 layers", dense_block(500), dense_block(2_000), args.repeat)


if __name__ == "__main__":
    main()
