# Shared by bridge-ios's scripts (sourced, not run).

# The cbindgen that generates include/bus_ios.h. Pinned: another version may format the
# header differently, and check-header.sh would then report it stale.
CBINDGEN_VERSION=0.29.4

# Installs cbindgen $CBINDGEN_VERSION with cargo unless it is already there (idempotent).
ensure_cbindgen() {
  if command -v cbindgen >/dev/null 2>&1 &&
    [ "$(cbindgen --version 2>/dev/null)" = "cbindgen $CBINDGEN_VERSION" ]; then
    return
  fi
  echo "installing cbindgen $CBINDGEN_VERSION (cargo install --locked)" >&2
  cargo install cbindgen --version "=$CBINDGEN_VERSION" --locked --quiet
}

# Writes the header generated from the current sources to $1.
generate_header() {
  local out=$1
  (cd "$BRIDGE_IOS" && cbindgen --quiet --config cbindgen.toml --crate bridge-ios --output "$out")
}
