#!/usr/bin/env bash
# The main job on a fresh machine: install netdsl, summarize VGG-16, compile
# ResNet-18 to readable PyTorch, draw it, and train LeNet-5 for a few seconds
# on synthetic data.  Everything it writes goes under out/ (git-ignored).
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

echo "== netdsl train architectures/lenet5.net --config examples/train_lenet5.yaml"
netdsl train architectures/lenet5.net --config examples/train_lenet5.yaml --out out/train_lenet5

echo "== done: out/resnet18.py, out/resnet18.svg, out/train_lenet5/{checkpoint.pt,metrics.json}"
