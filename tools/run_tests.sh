#!/usr/bin/env bash
# Installs what is missing (tools/install.sh), then runs the whole test suite.
# Extra arguments go to pytest, e.g. tools/run_tests.sh -k datadir -x
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install.sh
exec .venv/bin/python -m pytest tests -q -p no:cacheprovider --durations=15 "$@"
