#!/usr/bin/env bash
# Create (or refresh) the Python virtualenv used by the MLflow compatibility
# tests and print the path of its python interpreter on stdout.
#
# Idempotent: the venv lives at <repo>/.venv and is rebuilt only when it is
# missing, broken, or tests/compat/requirements.txt changed since the last
# successful install (its sha256 is stored in .venv/.requirements.sha256).
# All progress output goes to stderr so callers can do:
#     PY="$(scripts/python-env.sh)"
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$ROOT/.venv"
REQ="$ROOT/tests/compat/requirements.txt"
STAMP="$VENV/.requirements.sha256"
PYTHON="${PYTHON:-python3}"

log() { echo "python-env: $*" >&2; }

if [ ! -f "$REQ" ]; then
    log "missing $REQ"
    exit 1
fi

want_hash="$(sha256sum "$REQ" | cut -d' ' -f1)"
have_hash="$(cat "$STAMP" 2>/dev/null || true)"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' 2>/dev/null \
        && [ "$want_hash" = "$have_hash" ]; then
    echo "$VENV/bin/python"
    exit 0
fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    log "$PYTHON not found; install python3.11 (Debian: apt-get install python3 python3-venv)"
    exit 1
fi
# Debian splits venv/ensurepip out of the python3 package; without it
# `python3 -m venv` fails with a confusing message, so check first.
if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    log "$PYTHON has no ensurepip/venv module; on Debian run: apt-get install python3-venv"
    exit 1
fi

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    log "creating $VENV with $("$PYTHON" --version 2>&1)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi

log "installing $REQ (this can take a few minutes)"
rm -f "$STAMP"   # a failed install must not leave a stale "up to date" stamp
"$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
"$VENV/bin/python" -m pip install --quiet -r "$REQ" >&2
echo "$want_hash" > "$STAMP"

echo "$VENV/bin/python"
