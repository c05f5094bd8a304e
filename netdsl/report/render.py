"""Summaries as text: an aligned terminal table, Markdown, CSV, or LaTeX
(``latex.py``).

Each renderer takes the dict of ``summary.build_summary`` and returns a string.
Counts are in K/M/G (powers of 1000), bytes in KiB/MiB/GiB (``units.py``).
"""
from __future__ import annotations

from fractions import Fraction

import csv
import io

from .units import binary, si  # noqa: F401  (si: also the units of list and diff)

COLUMNS = ("Layer", "Op", "Output shape", "Params", "MACs", "RF")
NUMERIC = {"Params", "MACs"}


def shape_text(shape: list) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def field_text(field) -> str:
    """Per-layer RF cell: '7', '7x1', 'global', or '' without spatial axes; '*' if misaligned."""
    if field is None:
        return ""
    if field["global"]:
        return "global"
    sizes = field["size"]
    if field.get("position_dependent"):  # fewest-most pixels over output positions
        sizes = [f"{lo}-{hi}" if lo != hi else str(hi) for lo, hi in zip(field["min_size"], sizes)]
    text = str(sizes[0]) if len(set(sizes)) == 1 else "x".join(map(str, sizes))
    at_least = ">=" if field.get("saturated") else ""  # clipped at 2**64 pixels
    return at_least + text + ("*" if field["misaligned"] else "")


def _cells(layer: dict) -> tuple[str, ...]:
    if layer["kind"] == "input":
        return (layer["name"], "input", shape_text(layer["output_shape"]), "", "", "")
    return (layer["name"], layer["op"], shape_text(layer["output_shape"]), f"{layer['params']:,}",
            f"{layer['macs']:,}", field_text(layer["receptive_field"]))


def table(summary: dict) -> str:
    """The terminal table: header, one aligned line per row, totals."""
    body = [_cells(layer) for layer in summary["layers"]]
    widths = [max(len(r[i]) for r in [COLUMNS, *body]) for i in range(len(COLUMNS))]

    def line(cells) -> str:
        return "  ".join(c.rjust(w) if COLUMNS[i] in NUMERIC else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    rule = "-" * len(line(COLUMNS))
    return "\n".join([_title(summary), rule, line(COLUMNS), rule, *map(line, body), rule,
                      *footer(summary)])


def _title(summary: dict) -> str:
    inputs = ", ".join(f"{i['name']} {shape_text(i['shape'])}" + ("" if i["dtype"].startswith("float")
                                                                  else f" {i['dtype']}")
                       for i in summary["inputs"])
    depth = f", depth {summary['depth']}" if summary["depth"] is not None else ""
    return f"{summary['network']}: input {inputs}; batch {summary['batch']}, {summary['dtype']}{depth}"


def footer(summary: dict) -> list[str]:
    """Totals, receptive field and memory lines shared by the table and Markdown."""
    t = summary["totals"]
    width = len(f"{max(t['flops'], t['params']):,}")
    lines = [
        f"Params  {t['params']:>{width},}  trainable {t['trainable_params']:,}, "
        f"frozen {t['frozen_params']:,}; buffers {t['buffers']:,}",
        f"MACs    {t['macs']:>{width},}  ({si(t['macs'])})",
        f"FLOPs   {t['flops']:>{width},}  ({si(t['flops'])}; 2 x MACs + elementwise)",
        "Receptive field: " + network_field_text(summary["receptive_field"]),
    ]
    return lines + memory_lines(summary)


def field_number(value) -> str:
    """``7``, ``1/3`` (a transposed conv's stride in input pixels), else 4 digits."""
    if float(value).is_integer():
        return str(int(value))
    fraction = Fraction(value).limit_denominator(4096)
    return f"{fraction.numerator}/{fraction.denominator}" if abs(fraction - value) < 1e-12 else f"{value:.4g}"


def network_field_text(field) -> str:
    if field is None:
        return "none (the input has no spatial axes)"
    if field["op"] == "input" and field["output_global"]:  # global layers straight on the input
        return "the whole input (no spatial layer before the global ones)"
    axes = lambda key: " x ".join(field_number(v) for v in field[key])
    text = (f"{axes('size')} px, stride {axes('stride')}, padding {axes('padding')} "
            f"at {field['node']} ({field['op']})")
    if field.get("saturated"):
        text += "; some values clipped at 2**64 (their true values are larger)"
    if field["misaligned"]:
        text += "; paths misaligned (their windows are not centred alike)"
    if field.get("position_dependent"):
        text += f"; varies with output position, fewest {axes('min_size')} px"
    if field["output_global"]:
        text += "; the output sees the whole input"
    return text


def memory_lines(summary: dict) -> list[str]:
    m, train = summary["memory"], summary["memory"]["training"]
    return [
        f"Memory ({summary['dtype']}, batch {summary['batch']}): "
        f"params+buffers {binary(m['param_bytes'] + m['buffer_bytes'])}, "
        f"activations {binary(m['activation_bytes'])}, forward peak {binary(m['forward_peak_bytes'])}",
        f"Training step ({train['optimizer']}, estimate): {binary(train['total'])} = "
        f"weights {binary(train['params'] + train['buffers'])} + optimizer {binary(train['optimizer_state'])} "
        f"+ backward peak {binary(train['backward_peak'])} (saved activations "
        f"{binary(train['saved_activations'])}, gradients up to {binary(train['grads'])})",
    ]


def markdown(summary: dict) -> str:
    """A GitHub-flavoured Markdown table of the rows, then one of the totals."""
    head = "| " + " | ".join(COLUMNS) + " |"
    align = "|" + "|".join("---:" if c in NUMERIC else "---" for c in COLUMNS) + "|"
    body = ["| " + " | ".join(_md_escape(c) for c in _cells(layer)) + " |" for layer in summary["layers"]]
    totals = ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in totals_rows(summary)]
    return "\n".join([f"### {_title(summary)}", "", head, align, *body, "",
                      "| Total | Value | Detail |", "|---|---:|---|", *totals])


def totals_rows(summary: dict) -> list[tuple[str, str, str]]:
    """The footer as (what, value, detail) rows: for the Markdown and LaTeX tables."""
    t, m = summary["totals"], summary["memory"]
    train, field = m["training"], summary["receptive_field"]
    return [
        ("Params", f"{t['params']:,}", f"{si(t['params'])}; trainable {t['trainable_params']:,}, "
                                       f"frozen {t['frozen_params']:,}; buffers {t['buffers']:,}"),
        ("MACs", f"{t['macs']:,}", si(t["macs"])),
        ("FLOPs", f"{t['flops']:,}", f"{si(t['flops'])}; 2 x MACs + elementwise"),
        ("Receptive field", _rf_value(field),
         network_field_text(field).partition(" px, ")[2] if field else "the input has no spatial axes"),
        ("Weights", binary(m["param_bytes"] + m["buffer_bytes"]), f"params + buffers, {summary['dtype']}"),
        ("Activations", binary(m["activation_bytes"]),
         f"forward peak {binary(m['forward_peak_bytes'])}; batch {summary['batch']}"),
        ("Training step", binary(train["total"]), _training_detail(train)),
    ]


def _rf_value(field) -> str:
    return "none" if field is None else " x ".join(str(v) for v in field["size"]) + " px"


def _training_detail(train: dict) -> str:
    return (f"{train['optimizer']} estimate: weights {binary(train['params'] + train['buffers'])} + "
            f"optimizer {binary(train['optimizer_state'])} + backward peak {binary(train['backward_peak'])}")


def _md_escape(cell: str) -> str:
    return f"`{cell}`" if cell.startswith("[") else cell.replace("|", "\\|").replace("*", "\\*")


CSV_FIELDS = ("name", "kind", "op", "output_shape", "params", "trainable_params", "buffers",
              "macs", "flops", "output_bytes", "rf_size", "rf_stride", "rf_padding")


def csv_text(summary: dict) -> str:
    """One CSV row per summary row; shapes and per-axis values joined with 'x'."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for layer in summary["layers"]:
        field = layer["receptive_field"] or {}
        geometry = ["global"] * 3 if field.get("global") else [
            "x".join(map(str, field.get(key, []))) for key in ("size", "stride", "padding")]
        writer.writerow([layer["name"], layer["kind"], layer["op"],
                         "x".join(map(str, layer["output_shape"])),
                         *(layer[k] for k in CSV_FIELDS[4:10]), *geometry])
    return out.getvalue()


def _latex(summary: dict) -> str:
    from .latex import latex_table
    return latex_table(summary)


RENDERERS = {"table": table, "md": markdown, "csv": csv_text, "latex": _latex}
