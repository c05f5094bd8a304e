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
            assert f"×{run.count}" in svg["cluster"]["cluster_" + ".".join(path_)]
    for d in diagram.nodes:
        if d.kind == "box" and d.run:
            assert f"×{d.run.count}" in svg["node"][d.key]
    for e in diagram.edges:
        if e.labelled and not e.repeat:
            assert fmt_shape(e.shape) in svg["edge"][f"{e.src}->{e.dst}"]
    assert len(svg["node"]) == len(diagram.nodes) + len(net.outputs) + 1  # + the legend


def test_resnet18_shows_its_stages_and_folds_layer1():
    _, svg = render_svg(load("resnet18"), DiagramOptions())
    assert {"cluster_layer1", "cluster_layer2", "cluster_layer3", "cluster_layer4"} <= set(svg["cluster"])
    assert "×2" in svg["cluster"]["cluster_layer1.0"]
    assert "64×56×56" in " ".join(svg["edge"].values())


def test_googlenet_draws_each_inception_as_a_cluster_of_branches():
    _, svg = render_svg(load("googlenet"), DiagramOptions(depth=1))
    names = ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")
    assert {f"cluster_inception{n}" for n in names} <= set(svg["cluster"])
    for b in range(1, 5):  # SVG groups are flat: a cluster's nodes are its siblings
        assert sum(text.startswith(f"branch{b} ") for text in svg["node"].values()) == len(names)


def test_densenet121_folds_every_dense_block():
    _, svg = render_svg(load("densenet121"), DiagramOptions())
    text = " ".join(svg["cluster"].values())
    assert all(f"×{n}" in text for n in (6, 12, 24, 16))


@pytest.mark.parametrize("name", ["resnet152", "densenet201"])
def test_deep_networks_stay_small_by_default(name):
    net = load(name)
    diagram, svg = render_svg(net, DiagramOptions())
    assert len(diagram.nodes) <= 64 < len(net.ir)
    assert len(svg["node"]) == len(diagram.nodes) + 2  # + output and legend


@pytest.mark.parametrize("name", ["resnet152", "densenet201"])
@pytest.mark.parametrize("fold", [True, False])
def test_deep_networks_render_at_full_depth_with_linear_edges(name, fold):
    net = load(name)
    diagram, svg = render_svg(net, DiagramOptions(depth=ALL_DEPTHS, fold=fold))
    assert len(svg["node"]) == len(diagram.nodes) + 2
    assert len(svg["edge"]) <= 1.25 * len(diagram.nodes) + 2
    if not fold:
        assert len(diagram.nodes) == len(net.ir)  # every layer drawn
