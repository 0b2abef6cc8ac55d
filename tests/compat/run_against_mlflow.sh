#!/usr/bin/env bash
# Validate the compatibility suite against MLflow's own tracking server.
#
# Starts `mlflow server` (the version pinned in requirements.txt) on a free
# loopback port with a throwaway SQLite store, waits for /health, runs pytest
# with FERROFLOW_COMPAT_REFERENCE=1 (ferroflow-only tests skip), then stops the
# server. Extra arguments go to pytest, e.g.:
#     tests/compat/run_against_mlflow.sh -k search_runs -x
# Set KEEP_MLFLOW_TMP=1 to keep the server's directory (DB + log) afterwards.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

PY="$("$ROOT/scripts/python-env.sh")"
VENV_BIN="$(dirname "$PY")"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/ferroflow-compat-mlflow.XXXXXX")"
PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
LOG="$TMP/server.log"
SERVER_PID=""

# No usage telemetry from either the server or the client.
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true
# MLflow 3.x otherwise starts ~7 huey job-consumer processes (GenAI jobs) next
# to the server: slow on 2 cores, irrelevant to tracking, and slow to stop.
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        # The server runs in its own process group (setsid): stop it and its
        # uvicorn worker together, and only them.
        kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
    fi
    if [ "${KEEP_MLFLOW_TMP:-0}" = 1 ]; then
        echo "run_against_mlflow: kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "run_against_mlflow: starting mlflow $("$PY" -c 'import mlflow; print(mlflow.__version__)') on $URL" >&2
# cwd = $TMP so nothing (mlruns/, mlartifacts/) lands in the repository.
(
    cd "$TMP"
    exec setsid "$VENV_BIN/mlflow" server \
        --host 127.0.0.1 --port "$PORT" \
        --backend-store-uri "sqlite:///$TMP/mlflow.db" \
        --artifacts-destination "$TMP/artifacts" \
        --workers 1
) >"$LOG" 2>&1 &
SERVER_PID=$!

# Start-up runs the DB migrations; on a busy 2-core machine that takes a while.
deadline=$((SECONDS + 240))
# (urllib rather than curl: a fresh Debian machine may have no curl.)
healthy() {
    "$PY" -c 'import sys, urllib.request
try:
    sys.exit(urllib.request.urlopen(sys.argv[1] + "/health", timeout=2).status != 200)
except Exception:
    sys.exit(1)' "$URL"
}
until healthy; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "run_against_mlflow: server exited during start-up; log:" >&2
        tail -n 50 "$LOG" >&2
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "run_against_mlflow: server not healthy after 240 s; log:" >&2
        tail -n 50 "$LOG" >&2
        exit 1
    fi
    sleep 1
done
echo "run_against_mlflow: server healthy after ${SECONDS}s" >&2

status=0
(
    cd "$HERE"
    FERROFLOW_URL="$URL" FERROFLOW_COMPAT_REFERENCE=1 \
        "$PY" -m pytest -p no:cacheprovider -q -rs "$@"
) || status=$?

if [ "$status" -ne 0 ]; then
    echo "run_against_mlflow: pytest exited $status; last server log lines:" >&2
    tail -n 30 "$LOG" >&2
fi
exit "$status"
