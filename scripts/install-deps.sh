#!/usr/bin/env bash
# Installs every Debian package the build and the tests need, and the Python test virtualenv.
# Idempotent: a second run installs nothing new.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

DEB_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libboost-dev libyaml-cpp-dev prometheus-cpp-dev libspdlog-dev libfmt-dev
  libzstd-dev zlib1g-dev libgtest-dev libgmock-dev libbenchmark-dev
  libconcurrentqueue-dev libcli11-dev nlohmann-json3-dev libssl-dev openssl
  libleveldb-dev libsnappy-dev
  python3-venv curl zstd
)
# Not for the build: the one-machine demo and its tests (deploy/local) run these.
DEMO_DEB_PACKAGES=(iproute2 prometheus)

missing=()
for p in "${DEB_PACKAGES[@]}" "${DEMO_DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  # The prometheus package would start a system-wide Prometheus on 0.0.0.0:9090: the tests and the
  # one-machine demo run their own, so package scripts are not allowed to start services here.
  policy=/usr/sbin/policy-rc.d
  added_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    added_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [ -n "$added_policy" ]; then $SUDO rm -f "$policy"; fi
fi

# Python test dependencies, pinned, in a virtualenv kept out of the source tree's tracked files.
VENV="${OTELITE_VENV:-$here/.venv}"
REQ="$here/tests/integration/requirements.txt"
# REQ includes the demo services' and the demo load's requirements: the stamp covers all three.
DEMO_REQ="$here/deploy/demo/requirements.txt"
LOAD_REQ="$here/deploy/demo/load/requirements.txt"
stamp="$VENV/.requirements.sha256"
want=$(cat "$REQ" "$DEMO_REQ" "$LOAD_REQ" | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -r "$REQ"
  echo "$want" > "$stamp"
fi

# The Go programs the tests run next to otelite (otelcol, telemetrygen, toxiproxy, Jaeger), built
# from the Go module proxy and cached outside the source tree; skipped when already built.
"$here/scripts/install-go-tools.sh"
