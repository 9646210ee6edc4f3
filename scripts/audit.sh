#!/usr/bin/env bash
# The dependency audit: `cargo deny check advisories licenses bans sources` over the
# workspace, with deny.toml (each accepted advisory listed there with its reason).
#
# Licenses, bans and sources need nothing but Cargo.lock. Advisories need the RustSec
# advisory database, which cargo-deny clones from GitHub. Where GitHub cannot be reached
# (this project's build machines reach crates.io but not GitHub), the advisories are
# checked against a local copy of the database if there is one — ADVISORY_DB=<a git
# checkout of github.com/rustsec/advisory-db>, or the copy a previous run fetched — and
# otherwise skipped with a warning that says so. AUDIT_STRICT=1 makes a skipped advisory
# check a failure (for machines that can reach GitHub).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo deny --version
status=0
cargo deny check --hide-inclusion-graph licenses bans sources || status=$?

if cargo deny check --hide-inclusion-graph advisories 2>/tmp/audit-advisories.$$; then
  cat /tmp/audit-advisories.$$
else
  rc=$?
  cat /tmp/audit-advisories.$$
  # Where cargo-deny wanted the database (its default db-path, a folder named after the URL).
  db_dir=$(grep -oE '/[^ "]*/advisory-dbs/advisory-db-[0-9a-f]+' /tmp/audit-advisories.$$ | head -1 || true)
  if grep -q "failed to fetch advisory database" /tmp/audit-advisories.$$ && [ -n "$db_dir" ]; then
    echo "audit: the advisory database could not be fetched from GitHub" >&2
    if [ ! -d "$db_dir/crates" ] && [ -n "${ADVISORY_DB:-}" ]; then
      rm -rf "$db_dir"
      git clone --quiet "$ADVISORY_DB" "$db_dir"
    fi
    if [ -d "$db_dir/crates" ]; then
      echo "audit: checking advisories against the local copy in $db_dir" \
        "($(git -C "$db_dir" log -1 --format='commit %h of %cd' 2>/dev/null || echo 'date unknown'))" >&2
      cargo deny --offline check --hide-inclusion-graph advisories || status=$?
    elif [ "${AUDIT_STRICT:-0}" = 1 ]; then
      echo "audit: advisories NOT checked, and AUDIT_STRICT=1" >&2
      status=1
    else
      echo "audit: WARNING: advisories NOT checked: no copy of the database (set ADVISORY_DB" \
        "to a clone of github.com/rustsec/advisory-db); licenses, bans and sources were" >&2
    fi
  else
    status=$rc
  fi
fi
rm -f /tmp/audit-advisories.$$
# Say which database the advisories were checked against: cargo-deny falls back to the copy
# it has when it cannot update it, without saying so.
for db in "${CARGO_HOME:-$HOME/.cargo}"/advisory-dbs/advisory-db-*; do
  [ -d "$db/.git" ] || [ -d "$db/crates" ] || continue
  echo "audit: advisory database $db: $(git -C "$db" log -1 --format='commit %h of %cd' 2>/dev/null || echo 'date unknown')"
done
exit "$status"
