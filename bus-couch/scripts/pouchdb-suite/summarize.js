// Test harness only: reads the mocha JSON reports of scripts/pouchdb-suite.sh and prints
// per file and in total what passed, failed and was skipped as known (with its reason).
// Exit status 1 when any test outside known.js failed.
'use strict';

const fs = require('fs');
const path = require('path');
const known = require('./known.js');

const dir = process.argv[2];
let total = { passes: 0, failures: 0, known: 0, pending: 0 };
const failed = [];
const knownPassed = [];
const knownFailed = [];
const rows = [];
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const name = file.replace(/\.json$/, '');
  let report;
  try {
    report = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  } catch (e) {
    failed.push(`${name}: no report (mocha crashed? see ${name}.log)`);
    rows.push([name, '-', '-', '-']);
    continue;
  }
  const skippedKnown = report.pending.filter((t) => t.fullTitle in known).length;
  const knownRun = report.failures.filter((t) => t.fullTitle in known).length;
  rows.push([name, report.passes.length, report.failures.length - knownRun, skippedKnown + knownRun]);
  total.passes += report.passes.length;
  total.failures += report.failures.filter((t) => !(t.fullTitle in known)).length;
  total.known += skippedKnown + knownRun;
  total.pending += report.pending.length - skippedKnown;
  for (const t of report.passes) {
    if (t.fullTitle in known) knownPassed.push(t.fullTitle);
  }
  for (const f of report.failures) {
    if (f.fullTitle in known) {
      knownFailed.push(f.fullTitle);
      continue;
    }
    failed.push(`${f.fullTitle}\n      ${String((f.err && f.err.message) || '').split('\n')[0].slice(0, 300)}`);
  }
}
console.log('file                              passed  failed  known');
for (const [n, p, f, k] of rows) {
  console.log(`${n.padEnd(34)}${String(p).padStart(6)}${String(f).padStart(8)}${String(k).padStart(7)}`);
}
console.log(`total: ${total.passes} passed, ${total.failures} failed, ${total.known} skipped as known` +
  (total.pending ? `, ${total.pending} pending upstream` : ''));
if (knownFailed.length) {
  console.log(`\nknown, run with RUN_KNOWN=1 and failed as expected: ${knownFailed.length}`);
}
if (knownPassed.length) {
  console.log('\nknown, but passed (take them out of known.js):');
  for (const t of knownPassed) console.log('  ' + t);
}
if (failed.length) {
  console.log('\nfailed:');
  for (const f of failed) console.log('  ' + f);
  process.exit(1);
}
