#!/usr/bin/env bash
# Shared set-up for demo.sh and test.sh: Graphviz's `dot` (through apt-get when
# missing) and netdsl itself with its test dependencies.  Meant to be sourced.
if ! command -v dot >/dev/null 2>&1; then
    echo "== installing graphviz (dot)"
    (apt-get update -qq && apt-get install -y -qq graphviz) >/dev/null 2>&1 \
        || echo "warning: could not install graphviz; diagrams and their tests will be skipped" >&2
fi
if ! command -v pdflatex >/dev/null 2>&1 || ! kpsewhich standalone.cls >/dev/null 2>&1; then
    echo "== installing TeX (pdflatex, TikZ, standalone, booktabs) and poppler-utils"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-pictures poppler-utils) >/dev/null 2>&1 \
        || echo "warning: could not install TeX; block-figure and LaTeX-table compile tests will be skipped" >&2
fi
echo "== installing netdsl"
python3 -m pip install -q -e '.[dev]'
