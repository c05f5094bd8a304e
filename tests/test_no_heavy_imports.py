"""Parsing and analysis never import torch or graphviz."""
import json
import subprocess
import sys

from conftest import ARCH, ROOT


def test_summarize_imports_neither_torch_nor_graphviz():
    code = (
        "import sys, json\n"
        "from netdsl.cli import main\n"
        f"main(['summarize', {str(ARCH / 'resnet18.net')!r}])\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'graphviz', 'torchvision'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
