#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, runs the unit tests (ctest) and the
# integration tests (pytest, against the built daemon and real OpenTelemetry SDKs).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh"
"$here/scripts/build.sh"
echo "== unit tests"
ctest --test-dir "$here/build" --output-on-failure -j2
echo "== integration tests"
OTELITE_BIN="$here/build/otelite" "$here/.venv/bin/python" -m pytest "$here/tests/integration" -q
