// Runs the conformance suite in a real engine: once through the shim (over an in-page
// scripted bus), once through the engine's own fetch/XHR/EventSource against this Node
// server's /conf routes, and prints the differences. Not part of `npm test` (it needs a
// browser); run `npm run build && node test/browser/run.mjs [--cross] [--only=a,b]
// [--webkit] [--tasks]` (--tasks: each frame from the scripted bus arrives in a task of its
// own, as in the hosts). Chromium: headless, CHROMIUM overrides the binary (default
// /usr/lib/chromium/chromium). --webkit: WebKitGTK's MiniBrowser under xvfb-run (MINIBROWSER
// overrides its path). Exits 1 when a difference is not a documented deviation, or a case
// failed.
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { confRoutes } from '../support/conf-routes.mjs';

const args = process.argv.slice(2);
const cross = args.includes('--cross');
const tasks = args.includes('--tasks');
const webkit = args.includes('--webkit');
const only = args.find((a) => a.startsWith('--only='))?.slice(7);
const bundle = (
  await build({ entryPoints: [fileURLToPath(new URL('page.mjs', import.meta.url))], bundle: true, format: 'iife', write: false, logLevel: 'warning' })
).outputFiles[0].text;

const { handler } = confRoutes();
const profile = mkdtempSync(join(tmpdir(), 'inproc-bus-browser-'));
let chrome;
const finish = (code) => {
  try {
    if (chrome) process.kill(-chrome.pid); // the whole group (xvfb-run has children)
  } catch {
    /* already gone */
  }
  setTimeout(() => {
    rmSync(profile, { recursive: true, force: true });
    process.exit(code);
  }, 300);
};

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html' });
    return res.end('<!doctype html><script src="/page.js"></script>');
  }
  if (url.pathname === '/page.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    return res.end(bundle);
  }
  if (url.pathname === '/report') return report(req, res);
  // The /conf routes over HTTP, through the same handler the scripted bus uses.
  const ac = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  const headers = new Map();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const n = req.rawHeaders[i].toLowerCase();
    headers.set(n, headers.has(n) ? `${headers.get(n)}, ${req.rawHeaders[i + 1]}` : req.rawHeaders[i + 1]);
  }
  let closed = false;
  const request = {
    method: req.method,
    url,
    headers,
    signal: ac.signal,
    async body() {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      return new Uint8Array(Buffer.concat(chunks));
    },
  };
  const response = {
    head(status, h = {}) {
      const grouped = {};
      for (const [n, v] of Array.isArray(h) ? h : Object.entries(h)) (grouped[n] ??= []).push(v);
      for (const [n, v] of Object.entries(grouped)) res.setHeader(n, v.length === 1 ? v[0] : v);
      res.writeHead(status);
      res.flushHeaders();
    },
    async write(d) {
      if (!closed) res.write(typeof d === 'string' ? d : Buffer.from(d));
    },
    end() {
      closed = true;
      res.end();
    },
    error() {
      closed = true;
      res.destroy();
    },
    get closed() {
      return closed || ac.signal.aborted;
    },
  };
  await handler(request, response);
});

async function report(req, res) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  res.end('ok');
  const out = JSON.parse(Buffer.concat(chunks).toString());
  if (out.error) {
    console.log(`page error: ${out.error}`);
    return finish(1);
  }
  let bad = 0;
  for (const [label, run] of [['shim', out.a], ['engine', out.b]]) {
    for (const [name, r] of Object.entries(run.cases)) {
      if (r.failure === undefined) continue;
      bad++;
      console.log(`FAILED (${label}) ${name}: ${r.failure}`);
    }
  }
  for (const d of out.diffs) {
    if (!d.known) bad++;
    console.log(`${d.known ? 'known' : 'DIFF '} ${d.case} ${d.path}: shim ${JSON.stringify(d.a)} | engine ${JSON.stringify(d.b)}`);
  }
  console.log(`${Object.keys(out.a.cases).length} cases on ${out.b.userAgent}; ${out.diffs.filter((d) => d.known).length} known differences, ${bad} unexplained or failed`);
  finish(bad === 0 ? 0 : 1);
}

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const query = new URLSearchParams();
  if (only) query.set('only', only);
  if (cross) query.set('cross', '1');
  if (tasks) query.set('tasks', '1');
  const page = `http://127.0.0.1:${port}/?${query}`;
  const [binary, argv] = webkit
    ? ['xvfb-run', ['-a', process.env.MINIBROWSER ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser', page]]
    : [
        process.env.CHROMIUM ?? '/usr/lib/chromium/chromium',
        ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
          '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, page],
      ];
  chrome = spawn(binary, argv, { stdio: 'ignore', detached: true });
  chrome.on('error', (e) => {
    console.log(`cannot start ${binary}: ${e.message}`);
    finish(2);
  });
  setTimeout(() => {
    console.log('timed out');
    finish(1);
  }, 120_000).unref();
});
