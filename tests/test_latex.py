"""``summarize --format latex``: a booktabs table that compiles, names escaped,
numbers with thin-space separators; golden files for lenet5 and resnet18.

After an intended change: NETDSL_UPDATE_GOLDEN=1 python3 -m pytest -q tests/test_latex.py
"""
import copy
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import netdsl
from conftest import ARCH
from netdsl.cli import main
from netdsl.report.latex import document, escape, latex_table, number, shape
from netdsl.report.summary import build_summary

GOLDEN = Path(__file__).parent / "golden" / "latex"
UPDATE = os.environ.get("NETDSL_UPDATE_GOLDEN") == "1"
CASES = {"lenet5.tex": ("lenet5", []), "resnet18.tex": ("resnet18", [])}


def summarize(capsys, *argv):
    assert main(["summarize", *argv]) == 0
    return capsys.readouterr()


@pytest.mark.parametrize("golden", sorted(CASES))
def test_latex_matches_golden(golden, capsys):
    name, argv = CASES[golden]
    text = summarize(capsys, str(ARCH / f"{name}.net"), "--format", "latex", *argv).out
    path = GOLDEN / golden
    if UPDATE:
        path.write_text(text)
    assert path.exists(), f"missing {path}; run with NETDSL_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text()


def test_table_is_booktabs_with_a_totals_row(capsys):
    text = summarize(capsys, str(ARCH / "lenet5.net"), "-f", "latex").out
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}{lllrrr}"):
        assert rule in text
    assert r"c1 & conv & $6{\times}28{\times}28$ & 156 & 117\,600 & 5 \\" in text
    assert r"\textbf{Total} & & & 61\,706 & 416\,520 & $32{\times}32$ \\" in text
    assert r"\label{tab:lenet5}" in text and r"\caption{" in text


def test_special_characters_are_escaped():
    assert escape("a_b#c%d&e{f}$g~h^i\\j") == (r"a\_b\#c\%d\&e\{f\}\$g\textasciitilde{}h"
                                                 r"\textasciicircum{}i\textbackslash{}j")
    assert escape("x<y>z|w") == r"x\textless{}y\textgreater{}z\textbar{}w"
    assert number(11_689_512) == r"11\,689\,512" and number(7) == "7"
    assert shape([64, 56, 56]) == r"$64{\times}56{\times}56$" and shape([]) == "scalar"


def _odd_names() -> dict:
    summary = build_summary(netdsl.load(ARCH / "lenet5.net").analyze())
    odd = copy.deepcopy(summary)
    odd["network"] = "net_#1"
    for k, layer in enumerate(odd["layers"][1:]):
        layer["name"] = f"l_{k}#%&{{x}}"
    return odd


def test_odd_names_stay_text():
    text = latex_table(_odd_names())
    assert r"l\_0\#\%\&\{x\} & conv" in text and r"\texttt{net\_\#1}" in text
    assert "tab:net--1" in text
    assert not latex_table(_odd_names(), float_env=False).count(r"\begin{table}")


def _pdflatex():
    engine = shutil.which("pdflatex")
    if engine is None:
        pytest.skip("pdflatex is not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
    return engine


@pytest.mark.parametrize("case", ["resnet18", "odd"])
def test_table_compiles_in_a_minimal_document(case, tmp_path):
    engine = _pdflatex()
    summary = _odd_names() if case == "odd" else build_summary(netdsl.load(ARCH / "resnet18.net").analyze(),
                                                              depth=2)
    (tmp_path / "t.tex").write_text(document(latex_table(summary)))
    done = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "t.pdf").stat().st_size > 1000


def test_a_long_table_breaks_across_pages_and_compiles(tmp_path):
    from netdsl.report.latex import LONG_ROWS
    summary = build_summary(netdsl.load(ARCH / "resnet50.net").analyze(), depth=None)
    assert len(summary["layers"]) > LONG_ROWS
    text = latex_table(summary)
    assert r"\begin{longtable}{lllrrr}" in text and r"\endhead" in text and r"\begin{table}" not in text
    assert text.count(r"\toprule") == 2 and text.count(r"\bottomrule") == 1  # header repeated, one end
    assert r"\begin{tabular}" in latex_table(summary, float_env=False)  # a bare tabular stays one block
    engine = _pdflatex()
    (tmp_path / "t.tex").write_text(document(text, ("booktabs", "longtable")))
    done = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    pages = re.search(r"Output written on t\.pdf \((\d+) pages?", done.stdout.replace("\n", ""))
    assert pages and int(pages.group(1)) > 1  # it did break across pages
