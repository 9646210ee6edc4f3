#!/usr/bin/env bash
# PouchDB's own node integration suite (PouchDB 9.0.0, tests/integration) against bus-couch.
#
# TEST HARNESS ONLY. PouchDB's suite reaches a remote CouchDB at COUCH_HOST over HTTP, so
# this serves the very same tower service the bus mounts on a loopback port with a small
# hyper server (bus-couch/examples/loopback.rs); the product never listens.
#
#   bus-couch/scripts/pouchdb-suite.sh                 # every file, the http suites of each
#   bus-couch/scripts/pouchdb-suite.sh changes sync    # only test.changes.js, test.sync.js
#   GREP='attachments' bus-couch/scripts/pouchdb-suite.sh attachments
#
# What it does, idempotently:
#  1. `npm ci` in bus-couch/scripts/pouchdb-suite (mocha, chai, npm's pouchdb 9.0.0 and the
#     9.0.0 helper packages the suite's utils.js needs; the versions PouchDB 9.0.0 pins for
#     its tests). Needs the npm registry once; nothing else goes to the network unless the
#     PouchDB sources are missing (step 2).
#  2. PouchDB's tests/ at commit $COMMIT (the source of the 9.0.0 release: the parent of
#     "build 9.0.0", which tag 9.0.0 points at) taken with `git archive` from $POUCHDB_REPO
#     (a clone, bare or not, of github.com/pouchdb/pouchdb); without it, cloned once into
#     target/pouchdb-suite/pouchdb.git. The suite's `packages/node_modules/pouchdb` is npm's
#     pouchdb 9.0.0 (the same code, built), and `pouchdb-for-coverage` (unpublished) is
#     pouchdb-suite/pouchdb-for-coverage.js, built from the published 9.0.0 packages.
#  3. Builds and starts the loopback server on a free port with a fresh store.
#  4. Runs each test file in its own mocha (upstream's flags: --exit, --timeout, its
#     node.setup.js and global hooks), only the suites that involve the http adapter
#     (`test.X.js-http`, `-local-http`, `-http-local`, `-http-http`, `- local:http`, and
#     the same behind upstream's `suite2 ` prefix; test.http.js); local
#     databases use PouchDB's node default (leveldb). Tests listed in
#     pouchdb-suite/known.js are skipped as known, each with its reason.
#  5. Prints per file and in total what passed and failed; exits 1 if any test outside
#     known.js failed. Reports: target/pouchdb-suite/results/<file>.{json,log}.
#
# Environment: TIMEOUT (ms per test, default 10000; upstream's is 5000), GREP (narrows the
# tests further, a regular expression on the full title), POUCHDB_REPO (see 2), KEEP=1
# (keep the store after the run), CARGO_PROFILE (dev, default, or release).
set -euo pipefail

COMMIT=194c0754bb482824c3cb07d6432c7b95707d0a72
root=$(cd "$(dirname "$0")/../.." && pwd)
harness=$root/bus-couch/scripts/pouchdb-suite
work=$root/target/pouchdb-suite
src=$work/src-$COMMIT
results=$work/results
: "${TIMEOUT:=10000}"
: "${CARGO_PROFILE:=dev}"

# The default: every file with suites over the http adapter. Not run: test.failures.js
# (needs upstream's down-server; tests nothing of the server), and the files whose suites
# are local-only or mock the server (constructor, defaults, deterministicrevs, issue1175,
# issue8581, issue915, node-websql, prefix, uuids, viewadapter, active_tasks).
DEFAULT_FILES="aa.setup all_docs attachments basics bulk_docs bulk_get changes close
compaction conflicts design_docs events get http issue221 issue2674 issue3179 issue3646
local_docs replication replicationBackoff replication_events reserved retry revs_diff
slash_id sync sync_events taskqueue"
if [ $# -gt 0 ]; then files="$*"; else files=$DEFAULT_FILES; fi

say() { printf 'pouchdb-suite: %s\n' "$*" >&2; }

# 1. npm packages.
if [ ! -f "$harness/node_modules/.package-lock.json" ] ||
  [ "$harness/package-lock.json" -nt "$harness/node_modules/.package-lock.json" ]; then
  say "npm ci in $harness"
  (cd "$harness" && npm ci --no-audit --no-fund --loglevel=error)
fi

# 2. PouchDB's tests at $COMMIT.
if [ ! -f "$src/tests/integration/utils.js" ]; then
  repo=${POUCHDB_REPO:-$work/pouchdb.git}
  if [ -d "$repo/.git" ]; then repo=$repo/.git; fi
  if ! git --git-dir="$repo" cat-file -e "$COMMIT^{commit}" 2>/dev/null; then
    if [ -n "${POUCHDB_REPO:-}" ]; then
      say "$POUCHDB_REPO has no commit $COMMIT (PouchDB 9.0.0's source)"
      exit 2
    fi
    say "cloning github.com/pouchdb/pouchdb into $repo (set POUCHDB_REPO to use a clone you have)"
    rm -rf "$repo"
    git clone --bare --quiet https://github.com/pouchdb/pouchdb "$repo"
  fi
  rm -rf "$src.tmp" && mkdir -p "$src.tmp"
  git --git-dir="$repo" archive "$COMMIT" tests/integration tests/common-utils.js |
    tar -x -C "$src.tmp"
  rm -rf "$src" && mv "$src.tmp" "$src"
fi
mkdir -p "$src/packages/node_modules/pouchdb-for-coverage"
ln -sfn "$harness/node_modules/pouchdb" "$src/packages/node_modules/pouchdb"
ln -sfn "$harness/pouchdb-for-coverage.js" "$src/packages/node_modules/pouchdb-for-coverage/index.js"
ln -sfn "$harness/node_modules" "$src/node_modules"

# 3. The loopback server, on a fresh store.
say "building bus-couch's loopback server ($CARGO_PROFILE)"
(cd "$root" && cargo build --quiet --profile "$CARGO_PROFILE" -p bus-couch --example loopback)
case $CARGO_PROFILE in dev) profdir=debug ;; *) profdir=$CARGO_PROFILE ;; esac
target_dir=${CARGO_TARGET_DIR:-$root/target}
data=$(mktemp -d "${TMPDIR:-/tmp}/pouchdb-suite.XXXXXX")
"$target_dir/$profdir/examples/loopback" "$data" 0 >"$work/server.out" 2>"$work/server.log" &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then say "store kept in $data"; else rm -rf "$data"; fi
}
trap cleanup EXIT
for _ in $(seq 100); do
  grep -q '^listening on ' "$work/server.out" 2>/dev/null && break
  sleep 0.1
done
host=$(sed -n 's/^listening on //p' "$work/server.out")
[ -n "$host" ] || { say "the loopback server did not start: $(cat "$work/server.log")"; exit 1; }
say "bus-couch at $host"

# 4. One mocha per file.
rm -rf "$results" && mkdir -p "$results"
grep_re='^((suite2 )?test\.[A-Za-z0-9_]+\.js- ?[a-z:-]*http|test\.http\.js|DB Setup)'
if [ -n "${GREP:-}" ]; then grep_re="^(?=.*(?:$GREP))${grep_re#^}"; fi
started=$(date +%s)
for f in $files; do
  file=tests/integration/test.$f.js
  [ -f "$src/$file" ] || { say "no $file at $COMMIT"; exit 2; }
  t0=$(date +%s)
  (
    cd "$src"
    COUCH_HOST=$host timeout 900 ./node_modules/.bin/mocha --exit --timeout "$TIMEOUT" \
      --require ./tests/integration/node.setup.js --require "$harness/hooks.js" \
      --grep "$grep_re" \
      --reporter json --reporter-option "output=$results/$f.json" \
      tests/integration/test.setup_global_hooks.js "$file"
  ) >"$results/$f.log" 2>&1 || true
  say "test.$f.js done in $(($(date +%s) - t0)) s"
done
say "all files in $(($(date +%s) - started)) s"

# 5. The summary.
node "$harness/summarize.js" "$results"
