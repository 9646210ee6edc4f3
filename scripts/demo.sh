#!/usr/bin/env bash
# The main job: the README's first command. Installs what it needs (WebKitGTK, Xvfb,
# GStreamer for the movie), builds the demo, and runs it in a real WebView. With no
# display it runs under Xvfb in --auto mode: it tours every page by itself, saves
# screenshots to target/demo/, prints what it did, and exits. With a display, pass
# --auto to get the same tour, or nothing to click around yourself.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_rust_components
ensure_webkit_deps
# With the web process extension, which the host finds next to the demo.
cargo build --release -p bus-examples --bin demo -p bridge-desktop-webext
demo="${CARGO_TARGET_DIR:-target}/release/demo"
if [ -z "${DISPLAY:-}" ]; then
  echo "no display: running the demo under Xvfb with --auto"
  exec xvfb-run -a -s "-nolisten tcp -screen 0 1280x900x24" "$demo" --auto "$@"
fi
exec "$demo" "$@"
