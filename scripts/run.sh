#!/usr/bin/env bash
# Builds ferroflow (server, WASM bundle, CSS) in release mode and serves it on the
# embedded default: SQLite under ./ferroflow-data, artifacts proxied by the server.
# Extra arguments go to `ferroflow server` (e.g. --port 8080, --host 0.0.0.0).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
scripts/setup.sh --release
cargo leptos build --release
exec target/release/ferroflow server --site-root target/site "$@"
