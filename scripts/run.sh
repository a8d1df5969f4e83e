#!/usr/bin/env bash
# A new user's first command: installs what is missing, builds, and runs the daemon on its
# embedded default configuration (OTLP gRPC :4317 and HTTP :4318 in; file and debug out;
# health check :13133; self-metrics :8888). Arguments go to otelite, e.g. --config my.yaml.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh"
"$here/scripts/build.sh"
exec "$here/build/otelite" "$@"
