"""The diagram backend on small inline networks: folding, depth, dense rails,
compact chains, highlight/heat, determinism, and the errors users see.
Nothing here needs the Graphviz program except the last two tests."""
import re
import shutil

import pytest

import netdsl
from netdsl.backends.diagram.model import DiagramOptions, build_diagram
from netdsl.backends.diagram.graphviz import HIGHLIGHT_COLOUR, render, to_dot
from netdsl.backends.diagram.metrics import HEAT_COLOURS
from netdsl.cli import main
from netdsl.errors import BackendError, UsageError

from conftest import ARCH

RESIDUAL = """
block unit(c: int, stride: int = 1) {
  residual {
    conv1: conv(c, 3, stride=stride, padding=1, bias=false)
    bn1: batchnorm
    relu
    conv2: conv(c, 3, padding=1, bias=false)
    bn2: batchnorm
  } shortcut if stride != 1 or in.channels != c {
    downsample: { conv(c, 1, stride=stride, bias=false) batchnorm }
  }
  relu
}
network tiny { input [3, 32, 32]
  stem: conv(8, 3, padding=1)
  stage1: repeat 3 { unit(8) }
  stage2: { unit(16, stride=2) unit(16) unit(16) unit(16) }
  pool: adaptive_avgpool(1)
  flatten
  fc: linear(10)
}"""

DENSE = """network dense_net(n: int = 4) { input [4, 8, 8]
  block1: dense repeat n as i { layer{i+1}: { batchnorm relu conv(2, 3, padding=1) } }
  head: conv(3, 1) }"""


def dense(n: int):
    return netdsl.parse(DENSE, filename="dense.net", params={"n": n}).analyze()


@pytest.fixture(scope="module")
def tiny():
    return netdsl.parse(RESIDUAL, filename="tiny.net").analyze()


@pytest.fixture(scope="module")
def lenet():
    return netdsl.load(ARCH / "lenet5.net").analyze()


def node_line(dot: str, key: str) -> str:
    return next(line for line in dot.splitlines() if line.strip().startswith(f'"{key}" ['))


def test_identical_blocks_fold_into_one_instance_labelled_with_the_count(tiny):
    diagram = build_diagram(tiny.ir, DiagramOptions(depth=9))
    runs = {path: run.count for path, run in diagram.clusters.items() if run}
    assert runs == {("stage1", "0"): 3, ("stage2", "1"): 3}
    dot = to_dot(tiny.ir, DiagramOptions(depth=9))
    assert "0–2  ×3" in dot and "1–3  ×3" in dot
    assert dot.count('label=" ×3 "') == 2  # one dashed loop per folded run


def test_a_first_instance_that_differs_is_drawn_on_its_own(tiny):
    diagram = build_diagram(tiny.ir, DiagramOptions(depth=9))
    assert ("stage2", "0") in diagram.clusters and diagram.clusters[("stage2", "0")] is None
    assert ("stage2", "0", "downsample") in diagram.clusters
    assert "unit(c=16, stride=2)" in to_dot(tiny.ir, DiagramOptions(depth=9))


def test_folding_can_be_turned_off(tiny):
    folded = build_diagram(tiny.ir, DiagramOptions(depth=9))
    every = build_diagram(tiny.ir, DiagramOptions(depth=9, fold=False))
    assert not any(every.clusters.values())
    assert len(every.nodes) == len(tiny.ir)  # one drawn node per IR node
    assert len(folded.nodes) < len(every.nodes)


def test_collapsed_blocks_are_boxes_that_keep_the_count_and_the_difference(tiny):
    diagram = build_diagram(tiny.ir, DiagramOptions(depth=1))
    boxes = [d for d in diagram.nodes if d.kind == "box"]
    assert [(d.scope, d.run.count if d.run else 1) for d in boxes] == [
        (("stage1", "0"), 3), (("stage2", "0"), 1), (("stage2", "1"), 3)]
    dot = to_dot(tiny.ir, DiagramOptions(depth=1))
    assert "with downsample" in node_line(dot, boxes[1].key)
    assert "with downsample" not in node_line(dot, boxes[2].key)


def test_depth_zero_draws_top_level_scopes_as_boxes(tiny):
    diagram = build_diagram(tiny.ir, DiagramOptions(depth=0))
    assert not diagram.clusters
    assert [d.scope for d in diagram.nodes if d.kind == "box"] == [("stage1",), ("stage2",)]


def test_auto_depth_is_the_deepest_that_fits_the_node_budget(tiny):
    sizes = {d: len(build_diagram(tiny.ir, DiagramOptions(depth=d)).nodes) for d in range(4)}
    assert sizes[0] < sizes[1] < sizes[2] <= sizes[3]
    for budget in (sizes[0], sizes[1], sizes[2] - 1, sizes[3]):
        chosen = build_diagram(tiny.ir, DiagramOptions(max_nodes=budget))
        assert chosen.depth == max([d for d in sizes if sizes[d] <= budget], default=0)


def test_dense_block_is_a_rail_of_linear_size():
    assert dense(24).ir.number_of_edges() > 300  # every layer reads every earlier one
    for n in (4, 24):
        drawn = build_diagram(dense(n).ir, DiagramOptions(depth=9, fold=False))
        # per layer: 2 inside it, 1 into its concat, 1 rail step and 1 into the next layer;
        # plus input → layer1, input → concat1, last concat → head, less the missing steps
        assert len(drawn.edges) == 5 * n + 1
    # each concat reads the previous concat (or the block input) and one new feature map
    drawn = build_diagram(dense(24).ir, DiagramOptions(depth=9, fold=False))
    concats = [d.key for d in drawn.nodes if d.kind == "merge"]
    assert len(concats) == 24
    assert all(sum(e.dst == key for e in drawn.edges) == 2 for key in concats)


def test_dense_layers_fold_with_their_concat(tiny):
    diagram = build_diagram(dense(24).ir, DiagramOptions(depth=9))
    (run,) = [run for run in diagram.clusters.values() if run]
    assert run.count == 24
    merges = [d for d in diagram.nodes if d.kind == "merge"]
    assert len(merges) == 1 and merges[0].run is run
    loop = next(e for e in diagram.edges if e.repeat)
    assert (loop.src, loop.repeat) == (merges[0].key, 24)  # the concat loops back to the layer


def test_compact_fuses_conv_norm_activation_chains(tiny):
    full = build_diagram(tiny.ir, DiagramOptions(depth=9))
    compact = build_diagram(tiny.ir, DiagramOptions(depth=9, compact=True))
    assert len(compact.nodes) < len(full.nodes)
    chains = [[tiny.ir.nodes[n]["op"] for n in d.nodes] for d in compact.nodes if len(d.nodes) > 1]
    assert ["conv", "batchnorm", "relu"] in chains and ["conv", "batchnorm"] in chains
    assert "conv 3×3 → 8 · batchnorm · relu" in to_dot(tiny.ir, DiagramOptions(depth=9, compact=True))


def test_edges_carry_tensor_shapes_where_they_change(lenet):
    dot = to_dot(lenet.ir)
    labels = re.findall(r'-> "?\w+"? \[label=" ([^"]+) "\]', dot)
    assert labels == ["1×32×32", "6×28×28", "6×14×14", "16×10×10", "16×5×5", "120×1×1",
                      "120", "84", "10"]


def test_layers_show_their_op_and_parameters(lenet):
    dot = to_dot(lenet.ir)
    assert "<b>c1</b><br/>conv 5×5 → 6" in dot
    assert "156 params" in dot and "48.1K params" in dot  # 6·25+6 and 120·400+120
    assert "61.7K params" in dot  # the title: lenet5's 61,706


def test_colour_by_category_with_a_legend_of_what_is_drawn(lenet):
    dot = to_dot(lenet.ir)
    legend = next(line for line in dot.splitlines() if line.strip().startswith("legend ["))
    assert [c for c in ("conv", "activation", "pool", "linear", "reshape", "norm") if f">{c}<" in legend] == [
        "conv", "activation", "pool", "linear", "reshape"]
    assert node_line(dot, "n1").endswith('fillcolor="#AED6F1"];')  # conv blue


def test_highlight_marks_exactly_the_layers_over_the_threshold(lenet):
    dot = to_dot(lenet.ir, DiagramOptions(highlight="macs>1e5"))
    marked = [line.split('"')[1] for line in dot.splitlines() if HIGHLIGHT_COLOUR in line and "->" not in line
              and not line.strip().startswith("legend")]
    # c1: 6·28·28·25 = 117,600 MACs; c3: 16·10·10·150 = 240,000; c5: 48,000
    assert marked == ["n1", "n4"]
    assert "macs &gt; 1e+05" in dot


@pytest.mark.parametrize("text", ["macs", "macs>>3", "> 5", "params>lots"])
def test_bad_highlight_rules_are_usage_errors(lenet, text):
    with pytest.raises(UsageError):
        to_dot(lenet.ir, DiagramOptions(highlight=text))


def test_highlight_on_an_unknown_metric_names_the_known_ones(lenet):
    with pytest.raises(UsageError) as err:
        to_dot(lenet.ir, DiagramOptions(highlight="weight>3"))
    assert "params" in err.value.hint


def test_heat_colours_the_heaviest_layer_darkest(lenet):
    dot = to_dot(lenet.ir, DiagramOptions(heat="macs"))
    assert node_line(dot, "n4").endswith(f'fillcolor="{HEAT_COLOURS[-1]}"];')  # c3
    assert node_line(dot, "n2").endswith(f'fillcolor="{HEAT_COLOURS[0]}"];')  # tanh: no MACs


def test_folded_box_highlight_uses_one_instance(tiny):
    diagram = build_diagram(tiny.ir, DiagramOptions(depth=1))
    box = next(d for d in diagram.nodes if d.kind == "box" and d.run and d.scope == ("stage2", "1"))
    per_block = 2 * 16 * 16 * 9 + 4 * 16  # two 3×3 convs and two batchnorms
    dot = to_dot(tiny.ir, DiagramOptions(depth=1, highlight=f"params>={per_block}"))
    assert HIGHLIGHT_COLOUR in node_line(dot, box.key)
    dot = to_dot(tiny.ir, DiagramOptions(depth=1, highlight=f"params>{per_block}"))
    assert HIGHLIGHT_COLOUR not in node_line(dot, box.key)


@pytest.mark.parametrize("rankdir", ["TB", "LR", "BT", "RL"])
def test_rankdir(lenet, rankdir):
    assert f"rankdir={rankdir}" in to_dot(lenet.ir, DiagramOptions(rankdir=rankdir))


def test_bad_options_are_usage_errors():
    with pytest.raises(UsageError):
        DiagramOptions(rankdir="UP")
    with pytest.raises(UsageError):
        DiagramOptions(depth=-1)


def test_dot_text_is_byte_deterministic(tiny):
    again = netdsl.parse(RESIDUAL, filename="tiny.net").analyze()
    options = DiagramOptions(depth=9, compact=True, highlight="params>1000")
    assert to_dot(tiny.ir, options) == to_dot(again.ir, options)


def test_unknown_output_extension_is_a_usage_error(lenet, tmp_path):
    with pytest.raises(UsageError):
        render(lenet.ir, tmp_path / "net.jpg")


def test_missing_dot_program_says_how_to_install_it(lenet, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(BackendError) as err:
        render(lenet.ir, tmp_path / "net.svg")
    assert "apt-get install graphviz" in err.value.hint and "brew install graphviz" in err.value.hint
    render(lenet.ir, tmp_path / "net.dot")  # DOT text needs no Graphviz
    assert (tmp_path / "net.dot").read_text().startswith('digraph "lenet5"')
    assert lenet._repr_svg_() is None


def test_cli_render_writes_the_file_or_prints_dot(tmp_path, capsys):
    out = tmp_path / "tiny.dot"
    (tmp_path / "tiny.net").write_text(RESIDUAL)
    assert main(["render", str(tmp_path / "tiny.net"), "-o", str(out), "--depth", "1", "--compact"]) == 0
    assert "1–3  ×3" in out.read_text()
    assert main(["render", str(tmp_path / "tiny.net"), "--depth", "all", "--rankdir", "lr"]) == 0
    assert "rankdir=LR" in capsys.readouterr().out
    assert main(["render", str(tmp_path / "tiny.net"), "--highlight", "nonsense"]) == 2


def test_network_render_api(lenet, tmp_path):
    dot = lenet.render(compact=True)
    assert dot == to_dot(lenet.ir, DiagramOptions(compact=True))
    assert lenet.render(tmp_path / "l.dot", compact=True) == dot
    assert (tmp_path / "l.dot").read_text() == dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' not installed (scripts/test.sh installs it)")
def test_network_displays_itself_as_svg_in_jupyter(lenet):
    svg = lenet._repr_svg_()
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg


def test_long_chains_wrap_into_columns_whose_first_nodes_line_up():
    ir = netdsl.load(ARCH / "densenet121.net").analyze().ir
    dot = to_dot(ir, DiagramOptions())
    breaks = [line for line in dot.splitlines() if "constraint=false" in line and "dashed" not in line]
    assert len(breaks) == 1  # one tensor crosses into the second column
    assert dot.count("{rank=same; \"n0\" -> ") == 1
    single = to_dot(ir, DiagramOptions(columns=1))
    assert "rank=same; \"n0\"" not in single and not [line for line in single.splitlines()
                                                       if "constraint=false" in line and "dashed" not in line]
    three = to_dot(ir, DiagramOptions(columns=3))
    assert len(re.search(r'\{rank=same; ("n0"[^\[]*)\[style=invis\]', three).group(1).split("->")) == 3
    assert "rank=same; \"n0\"" not in to_dot(ir, DiagramOptions(rankdir="LR"))  # LR: only when asked
    with pytest.raises(UsageError):
        DiagramOptions(columns=0)


def test_cluster_titles_are_nodes_beside_the_first_node(tiny):
    dot = to_dot(tiny.analyze().ir, DiagramOptions(depth=9))
    titles = re.findall(r'"title:([\w.]+)" \[shape=plain', dot)
    assert titles and all(f'{{rank=same; "title:{t}" -> ' in dot for t in titles)
    assert "subgraph" in dot and not re.search(r"label=<[^>]*>; style=\"rounded,filled\"", dot)
