#!/usr/bin/env bash
# Soak test (not part of CI): N minutes of mixed MLflow-style traffic against a release
# build on a fresh SQLite database (or --backend-store-uri), one table row per minute with
# the server's RSS and latency percentiles (scripts/soak.py does the traffic).
#
#   scripts/soak.sh [MINUTES=60] [--workers N] [--pause SECONDS] [--out FILE]
#                   [--backend-store-uri URI]
#
# Each worker creates a run, logs 10 params, 400 points in 4 batches and 20 single points,
# reads it back three ways, searches, opens a page, finishes the run, then pauses
# (--pause, default 0.5 s: a busy team, not a benchmark; 0 runs flat out).
#
# FERROFLOW_BIN=path skips the build and runs that binary. Exits non-zero if any request
# failed or the server died.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MINUTES=60
WORKERS=8
PAUSE=0.5
OUT=""
URI=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --workers) WORKERS="$2"; shift 2 ;;
    --pause) PAUSE="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --backend-store-uri) URI="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) MINUTES="$1"; shift ;;
  esac
done

BIN="${FERROFLOW_BIN:-}"
if [[ -z "$BIN" ]]; then
  (cd "$ROOT" && cargo build --release -p ferroflow)
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/ferroflow"
fi
DATA="$(mktemp -d /tmp/ferroflow-soak.XXXXXX)"
URI="${URI:-sqlite:///$DATA/soak.db}"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$BIN" server --port "$PORT" --backend-store-uri "$URI" \
  --artifacts-destination "$DATA/artifacts" --site-root "$ROOT/target/site" \
  2> "$DATA/server.log" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break
  sleep 0.2
done
echo "soak: $MINUTES min, $WORKERS workers, $URI, pid $SERVER, log $DATA/server.log" >&2
if [[ -n "$OUT" ]]; then
  printf '%s\n\n' "Soak started $(date -u +%FT%TZ): $MINUTES min, $WORKERS workers pausing $PAUSE s, ${URI%%:*}, binary $BIN." >> "$OUT"
fi
status=0
python3 "$ROOT/scripts/soak.py" --port "$PORT" --pid "$SERVER" --minutes "$MINUTES" \
  --workers "$WORKERS" --pause "$PAUSE" --interval "${SOAK_INTERVAL:-60}" ${OUT:+--out "$OUT"} || status=$?
kill -0 "$SERVER" 2>/dev/null || { echo "soak: the server died" >&2; exit 1; }
echo "soak: database and log in $DATA ($(du -sh "$DATA" | cut -f1))" >&2
exit "$status"
