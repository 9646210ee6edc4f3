#!/usr/bin/env bash
# The whole test suite: the README's second command, and what .ci/run runs.
# Installs what it needs (idempotently), then runs every check CI holds us to:
# rustfmt, clippy -D warnings, rustdoc -D warnings, the Rust tests, the JS tests,
# and a short bounded run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

step "toolchain"
ensure_rust_components
[ -f bridge-js/package.json ] && ensure_node_deps bridge-js

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

step "cargo test"
cargo test --workspace

if [ -f bridge-js/package.json ]; then
  step "bridge-js: build and node tests"
  (cd bridge-js && npm test)
fi

step "fuzz: bounded runs"
scripts/fuzz.sh "${FUZZ_SECONDS:-20}"

step "all tests passed"
