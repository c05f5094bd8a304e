#!/bin/sh
# Rewrite the golden generated sources (tests/golden/py/NAME.py) from
# architectures/NAME.net.  Run after a deliberate change to code generation,
# an op's torch mapping or one of these architectures, then review the diff.
set -e
cd "$(dirname "$0")/../../.."
for name in lenet5 resnet18 vgg16 googlenet densenet121; do
    if [ -f "architectures/$name.net" ]; then
        python3 -m netdsl compile "architectures/$name.net" -o "tests/golden/py/$name.py"
        echo "tests/golden/py/$name.py"
    fi
done
