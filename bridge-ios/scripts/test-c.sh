#!/usr/bin/env bash
# The C tests of bridge-ios's ABI: builds the test app (tests/c/app, a Rust staticlib that
# links bridge-ios, as an app's crate does), compiles tests/c/test_bridge.c against
# include/bus_ios.h, and runs it twice:
#   1. under AddressSanitizer + UndefinedBehaviorSanitizer, LeakSanitizer on;
#   2. under valgrind --leak-check=full (skipped, saying so, when valgrind is missing).
# Also compiles the header alone with -Wall -Wextra -pedantic -Werror, as C11 (and C++ when
# a C++ compiler is there). Runs on a fresh clone: it builds what it needs.
#   CC=clang bridge-ios/scripts/test-c.sh      pick the compiler (default: cc)
#   SKIP_VALGRIND=1 bridge-ios/scripts/test-c.sh
set -euo pipefail
BRIDGE_IOS=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$BRIDGE_IOS/.." && pwd)
cd "$ROOT"

CC=${CC:-cc}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$TARGET_DIR/bridge-ios-c
mkdir -p "$OUT"

step() { printf '\n== %s\n' "$*"; }

step "build the test app (cargo build -p bridge-ios --example test_app)"
cargo build --quiet -p bridge-ios --example test_app
LIB=$TARGET_DIR/debug/examples/libtest_app.a
# What Rust's std needs from the system when linked into a C program
# (`cargo rustc ... -- --print native-static-libs` on Linux).
SYSLIBS=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)
CFLAGS=(-std=c11 -g -O1 -Wall -Wextra -pedantic -Werror -I"$BRIDGE_IOS/include")

step "the header compiles alone, warnings as errors"
printf '#include "bus_ios.h"\nint main(void) { return bus_ios_abi_version() == BUS_IOS_ABI_VERSION ? 0 : 1; }\n' \
  >"$OUT/header_only.c"
"$CC" "${CFLAGS[@]}" -c "$OUT/header_only.c" -o "$OUT/header_only.o"
if command -v c++ >/dev/null 2>&1; then
  c++ -std=c++17 -Wall -Wextra -pedantic -Werror -I"$BRIDGE_IOS/include" -x c++ -c "$OUT/header_only.c" -o "$OUT/header_only_cpp.o"
  echo "ok (C11 and C++17)"
else
  echo "ok (C11; no C++ compiler)"
fi

status=0

step "ASan + UBSan + LSan"
"$CC" "${CFLAGS[@]}" -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
  "$BRIDGE_IOS/tests/c/test_bridge.c" "$LIB" "${SYSLIBS[@]}" -o "$OUT/test_bridge_asan"
if ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$OUT/test_bridge_asan"; then
  echo "sanitizers: clean"
else
  echo "sanitizers: FAILED" >&2
  status=1
fi

if [ -n "${SKIP_VALGRIND:-}" ]; then
  step "valgrind: skipped (SKIP_VALGRIND is set)"
elif ! command -v valgrind >/dev/null 2>&1; then
  step "valgrind: skipped (not installed; apt-get install valgrind)"
else
  step "valgrind --leak-check=full"
  "$CC" "${CFLAGS[@]}" "$BRIDGE_IOS/tests/c/test_bridge.c" "$LIB" "${SYSLIBS[@]}" -o "$OUT/test_bridge"
  # Valgrind runs one thread at a time, ~20-50x slower: a smaller stream, longer waits.
  if TEST_LARGE_BYTES=${TEST_LARGE_BYTES:-4194304} TEST_TIMEOUT_SCALE=${TEST_TIMEOUT_SCALE:-10} \
    valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,possible \
    "$OUT/test_bridge"; then
    echo "valgrind: clean"
  else
    echo "valgrind: FAILED" >&2
    status=1
  fi
fi

exit $status
