#!/usr/bin/env bash
# Builds swift/InprocBusFFI.xcframework from the APP's Rust crate — the crate that depends
# on bridge-ios, builds its Bus and calls bridge_ios::register, with
# `crate-type = ["staticlib"]` — for iOS devices and both simulators.
#
#   bridge-ios/scripts/build-xcframework.sh <app-crate> [extra header dir]
#
# Needs macOS with Xcode (xcodebuild, lipo) and the iOS Rust targets; it cannot run on
# Linux, and has not been run in this repository's CI (see README.md, Caveats).
# The extra header dir, if given, holds the app's own C header (e.g. the declaration of
# its `uint64_t app_bus_start(void)`), copied next to bus_ios.h.
set -euo pipefail
crate=${1:?usage: build-xcframework.sh <app-crate> [extra header dir]}
extra_headers=${2:-}
BRIDGE_IOS=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$BRIDGE_IOS/.." && pwd)
cd "$ROOT"
lib="lib${crate//-/_}.a"
target_dir=${CARGO_TARGET_DIR:-$ROOT/target}

rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
  cargo build --release -p "$crate" --target "$target"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/headers" "$work/sim"
cp "$BRIDGE_IOS/include/bus_ios.h" "$BRIDGE_IOS/include/module.modulemap" "$work/headers/"
if [ -n "$extra_headers" ]; then cp "$extra_headers"/*.h "$work/headers/"; fi
lipo -create \
  "$target_dir/aarch64-apple-ios-sim/release/$lib" \
  "$target_dir/x86_64-apple-ios/release/$lib" \
  -output "$work/sim/$lib"

out="$BRIDGE_IOS/swift/InprocBusFFI.xcframework"
rm -rf "$out"
xcodebuild -create-xcframework \
  -library "$target_dir/aarch64-apple-ios/release/$lib" -headers "$work/headers" \
  -library "$work/sim/$lib" -headers "$work/headers" \
  -output "$out"
echo "wrote $out"
