#!/usr/bin/env bash
# The whole test suite: the README's second command, and what .ci/run runs.
# Installs what it needs (idempotently): apt packages for WebKitGTK and Xvfb, rustfmt and
# clippy, npm packages, cargo-deny, nightly + cargo-fuzz. Then runs every check CI holds us to:
# rustfmt, clippy -D warnings, rustdoc -D warnings, `cargo package` of every publishable
# crate, the dependency audit (cargo-deny), the JS tests, the bundled-shim check,
# the Rust tests (WebView tests start their own Xvfb when there is no display), the
# Android JNI/Java tests on the JVM, the iOS C ABI tests, and a short bounded run of every
# fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
# A clone is built once: incremental caches only cost CI disk and time.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

step "install what is missing"
ensure_rust_components
ensure_webkit_deps
ensure_chromium
ensure_node_deps bridge-js
ensure_cargo_deny

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

step "cargo package: every publishable crate, built from its .crate"
scripts/package.sh

step "dependency audit: cargo deny check advisories licenses bans sources (deny.toml)"
scripts/audit.sh

step "bridge-js: build and node tests"
(cd bridge-js && npm test)
scripts/sync-shim.sh --check

step "cargo test"
# The web process extension first: the desktop host loads it from next to the test
# executables (target/debug), and the WebKit tests then run over its socket.
cargo build -p bridge-desktop-webext
cargo test --workspace

step "bridge-android: JNI and Java on the desktop JVM (-Xcheck:jni, Robolectric)"
bridge-android/java/run-tests.sh

step "bridge-ios: C header up to date, C ABI tests under ASan/UBSan and valgrind"
bridge-ios/scripts/check-header.sh
bridge-ios/scripts/test-c.sh

step "fuzz: bounded runs"
scripts/fuzz.sh "${FUZZ_SECONDS:-20}"

step "all tests passed"
