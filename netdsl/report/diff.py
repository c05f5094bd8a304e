"""What changed between two networks: totals, receptive field, outputs, and
row by row (blocks at a depth, or layers) the shapes, parameters, MACs and
receptive fields.  Works on two ``summary.build_summary`` dicts.
"""
from __future__ import annotations

import re
from difflib import SequenceMatcher

from .render import field_text, shape_text
from .units import human

TOTALS = ("params", "trainable_params", "buffers", "macs", "flops", "activation_bytes")
ROW_FIELDS = ("output_shape", "params", "macs", "receptive_field")


def diff_summaries(a: dict, b: dict) -> dict:
    """Totals side by side, and the rows that were added, removed or changed."""
    return {
        "a": {"network": a["network"], "file": a["file"]},
        "b": {"network": b["network"], "file": b["file"]},
        "totals": {key: [a["totals"][key], b["totals"][key]] for key in TOTALS},
        "receptive_field": [_rf_size(a), _rf_size(b)],
        "outputs": [[o["shape"] for o in a["outputs"]], [o["shape"] for o in b["outputs"]]],
        "rows": _row_changes(a["layers"], b["layers"]),
    }


def _rf_size(summary: dict):
    field = summary["receptive_field"]
    return field["size"] if field else None


def _row_changes(rows_a: list[dict], rows_b: list[dict]) -> list[dict]:
    """Align rows by (op, identity), keeping order; inside a stretch that differs, pair
    rows by op alone (a renumbered layer), then by name (a swapped block); the
    rest were added or removed."""
    by_op = lambda a, b: _aligned(a, b, lambda r: r["op"], _pair_by_name)
    return _aligned(rows_a, rows_b, lambda r: (r["op"], _identity(r)), by_op)


def _identity(row: dict) -> str:
    """What pairs a row across networks: its name, or for a layer its scope where the
    name is only a number or its op numbered (``features.17``, ``features.relu_7``),
    which an insertion earlier in the scope shifts.  (A block's number is its place
    in a repeat: it pairs.)"""
    if row["kind"] != "layer":
        return row["name"]
    scope, _, last = row["name"].rpartition(".")
    generated = last.isdigit() or re.fullmatch(re.escape(row["op"]) + r"(_\d+)?", last)
    return scope if generated else row["name"]


def _aligned(rows_a: list[dict], rows_b: list[dict], key, unmatched) -> list[dict]:
    """Changes between rows matched on ``key``; ``unmatched`` pairs the stretches that differ."""
    changes = []
    for tag, i1, i2, j1, j2 in _opcodes(rows_a, rows_b, key):
        if tag == "equal":
            changes += [_changed(x, y) for x, y in zip(rows_a[i1:i2], rows_b[j1:j2]) if _differs(x, y)]
        else:
            changes += unmatched(rows_a[i1:i2], rows_b[j1:j2])
    return changes


def _pair_by_name(rows_a: list[dict], rows_b: list[dict]) -> list[dict]:
    """Rows of the same name changed (e.g. their block was swapped); the rest came or went."""
    by_name = {row["name"]: row for row in rows_b}
    changes = [_changed(x, by_name[x["name"]]) if x["name"] in by_name else _one_side("removed", x, "a")
               for x in rows_a]
    names_a = {row["name"] for row in rows_a}
    return changes + [_one_side("added", y, "b") for y in rows_b if y["name"] not in names_a]


def _opcodes(rows_a: list[dict], rows_b: list[dict], key):
    matcher = SequenceMatcher(None, [key(r) for r in rows_a], [key(r) for r in rows_b], autojunk=False)
    return matcher.get_opcodes()


def _differs(x: dict, y: dict) -> bool:
    return x["name"] != y["name"] or any(x[key] != y[key] for key in ROW_FIELDS)


def _view(row: dict) -> dict:
    return {"op": row["op"], **{key: row[key] for key in ROW_FIELDS}}


def _changed(x: dict, y: dict) -> dict:
    name = x["name"] if x["name"] == y["name"] else f"{x['name']} -> {y['name']}"
    return {"name": name, "status": "changed", "a": _view(x), "b": _view(y)}


def _one_side(status: str, row: dict, side: str) -> dict:
    return {"name": row["name"], "status": status, "a": _view(row) if side == "a" else None,
            "b": _view(row) if side == "b" else None}


# ------------------------------------------------------------------ text
def diff_text(diff: dict) -> str:
    """Totals with their change, then one aligned line per changed row."""
    a, b = diff["a"]["network"], diff["b"]["network"]
    lines = [f"{a} ({diff['a']['file']}) -> {b} ({diff['b']['file']})", ""]
    lines += _totals_lines(diff)
    if not diff["rows"]:
        return "\n".join(lines + ["", "no layer or block differs"])
    cells = [("Layer", "Change", "Op", "Output shape", "Params", "MACs", "RF")]
    cells += [_row_cells(row) for row in diff["rows"]]
    widths = [max(len(c[i]) for c in cells) for i in range(len(cells[0]))]
    table = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines + ["", table[0], "-" * len(table[0]), *table[1:]])


def _totals_lines(diff: dict) -> list[str]:
    lines = []
    for key, (x, y) in diff["totals"].items():
        change = "unchanged" if x == y else f"{y - x:+,}" + (f" ({(y - x) / x:+.1%})" if x else "")
        lines.append(f"{key:<17}{x:>18,} -> {y:>18,}  {change}   [{human(key, x)} -> {human(key, y)}]")
    rf_a, rf_b = diff["receptive_field"]
    lines.append(f"{'receptive_field':<17}{_sizes(rf_a):>18} -> {_sizes(rf_b):>18}"
                 + ("  unchanged" if rf_a == rf_b else ""))
    out_a, out_b = (", ".join(shape_text(s) for s in side) for side in diff["outputs"])
    lines.append(f"{'outputs':<17}{out_a:>18} -> {out_b:>18}" + ("  unchanged" if out_a == out_b else ""))
    return lines


def _sizes(size) -> str:
    return "none" if size is None else " x ".join(map(str, size))


def _row_cells(row: dict) -> tuple[str, ...]:
    a, b = row["a"], row["b"]

    def pair(render, key) -> str:
        if a is None or b is None:
            return render((a or b)[key])
        x, y = render(a[key]), render(b[key])
        return x if x == y else f"{x} -> {y}"
    number = lambda n: f"{n:,}"
    return (row["name"], row["status"], pair(str, "op"), pair(shape_text, "output_shape"),
            pair(number, "params"), pair(number, "macs"), pair(field_text, "receptive_field"))
