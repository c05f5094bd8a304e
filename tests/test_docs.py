"""Every complete example in docs/language.md elaborates and builds."""
import re

import pytest

import netdsl
from conftest import ROOT

DOC = ROOT / "docs" / "language.md"


def examples():
    blocks = re.findall(r"```\n(.*?)```", DOC.read_text(), re.S)
    return [b for b in blocks if "network" in b and "..." not in b and not b.startswith("bad.net")
            and "import " not in b]


@pytest.mark.parametrize("source", examples(), ids=lambda s: re.search(r"network (\w+)", s).group(1))
def test_language_reference_example_builds(source):
    program_networks = re.findall(r"network (\w+)", source)
    for name in program_networks:
        net = netdsl.parse(source, filename="example.net", network=name)
        from netdsl.analysis.expect import check_expectations
        check_expectations(net.analyze())
        model = net.to_torch()
        assert sum(p.numel() for p in model.parameters()) == net.params


def test_reference_has_an_example_per_construct():
    text = " ".join(examples())
    for construct in ("block ", "repeat ", "residual", "shortcut if", "concat {", "mul {", "dense repeat",
                      "@e1", "output aux", "inline ", "if ", "expect ", "init=", "trainable=false", "int64"):
        assert construct in text, construct
