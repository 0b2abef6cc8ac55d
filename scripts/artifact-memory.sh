#!/usr/bin/env bash
# Shows that artifact transfers stream: uploads a large file (2 GiB by default) through
# the mlflow-artifacts proxy with curl, downloads it again, checks the bytes, and reports
# the server's resident memory (VmRSS sampled while transferring, VmHWM = peak) from /proc.
#
#   scripts/artifact-memory.sh            # 2 GiB, debug build in target/debug
#   SIZE_MIB=512 scripts/artifact-memory.sh
#   FERROFLOW_BIN=target/release/ferroflow scripts/artifact-memory.sh
#   ARTIFACTS_DESTINATION=s3://bucket/prefix scripts/artifact-memory.sh   (AWS_* as usual)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${FERROFLOW_BIN:-target/debug/ferroflow}
SIZE_MIB=${SIZE_MIB:-2048}
[ -x "$BIN" ] || { echo "no $BIN: build it first (cargo build -p ferroflow)" >&2; exit 1; }

WORK=$(mktemp -d)
SERVER_PID=""
SAMPLER_PID=""
cleanup() {
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN" server --port "$PORT" --backend-store-uri "sqlite:///$WORK/ff.db" \
  --artifacts-destination "${ARTIFACTS_DESTINATION:-$WORK/artifacts}" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
URL="http://127.0.0.1:$PORT/api/2.0/mlflow-artifacts/artifacts/memory-test/big.bin"
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done

kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$SERVER_PID/status"; }
idle=$(kib VmRSS)

# Samples VmRSS every 0.2 s; the largest sample is the working-set peak during transfers.
(max=0; while kill -0 "$SERVER_PID" 2>/dev/null; do
   r=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)
   [ "${r:-0}" -gt "$max" ] && max=$r && echo "$max" >"$WORK/max-rss"
   sleep 0.2
 done) &
SAMPLER_PID=$!

echo "writing a ${SIZE_MIB} MiB test file" >&2
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom >"$WORK/big.bin"
want=$(sha256sum "$WORK/big.bin" | cut -d' ' -f1)

start=$(date +%s.%N)
curl -sf -T "$WORK/big.bin" "$URL" >/dev/null
up=$(date +%s.%N)
after_upload=$(kib VmHWM)
got=$(curl -sf "$URL" | sha256sum | cut -d' ' -f1)
down=$(date +%s.%N)
[ "$got" = "$want" ] || { echo "downloaded bytes differ from the upload" >&2; exit 1; }

peak=$(kib VmHWM)
sampled=$(cat "$WORK/max-rss" 2>/dev/null || echo 0)
mib() { echo "$(( $1 / 1024 )) MiB"; }
printf 'file size:              %s MiB\n' "$SIZE_MIB"
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }
printf 'upload:                 %s s\n' "$(secs "$up" "$start")"
printf 'download (+ sha256):    %s s\n' "$(secs "$down" "$up")"
printf 'server RSS idle:        %s\n' "$(mib "$idle")"
printf 'peak RSS after upload:  %s\n' "$(mib "$after_upload")"
printf 'peak RSS (VmHWM):       %s\n' "$(mib "$peak")"
printf 'largest RSS sample:     %s\n' "$(mib "$sampled")"
