#!/bin/sh
# Builds dist/pouchdb.js (PouchDB from npm, bundled with esbuild) when it is missing or
# older than its inputs; installs the pinned packages first when needed (`npm ci`).
set -e
cd "$(dirname "$0")"
# One build at a time (test binaries of different crates may start it together).
exec 9>.build.lock
flock 9
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund >&2
fi
if [ ! -f dist/pouchdb.js ] || [ entry.js -nt dist/pouchdb.js ] || [ package-lock.json -nt dist/pouchdb.js ]; then
  ./node_modules/.bin/esbuild entry.js --bundle --format=iife --target=es2020 --log-level=warning --outfile=dist/pouchdb.js >&2
fi
