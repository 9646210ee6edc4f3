#!/usr/bin/env bash
# The main job: the README's first command.
# Until the desktop WebView demo lands, this runs the tour: real requests through the bus
# (in process and through the framed port), each printed with its answer, and a check
# that the process holds no listening socket.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_rust_components
cargo run --release -p bus-examples --bin tour
