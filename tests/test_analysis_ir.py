"""The IR graph keeps networkx's meaning without importing networkx."""
import subprocess
import sys

import networkx as nx

import netdsl
from conftest import ARCH, ROOT


def test_graph_matches_its_networkx_twin():
    net = netdsl.load(ARCH / "resnet18.net").analyze()
    graph = net.ir
    twin = graph.to_networkx()
    assert isinstance(twin, nx.DiGraph)
    assert list(twin.nodes) == list(graph.nodes) and len(graph) == twin.number_of_nodes()
    assert sorted(twin.edges) == sorted(graph.edges) and graph.number_of_edges() == twin.number_of_edges()
    for node, data in graph.nodes(data=True):
        assert twin.nodes[node] == data
        assert sorted(graph.successors(node)) == sorted(twin.successors(node))
        assert sorted(graph.predecessors(node)) == sorted(twin.predecessors(node))
        assert list(graph.predecessors(node)) == data["inputs"]  # edges mirror the inputs, in order
    assert twin.graph["name"] == "resnet18" and nx.is_directed_acyclic_graph(twin)


def test_summarize_does_not_import_networkx():
    code = ("import sys\nfrom netdsl.cli import main\n"
            f"main(['summarize', {str(ARCH / 'resnet18.net')!r}, '--format', 'json'])\n"
            "print('networkx' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False"


def test_network_graph_is_a_networkx_digraph_with_the_analysis_results():
    net = netdsl.load(ARCH / "resnet18.net")
    graph = net.graph
    assert isinstance(graph, nx.DiGraph) and graph is net.graph  # built once
    conv1 = next(n for n, d in graph.nodes(data=True) if d.get("path") == "conv1")
    assert graph.nodes[conv1]["params"] == 9408 and graph.nodes[conv1]["shape"] == (64, 112, 112)
    assert graph.nodes[conv1]["macs"] == 118_013_952
    assert nx.ancestors(graph, conv1) == {net.inputs[0]["node"]}
