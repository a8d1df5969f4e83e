#!/usr/bin/env bash
# Configures and builds otelite into build/ (or $OTELITE_BUILD_DIR). Extra arguments go to cmake.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build="${OTELITE_BUILD_DIR:-$here/build}"
# ccache hits across clones at other paths (CI builds a fresh clone each time).
export CCACHE_BASEDIR="$here" CCACHE_NOHASHDIR=true
mkdir -p "$build"
cmake -S "$here" -B "$build" -G Ninja "$@" > "$build/configure.log" 2>&1 || {
  cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j2
