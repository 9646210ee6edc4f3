#!/usr/bin/env bash
# `cargo package` for every publishable crate of the workspace (every member without
# `publish = false`), in one invocation so that cargo builds each packaged crate against the
# packaged versions of its siblings (their path dependencies carry exact versions,
# `=0.1.0`: the crates are released together). Verifies by default: each .crate is
# unpacked and built as crates.io would build it. `--no-verify` only packs.
#
# Needs crates.io's index (to resolve the packaged manifests), nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t crates < <(cargo metadata --no-deps --format-version 1 | node -e '
  let s = ""; process.stdin.on("data", d => (s += d)).on("end", () => {
    for (const p of JSON.parse(s).packages) {
      // `publish = false` is [] in the metadata; null means any registry.
      if (p.publish === null || p.publish.length > 0) console.log(p.name);
    }
  });')
[ "${#crates[@]}" -gt 0 ] || { echo "no publishable crate found" >&2; exit 1; }
echo "publishable: ${crates[*]}"
target_dir=$(cargo metadata --no-deps --format-version 1 | node -e '
  let s = ""; process.stdin.on("data", d => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory));')
# A previous run's unpacked crates and local registry must not stand in for this run's.
rm -rf "$target_dir/package"
# Cargo unpacks the packaged siblings it verifies against into its registry cache, once per
# name and version, and never again (a registry's crates are immutable): an earlier run's
# copy of bus-core 0.1.0 would stand in for this run's. Remove our crates' unpacked copies.
for c in "${crates[@]}"; do
  rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$c"-[0-9]*
done
args=()
for c in "${crates[@]}"; do args+=(-p "$c"); done
# --allow-dirty: a developer's tree has uncommitted work; CI's clone is clean anyway.
cargo package "${args[@]}" --allow-dirty "$@"
for c in "${crates[@]}"; do
  ls -l "$target_dir/package/$c-"*.crate
done
