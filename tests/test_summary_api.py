"""``Network.summary()`` (issue 12): the CLI's report as a Python object."""
import json

import netdsl
from netdsl.cli import main


def test_summary_object_agrees_with_torch_and_the_cli(capsys):
    net = netdsl.load("resnet18")
    summary = net.summary(depth="all")
    model = net.to_torch()
    assert summary.totals["params"] == sum(p.numel() for p in model.parameters())
    assert summary.totals["buffers"] == sum(b.numel() for b in model.buffers())
    assert main(["summarize", "resnet18", "--depth", "all", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == summary.to_dict()
    assert main(["summarize", "resnet18", "--depth", "all"]) == 0
    assert capsys.readouterr().out.rstrip("\n") == str(summary)
    assert sum(row["params"] for row in summary.rows) == summary.totals["params"]


def test_depth_auto_folds_a_deep_network_and_all_does_not():
    net = netdsl.load("resnet50")
    assert len(net.summary().rows) <= 60 < len(net.summary(depth="all").rows)
    assert len(net.summary(depth=1).rows) < len(net.summary().rows)


def test_summary_formats_for_notebooks_and_papers():
    summary = netdsl.load("lenet5").summary(batch=8, dtype="float16")
    assert summary.to_dict()["batch"] == 8 and summary.to_dict()["dtype"] == "float16"
    assert summary.to_markdown().startswith("|") or "| " in summary.to_markdown()
    assert "\\toprule" in summary.to_latex() and "\\begin{table}" not in summary.to_latex(float_env=False)
    assert summary._repr_html_().startswith("<pre>") and "lenet5" in repr(summary)


def test_network_html_shows_the_header_and_the_diagram():
    page = netdsl.load("lenet5")._repr_html_()
    assert "Params" in page and "61,706" in page
    assert "<svg" in page or page.endswith("</pre>")  # the diagram needs Graphviz's dot


def test_a_folded_row_of_two_layers_adds_both():
    # the one- and many-node rows are totalled apart: a two-node row must count both
    net = netdsl.parse("""
block pair(c: int) {
    a: conv(c, 3)
    b: conv(c, 1)
}
network n {
    input [2, 8, 8]
    p: pair(4)
}
""")
    model = net.to_torch()
    rows = {row["name"]: row for row in net.summary(depth=1).rows}
    assert rows["p"]["params"] == sum(p.numel() for p in model.p.parameters()) == 4 * 2 * 9 + 4 + 4 * 4 + 4
    assert rows["p"]["macs"] == 4 * 2 * 9 * 36 + 4 * 4 * 36
