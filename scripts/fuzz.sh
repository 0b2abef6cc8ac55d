#!/usr/bin/env bash
# Fuzzes the search grammars, page tokens and every JSON request body (fuzz/, cargo-fuzz
# and libFuzzer) for a bounded time per target, starting from the committed corpora in
# fuzz/corpus/<target>. New inputs go to a scratch folder, so the tree stays clean.
#
#   scripts/fuzz.sh [SECONDS=60] [TARGET...]     (default: every target)
#   FUZZ_MINIMIZE=1 scripts/fuzz.sh 600          also merge what was found into the
#                                                committed corpora, minimized (-merge=1)
#   FUZZ_BUILD=dev scripts/fuzz.sh 20            a debug build (what CI runs): it compiles
#                                                several times faster and runs fewer inputs/s
#
# cargo fuzz needs nightly flags: RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
# No sanitizer (`-s none`): the code under test is safe Rust, where a bug is a panic,
# and without ASan the targets build faster and run about twice as many inputs.
# A crash leaves its input in fuzz/artifacts/<target>/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export RUSTC_BOOTSTRAP=1
SECONDS_PER_TARGET="${1:-60}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(filter order_by page_token request_body)
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz missing: scripts/setup.sh --test" >&2; exit 1; }

case "${FUZZ_BUILD:-release}" in
  release) PROFILE=(-O) ;;
  dev) PROFILE=(--dev) ;;
  *) echo "FUZZ_BUILD must be release or dev" >&2; exit 2 ;;
esac
cargo fuzz build "${PROFILE[@]}" -s none >&2
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
printf '%-14s %10s %10s %8s %8s\n' target seconds execs execs/s corpus
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t" "$SCRATCH/$t"
  log="$SCRATCH/$t.log"
  if ! cargo fuzz run "${PROFILE[@]}" -s none "$t" "$SCRATCH/$t" "corpus/$t" -- \
      -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
      -max_len=4096 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz target $t failed; the input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
  corpus=$(( $(ls "corpus/$t" | wc -l) + $(ls "$SCRATCH/$t" | wc -l) ))
  printf '%-14s %10s %10s %8s %8s\n' "$t" "$SECONDS_PER_TARGET" "$execs" \
    "$(( execs / (SECONDS_PER_TARGET > 0 ? SECONDS_PER_TARGET : 1) ))" "$corpus"
  if [ "${FUZZ_MINIMIZE:-0}" = 1 ]; then
    mkdir -p "$SCRATCH/$t.min"
    cargo fuzz run "${PROFILE[@]}" -s none "$t" "$SCRATCH/$t.min" "corpus/$t" "$SCRATCH/$t" -- -merge=1 \
      >"$log.merge" 2>&1
    rm -rf "corpus/$t" && mv "$SCRATCH/$t.min" "corpus/$t"
  fi
done
