"""Summaries as LaTeX: a booktabs table for papers.

    \\usepackage{booktabs}   % the one package the table needs
    ...
    \\input{resnet18_table}   % netdsl summarize resnet18 --format latex > resnet18_table.tex

Every name is escaped (``_ # % & { } ~ ^ \\ $ < > |``), numbers get thin-space
thousands separators (``11\\,689\\,512``, no siunitx needed) and shapes read
``$64{\\times}56{\\times}56$``.
"""
from __future__ import annotations

from .render import field_text
from .units import si

#: Characters LaTeX treats specially, and what stands for them in text.
_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
    "×": r"$\times$", "–": "--", "→": r"$\to$", "·": r"$\cdot$", "≥": r"$\geq$", "≤": r"$\leq$",
}
HEADER = ("Layer", "Type", "Output shape", "Params", "MACs", "RF")


def escape(text: str) -> str:
    """Text as LaTeX source that prints it literally."""
    return "".join(_SPECIAL.get(c, c) for c in str(text))


def number(n: int) -> str:
    """11689512 → ``11\\,689\\,512``."""
    return f"{n:,}".replace(",", r"\,")


def shape(dims) -> str:
    """[64, 56, 56] → ``$64{\\times}56{\\times}56$``; a scalar → ``scalar``."""
    return "$" + r"{\times}".join(str(d) for d in dims) + "$" if dims else "scalar"


def _field(field) -> str:
    text = field_text(field)
    return escape(text.replace(">=", "≥")).replace("*", r"$^{*}$")


def _row(layer: dict) -> str:
    if layer["kind"] == "input":
        cells = [escape(layer["name"]), "input", shape(layer["output_shape"]), "", "", ""]
    else:
        cells = [escape(layer["name"]), escape(layer["op"]), shape(layer["output_shape"]),
                 number(layer["params"]), number(layer["macs"]), _field(layer["receptive_field"])]
    return "    " + " & ".join(cells) + r" \\"


def _total_row(summary: dict) -> str:
    t, field = summary["totals"], summary["receptive_field"]
    rf = "" if field is None else r"{\times}".join(map(str, field["size"]))
    return (r"    \textbf{Total} & & & " + number(t["params"]) + " & " + number(t["macs"])
            + " & " + (f"${rf}$" if rf else "") + r" \\")


def caption(summary: dict) -> str:
    t = summary["totals"]
    inputs = ", ".join(shape(i["shape"]) for i in summary["inputs"])
    depth = "" if summary["depth"] is None else f", blocks folded to depth {summary['depth']}"
    return (rf"\texttt{{{escape(summary['network'])}}}: {si(t['params'])} parameters, "
            rf"{si(t['macs'])} MACs ({si(t['flops'])} FLOPs) for a {inputs} input, batch {summary['batch']}"
            rf"{depth}. RF: receptive field in pixels.")


#: Above this many layer rows a table cannot fit one page: it becomes a ``longtable``.
LONG_ROWS = 45


def latex_table(summary: dict, float_env: bool = True) -> str:
    """A booktabs ``tabular`` of the summary rows and a totals row; inside a
    ``table`` float with caption and label unless ``float_env`` is false.  A
    table of more than ``LONG_ROWS`` rows is a ``longtable`` (needs
    ``\\usepackage{longtable}``) that breaks across pages, header repeated."""
    rows = [_row(layer) for layer in summary["layers"]]
    head_row = ["    " + " & ".join(HEADER) + r" \\"]
    total = [r"    \midrule", _total_row(summary), r"    \bottomrule"]
    label = "".join(c if c.isalnum() else "-" for c in summary["network"])
    if float_env and len(rows) > LONG_ROWS:
        return "\n".join(_long_table(summary, label, head_row, rows, total)) + "\n"
    tabular = [r"  \begin{tabular}{lllrrr}", r"    \toprule", *head_row, r"    \midrule",
               *rows, *total, r"  \end{tabular}"]
    head = ["% netdsl summarize --format latex; needs \\usepackage{booktabs}"]
    if not float_env:
        return "\n".join(head + [line[2:] for line in tabular]) + "\n"
    return "\n".join(head + [r"\begin{table}[htbp]", r"  \centering", r"  \small",
                             rf"  \caption{{{caption(summary)}}}", rf"  \label{{tab:{label}}}",
                             *tabular, r"\end{table}"]) + "\n"


def _long_table(summary: dict, label: str, head_row: list, rows: list, total: list) -> list[str]:
    """A ``longtable``: caption and header on the first page, the header again
    (marked continued) on the next ones, the totals at the very end."""
    return ["% netdsl summarize --format latex; needs \\usepackage{booktabs,longtable}",
            r"{\small", r"\begin{longtable}{lllrrr}",
            rf"  \caption{{{caption(summary)}}}\label{{tab:{label}}} \\", r"  \toprule", *head_row,
            r"  \midrule", r"  \endfirsthead",
            rf"  \multicolumn{{6}}{{l}}{{\emph{{Table \thetable\ continued}}}} \\", r"  \toprule",
            *head_row, r"  \midrule", r"  \endhead",
            r"  \midrule", rf"  \multicolumn{{6}}{{r}}{{\emph{{continued on the next page}}}} \\",
            r"  \endfoot", r"  \endlastfoot", *rows, *total[:2], r"  \bottomrule",
            r"\end{longtable}", "}"]


def document(body: str, packages: tuple[str, ...] = ("booktabs",)) -> str:
    """A minimal article around ``body``: what the table needs to compile on its own."""
    uses = "".join(rf"\usepackage{{{p}}}" + "\n" for p in packages)
    return f"\\documentclass{{article}}\n{uses}\\begin{{document}}\n{body}\\end{{document}}\n"
