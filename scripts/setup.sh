#!/usr/bin/env bash
# Installs what building (and testing) ferroflow needs, skipping whatever is already there.
# Everything comes from crates.io, PyPI, npm or Debian.
#   scripts/setup.sh            build tools: wasm target, wasm-bindgen-cli, cargo-leptos
#   scripts/setup.sh --release  also wasm-opt, which release builds run
#   scripts/setup.sh --test     also PostgreSQL running, the Python venv, chromium, Playwright,
#                               cargo-fuzz
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130   # must equal the wasm-bindgen version in Cargo.lock
CARGO_LEPTOS_VERSION=0.3.8
# Binaryen 108 (Debian bookworm's) corrupts the reference-types table wasm-bindgen emits:
# the page fails to hydrate. The wasm-opt crate builds binaryen 116 from source.
WASM_OPT_CRATE_VERSION=0.116.1
WASM_OPT_MIN=116
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

build_tools() {
  if ! rustup target list --installed | grep -q wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  fi
  if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
    log "installing cargo-leptos $CARGO_LEPTOS_VERSION (ten minutes or so, once)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads --force
  fi
}

release_tools() {
  local have
  have=$(wasm-opt --version 2>/dev/null | grep -oE '[0-9]+' | head -n1 || true)
  if [ "${have:-0}" -lt "$WASM_OPT_MIN" ]; then
    log "installing wasm-opt (binaryen $WASM_OPT_MIN, built from source: several minutes, once)"
    cargo install wasm-opt --version "$WASM_OPT_CRATE_VERSION" --locked --force
  fi
}

postgres_up() {
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
}

test_tools() {
  apt_install chromium wrk
  postgres_up
  scripts/python-env.sh >/dev/null
  if ! command -v cargo-fuzz >/dev/null; then
    log "installing cargo-fuzz (scripts/fuzz.sh; a few minutes, once)"
    cargo install cargo-fuzz --locked
  fi
  # Playwright, and the OIDC provider (npm oidc-provider) that the login tests start.
  if [ ! -d end2end/node_modules/@playwright/test ] || [ ! -d end2end/node_modules/oidc-provider ]; then
    log "installing Playwright (no browser download: Debian's chromium is used) and oidc-provider"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --silent)
  fi
}

build_tools
for arg in "$@"; do
  case "$arg" in
    --release) release_tools ;;
    --test) test_tools ;;
    *) echo "usage: scripts/setup.sh [--release] [--test]" >&2; exit 2 ;;
  esac
done
