"""From the TikZ text to PDF, SVG or PNG with the TeX and PDF tools installed:
pdflatex, lualatex or tectonic for the PDF; pdftocairo or pdftoppm (poppler),
else dvisvgm, for the rest.  A missing tool is a BackendError that says what
to install."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from ...errors import BackendError

#: TeX engines tried in order, with their command lines (the file name is appended).
ENGINES = {
    "pdflatex": ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape"],
    "lualatex": ["lualatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape"],
    "tectonic": ["tectonic", "--chatter", "minimal"],
}
TEX_HINT = ("install a TeX engine with TikZ and the standalone class: apt-get install texlive-latex-base "
            "texlive-latex-extra texlive-pictures (Debian/Ubuntu), brew install --cask mactex-no-gui "
            "(macOS), or tectonic; or write a .tex file and compile it yourself")
PDF_TOOLS_HINT = ("install poppler's tools: apt-get install poppler-utils (Debian/Ubuntu), brew install "
                  "poppler (macOS); or write a .pdf")
DPI = 200
TIMEOUT = 180


def tex_engine() -> str:
    """The first TeX engine found, or a BackendError saying what to install."""
    for name in ENGINES:
        if shutil.which(name):
            return name
    raise BackendError("a TeX engine (pdflatex, lualatex or tectonic) is needed for .pdf, .svg and .png "
                       "block figures", hint=TEX_HINT)


def compile_pdf(tex: str) -> bytes:
    """The PDF of a standalone TikZ document."""
    engine = tex_engine()
    with tempfile.TemporaryDirectory(prefix="netdsl-tex-") as tmp:
        source = Path(tmp) / "figure.tex"
        source.write_text(tex, encoding="utf-8")
        done = _run(ENGINES[engine] + [source.name], tmp, engine)
        pdf = Path(tmp) / "figure.pdf"
        if done.returncode != 0 or not pdf.exists():
            raise BackendError(f"{engine} failed ({done.returncode}): {_tex_error(tmp, done)}", hint=TEX_HINT)
        return pdf.read_bytes()


def _run(args: list[str], cwd: str, name: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL,
                              timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise BackendError(f"{name} took longer than {TIMEOUT} s") from None


def _tex_error(tmp: str, done: subprocess.CompletedProcess) -> str:
    """The first error line of the log ('! ...') and the one after it, or the output's tail."""
    log = Path(tmp) / "figure.log"
    text = log.read_text("utf-8", "replace") if log.exists() else done.stdout.decode("utf-8", "replace")
    lines = text.splitlines()
    for k, line in enumerate(lines):
        if line.startswith("!"):
            return " ".join(lines[k:k + 2]).strip()
    return " ".join(lines[-3:]).strip() or done.stderr.decode("utf-8", "replace").strip()


def convert(tex: str, fmt: str, dpi: int = DPI) -> bytes:
    """The figure as pdf, svg or png bytes."""
    pdf = compile_pdf(tex)
    if fmt == "pdf":
        return pdf
    with tempfile.TemporaryDirectory(prefix="netdsl-pdf-") as tmp:
        (Path(tmp) / "figure.pdf").write_bytes(pdf)
        args = _converter(fmt, dpi)
        done = _run(args, tmp, args[0])
        out = Path(tmp) / f"out.{fmt}"
        if done.returncode != 0 or not out.exists():
            message = done.stderr.decode("utf-8", "replace").strip()
            raise BackendError(f"{Path(args[0]).name} failed ({done.returncode}): {message}")
        return out.read_bytes()


def _converter(fmt: str, dpi: int) -> list[str]:
    """A command turning figure.pdf into out.svg / out.png."""
    if shutil.which("pdftocairo"):
        if fmt == "svg":
            return ["pdftocairo", "-svg", "figure.pdf", "out.svg"]
        return ["pdftocairo", "-png", "-singlefile", "-r", str(dpi), "figure.pdf", "out"]
    if fmt == "png" and shutil.which("pdftoppm"):
        return ["pdftoppm", "-png", "-singlefile", "-r", str(dpi), "figure.pdf", "out"]
    if fmt == "svg" and shutil.which("dvisvgm"):
        return ["dvisvgm", "--pdf", "--no-fonts", "--output=out.svg", "figure.pdf"]
    raise BackendError(f"a PDF converter is needed for .{fmt} block figures", hint=PDF_TOOLS_HINT)
