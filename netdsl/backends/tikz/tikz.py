"""TikZ text of a laid-out block figure: a standalone document whose preamble
defines a few small macros (``\\netbox``, ``\\netball``), then one line per
unit, edge and label.  Nothing beyond TikZ (pgf) and the standalone class.

The numbers are centimetres with two decimals, so the text is byte-deterministic.
"""
from __future__ import annotations

from ...report.latex import escape
from .layout import LABEL_LINE, Route
from .units import BALL, Unit, colour_table

PREAMBLE = r"""\documentclass[tikz,border=6pt]{standalone}
\usetikzlibrary{arrows.meta,decorations.pathreplacing}
%COLOURS%
\tikzset{
  netline/.style={draw=black!55, line width=0.3pt},
  netarrow/.style={-{Stealth[length=3.2pt,width=2.6pt]}, draw=black!65, line width=0.6pt},
  netskip/.style={-{Stealth[length=3.2pt,width=2.6pt]}, draw=black!50, line width=0.6pt, rounded corners=3pt},
  netlabel/.style={font=\sffamily\tiny, align=center, inner sep=1pt, text=black!85},
  netbrace/.style={decorate, decoration={brace, mirror, amplitude=4pt}, draw=black!45, line width=0.4pt},
}
% \netbox{x}{y}{width}{height}{depth x}{depth y}{colour}: a 3-d box, front face
% from (x, y - height/2) to (x + width, y + height/2), its depth drawn obliquely.
\newcommand{\netbox}[7]{%
  \filldraw[netline, fill=#7!80!black] (#1+#3,#2-#4/2) -- ++(#5,#6) -- ++(0,#4) -- ++(-#5,-#6) -- cycle;
  \filldraw[netline, fill=#7!55!white] (#1,#2+#4/2) -- ++(#3,0) -- ++(#5,#6) -- ++(-#3,0) -- cycle;
  \filldraw[netline, fill=#7] (#1,#2-#4/2) rectangle ++(#3,#4);}
% \netball{x}{y}{symbol}{colour}: a merge (+ add, C concat, x mul).
\newcommand{\netball}[4]{%
  \filldraw[netline, fill=#4] (#1,#2) circle (%BALLR%);
  \node[font=\sffamily\scriptsize\bfseries, inner sep=0pt] at (#1,#2) {$#3$};}
"""


def document(units: list[Unit], routes: list[Route], title: str) -> str:
    """The whole standalone ``.tex`` file."""
    colours = "\n".join(rf"\definecolor{{net{name}}}{{HTML}}{{{hex_}}}" for name, hex_ in colour_table().items())
    head = PREAMBLE.replace("%COLOURS%", colours).replace("%BALLR%", _n(BALL / 2))
    body = [r"\begin{document}", r"\begin{tikzpicture}"]
    body += [_route(r) for r in routes]  # first: boxes hide where lines meet them
    for u in units:
        body += draw_unit(u)
    body += [label(u) for u in units if u.lines]
    body += braces(units)
    body += [r"\end{tikzpicture}", r"\end{document}"]
    return f"% {title}: netdsl render --style blocks\n" + head + "\n".join(body) + "\n"


def _n(v: float) -> str:
    text = f"{v:.2f}"
    return "0" if text in ("0.00", "-0.00") else text.rstrip("0").rstrip(".")


def _box(u: Unit, x: float, y: float, w: float, colour: str) -> str:
    return rf"\netbox{{{_n(x)}}}{{{_n(y)}}}{{{_n(w)}}}{{{_n(u.h)}}}{{{_n(u.dx)}}}{{{_n(u.dy)}}}{{net{colour}}}"


def draw_unit(u: Unit) -> list[str]:
    if u.is_ball:
        return [rf"\netball{{{_n(u.x + BALL / 2)}}}{{{_n(u.y)}}}{{{u.extra['symbol']}}}{{netmerge}}"]
    lines = [f"% {escape(u.lines[0]) if u.lines else u.key}"]
    lines += _inner_skip(u) if u.post == "+" else []
    for k in range(min(u.count, 3) - 1, 0, -1):  # a folded run: copies stacked behind
        lines.append(_box(u, u.x + 0.16 * k, u.y + 0.12 * k, u.w, u.colour))
    if u.band:
        band = min(u.w * 0.35, 0.25)
        lines.append(_box(u, u.x, u.y, u.w - band, u.colour))
        lines.append(_box(u, u.x + u.w - band, u.y, band, u.band))
    else:
        lines.append(_box(u, u.x, u.y, u.w, u.colour))
    lines += _stripes(u)
    if u.post:
        lines.append(rf"\netball{{{_n(u.ball_x)}}}{{{_n(u.y)}}}{{{u.post}}}{{netmerge}}")
    return lines


def _inner_skip(u: Unit) -> list[str]:
    """A block with a merge inside: an arc from before it over it into a ball after it."""
    x0, xb = u.x - 0.22, u.ball_x
    top = u.top + 0.3
    via = u.extra.get("shortcut", "")
    note = rf" node[midway, above, netlabel] {{{escape(via)}}}" if via else ""
    return [rf"\draw[netskip] ({_n(x0)},{_n(u.y)}) -- ({_n(x0)},{_n(top)}) -- ({_n(xb)},{_n(top)}){note} "
            rf"-- ({_n(xb)},{_n(u.y + BALL / 2)});",
            rf"\draw[netarrow] ({_n(u.x + u.w)},{_n(u.y)}) -- ({_n(xb - BALL / 2)},{_n(u.y)});"]


def _stripes(u: Unit) -> list[str]:
    """A block that concatenates branches (an inception module): one stripe per
    branch across its front, then an arrow to its concat ball."""
    branches = min(u.extra.get("branches", 0), 6)
    if u.post != "C":
        return []
    lines = [rf"\draw[white, line width=0.5pt] ({_n(u.x)},{_n(u.y - u.h / 2 + u.h * k / branches)}) -- ++({_n(u.w)},0);"
             for k in range(1, branches)]
    return lines + [rf"\draw[netarrow] ({_n(u.x + u.w)},{_n(u.y)}) -- ({_n(u.ball_x - BALL / 2)},{_n(u.y)});"]


def _route(r: Route) -> str:
    style = "netskip" if r.skip else "netarrow"
    return rf"\draw[{style}] " + " -- ".join(f"({_n(x)},{_n(y)})" for x, y in r.points) + ";"


NEWLINE = r" \\ "


def label(u: Unit) -> str:
    """Name, what it is and the output shape, under the box."""
    title, what, shape = (u.lines + ["", "", ""])[:3]
    parts = [rf"\textbf{{\scriptsize {escape(title)}}}"] if title else []
    parts += [escape(text) for text in (what, shape) if text]
    x = u.x + (u.w + u.dx) / 2
    y = u.y - u.h / 2 - 0.08
    text = NEWLINE.join(parts)
    return rf"\node[netlabel, anchor=north] at ({_n(x)},{_n(y)}) {{{text}}};"


def braces(units: list[Unit]) -> list[str]:
    """A brace under each run of units of one top-level scope, named after it."""
    bottom = min((u.y - u.h / 2 - 3 * LABEL_LINE - 0.25 for u in units), default=0.0)
    runs: list[tuple[str, list[Unit]]] = []
    for u in sorted(units, key=lambda u: (u.rank, u.lane)):
        if runs and runs[-1][0] == u.group:
            runs[-1][1].append(u)
        else:
            runs.append((u.group, [u]))
    lines = []
    for group, members in runs:
        if not group:
            continue
        name = group[-1]
        x0 = min(u.x for u in members)
        x1 = max(u.x + u.body for u in members)
        lines.append(rf"\draw[netbrace] ({_n(x0)},{_n(bottom)}) -- ({_n(x1)},{_n(bottom)}) "
                     rf"node[midway, below=4pt, netlabel, font=\sffamily\scriptsize] {{{escape(name)}}};")
    return lines
