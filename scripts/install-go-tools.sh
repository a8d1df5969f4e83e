#!/usr/bin/env bash
# Builds the Go programs the integration tests and benchmarks run next to otelite, from the Go
# module proxy, and caches the binaries outside the repository:
#
#   ${OTELITE_TOOLS_DIR:-$HOME/.cache/otelite-tools}/bin/
#     otelcol-otelite   OpenTelemetry Collector built by the Collector Builder from
#                       bench/otelcol/builder-config.yaml
#     telemetrygen      load generator from opentelemetry-collector-contrib
#     toxiproxy-server  TCP proxy with fault injection (HTTP API)
#     toxiproxy-cli
#     jaeger            Jaeger v2 (all-in-one; tests/integration/jaeger-config.yaml)
#
# Usage: scripts/install-go-tools.sh [tool...]   (no argument: every tool)
#
# Idempotent: a tool whose binary exists and whose stamp matches the pinned version (and, for
# otelcol-otelite, the manifest) is skipped; changing a pin below rebuilds that tool.
# GOCACHE and GOMODCACHE stay in Go's default places, so a rebuild after a pin change is quick.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

# Pinned versions. Collector core and contrib are released together with the same number.
OTELCOL_VERSION=v0.155.0
TELEMETRYGEN_VERSION=v0.155.0
TOXIPROXY_VERSION=v2.12.0
# Jaeger tags every release twice (v1.N.0 and v2.M.0); the Go module uses the v1 tag.
# v1.76.0 is Jaeger v2.13.0.
JAEGER_MODULE_VERSION=v1.76.0

ALL_TOOLS=(otelcol-otelite telemetrygen toxiproxy-server toxiproxy-cli jaeger)
MANIFEST="$here/bench/otelcol/builder-config.yaml"

TOOLS_DIR="${OTELITE_TOOLS_DIR:-$HOME/.cache/otelite-tools}"
BIN="$TOOLS_DIR/bin"
STAMPS="$TOOLS_DIR/stamps"
RETRIES=${OTELITE_GO_RETRIES:-3}

die() { echo "install-go-tools: $*" >&2; exit 1; }
log() { echo "install-go-tools: $*" >&2; }

if command -v go >/dev/null 2>&1; then
  GO=$(command -v go)
elif [ -x /usr/local/go/bin/go ]; then
  GO=/usr/local/go/bin/go
else
  die "no Go toolchain: put 'go' on PATH or install Go 1.26 in /usr/local/go"
fi
# The builder runs 'go' itself: make sure it finds the same one.
export PATH="$(dirname "$GO"):$PATH"
# Never download another toolchain behind our back: a module needing a newer Go fails clearly.
export GOTOOLCHAIN=local

WORKDIRS=()
cleanup() { ((${#WORKDIRS[@]})) && rm -rf "${WORKDIRS[@]}"; return 0; }
trap cleanup EXIT

# retry <what> <command...>: network steps (module downloads) fail transiently.
retry() {
  local what=$1; shift
  local i
  for ((i = 1; i <= RETRIES; i++)); do
    if "$@"; then return 0; fi
    if ((i < RETRIES)); then
      log "$what failed (attempt $i of $RETRIES), retrying in $((i * 5))s"
      sleep $((i * 5))
    fi
  done
  die "$what failed after $RETRIES attempts"
}

want_stamp() {
  case "$1" in
    otelcol-otelite)
      echo "$OTELCOL_VERSION $(sha256sum "$MANIFEST" | cut -d' ' -f1) $("$GO" env GOVERSION)" ;;
    telemetrygen) echo "$TELEMETRYGEN_VERSION $("$GO" env GOVERSION)" ;;
    toxiproxy-server|toxiproxy-cli) echo "$TOXIPROXY_VERSION $("$GO" env GOVERSION)" ;;
    jaeger) echo "$JAEGER_MODULE_VERSION $("$GO" env GOVERSION)" ;;
    *) die "unknown tool '$1' (known: ${ALL_TOOLS[*]})" ;;
  esac
}

up_to_date() {
  [ -x "$BIN/$1" ] && [ "$(cat "$STAMPS/$1" 2>/dev/null)" = "$(want_stamp "$1")" ]
}

# install_binary <name> <built file>: atomic move into bin/, then the stamp.
install_binary() {
  mkdir -p "$BIN" "$STAMPS"
  mv -f "$2" "$BIN/$1.new"
  mv -f "$BIN/$1.new" "$BIN/$1"
  want_stamp "$1" > "$STAMPS/$1"
}

# module_dir <module@version>: downloads a module's source; prints its (read-only) directory.
module_dir() {
  local out
  out=$("$GO" mod download -json "$1") || return 1
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$out"
}

# go_install <package@version> <dir>: 'go install' into <dir>.
go_install() {
  GOBIN="$2" nice -n 10 "$GO" install "$1"
}

build_otelcol() {
  local work=$1 builder_bin="$1/builder-bin"
  mkdir -p "$builder_bin"
  retry "downloading the Collector Builder" \
    go_install "go.opentelemetry.io/collector/cmd/builder@$OTELCOL_VERSION" "$builder_bin"
  cp "$MANIFEST" "$work/manifest.yaml"
  # The builder's 'go mod tidy' also resolves the test-only dependencies of every component, and
  # the module proxy lacks some of those versions: GOFLAGS=-e (used by 'go mod tidy', ignored by
  # 'go build') tolerates them; a module the binary really needs still fails the compilation.
  # output_path in the manifest is relative: the builder writes its sources under $work.
  (cd "$work" && retry "building otelcol-otelite" \
    env GOFLAGS="${GOFLAGS:+$GOFLAGS }-e" nice -n 10 "$builder_bin/builder" --config manifest.yaml)
  install_binary otelcol-otelite "$work/otelcol-otelite/otelcol-otelite"
}

build_telemetrygen() {
  retry "building telemetrygen" go_install \
    "github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$TELEMETRYGEN_VERSION" "$1"
  install_binary telemetrygen "$1/telemetrygen"
}

build_toxiproxy() {
  retry "building toxiproxy server" go_install \
    "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION" "$1"
  retry "building toxiproxy cli" go_install \
    "github.com/Shopify/toxiproxy/v2/cmd/cli@$TOXIPROXY_VERSION" "$1"
  install_binary toxiproxy-server "$1/server"
  install_binary toxiproxy-cli "$1/cli"
}

build_jaeger() {
  # Jaeger's go.mod has replace directives, which 'go install pkg@version' refuses: build inside
  # a writable copy of the module's source instead (module mode, its own go.mod and go.sum).
  local work=$1 src
  src=$(retry "downloading the Jaeger module" module_dir \
    "github.com/jaegertracing/jaeger@$JAEGER_MODULE_VERSION")
  [ -n "$src" ] && [ -d "$src" ] || die "go mod download gave no directory for Jaeger"
  cp -r "$src" "$work/jaeger-src"
  chmod -R u+w "$work/jaeger-src"
  (cd "$work/jaeger-src" && retry "downloading Jaeger's dependencies" "$GO" mod download &&
    nice -n 10 "$GO" build -o "$work/jaeger" ./cmd/jaeger)
  install_binary jaeger "$work/jaeger"
}

build_tool() {
  local tool=$1 work start
  work=$(mktemp -d "${TMPDIR:-/tmp}/otelite-go-tools.XXXXXX")
  WORKDIRS+=("$work")
  start=$(date +%s)
  log "building $tool ($(want_stamp "$tool"))"
  case "$tool" in
    otelcol-otelite) build_otelcol "$work" ;;
    telemetrygen) build_telemetrygen "$work" ;;
    toxiproxy-server|toxiproxy-cli) build_toxiproxy "$work" ;;
    jaeger) build_jaeger "$work" ;;
  esac
  log "built $tool in $(($(date +%s) - start))s -> $BIN/$tool"
}

tools=("$@")
((${#tools[@]})) || tools=("${ALL_TOOLS[@]}")
for tool in "${tools[@]}"; do want_stamp "$tool" >/dev/null; done

for tool in "${tools[@]}"; do
  if up_to_date "$tool"; then
    log "$tool is up to date ($BIN/$tool)"
    continue
  fi
  build_tool "$tool"
done
