#!/usr/bin/env bash
# Install netdsl with its test dependencies, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v dot >/dev/null 2>&1; then
    echo "installing graphviz (dot) ..."
    (apt-get update -qq && apt-get install -y -qq graphviz) >/dev/null 2>&1 \
        || echo "warning: could not install graphviz; rendering tests will be skipped" >&2
fi
python3 -m pip install -q -e '.[dev]'
python3 -m pytest "$@"
