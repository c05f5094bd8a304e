"""One unit system for every report (summarize, diff, list, the LaTeX table):
counts (parameters, MACs, FLOPs) in powers of 1000 — K, M, G, T — and bytes in
powers of 1024 — KiB, MiB, GiB.  Exact values are written with thousands
separators next to them."""
from __future__ import annotations

#: Totals that are byte counts; every other total is a count.
BYTE_KEYS = frozenset({"activation_bytes", "param_bytes", "buffer_bytes", "forward_peak_bytes",
                       "inference_bytes", "output_bytes"})


def si(n: float) -> str:
    """1_814_073_344 → '1.81 G' (powers of 1000, for parameters, MACs and FLOPs)."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(n)


def binary(n: float) -> str:
    """Bytes in KiB/MiB/GiB (powers of 1024)."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def human(key: str, value: float) -> str:
    """A total in its unit: bytes for ``*_bytes`` keys, a count otherwise."""
    return binary(value) if key in BYTE_KEYS else si(value)
