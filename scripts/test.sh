#!/usr/bin/env bash
# Install netdsl with its test dependencies, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install.sh
python3 -m pytest "$@"
