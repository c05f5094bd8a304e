"""Golden DOT files: the diagrams of reference architectures, byte for byte.

A change to the drawing (or to an architecture file) shows up here as a diff.
When the change is intended, regenerate and review the diff:

    NETDSL_UPDATE_GOLDEN=1 python3 -m pytest -q tests/test_render_golden.py
"""
import os
from pathlib import Path

import pytest

import netdsl
from netdsl.backends.diagram.model import DiagramOptions
from netdsl.backends.diagram.graphviz import to_dot

from conftest import ARCH

GOLDEN = Path(__file__).parent / "golden" / "dot"
STANDINS = GOLDEN / "standins"
UPDATE = os.environ.get("NETDSL_UPDATE_GOLDEN") == "1"

#: The acceptance set: each must be in the zoo and have its golden file.
REFERENCE = ("lenet5", "resnet18", "googlenet", "densenet121")
#: golden name → (source, network parameters, options)
CASES = {name: (ARCH / f"{name}.net", {}, DiagramOptions()) for name in REFERENCE}
CASES.update({
    "resnet18_compact_lr": (ARCH / "resnet18.net", {}, DiagramOptions(depth=9, compact=True, rankdir="LR")),
    "standin_googlenet": (STANDINS / "googlenet.net", {}, DiagramOptions()),
    "standin_densenet121": (STANDINS / "densenet.net", {}, DiagramOptions()),
    "standin_densenet121_full": (STANDINS / "densenet.net", {}, DiagramOptions(depth=9, macs=True)),
})


def test_the_references_are_in_the_zoo_with_golden_files():
    assert [name for name in REFERENCE if not (ARCH / f"{name}.net").exists()] == []
    assert [name for name in CASES if not (GOLDEN / f"{name}.dot").exists()] == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_dot_matches_golden(name):
    source, params, options = CASES[name]
    dot = to_dot(netdsl.load(source, params=params).analyze().ir, options)
    golden = GOLDEN / f"{name}.dot"
    if UPDATE:
        golden.write_text(dot, encoding="utf-8")
    assert golden.exists(), f"no golden file yet: run NETDSL_UPDATE_GOLDEN=1 python3 -m pytest {__file__}"
    assert dot == golden.read_text(encoding="utf-8"), f"{name}: diagram changed; see this file's docstring"
