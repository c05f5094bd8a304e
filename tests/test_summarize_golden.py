"""Golden summaries: the table of reference architectures, byte for byte.

A change to the analysis, the table layout or an architecture file shows up
here as a diff.  When the change is intended, regenerate and review it:

    NETDSL_UPDATE_GOLDEN=1 python3 -m pytest -q tests/test_summarize_golden.py
"""
import os
from pathlib import Path

import pytest

from conftest import ARCH
from netdsl.cli import main

GOLDEN = Path(__file__).parent / "golden" / "summary"
UPDATE = os.environ.get("NETDSL_UPDATE_GOLDEN") == "1"

#: golden file → command-line arguments after the .net file
CASES = {
    "lenet5.txt": ("lenet5", []),
    "resnet18.txt": ("resnet18", ["--depth", "all"]),  # 70 rows: folds to depth 2 by default
    "resnet18_depth2.txt": ("resnet18", ["--depth", "2"]),
    "vgg16.txt": ("vgg16", []),
    "vgg16_depth1_batch32_float16.md": ("vgg16", ["--depth", "1", "--batch", "32", "--dtype", "float16",
                                                  "--format", "md"]),
}


@pytest.mark.parametrize("golden", sorted(CASES))
def test_summary_matches_golden(golden, capsys):
    name, argv = CASES[golden]
    assert main(["summarize", str(ARCH / f"{name}.net"), *argv]) == 0
    text = capsys.readouterr().out
    path = GOLDEN / golden
    if UPDATE:
        path.write_text(text)
    assert path.exists(), f"missing {path}; run with NETDSL_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text()
