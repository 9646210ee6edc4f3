// install(): idempotence, exact origin matching, the page-origin guard, uninstall; and the
// conformance module run through the shim against the reference /conf routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BusClient, INSTALLATION, install, installation } from '../dist/bus-bridge.mjs';
import { compare, foldEvents, runConformance, sha256Hex, KNOWN_DEVIATIONS } from '../dist/conformance.mjs';
import { createHash } from 'node:crypto';
import { BusPeer } from './support/bus-peer.mjs';
import { confRoutes } from './support/conf-routes.mjs';
import { FakeEventSource, FakeXHR, page } from './support/env.mjs';

const base = () => ({
  document: { baseURI: 'app://localhost/' },
  location: { href: 'app://localhost/' },
  fetch: async () => new Response('native'),
  XMLHttpRequest: FakeXHR,
  EventSource: FakeEventSource,
});

test('install is idempotent: a second install returns the first, wrappers never stack', async () => {
  const g = base();
  const originalFetch = g.fetch;
  const peer = new BusPeer(confRoutes().handler);
  const first = install({ origins: ['app://localhost'], transport: peer.transport, global: g });
  const patched = { fetch: g.fetch, XMLHttpRequest: g.XMLHttpRequest, EventSource: g.EventSource };
  const second = install({ origins: ['https://other.example'], transport: new BusPeer(() => {}).transport, global: g });
  assert.equal(second, first);
  assert.deepEqual({ fetch: g.fetch, XMLHttpRequest: g.XMLHttpRequest, EventSource: g.EventSource }, patched);
  assert.equal(first.originals.fetch, originalFetch);
  assert.equal(installation(g), first);
  assert.equal(g[Symbol.for('inproc-bus.installation')], first);
  assert.equal(INSTALLATION, Symbol.for('inproc-bus.installation'));
  assert.ok(!Object.keys(g).some((k) => k.includes('inproc')), 'the marker is hidden');
  assert.equal(await (await g.fetch('/conf/text')).text(), 'hello');
  assert.equal(peer.frames('RequestHead').length, 1, 'one stream: one wrapper');

  first.uninstall();
  assert.equal(g.fetch, originalFetch);
  assert.equal(g.XMLHttpRequest, FakeXHR);
  assert.equal(g.EventSource, FakeEventSource);
  assert.equal(installation(g), null);
  const third = install({ origins: ['app://localhost'], transport: peer.transport, global: g });
  assert.notEqual(third, first);
  assert.equal(third.originals.fetch, originalFetch, 'never wraps its own wrapper');
});

test('origins: exact scheme, host and port; canonical form; bad origins refused', () => {
  const g = base();
  const inst = install({ origins: ['app://LocalHost/', 'https://app.example:8443'], transport: new BusPeer(() => {}).transport, global: g, pageOrigins: false });
  assert.deepEqual(inst.origins, ['app://localhost', 'https://app.example:8443']);
  const yes = ['app://localhost', 'app://localhost/x?y#z', '/relative', 'APP://LOCALHOST/x', 'https://app.example:8443/a', 'https://user:pw@app.example:8443/'];
  const no = [
    'app://localhost:1/',
    'app://localhost.evil/',
    'app://xlocalhost/',
    'app://localhost@evil/',
    'https://app.example/',
    'https://app.example:8444/',
    'http://app.example:8443/',
    'apps://localhost/',
    'app:localhost',
    'blob:app://localhost/uuid',
    'http://[',
  ];
  for (const u of yes) assert.equal(inst.isBusUrl(u), true, u);
  for (const u of no) assert.equal(inst.isBusUrl(u), false, u);
  const t = new BusPeer(() => {}).transport;
  for (const bad of [[], ['app://localhost/path'], ['app:'], ['nope'], ['app://localhost?q'], ['app://u@localhost']]) {
    assert.throws(() => install({ origins: bad, transport: t, global: base() }), TypeError, JSON.stringify(bad));
  }
  assert.throws(() => install({ origins: ['app://localhost'], global: base() }), TypeError, 'no transport');
  assert.throws(() => install({ origins: ['app://localhost'], transport: t, global: base(), routes: { fetch: 'sideways' } }), TypeError);
});

test('a foreign page gets nothing: install returns null and patches nothing', () => {
  const g = { ...base(), location: { href: 'https://evil.example/' } };
  const fetchBefore = g.fetch;
  assert.equal(install({ origins: ['app://localhost'], transport: new BusPeer(() => {}).transport, global: g }), null);
  assert.equal(g.fetch, fetchBefore);
  assert.equal(installation(g), null);
  // Allowed page origins can differ from the bus origins (e.g. Android's https://appassets…).
  const a = { ...base(), location: { href: 'https://appassets.androidplatform.net/index.html' } };
  assert.ok(install({ origins: ['app://localhost'], pageOrigins: ['https://appassets.androidplatform.net'], transport: new BusPeer(() => {}).transport, global: a }));
});

test('an existing client can be given instead of a transport', async () => {
  const peer = new BusPeer(confRoutes().handler);
  const client = new BusClient(peer.transport);
  const g = base();
  const inst = install({ origins: ['app://localhost'], client, global: g });
  assert.equal(inst.client, client);
  assert.equal(await (await g.fetch('/conf/json')).text(), '{"ok":true,"n":42}');
});

test('sha256Hex matches node:crypto', () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 1000, 100003]) {
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 31) & 255);
    assert.equal(sha256Hex(b), createHash('sha256').update(b).digest('hex'), `length ${n}`);
  }
});

test('foldEvents folds timing-dependent repeats only', () => {
  assert.deepEqual(
    foldEvents(['readystatechange:2', 'readystatechange:3', 'progress', 'readystatechange:3', 'progress', 'progress', 'readystatechange:4', 'load', 'upload.progress', 'upload.progress']),
    ['readystatechange:2', 'readystatechange:3', 'progress', 'readystatechange:4', 'load', 'upload.progress'],
  );
});

test('conformance: every case runs through the shim against the /conf routes', async () => {
  const { g } = page();
  const shim = await runConformance({ base: 'app://localhost', useShim: true, global: g, timeoutMs: 5000 });
  const failures = Object.entries(shim.cases).filter(([, r]) => r.failure !== undefined);
  assert.deepEqual(failures, []);
  const o = (name) => shim.cases[name].observed;
  assert.deepEqual(o('fetch.text'), {
    status: 200, statusText: 'OK', ok: true, type: 'basic', redirected: false, url: '/conf/text',
    contentType: 'text/plain;charset=utf-8', bodyNull: false, text: 'hello',
  });
  assert.equal(o('fetch.bytes').pattern, true);
  assert.equal(o('fetch.stream').incremental, true);
  assert.deepEqual(o('fetch.abort.pending'), { error: 'AbortError', handlerDropped: true });
  assert.deepEqual(o('xhr.text').events, ['readystatechange:1', 'loadstart', 'readystatechange:2', 'readystatechange:3', 'progress', 'readystatechange:4', 'load', 'loadend']);
  assert.deepEqual(o('xhr.timeout').events, ['readystatechange:1', 'loadstart', 'readystatechange:4', 'timeout', 'loadend']);
  assert.deepEqual(o('xhr.headers').selected, ['content-type: text/plain; charset=iso-8859-1', 'x-multi: a, b']);
  assert.deepEqual(o('eventsource.stream').events, ['open:1', 'message:event 1', 'tick:event 2', 'message:event 3', 'error:0', 'open:1']);
  assert.deepEqual(o('eventsource.last-event-id').data, ['1:event 1', '2:event 2', '3:event 3', '4:event 4']);
  assert.deepEqual(o('xhr.sync'), { error: 'InvalidAccessError' });
  assert.equal(o('fetch.multipart').json.files[0].sha256, createHash('sha256').update('file content \u2713').digest('hex'));

  // compare: a run against itself has no differences; a changed observation is found,
  // and a documented deviation is marked as known.
  assert.deepEqual(compare(shim, shim), []);
  const other = structuredClone(shim);
  other.cases['fetch.text'].observed.status = 201;
  other.cases['xhr.sync'].observed = { status: 200, responseText: 'hello' };
  delete other.cases['fetch.json'];
  const diffs = compare(shim, other);
  assert.deepEqual(
    diffs.map((d) => [d.case, d.path, d.a, d.b, Boolean(d.known)]),
    [
      ['fetch.json', '', 'ran', 'missing', false],
      ['fetch.text', 'observed.status', 200, 201, false],
      ['xhr.sync', 'observed.error', 'InvalidAccessError', undefined, true],
      ['xhr.sync', 'observed.responseText', undefined, 'hello', true],
      ['xhr.sync', 'observed.status', undefined, 200, true],
    ],
  );
  assert.ok(KNOWN_DEVIATIONS['fetch.redirect.manual observed.type']);
});

test('conformance: known deviations are per field; a new difference inside a known case is unknown', () => {
  for (const key of Object.keys(KNOWN_DEVIATIONS)) {
    assert.match(key, /^[a-z0-9.-]+ (observed|failure)[^ ]*$/, `${key}: keys are "case path"`);
  }
  const run = (observed) => ({ base: 'x', useShim: true, userAgent: '', cases: { 'fetch.redirect.manual': { observed, ms: 1 } } });
  const shim = run({ type: 'basic', status: 302, redirected: false });
  const engine = run({ type: 'opaqueredirect', status: 0, redirected: false });
  assert.deepEqual(compare(shim, engine).map((d) => [d.path, Boolean(d.known)]), [['observed.status', true], ['observed.type', true]]);
  // The same case with a field that is not a documented deviation: caught.
  const changed = run({ type: 'basic', status: 302, redirected: true });
  assert.deepEqual(compare(changed, engine).map((d) => [d.path, Boolean(d.known)]), [
    ['observed.redirected', false],
    ['observed.status', true],
    ['observed.type', true],
  ]);
});

test('conformance: useShim without an installation is refused; useShim false uses the originals', async () => {
  await assert.rejects(runConformance({ base: 'app://localhost', useShim: true, global: {} }), /not installed/);
  const { g, calls } = page();
  const obs = await runConformance({ base: 'http://127.0.0.1:9', useShim: false, global: g, only: ['fetch.text'] });
  assert.equal(calls.fetch.length, 1, "the browser's own fetch was used");
  assert.equal(calls.fetch[0][0], 'http://127.0.0.1:9/conf/text');
  assert.deepEqual(Object.keys(obs.cases), ['fetch.text']);
});
