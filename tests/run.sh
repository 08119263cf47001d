#!/usr/bin/env bash
# The README's test command: installs what the tests need when it is missing,
# builds every binary, then runs every test (unit, plugin, end to end,
# config golden, Python grpcio interop, gRPC-Web in headless Chromium) plus
# the format and lint gates.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} (Debian packages)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Pingora's C parts (zlib-ng, zstd) need cmake and a C compiler.
apt_install cmake gcc g++ make python3-venv

# Python grpcio (gRPC C-core) for the interop tests, in a venv of our own.
if [ ! -x .venv/bin/python ] || [ ! -x .venv/bin/hadolint ] || ! .venv/bin/python -c 'import grpc, grpc_tools, httpx_sse, openapi_spec_validator, schemathesis, opentelemetry.instrumentation.grpc, opentelemetry.exporter.otlp.proto.http, kubernetes_validate, jsonschema, yaml' 2>/dev/null; then
  log "creating .venv with tests/interop/requirements.txt"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
fi

# A real Redis for the shared rate-limit tests (each test starts its own
# redis-server on a free port).
apt_install redis-server

# A real Prometheus (and promtool) for the dashboard test: it scrapes a
# gateway under load and runs every query of deploy/grafana.
apt_install prometheus

# systemd-analyze, which verifies deploy/systemd/protogate.service.
apt_install systemd

# A real browser for the gRPC-Web test: Debian's Chromium, protoc for the
# Connect-ES stubs, Node.js for Playwright and the npm packages (lock file
# committed; Playwright drives the system Chromium and downloads nothing).
apt_install chromium protobuf-compiler
command -v node >/dev/null || apt_install nodejs npm
if [ ! -f tests/browser/node_modules/.package-lock.json ] ||
   [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
  log "installing tests/browser/package-lock.json (npm)"
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo build (binaries the end-to-end tests start)"
cargo build --workspace --bins --locked

log "cargo test"
cargo test --workspace --locked -- --test-threads 4
