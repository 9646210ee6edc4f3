# Shared helpers for the scripts: idempotent installs and step banners.
# shellcheck shell=bash

step() {
  printf '\n== %s ==\n' "$*"
  # CI's disk is finite: say what each step left, so an overflow names its step.
  if [ -n "${CI:-}" ]; then df -h --output=used,avail . | tail -1 | awk '{print "(disk: " $1 " used, " $2 " free)"}'; fi
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_install PKG... — installs the Debian packages that are missing, nothing else.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

ensure_rust_components() {
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
}

# ensure_node_deps DIR — `npm ci` when node_modules is missing or older than the lockfile.
ensure_node_deps() {
  local dir="$1"
  [ -f "$dir/package-lock.json" ] || return 0
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund)
  fi
}

ensure_cargo_fuzz() {
  rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
  command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
}

# cargo-deny for the dependency audit (scripts/audit.sh), built from crates.io once.
ensure_cargo_deny() {
  command -v cargo-deny >/dev/null 2>&1 || cargo install cargo-deny --locked
}

# WebKitGTK, its headers, and a virtual display for the WebView tests and the demo.
ensure_webkit_deps() {
  apt_install libwebkit2gtk-4.1-dev libsoup-3.0-dev libgtk-3-dev xvfb xauth \
    gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-tools
}

# Chromium, the Android stand-in of bridge-android's emulator tests.
ensure_chromium() {
  apt_install chromium
}
