#!/usr/bin/env bash
# Fails when the checked-in include/bus_ios.h differs from what cbindgen generates from
# the current sources (installs cbindgen if missing). Fix with scripts/gen-header.sh.
set -euo pipefail
BRIDGE_IOS=$(cd "$(dirname "$0")/.." && pwd)
. "$BRIDGE_IOS/scripts/lib.sh"
ensure_cbindgen
fresh=$(mktemp "${TMPDIR:-/tmp}/bus_ios.XXXXXX.h")
trap 'rm -f "$fresh"' EXIT
generate_header "$fresh"
if ! diff -u "$BRIDGE_IOS/include/bus_ios.h" "$fresh"; then
  echo "bridge-ios/include/bus_ios.h is stale: run bridge-ios/scripts/gen-header.sh and commit it" >&2
  exit 1
fi
echo "bridge-ios/include/bus_ios.h is up to date"
