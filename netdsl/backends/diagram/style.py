"""Words and colours of a diagram: node and cluster labels (Graphviz HTML-like
label bodies), op descriptions, number formats, the category palette."""
from __future__ import annotations

from html import escape
from typing import Optional

from ...ir import Graph

from .fold import FoldRun, Path
from .metrics import total
from .model import category

#: Fill colour per op category (``OpSpec.category``); unknown categories get OTHER.
CATEGORY_COLOURS = {
    "input": "#FFFFFF",
    "conv": "#AED6F1",
    "norm": "#F9E79F",
    "activation": "#F5B7B1",
    "pool": "#A3E4D7",
    "linear": "#D7BDE2",
    "merge": "#D5D8DC",
    "dropout": "#E5E7E9",
    "reshape": "#FAD7A0",
    "recurrent": "#ABEBC6",
    "embedding": "#F8C471",
    "attention": "#85C1E9",
}
OTHER = "#EAECEE"
BOX_COLOUR = "#FDFEFE"
#: Cluster fills by nesting level, light to darker.
CLUSTER_FILLS = ("#F4F6F7", "#EBEEF0", "#E1E5E8", "#D7DCE0")
FOLDED_CLUSTER_FILL = "#EAF2F8"
MERGE_SYMBOLS = {"add": "+", "mul": "×", "concat": "C"}

#: Arguments worth a word in an op's description, in the order they read.
_DESCRIBED = ("kernel", "stride", "dilation", "groups", "out_channels", "out_features",
              "hidden_size", "embedding_dim", "num_embeddings", "output_size", "p")


def fmt_count(n: float) -> str:
    """11689512 → 11.7M; small numbers as they are."""
    for size, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= size:
            text = f"{n / size:.1f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return f"{n:g}"


def fmt_shape(shape: tuple) -> str:
    return "×".join(str(d) for d in shape) if shape else "scalar"


def describe_op(graph: Graph, n: int) -> str:
    """``conv 3×3 /2 → 128``: the op with the arguments that shape its output."""
    data = graph.nodes[n]
    rank = len(graph.nodes[data["inputs"][0]]["shape"]) - 1 if data["inputs"] else 2
    words = [data["op"]]
    for key in _DESCRIBED:
        value = data["args"].get(key)
        if value is not None:
            words.append(_describe_arg(key, value, rank))
    return " ".join(w for w in words if w)


def _describe_arg(key: str, value, rank: int) -> str:
    if key == "kernel":
        sizes = value if isinstance(value, tuple) else (value,) * max(rank, 1)
        return "×".join(map(str, sizes))
    sizes = value if isinstance(value, tuple) else (value,)
    shown = "×".join(map(str, sizes))
    if key in ("stride", "dilation", "groups"):
        if all(v == 1 for v in sizes):
            return ""
        return {"stride": "/", "dilation": "dil ", "groups": "g="}[key] + shown
    if key == "p":
        return f"p={value:g}"
    return f"→ {shown}"


def _name(graph: Graph, n: int) -> Optional[str]:
    """The module name if the user gave one (auto-indices and names equal to the op say nothing)."""
    name = graph.nodes[n]["name"]
    return None if name is None or name.isdigit() or name == graph.nodes[n]["op"] else name


def numbers_line(graph: Graph, nodes, show_macs: bool) -> str:
    """``61.7K params · 420K MACs``, or '' when there is nothing to say."""
    parts = []
    params = total(graph, nodes, "params")
    if params:
        parts.append(f"{fmt_count(params)} params")
    if show_macs:
        macs = total(graph, nodes, "macs")
        if macs:
            parts.append(f"{fmt_count(macs)} MACs")
    return " · ".join(parts)


def html(*lines: tuple[str, str], align: str = "") -> str:
    """An HTML-like label body from (style, text) lines; style: b, small or ''.
    ``align="left"`` left-aligns every line (cluster titles)."""
    out = []
    for style, text in lines:
        if not text:
            continue
        body = escape(text, quote=False)
        if style == "b":
            body = f"<b>{body}</b>"
        elif style == "small":
            body = f'<font point-size="9" color="#424949">{body}</font>'
        out.append(body)
    if align:
        return "".join(f'{line}<br align="{align}"/>' for line in out)
    return "<br/>".join(out)


def op_label(graph: Graph, nodes: list[int], show_macs: bool, title: Optional[str] = None) -> str:
    title = title or _name(graph, nodes[0]) or ""  # a fused chain goes by its head's name
    what = " · ".join(describe_op(graph, n) for n in nodes)
    if len(nodes) == 1 and what == graph.nodes[nodes[0]]["op"] and title.startswith(what):
        what = ""  # "relu1" needs no "relu" under it
    return html(("b", title), ("", what), ("small", numbers_line(graph, nodes, show_macs)))


def input_label(graph: Graph, n: int) -> str:
    data = graph.nodes[n]
    dtype = data.get("dtype", "float32")
    return html(("b", f"input {data.get('label', '')}".strip()),
                ("small", fmt_shape(data["shape"]) + ("" if dtype == "float32" else f" {dtype}")))


def block_call(info) -> str:
    """``basic(c=128, stride=2)`` for a block instance; '' for a plain group."""
    if info is None or not info.block:
        return ""
    args = ", ".join(f"{k}={_fmt_value(v)}" for k, v in info.args.items())
    return f"{info.block}({args})"


def _fmt_value(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def scope_title(path: Path, within: Path, run: Optional[FoldRun]) -> str:
    """The scope's module path below the enclosing cluster ``within``;
    a folded run names its first and last instance: ``denselayer1–6 ×6``."""
    name = ".".join(path[len(within):])
    if run is not None:
        return f"{name}–{_short_last(path[-1], run.scopes[-1][-1])}  ×{run.count}"
    return name


def _short_last(first: str, last: str) -> str:
    """``denselayer6`` after ``denselayer1`` reads ``6``."""
    stem = first.rstrip("0123456789")
    return last[len(stem):] if stem and last.startswith(stem) and last[len(stem):].isdigit() else last


def run_nodes(tree, path: Path, run: Optional[FoldRun]) -> list[int]:
    """Every IR node a drawn scope stands for, all folded instances included."""
    scopes = run.scopes if run is not None else (path,)
    return [n for scope in scopes for n in tree.under[scope]]


def box_label(diagram, drawn, show_macs: bool) -> str:
    tree = diagram.tree
    info = tree.infos.get(drawn.scope)
    extras = extra_children(tree, drawn.scope)
    nodes = run_nodes(tree, drawn.scope, drawn.run)
    what = block_call(info) or contents(diagram.graph, drawn.nodes)
    return html(("b", scope_title(drawn.scope, drawn.cluster, drawn.run)), ("", what),
                ("", "with " + ", ".join(extras) if extras else ""),
                ("small", numbers_line(diagram.graph, nodes, show_macs)))


def cluster_label(diagram, path: Path, run: Optional[FoldRun], show_macs: bool) -> str:
    tree = diagram.tree
    nodes = run_nodes(tree, path, run)
    title = scope_title(path, _enclosing_cluster(diagram, path), run)
    return html(("b", title), ("", block_call(tree.infos.get(path))),
                ("small", numbers_line(diagram.graph, nodes, show_macs)), align="left")


def _enclosing_cluster(diagram, path: Path) -> Path:
    return max((p for p in diagram.clusters if len(p) < len(path) and path[:len(p)] == p), key=len, default=())


#: Op categories that say what a group of layers does (norms and activations don't).
_TELLING = ("conv", "linear", "pool", "recurrent", "embedding", "attention")


def contents(graph: Graph, nodes: list[int], most: int = 3) -> str:
    """What a plain group holds: its telling ops when there are few, else how many layers."""
    telling = [n for n in nodes if category(graph, n) in _TELLING] or nodes
    if len(telling) > most:
        return f"{len(nodes)} layers"
    return " · ".join(describe_op(graph, n) for n in telling)


def extra_children(tree, path: Path) -> list[str]:
    """Sub-scopes this block instance has and its next sibling of the same block
    lacks (a first ResNet block's ``downsample``), so a box does not hide them."""
    if not path:
        return []
    siblings = tree.child_scopes(path[:-1])
    info = tree.infos.get(path)
    later = siblings[siblings.index(path) + 1:] if path in siblings else []
    same = [p for p in later if info and info.block and tree.infos.get(p) and tree.infos[p].block == info.block]
    if not same:
        return []
    mine = {p[-1] for p in tree.child_scopes(path)}
    theirs = {p[-1] for p in tree.child_scopes(same[0])}
    return [name for name in (p[-1] for p in tree.child_scopes(path)) if name in mine - theirs]


def merge_symbol(op: str) -> str:
    return MERGE_SYMBOLS.get(op, op[:1])
