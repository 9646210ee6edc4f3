#!/usr/bin/env bash
# Regenerates include/bus_ios.h from src/ffi.rs with cbindgen (installed if missing).
# Run after changing the C ABI, and commit the header; check-header.sh is the CI check.
set -euo pipefail
BRIDGE_IOS=$(cd "$(dirname "$0")/.." && pwd)
. "$BRIDGE_IOS/scripts/lib.sh"
ensure_cbindgen
generate_header "$BRIDGE_IOS/include/bus_ios.h"
echo "wrote bridge-ios/include/bus_ios.h"
