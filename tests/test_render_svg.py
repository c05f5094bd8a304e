"""Real Graphviz: every architecture renders to SVG, and the SVG (parsed with
xml.etree) holds the clusters, ×N labels and edge shapes the diagram promises.
Big networks stay small by default and still render at full depth."""
import shutil
import xml.etree.ElementTree as ET

import pytest

import netdsl
from netdsl.backends.diagram.model import DiagramOptions, build_diagram
from netdsl.backends.diagram.style import fmt_shape
from netdsl.backends.diagram.graphviz import run_dot, to_dot

from conftest import ARCH

pytestmark = pytest.mark.skipif(shutil.which("dot") is None,
                                reason="Graphviz 'dot' not installed (scripts/test.sh installs it)")
SVG = "{http://www.w3.org/2000/svg}"
ALL_DEPTHS = 10**6


def load(name: str):
    return netdsl.load(ARCH / f"{name}.net").analyze()


def svg_groups(svg: str) -> dict[str, dict[str, str]]:
    """class ('node', 'edge', 'cluster') → title → all text inside that group."""
    groups: dict[str, dict[str, str]] = {"node": {}, "edge": {}, "cluster": {}}
    for g in ET.fromstring(svg).iter(f"{SVG}g"):
        kind = g.get("class")
        if kind in groups:
            title = g.find(f"{SVG}title").text
            groups[kind][title] = " ".join("".join(t.itertext()) for t in g.iter(f"{SVG}text"))
    return groups


def title(svg, path) -> str:
    """A cluster's title: a text node beside its first node (edges never cross it)."""
    return svg["node"]["title:" + ".".join(path)]


def render_svg(net, options: DiagramOptions):
    diagram = build_diagram(net.ir, options)
    return diagram, svg_groups(run_dot(to_dot(net.ir, options), "svg").decode("utf-8"))


@pytest.mark.parametrize("path", sorted(ARCH.glob("*.net")), ids=lambda p: p.stem)
def test_every_architecture_renders_what_the_diagram_promises(path):
    net = netdsl.load(path).analyze()
    diagram, svg = render_svg(net, DiagramOptions())
    assert set(svg["cluster"]) == {"cluster_" + ".".join(p) for p in diagram.clusters}
    for path_, run in diagram.clusters.items():
        if run:
            assert f"×{run.count}" in title(svg, path_)
    for d in diagram.nodes:
        if d.kind == "box" and d.run:
            assert f"×{d.run.count}" in svg["node"][d.key]
    for e in diagram.edges:
        if e.labelled and not e.repeat:
            assert fmt_shape(e.shape) in svg["edge"][f"{e.src}->{e.dst}"]
    titles = len(diagram.clusters)
    assert len(svg["node"]) == len(diagram.nodes) + titles + len(net.outputs) + 1  # + the legend


def test_resnet18_shows_its_stages_and_folds_layer1():
    _, svg = render_svg(load("resnet18"), DiagramOptions())
    assert {"cluster_layer1", "cluster_layer2", "cluster_layer3", "cluster_layer4"} <= set(svg["cluster"])
    assert "×2" in title(svg, ("layer1", "0"))
    assert "64×56×56" in " ".join(svg["edge"].values())


def test_googlenet_draws_each_inception_as_a_cluster_of_branches():
    _, svg = render_svg(load("googlenet"), DiagramOptions(depth=1))
    names = ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")
    assert {f"cluster_inception{n}" for n in names} <= set(svg["cluster"])
    for b in range(1, 5):  # SVG groups are flat: a cluster's nodes are its siblings
        assert sum(text.startswith(f"branch{b} ") for text in svg["node"].values()) == len(names)


def test_densenet121_folds_every_dense_block():
    _, svg = render_svg(load("densenet121"), DiagramOptions())
    text = " ".join(v for k, v in svg["node"].items() if k.startswith("title:"))
    assert all(f"×{n}" in text for n in (6, 12, 24, 16))


@pytest.mark.parametrize("name", ["resnet152", "densenet201"])
def test_deep_networks_stay_small_by_default(name):
    net = load(name)
    diagram, svg = render_svg(net, DiagramOptions())
    assert len(diagram.nodes) <= 64 < len(net.ir)
    assert len(svg["node"]) == len(diagram.nodes) + len(diagram.clusters) + 2  # + titles, output, legend


@pytest.mark.parametrize("name", ["resnet152", "densenet201"])
@pytest.mark.parametrize("fold", [True, False])
def test_deep_networks_render_at_full_depth_with_linear_edges(name, fold):
    net = load(name)
    diagram, svg = render_svg(net, DiagramOptions(depth=ALL_DEPTHS, fold=fold))
    assert len(svg["node"]) == len(diagram.nodes) + len(diagram.clusters) + 2
    assert len(svg["edge"]) <= 1.25 * len(diagram.nodes) + len(diagram.clusters) + 8
    if not fold:
        assert len(diagram.nodes) == len(net.ir)  # every layer drawn


def layout(net, options: DiagramOptions) -> dict:
    import json
    return json.loads(run_dot(to_dot(net.ir, options), "json"))


def _boxes(data: dict) -> dict[str, tuple[float, float, float, float]]:
    """Title nodes' text boxes (points), from dot's layout."""
    boxes = {}
    for obj in data.get("objects", []):
        if obj["name"].startswith("title:"):
            x, y = map(float, obj["pos"].split(","))
            w, h = float(obj["width"]) * 72 / 2, float(obj["height"]) * 72 / 2
            boxes[obj["name"]] = (x - w + 2, y - h + 2, x + w - 2, y + h - 2)
    return boxes


def _points(edge: dict) -> list[tuple[float, float]]:
    """An edge's spline control points (a spline stays inside their hull)."""
    return [tuple(map(float, p.split(",")[-2:])) for p in edge.get("pos", "").split() if p]


@pytest.mark.parametrize("name,options", [
    ("resnet50", DiagramOptions()), ("densenet121", DiagramOptions()),
    ("googlenet", DiagramOptions(depth=1, compact=True)), ("resnet18", DiagramOptions(rankdir="LR", depth=1)),
    ("resnet18", DiagramOptions(depth=ALL_DEPTHS))], ids=lambda v: v if isinstance(v, str) else "")
def test_edges_never_cross_cluster_titles(name, options):
    data = layout(load(name), options)
    boxes = _boxes(data)
    assert boxes
    for edge in data.get("edges", []):
        if "invis" in edge.get("style", ""):
            continue
        for x, y in _points(edge):
            for title, (x0, y0, x1, y1) in boxes.items():
                assert not (x0 < x < x1 and y0 < y < y1), f"an edge crosses {title}"


def _aspect(net, options: DiagramOptions) -> float:
    x0, y0, x1, y1 = map(float, layout(net, options)["bb"].split(","))
    return (x1 - x0) / (y1 - y0)


@pytest.mark.parametrize("name", ["densenet121", "resnet18", "vgg16"])
def test_long_chains_wrap_into_a_readable_aspect(name):
    net = load(name)
    single = _aspect(net, DiagramOptions(columns=1))
    wrapped = _aspect(net, DiagramOptions())
    assert single < 0.3 and 0.5 < wrapped < 2.0, (single, wrapped)  # densenet121: 0.12 before wrapping


def test_wide_or_horizontal_layouts_stay_as_they_are():
    assert 0.6 < _aspect(load("resnet50"), DiagramOptions()) < 1.2
    assert _aspect(load("resnet18"), DiagramOptions(rankdir="LR")) > 4  # LR is wide by choice
