"""Regressions for what the 100,000-case fuzz run of seed 20261209 found: a
traceback on a NUL in an import path, and two analyses quadratic in the graph."""
import time
from collections import Counter

import pytest

import netdsl
from netdsl.backends.diagram import model
from netdsl.backends.diagram.model import DiagramOptions, build_diagram
from netdsl.errors import ImportFailure


def test_an_import_path_with_a_nul_is_a_located_import_error(tmp_path):
    path = tmp_path / "nul.net"
    path.write_bytes(b'import "mobi\x00le.net"\nnetwork n {\n    input [3]\n    relu\n}\n')
    with pytest.raises(ImportFailure, match="NUL") as info:  # was ValueError from pathlib
        netdsl.load(path)
    assert (info.value.span.line, info.value.span.column) == (1, 1)


UPSAMPLED_CHAIN = """network net {
    input x: [4, 20]
    maxpool(5, 1)
    upsample(size=33)
    repeat %d { relu }
}
"""


def _field_seconds(layers: int) -> float:
    net = netdsl.parse(UPSAMPLED_CHAIN % layers)
    start = time.perf_counter()
    net.analyze()
    return time.perf_counter() - start


def test_a_pointwise_chain_after_a_fractional_stride_keeps_its_input_spread():
    net = netdsl.parse(UPSAMPLED_CHAIN % 3)
    net.analyze()
    rfs = [net.graph.nodes[n]["rf"] for n in sorted(net.graph.nodes)][-4:]
    assert rfs[0].spread and all(rf.spread == rfs[0].spread for rf in rfs)
    assert all(rf == rfs[0] for rf in rfs)


def test_fields_after_a_fractional_stride_cost_linear_time():
    # each pointwise node once re-walked the whole graph: 25,000 relus took minutes
    small, large = _field_seconds(500), _field_seconds(5000)
    assert large < 25 * max(small, 1e-3), (small, large)  # 10x the layers, linear ~10x


def _deep(depth: int, width: int) -> str:
    body = "relu " * width
    for level in range(depth):
        body = f"s{level}: {{ conv(4, 1) {body} }}"
    return f"network net {{\n    input [4, 8, 8]\n    {body}\n}}\n"


def _lift_by_rounds(nodes, folded):
    """The old definition: rounds until nothing changes, counts taken per round."""
    changed = True
    while changed:
        changed = False
        count = Counter(d.cluster for d in nodes)
        nested = {d.cluster[:k] for d in nodes for k in range(len(d.cluster))}
        for d in nodes:
            path = d.cluster
            if d.kind in ("op", "box") and path and count[path] == 1 and path not in nested | folded:
                if d.kind == "op":
                    d.title = d.title or (None if path[-1].isdigit() else path[-1])
                d.cluster = path[:-1]
                changed = True


def _drawn(graph, depth):
    diagram = build_diagram(graph, DiagramOptions(depth=depth))
    return [(d.key, d.cluster, d.title) for d in diagram.nodes], list(diagram.clusters)


@pytest.mark.parametrize("name,depth", [("resnet18", 1), ("efficientnet_b0", 2),
                                        ("efficientnet_b0", 3), ("mobilenet_v3_small", 2)])
def test_lone_node_lifting_matches_the_old_fixed_point(name, depth, monkeypatch):
    graph = netdsl.load(name).graph
    one_pass = _drawn(graph, depth)
    with monkeypatch.context() as patch:
        patch.setattr(model, "_lift_lone_nodes", _lift_by_rounds)
        assert _drawn(graph, depth) == one_pass
        patch.setattr(model, "_lift_lone_nodes", lambda nodes, folded: None)
        assert _drawn(graph, depth) != one_pass  # the case does lift something


def test_a_deeply_nested_file_renders_in_linear_time():
    net = netdsl.parse(_deep(60, 3))
    start = time.perf_counter()
    net.render()
    assert time.perf_counter() - start < 5  # was quadratic per depth tried: 6 s at 60 levels
