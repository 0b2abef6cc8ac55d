#!/usr/bin/env bash
# Side-by-side benchmark: ferroflow vs MLflow vs FastTrackML over MLflow's REST API.
#
#   bench/run.sh [--quick] [--backend sqlite|postgres] [--servers ferroflow,mlflow,fasttrackml]
#                [--budget SECONDS] [--check] [--debug]
#
# --budget: seconds a server gets per write workload before it stops early (default 300 at
# full size, none with --quick). --check: exit non-zero unless ferroflow answered every
# workload correctly and every other server started (CI runs it so the benchmark never rots).
# --debug: run ferroflow's debug build instead of a release build. Its figures mean nothing;
# scripts/test.sh uses it because the check is of answers, and a release build would add
# some twenty minutes to a CI run on two cores.
#
# Prepares bench/.venv (mlflow, fasttrackml's `fml` binary, aiohttp), builds ferroflow (in
# release unless --debug), then runs bench/bench.py, which starts each server in turn on
# 127.0.0.1 with a fresh database, runs the workloads, prints a table and writes
# bench/results/*.json.
# BENCH_KEEP=1 keeps the work folder (databases, server logs) and the PostgreSQL databases
# for a look afterwards; their names are printed.
# Needs: python3, cargo, wrk (Debian package `wrk`); for --backend postgres, psql and a
# PostgreSQL on 127.0.0.1:5432 that user postgres can reach without a password.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
VENV="$BENCH/.venv"

QUICK=()
EXTRA=()
CARGO_PROFILE=(--release)
PROFILE_DIR=release
BACKEND=sqlite
SERVERS=ferroflow,mlflow,fasttrackml
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=(--quick); shift ;;
    --check) EXTRA+=(--check); shift ;;
    --budget) EXTRA+=(--budget "$2"); shift 2 ;;
    --debug) CARGO_PROFILE=(); PROFILE_DIR=debug; shift ;;
    --backend) BACKEND="$2"; shift 2 ;;
    --backend=*) BACKEND="${1#*=}"; shift ;;
    --servers) SERVERS="$2"; shift 2 ;;
    --servers=*) SERVERS="${1#*=}"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
case "$BACKEND" in sqlite|postgres) ;; *) echo "--backend must be sqlite or postgres" >&2; exit 2 ;; esac

command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
if [[ "$BACKEND" == postgres ]]; then
  command -v psql >/dev/null || { echo "psql not found: apt-get install postgresql-client" >&2; exit 1; }
  psql -h 127.0.0.1 -U postgres -d postgres -qAtc 'select 1' >/dev/null \
    || { echo "cannot reach postgres://postgres@127.0.0.1:5432" >&2; exit 1; }
fi

# 1. venv (re-installed only when the requirement files change)
stamp="$VENV/.requirements.sha"
want="$(cat "$BENCH/requirements.txt" "$BENCH/requirements-nodeps.txt" | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "== preparing $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -r "$BENCH/requirements.txt"
  # fasttrackml's wheel carries the Go server binary `fml`; its Python client pins mlflow<3,
  # which conflicts with mlflow 3.17.2 above, so it is installed without dependencies.
  "$VENV/bin/pip" install -q --no-deps -r "$BENCH/requirements-nodeps.txt"
  echo "$want" > "$stamp"
fi

# 2. ferroflow, release build (debug with --debug)
if [[ ",$SERVERS," == *",ferroflow,"* ]]; then
  echo "== cargo build -p ferroflow ($PROFILE_DIR build)"
  (cd "$ROOT" && cargo build "${CARGO_PROFILE[@]}" -p ferroflow)
fi
FERROFLOW_BIN="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps 2>/dev/null \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null || echo "$ROOT/target")/$PROFILE_DIR/ferroflow"

# 3-4. the driver starts, measures and stops every server. The trap makes sure that no
# server outlives this script, even on Ctrl-C or if the driver itself is killed.
mkdir -p "$BENCH/results"
PIDFILE="$BENCH/results/.server-pgids"
: > "$PIDFILE"
DRIVER=""
cleanup() {
  trap - EXIT INT TERM
  if [[ -n "$DRIVER" ]] && kill -0 "$DRIVER" 2>/dev/null; then
    # the driver's own helpers (ingest worker processes, wrk), by parent pid
    local kids
    kids="$(pgrep -P "$DRIVER" || true)"
    kill -TERM "$DRIVER" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$DRIVER" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$DRIVER" 2>/dev/null || true
    for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
  fi
  if [[ -s "$PIDFILE" ]]; then
    while read -r pg; do
      [[ -n "$pg" ]] && kill -KILL -- "-$pg" 2>/dev/null || true
    done < "$PIDFILE"
  fi
  rm -f "$PIDFILE"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

"$VENV/bin/python" "$BENCH/bench.py" "${QUICK[@]}" "${EXTRA[@]}" --backend "$BACKEND" --servers "$SERVERS" \
  --ferroflow-bin "$FERROFLOW_BIN" &
DRIVER=$!
wait "$DRIVER"
