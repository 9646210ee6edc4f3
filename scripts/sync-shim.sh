#!/usr/bin/env bash
# Refreshes bus-shim/bundle/bus-bridge.js, the committed copy of the bundle that the
# hosts (bridge-desktop, bridge-ios, bridge-android) embed, so Rust builds need no Node.js.
#   scripts/sync-shim.sh          build bridge-js and refresh the copies
#   scripts/sync-shim.sh --check  fail if a copy differs from a fresh build (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_node_deps bridge-js
(cd bridge-js && npm run --silent build >/dev/null)
header='// Generated from bridge-js by scripts/sync-shim.sh (npm run build); do not edit.'
status=0
for target in bus-shim/bundle/bus-bridge.js; do
  fresh=$(mktemp)
  { echo "$header"; cat bridge-js/dist/bus-bridge.js; } > "$fresh"
  if [ "${1:-}" = "--check" ]; then
    if ! cmp -s "$fresh" "$target"; then
      echo "$target is stale: run scripts/sync-shim.sh and commit it" >&2
      status=1
    fi
    rm -f "$fresh"
  else
    mkdir -p "$(dirname "$target")"
    mv "$fresh" "$target"
    echo "updated $target"
  fi
done
exit $status
