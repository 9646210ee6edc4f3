#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: scripts/fuzz.sh [SECONDS per target]
# Corpora start from the golden vectors, so the fuzzer begins with valid frames (and records);
# android_host (strings from Java) starts empty.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
seconds="${1:-20}"
case "$seconds" in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2;; esac
ensure_cargo_fuzz
for target in frame_decode session ws_record android_host; do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus"
  case "$target" in
    ws_record) cp protocol/ws-vectors/*.bin "$corpus/" 2>/dev/null || true ;;
    android_host) ;; # length-prefixed strings, not frames: it starts from nothing
    *) cp protocol/vectors/*.bin "$corpus/" 2>/dev/null || true ;;
  esac
  echo "fuzzing $target for ${seconds}s"
  (cd fuzz && cargo +nightly fuzz run "$target" "corpus/$target" -- \
      -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 12)
done
