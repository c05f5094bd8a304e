#!/usr/bin/env bash
# The main job on a fresh machine: install netdsl, summarize VGG-16, compile
# ResNet-18 to readable PyTorch, draw it, train LeNet-5 on real handwritten
# digits and score it.  Everything it writes goes under out/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/install.sh
mkdir -p out

echo "== netdsl summarize architectures/vgg16.net"
netdsl summarize architectures/vgg16.net

echo "== netdsl compile architectures/resnet18.net -o out/resnet18.py --check"
netdsl compile architectures/resnet18.net -o out/resnet18.py --check

if netdsl --help | grep -qE '^ +render '; then
    if command -v dot >/dev/null 2>&1; then
        echo "== netdsl render architectures/resnet18.net -o out/resnet18.svg"
        netdsl render architectures/resnet18.net -o out/resnet18.svg
    else
        echo "== skipping the diagram: graphviz's dot is not installed"
    fi
else
    echo "== skipping the diagram: this netdsl has no render command yet"
fi

# Real handwritten digits (scikit-learn's, no download): a progress bar per epoch in a
# terminal, then the test accuracy; checkpoints, metrics.csv and curves.png in out/lenet5_digits.
echo "== netdsl train architectures/lenet5.net --data digits --epochs 10 --optimizer adam"
netdsl train architectures/lenet5.net --data digits --epochs 10 --optimizer adam --out out/lenet5_digits

echo "== netdsl eval architectures/lenet5.net --checkpoint out/lenet5_digits/best.pt"
netdsl eval architectures/lenet5.net --checkpoint out/lenet5_digits/best.pt

echo "== done: out/resnet18.py, out/resnet18.svg, out/lenet5_digits/{best.pt,last.pt,metrics.csv,curves.png,confusion.png}"
