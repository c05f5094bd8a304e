"""``render --style blocks``: the TikZ block figure.  Golden .tex files for
lenet5 and resnet18; they compile with a TeX engine when one is installed
(skipped with the reason otherwise), and convert to SVG and PNG.

After an intended change: NETDSL_UPDATE_GOLDEN=1 python3 -m pytest -q tests/test_tikz.py
"""
import os
import re
import shutil
from pathlib import Path

import pytest

import netdsl
from conftest import ARCH
from netdsl.backends.tikz import BlockOptions, render_blocks, to_tikz
from netdsl.backends.tikz import compile as tex
from netdsl.cli import main
from netdsl.errors import BackendError

GOLDEN = Path(__file__).parent / "golden" / "tikz"
UPDATE = os.environ.get("NETDSL_UPDATE_GOLDEN") == "1"
CASES = {"lenet5": BlockOptions(), "resnet18": BlockOptions()}


def ir(name: str):
    return netdsl.load(ARCH / f"{name}.net").analyze().ir


def needs_tex():
    try:
        return tex.tex_engine()
    except BackendError:
        pytest.skip("no TeX engine (pdflatex, lualatex or tectonic): apt-get install texlive-latex-base "
                    "texlive-latex-extra texlive-pictures")


@pytest.mark.parametrize("name", sorted(CASES))
def test_tikz_matches_golden(name):
    text = to_tikz(ir(name), CASES[name])
    path = GOLDEN / f"{name}.tex"
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing {path}; run with NETDSL_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"{name}: figure changed; see this file's docstring"


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_figures_compile(name, tmp_path):
    needs_tex()
    pdf = tex.compile_pdf((GOLDEN / f"{name}.tex").read_text(encoding="utf-8"))
    assert pdf.startswith(b"%PDF")


def test_document_is_standalone_tikz_without_plotneuralnet():
    text = to_tikz(ir("lenet5"))
    assert text.count(r"\documentclass[tikz,border=6pt]{standalone}") == 1
    assert r"\newcommand{\netbox}" in text and r"\usepackage" not in text and r"\input" not in text
    boxes = [line for line in text.splitlines() if line.startswith(r"\netbox{")]
    assert len(boxes) == 9 + 4  # 9 units, 4 of them fused with a tanh band
    assert "conv 5$\\times$5 $\\to$ 6" in text and "6$\\times$28$\\times$28" in text


def test_boxes_scale_with_shape():
    text = to_tikz(ir("lenet5"))
    boxes = [tuple(float(v) for v in m) for m in re.findall(r"\\netbox\{([-\d.]+)\}\{([-\d.]+)\}\{([-\d.]+)\}"
                                                            r"\{([-\d.]+)\}", text)]
    heights = [b[3] for b in boxes]
    assert heights[0] == max(heights[:4])  # the 32x32 input is taller than the 14x14 maps
    assert boxes[1][2] < boxes[3][2]  # 6 channels are thinner than 16 (c1 vs c3 heads)


def test_resnet18_folds_to_blocks_with_residual_arcs():
    text = to_tikz(ir("resnet18"))
    assert "depth 1" in text.splitlines()[0]
    assert text.count(r"\draw[netskip]") == 7  # one arc over each drawn basic block
    assert text.count(r"{+}{netmerge}") == 7
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        assert f"{{{stage}}};" in text  # braced under its blocks
    assert r"layer1.0--1  $\times$2" in text  # layer1's two identical blocks, folded


def test_every_layer_shows_shortcuts_and_projection_lanes():
    text = to_tikz(ir("resnet18"), BlockOptions(depth=9))
    assert text.count(r"\draw[netskip]") == 4  # identity shortcuts as arcs: layer1 (folded), layerN.1
    ys = [float(y) for y in re.findall(r"\\netbox\{[-\d.]+\}\{([-\d.]+)\}", text)]
    assert min(ys) < 0 and max(ys) == 0  # downsample convs on a lane below the main one


def test_concatenations_are_merges():
    text = to_tikz(ir("googlenet"))
    assert text.count("{C}{netmerge}") == 9  # each inception module as a block ending in a concat
    dense = to_tikz(ir("densenet121"))
    assert "{C}{netmerge}" in dense and r"\draw[netskip]" in dense  # the dense rail


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in sorted(ARCH.glob("*.net"))])
def test_every_architecture_has_a_figure(path):
    text = to_tikz(netdsl.load(path).analyze().ir)
    assert text.rstrip().endswith(r"\end{document}") and "nan" not in text


@pytest.mark.parametrize("name", ["googlenet", "densenet121", "lstm_classifier", "inception_v3"])
def test_other_figures_compile(name):
    needs_tex()
    assert tex.compile_pdf(to_tikz(ir(name))).startswith(b"%PDF")


def test_svg_and_png_through_the_pdf_tools(tmp_path):
    needs_tex()
    if not (shutil.which("pdftocairo") or shutil.which("pdftoppm")):
        pytest.skip("no pdftocairo/pdftoppm (apt-get install poppler-utils)")
    graph = ir("lenet5")
    render_blocks(graph, tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")
    if shutil.which("pdftocairo") or shutil.which("dvisvgm"):
        render_blocks(graph, tmp_path / "f.svg")
        assert b"<svg" in (tmp_path / "f.svg").read_bytes()[:500]


def test_missing_tex_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(tex.shutil, "which", lambda name: None)
    with pytest.raises(BackendError) as err:
        render_blocks(ir("lenet5"), tmp_path / "f.pdf")
    assert "pdflatex" in str(err.value) and "texlive" in err.value.format()
    render_blocks(ir("lenet5"), tmp_path / "f.tex")  # .tex needs nothing
    assert (tmp_path / "f.tex").read_text().startswith("% lenet5")


def test_cli_blocks_style(capsys, tmp_path):
    lenet = str(ARCH / "lenet5.net")
    assert main(["render", lenet, "--style", "blocks"]) == 0
    assert capsys.readouterr().out.startswith("% lenet5")
    assert main(["render", lenet, "--style", "blocks", "-o", str(tmp_path / "f.tex")]) == 0
    assert "wrote" in capsys.readouterr().err and (tmp_path / "f.tex").exists()
    assert main(["render", lenet, "--style", "blocks", "--heat", "macs"]) == 2
    assert "--heat applies to the Graphviz diagram" in capsys.readouterr().err
    assert main(["render", lenet, "--style", "blocks", "-o", str(tmp_path / "f.jpg")]) == 2
    assert ".tex, .pdf, .svg, .png" in capsys.readouterr().err
