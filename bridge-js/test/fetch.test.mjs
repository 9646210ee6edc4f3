// The fetch() shim: request construction (every input and body form), the response as a
// real streaming Response, abort, redirects, failures, the native route, and what is left
// to the browser's own fetch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseMultipart } from './support/conf-routes.mjs';
import { decodeText, gate, headerMap, heads, page, readAll, settle, text } from './support/env.mjs';

const sha = (b) => createHash('sha256').update(b).digest('hex');

test('GET: the head on the wire, and a real Response with url, redirected, type', async () => {
  const { g, peer } = page();
  const res = await g.fetch('app://localhost/conf/text?q=1#frag');
  assert.ok(res instanceof Response);
  assert.equal(res.status, 200);
  assert.equal(res.statusText, 'OK');
  assert.equal(res.ok, true);
  assert.equal(res.url, 'app://localhost/conf/text?q=1', 'no fragment');
  assert.equal(res.redirected, false);
  assert.equal(res.type, 'basic');
  assert.equal(res.headers.get('content-type'), 'text/plain;charset=utf-8');
  assert.equal(await res.text(), 'hello');
  const [head] = heads(peer);
  assert.equal(head.method, 'GET');
  assert.equal(head.uri, 'app://localhost/conf/text?q=1', 'absolute, without the fragment');
  assert.equal(head.endStream, true);
  assert.deepEqual(headerMap(head), { accept: '*/*' });
});

test('input forms: relative strings against document.baseURI, URL objects, Request objects', async () => {
  const { g, peer } = page({ base: 'app://localhost/sub/page.html' });
  await (await g.fetch('../conf/text')).text();
  await (await g.fetch(new URL('app://localhost/conf/json'))).text();
  const controller = new AbortController();
  const req = new Request('app://localhost/conf/echo', {
    method: 'PUT',
    body: 'from a request',
    headers: { 'x-a': '1', 'content-type': 'text/x-mine' },
    signal: controller.signal,
  });
  const res = await g.fetch(req);
  assert.equal(await res.text(), 'from a request');
  assert.equal(req.bodyUsed, true, 'fetch consumes the Request body');
  const [h1, h2, h3] = heads(peer);
  assert.equal(h1.uri, 'app://localhost/conf/text');
  assert.equal(h2.uri, 'app://localhost/conf/json');
  assert.equal(h3.method, 'PUT');
  assert.deepEqual(headerMap(h3), { 'content-type': 'text/x-mine', 'x-a': '1', accept: '*/*', 'content-length': '14' });
  // init overrides the Request's members.
  const res2 = await g.fetch(new Request('app://localhost/conf/echo', { method: 'POST', body: 'x' }), { method: 'PUT', body: 'y' });
  assert.equal(res2.headers.get('x-echo-method'), 'PUT');
  assert.equal(await res2.text(), 'y');
  // A Request's signal is followed.
  controller.abort();
  await assert.rejects(g.fetch(new Request('app://localhost/conf/text', { signal: controller.signal })), { name: 'AbortError' });
});

async function echo(g, body, headers) {
  const init = { method: 'POST', body };
  if (headers) init.headers = headers;
  if (body instanceof ReadableStream) init.duplex = 'half';
  const res = await g.fetch('/conf/echo', init);
  return { type: res.headers.get('x-echo-content-type'), bytes: new Uint8Array(await res.arrayBuffer()) };
}

test('bodies: every BodyInit type with the Fetch spec default Content-Type and exact bytes', async () => {
  const { g, peer } = page();
  let r = await echo(g, 'h\u00e9llo \u2713');
  assert.equal(r.type, 'text/plain;charset=UTF-8');
  assert.equal(decodeText(r.bytes), 'h\u00e9llo \u2713');

  r = await echo(g, new URLSearchParams({ a: '1', b: 'x y&\u00e9' }));
  assert.equal(r.type, 'application/x-www-form-urlencoded;charset=UTF-8');
  assert.equal(decodeText(r.bytes), 'a=1&b=x+y%26%C3%A9');

  r = await echo(g, new Blob(['typed'], { type: 'Application/X-Test' }));
  assert.equal(r.type, 'application/x-test', "the Blob's (lower-cased) type");
  assert.equal(decodeText(r.bytes), 'typed');

  r = await echo(g, new Blob([new Uint8Array([0, 1, 2, 255])]));
  assert.equal(r.type, '', 'an untyped Blob sends no Content-Type');
  assert.deepEqual([...r.bytes], [0, 1, 2, 255]);

  r = await echo(g, new Uint8Array([9, 8, 7]).buffer);
  assert.deepEqual([...r.bytes], [9, 8, 7]);
  const backing = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);
  r = await echo(g, backing.subarray(2, 5));
  assert.deepEqual([...r.bytes], [2, 3, 4], 'only the view');
  r = await echo(g, new DataView(backing.buffer, 6, 2));
  assert.deepEqual([...r.bytes], [6, 7]);
  r = await echo(g, new Uint16Array([0x0102]));
  assert.deepEqual([...r.bytes], [2, 1]);

  // The page's Content-Type wins over the default.
  r = await echo(g, 'x', { 'Content-Type': 'application/json' });
  assert.equal(r.type, 'application/json');

  // Known lengths go as Content-Length; an empty body as end_stream.
  await echo(g, '');
  const all = heads(peer);
  assert.equal(headerMap(all[0])['content-length'], String(text('h\u00e9llo \u2713').length));
  assert.equal(all.at(-1).endStream, true);
  assert.equal(headerMap(all.at(-1))['content-length'], '0');
  // POST without a body: Content-Length 0, as browsers send.
  await g.fetch('/conf/echo', { method: 'POST' });
  assert.equal(headerMap(heads(peer).at(-1))['content-length'], '0');
});

test('bodies: FormData with strings and files becomes multipart/form-data that parses back', async () => {
  const { g } = page();
  const form = new FormData();
  form.append('plain', 'value \u2713');
  form.append('lines', 'a\nb\rc\r\nd');
  form.append('q"name\n', 'x');
  const fileBytes = Uint8Array.from({ length: 70000 }, (_, i) => (i * 13) & 255);
  form.append('file', new File([fileBytes], 'd"ata\n.bin', { type: 'application/x-bin' }));
  form.append('blob', new Blob(['untyped']));
  const r = await echo(g, form);
  assert.match(r.type, /^multipart\/form-data; boundary=----inprocbusformboundary[a-z0-9]{24}$/);
  const raw = decodeText(r.bytes);
  assert.ok(raw.endsWith('--\r\n'));
  const parsed = parseMultipart(r.bytes, r.type);
  assert.deepEqual(parsed.fields, { plain: 'value \u2713', lines: 'a\r\nb\r\nc\r\nd', 'q%22name%0D%0A': 'x' });
  assert.deepEqual(parsed.files, [
    { name: 'file', filename: 'd%22ata%0A.bin', type: 'application/x-bin', size: 70000, sha256: sha(fileBytes) },
    { name: 'blob', filename: 'blob', type: 'application/octet-stream', size: 7, sha256: sha(text('untyped')) },
  ]);
});

test('bodies: a ReadableStream is streamed as it is produced (duplex: "half" required)', async () => {
  const { g, peer } = page();
  const chunks = ['one ', 'two ', 'three'];
  let pulls = 0;
  const body = new ReadableStream({
    async pull(c) {
      pulls++;
      await settle();
      const next = chunks.shift();
      if (next === undefined) c.close();
      else c.enqueue(text(next));
    },
  });
  const r = await echo(g, body);
  assert.equal(decodeText(r.bytes), 'one two three');
  assert.ok(pulls >= 3);
  const head = heads(peer)[0];
  assert.equal(head.endStream, false);
  assert.equal(headerMap(head)['content-length'], undefined, 'unknown length');
  assert.deepEqual(peer.frames('RequestData').map((f) => decodeText(f.data)), ['one ', 'two ', 'three']);
  await assert.rejects(g.fetch('/conf/echo', { method: 'POST', body: new ReadableStream() }), TypeError, 'no duplex');
});

test('headers: forbidden ones dropped silently, invalid ones and GET/HEAD bodies are TypeErrors', async () => {
  const { g, peer } = page();
  const headers = new Headers([
    ['X-Custom', ' v '],
    ['x-dup', 'a'],
    ['x-dup', 'b'],
    ['Cookie', 'c=1'],
    ['Sec-Anything', '1'],
    ['Proxy-Authorization', 'x'],
    ['Host', 'evil'],
    ['Content-Length', '99'],
    ['X-HTTP-Method-Override', 'TRACE'],
    ['X-Method-Override', 'PATCH'],
  ]);
  await (await g.fetch('/conf/headers', { headers })).text();
  const h = headerMap(heads(peer)[0]);
  assert.deepEqual(h, { accept: '*/*', 'x-custom': 'v', 'x-dup': 'a, b', 'x-method-override': 'PATCH' });
  await (await g.fetch('/conf/headers', { headers: { Accept: 'application/json' } })).text();
  assert.equal(headerMap(heads(peer)[1]).accept, 'application/json');

  const sent = peer.received.length;
  await assert.rejects(g.fetch('/conf/text', { headers: { 'bad name': 'x' } }), TypeError);
  await assert.rejects(g.fetch('/conf/text', { headers: { ok: 'bad\nvalue' } }), TypeError);
  await assert.rejects(g.fetch('/conf/text', { headers: { ok: '\u2713' } }), TypeError);
  await assert.rejects(g.fetch('/conf/text', { method: 'GET', body: 'x' }), TypeError);
  await assert.rejects(g.fetch('/conf/text', { method: 'HEAD', body: 'x' }), TypeError);
  await assert.rejects(g.fetch('/conf/text', { method: 'CONNECT' }), TypeError);
  await assert.rejects(g.fetch('/conf/text', { method: 'bad method' }), TypeError);
  assert.equal(peer.received.length, sent, 'nothing was sent for any of them');

  await (await g.fetch('/conf/echo', { method: 'post', body: 'x' })).text();
  await (await g.fetch('/conf/echo', { method: 'patch', body: 'x' })).text();
  assert.deepEqual(heads(peer).slice(-2).map((f) => f.method), ['POST', 'patch'], 'only the six are normalized');
});

test('abort: before the call, while waiting for the head, and while the body streams', async () => {
  const { g, peer, conf } = page();
  const c = new AbortController();
  c.abort();
  await assert.rejects(g.fetch('/conf/text', { signal: c.signal }), (e) => e instanceof DOMException && e.name === 'AbortError');
  const reason = new Error('mine');
  await assert.rejects(g.fetch('/conf/text', { signal: AbortSignal.abort(reason) }), (e) => e === reason);
  assert.equal(peer.received.length, 0, 'an aborted signal sends nothing');

  const c2 = new AbortController();
  const pending = g.fetch('/conf/hang', { signal: c2.signal });
  await settle();
  c2.abort();
  await assert.rejects(pending, { name: 'AbortError' });
  await settle();
  assert.deepEqual(peer.frames('Cancel').map((f) => f.stream), [heads(peer)[0].stream]);
  assert.equal(conf.state.cancelled, 1, 'the handler saw the cancellation');

  const c3 = new AbortController();
  const res = await g.fetch('/conf/stream?chunks=10&ms=20', { signal: c3.signal });
  const reader = res.body.getReader();
  assert.equal(decodeText((await reader.read()).value), 'chunk 0\n');
  c3.abort();
  await assert.rejects(reader.read(), { name: 'AbortError' });
  await settle();
  assert.equal(peer.frames('Cancel').length, 2);
});

test('the body streams chunk by chunk as frames arrive', async () => {
  const steps = [gate(), gate()];
  const { g } = page({
    handler: async (req, res) => {
      res.head(200, { 'content-type': 'text/plain' });
      await res.write('first ');
      await steps[0].wait();
      await res.write('second ');
      await steps[1].wait();
      await res.write('third');
      res.end();
    },
  });
  const res = await g.fetch('/stream');
  const reader = res.body.getReader();
  assert.equal(decodeText((await reader.read()).value), 'first ', 'before the rest exists');
  steps[0].open();
  assert.equal(decodeText((await reader.read()).value), 'second ');
  steps[1].open();
  assert.equal(decodeText((await reader.read()).value), 'third');
  assert.equal((await reader.read()).done, true);
});

test('redirects: followed per the spec, with method and body rules, or refused', async () => {
  const { g, peer } = page();
  for (const code of [301, 302, 303, 307, 308]) {
    const res = await g.fetch(`/conf/redirect/${code}?to=/conf/text%3Fz=1`);
    assert.equal(res.status, 200);
    assert.equal(res.redirected, true);
    assert.equal(res.url, 'app://localhost/conf/text?z=1');
    assert.equal(await res.text(), 'hello');
  }
  const redirecting = (code, to) => async (req, res) => {
    if (req.url.pathname === '/start') {
      res.head(code, { location: to });
      return res.end();
    }
    const body = await req.body();
    res.head(200, { 'x-method': req.method, 'x-type': req.headers.get('content-type') ?? '', 'x-auth': req.headers.get('authorization') ?? '' });
    await res.write(body);
    res.end();
  };
  const post = async (code, body = 'payload', extra = {}) => {
    const p = page({ handler: redirecting(code, '/final') });
    const res = await p.g.fetch('/start', { method: 'POST', body, headers: { 'content-type': 'text/x-a', authorization: 'secret' }, ...extra });
    return { method: res.headers.get('x-method'), type: res.headers.get('x-type'), auth: res.headers.get('x-auth'), body: await res.text() };
  };
  assert.deepEqual(await post(301), { method: 'GET', type: '', auth: 'secret', body: '' });
  assert.deepEqual(await post(302), { method: 'GET', type: '', auth: 'secret', body: '' });
  assert.deepEqual(await post(303), { method: 'GET', type: '', auth: 'secret', body: '' });
  assert.deepEqual(await post(307), { method: 'POST', type: 'text/x-a', auth: 'secret', body: 'payload' });
  assert.deepEqual(await post(308, new Blob(['blob body'])), { method: 'POST', type: 'text/x-a', auth: 'secret', body: 'blob body' });
  // A streamed body cannot be replayed.
  await assert.rejects(post(307, new ReadableStream({ pull: (c) => c.close() }), { duplex: 'half' }), TypeError);

  await assert.rejects(g.fetch('/conf/redirect/302?to=/conf/text', { redirect: 'error' }), TypeError);
  const manual = await g.fetch('/conf/redirect/302?to=/conf/text', { redirect: 'manual' });
  assert.equal(manual.status, 302, 'manual: the redirect itself (see Caveats)');
  assert.equal(manual.headers.get('location'), '/conf/text');

  // A loop gives up after 20 hops.
  const loop = page({
    handler: async (req, res) => {
      res.head(302, { location: '/again' });
      res.end();
    },
  });
  await assert.rejects(loop.g.fetch('/again'), TypeError);
  assert.equal(heads(loop.peer).length, 21);

  // A redirect out of the bus goes on with the browser's own fetch; Authorization is dropped cross-origin.
  const out = page({ handler: redirecting(307, 'https://example.com/elsewhere') });
  const res = await out.g.fetch('/start', { method: 'POST', body: 'b', headers: { authorization: 'secret' } });
  assert.equal(await res.text(), 'from the browser');
  assert.equal(res.redirected, true);
  const [[url, init]] = out.calls.fetch;
  assert.equal(url, 'https://example.com/elsewhere');
  assert.equal(init.method, 'POST');
  assert.ok(!init.headers.some(([n]) => n === 'authorization'));
  assert.equal(heads(peer).length, 12, '5 redirects of two hops, then error and manual stop at the first');
});

test("a redirect that leaves the bus keeps the request's mode, credentials, cache, referrer, referrer policy, integrity and keepalive", async () => {
  const redirecting = async (req, res) => {
    res.head(302, { location: 'https://example.com/elsewhere' });
    res.end();
  };
  const out = page({ handler: redirecting });
  await out.g.fetch('/start', { credentials: 'include', cache: 'no-store', referrer: '', referrerPolicy: 'no-referrer', integrity: 'sha256-abc', keepalive: true });
  const [[url, init]] = out.calls.fetch;
  assert.equal(url, 'https://example.com/elsewhere');
  assert.deepEqual(
    [init.mode, init.credentials, init.cache, init.referrer, init.referrerPolicy, init.integrity, init.keepalive],
    ['cors', 'include', 'no-store', '', 'no-referrer', 'sha256-abc', true],
  );
  // Fetch's main fetch: a same-origin request may not go to another origin.
  const same = page({ handler: redirecting });
  await assert.rejects(same.g.fetch('/start', { mode: 'same-origin' }), TypeError);
  assert.equal(same.calls.fetch.length, 0, 'the browser fetch was not asked');
});

test('failures: Error frames and a closed client reject with TypeError; HTTP errors resolve', async () => {
  const { g, inst } = page({
    handler: async (req, res) => {
      if (req.url.pathname === '/fail') return res.error(12, 'boom');
      if (req.url.pathname === '/fail-later') {
        res.head(200);
        await res.write('partial');
        return res.error(10, 'body failed');
      }
      if (req.url.pathname === '/odd') {
        res.head(Number(req.url.searchParams.get('s')));
        return res.end();
      }
      res.head(Number(req.url.pathname.slice(1)), { 'content-type': 'text/plain' });
      await res.write('x');
      res.end();
    },
  });
  await assert.rejects(g.fetch('/fail'), (e) => e instanceof TypeError && /Internal \(12\): boom/.test(e.message));
  const later = await g.fetch('/fail-later');
  await assert.rejects(later.text(), TypeError);
  for (const s of [404, 500, 599]) {
    const res = await g.fetch(`/${s}`);
    assert.equal(res.status, s);
    assert.equal(res.ok, false);
    assert.equal(await res.text(), 'x');
  }
  for (const s of [204, 205, 304]) {
    const res = await g.fetch(`/odd?s=${s}`);
    assert.equal(res.status, s);
    assert.equal(res.body, null);
  }
  const head = await g.fetch('/200', { method: 'HEAD' });
  assert.equal(head.body, null);
  await assert.rejects(g.fetch('/odd?s=600'), TypeError, 'a status a Response cannot carry');
  inst.client.close();
  await assert.rejects(g.fetch('/200'), TypeError);
});

test('clone() keeps url and redirected; text decodes as UTF-8 regardless of charset', async () => {
  const { g } = page();
  const res = await g.fetch('/conf/redirect/302?to=/conf/json');
  const copy = res.clone();
  assert.equal(copy.url, 'app://localhost/conf/json');
  assert.equal(copy.redirected, true);
  assert.deepEqual(await copy.json(), { ok: true, n: 42 });
  assert.deepEqual(await res.json(), { ok: true, n: 42 });
});

test('non-bus URLs go to the browser fetch untouched, with the very same arguments', async () => {
  const { g, peer, calls } = page();
  const init = { method: 'POST', body: new Blob(['x']) };
  const urls = [
    'https://example.com/x',
    'http://localhost/x',
    'app://localhost:8080/x',
    'app://localhost.evil.com/x',
    'app://evil.localhost/x',
    'app:/localhost/x',
    'other://localhost/x',
    'blob:app://localhost/0000',
    'http://[::1]:3/',
  ];
  for (const u of urls) await g.fetch(u, init);
  const req = new Request('https://example.com/r');
  await g.fetch(req);
  await g.fetch('https://example.com/no-init');
  assert.equal(peer.received.length, 0, 'nothing reached the bus');
  assert.equal(calls.fetch.length, urls.length + 2);
  for (let i = 0; i < urls.length; i++) {
    assert.equal(calls.fetch[i][0], urls[i]);
    assert.equal(calls.fetch[i][1], init, 'the same init object');
  }
  assert.equal(calls.fetch[urls.length][0], req);
  assert.equal(calls.fetch[urls.length + 1].length, 1, 'no init added');
  // Relative URLs on a foreign-origin base are not ours either.
  const other = page({ base: 'https://example.com/', options: { pageOrigins: false } });
  await other.g.fetch('/conf/text');
  assert.equal(other.calls.fetch.length, 1);
  assert.equal(other.peer.received.length, 0);
  assert.equal(g.fetch.length, 1);
  assert.equal(g.fetch.name, 'fetch');
});

test('the init dictionary: each member read once, in WebIDL order; a non-object init is a TypeError', async () => {
  const { g, peer } = page();
  const reads = [];
  const init = {};
  for (const [name, value] of [['method', 'POST'], ['body', 'payload'], ['signal', new AbortController().signal], ['headers', { 'x-a': '1' }], ['cache', 'no-store']]) {
    Object.defineProperty(init, name, { get: () => { reads.push(name); return value; }, enumerable: true });
  }
  const res = await g.fetch('/conf/echo', init);
  assert.equal(res.status, 200);
  assert.deepEqual(reads, ['body', 'cache', 'headers', 'method', 'signal'], 'once each, in lexicographic order');
  assert.equal(heads(peer).at(-1).method, 'POST');
  await assert.rejects(g.fetch('/conf/text', 5), TypeError);
  const thrower = { get method() { throw new RangeError('from a getter'); } };
  await assert.rejects(g.fetch('/conf/text', thrower), RangeError);
});

test("fetch() without an input, or with a Symbol, is the browser's TypeError: nothing reaches the bus", async () => {
  const { g, peer, calls } = page();
  await g.fetch();
  await g.fetch(Symbol('x'));
  assert.equal(peer.received.length, 0, 'nothing reached the bus (it fetched /undefined)');
  assert.equal(calls.fetch.length, 2, 'both went to the browser fetch, which rejects them');
  assert.equal(calls.fetch[0].length, 0);
  assert.equal(typeof calls.fetch[1][0], 'symbol');
});

test('native route: the browser fetch gets ArrayBuffers instead of Blobs and FormData, and the body marker', async () => {
  const { g, calls, peer } = page({ options: { routes: { fetch: 'native' } } });
  await g.fetch('/up', { method: 'POST', body: new Blob(['blob!'], { type: 'text/x-blob' }) });
  let [input, init] = calls.fetch.at(-1);
  assert.equal(input, '/up');
  assert.ok(init.body instanceof ArrayBuffer);
  assert.equal(decodeText(new Uint8Array(init.body)), 'blob!');
  assert.equal(new Headers(init.headers).get('content-type'), 'text/x-blob');
  assert.equal(new Headers(init.headers).get('x-inproc-bus-body'), '1');
  assert.equal(init.method, 'POST', 'the other members are still there');

  const form = new FormData();
  form.append('a', '1');
  form.append('f', new File(['file!'], 'f.txt', { type: 'text/plain' }));
  await g.fetch('/up', { method: 'POST', body: form, headers: { 'x-keep': '1' } });
  [, init] = calls.fetch.at(-1);
  assert.ok(init.body instanceof ArrayBuffer);
  const type = new Headers(init.headers).get('content-type');
  assert.match(type, /^multipart\/form-data; boundary=/);
  assert.equal(new Headers(init.headers).get('x-keep'), '1');
  const parsed = parseMultipart(new Uint8Array(init.body), type);
  assert.deepEqual(parsed.fields, { a: '1' });
  assert.equal(parsed.files[0].filename, 'f.txt');

  // The page's own Content-Type wins.
  await g.fetch('/up', { method: 'POST', body: new Blob(['b'], { type: 'text/x-blob' }), headers: { 'content-type': 'text/x-mine' } });
  assert.equal(new Headers(calls.fetch.at(-1)[1].headers).get('content-type'), 'text/x-mine');

  // A Request with a body: its bytes, read from a clone.
  const req = new Request('app://localhost/up', { method: 'POST', body: new Blob(['req body']) });
  await g.fetch(req);
  [input, init] = calls.fetch.at(-1);
  assert.equal(input, req);
  assert.equal(decodeText(new Uint8Array(init.body)), 'req body');

  assert.equal(new Headers(init.headers).get('x-inproc-bus-body'), '1');

  // A FormData of strings is flattened too; a string body goes as it is, with the marker
  // and its default Content-Type.
  const strings = new FormData();
  strings.append('a', '1');
  await g.fetch('/up', { method: 'POST', body: strings });
  assert.ok(calls.fetch.at(-1)[1].body instanceof ArrayBuffer);
  await g.fetch('/up', { method: 'PUT', body: 'text' });
  [, init] = calls.fetch.at(-1);
  assert.equal(init.body, 'text');
  assert.deepEqual([...new Headers(init.headers)], [['content-type', 'text/plain;charset=UTF-8'], ['x-inproc-bus-body', '1']]);
  // No body: what the page passed, its members read once (WebIDL's RequestInit).
  const get = { headers: { a: '1' } };
  await g.fetch('/up', get);
  assert.deepEqual(calls.fetch.at(-1)[1], get);
  assert.equal(peer.received.length, 0);

  // The marker can be renamed or turned off.
  const off = page({ options: { routes: { fetch: 'native' }, nativeBodyMarker: false } });
  await off.g.fetch('/up', { method: 'POST', body: 'x' });
  assert.equal(new Headers(off.calls.fetch[0][1].headers).has('x-inproc-bus-body'), false);
});

test('routes as a function: GETs without bodies native, everything with a body as frames', async () => {
  const seen = [];
  const { g, calls, peer } = page({
    options: {
      routes: {
        fetch: (info) => {
          seen.push([info.method, info.url.pathname, info.hasBody]);
          return info.hasBody ? 'frames' : 'native';
        },
      },
    },
  });
  await g.fetch('/conf/text');
  await (await g.fetch('/conf/echo', { method: 'post', body: 'x' })).text();
  await (await g.fetch(new Request('app://localhost/conf/echo', { method: 'PUT', body: 'y' }))).text();
  assert.deepEqual(seen, [
    ['GET', '/conf/text', false],
    ['POST', '/conf/echo', true],
    ['PUT', '/conf/echo', true],
  ]);
  assert.equal(calls.fetch.length, 1);
  assert.equal(heads(peer).length, 2);
});

test('many concurrent fetches share the transport and all complete', async () => {
  const { g, inst } = page();
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => g.fetch(`/conf/bytes?n=${i * 1000}`).then((r) => r.arrayBuffer())));
  results.forEach((b, i) => assert.equal(b.byteLength, i * 1000));
  assert.equal(inst.client.openStreams, 0);
});

test('abort: a stream request body is cancelled with the abort reason, at once when the signal is already aborted, and fetch rejects with that same reason', async () => {
  const { g } = page({ handler: () => new Promise(() => {}) });
  // Already aborted: cancelled before fetch() returns.
  const controller = new AbortController();
  controller.abort();
  let cancelled;
  const body = new ReadableStream({
    pull(c) {
      c.enqueue(new Uint8Array([1, 2, 3]));
    },
    cancel(reason) {
      cancelled = reason;
    },
  });
  const p = g.fetch('app://localhost/upload', { method: 'POST', body, duplex: 'half', signal: controller.signal });
  assert.ok(cancelled instanceof DOMException && cancelled.name === 'AbortError', `cancelled with ${cancelled}`);
  assert.equal(await p.catch((e) => e), cancelled, 'fetch rejects with the same reason');
  // Aborted mid-upload: the reader is cancelled with the reason too.
  const c2 = new AbortController();
  let cancelled2;
  let sent = 0;
  const body2 = new ReadableStream({
    pull(c) {
      // Two chunks, then a source that waits (for ever) for its next one.
      sent++;
      if (sent > 2) return new Promise(() => {});
      c.enqueue(new Uint8Array(1024));
    },
    cancel(reason) {
      cancelled2 = reason;
    },
  });
  const p2 = g.fetch('app://localhost/upload', { method: 'POST', body: body2, duplex: 'half', signal: c2.signal });
  for (let i = 0; i < 100 && sent < 3; i++) await settle();
  assert.equal(sent, 3, 'the upload read both chunks and waits for a third');
  const why = new Error('stopped by the page');
  c2.abort(why);
  assert.equal(await p2.catch((e) => e), why);
  await settle();
  assert.equal(cancelled2, why, 'the source is cancelled with the abort reason');
});

test('abort: a Request input whose stream body never ends rejects at once with the reason, and the body is cancelled', async () => {
  let handlerCalled = false;
  const { g } = page({
    handler: () => {
      handlerCalled = true;
      return new Promise(() => {});
    },
  });
  let cancelled = 'not cancelled';
  const body = new ReadableStream({
    start(c) {
      c.enqueue(new Uint8Array([1, 2, 3])); // one chunk, then waits for ever
    },
    cancel(reason) {
      cancelled = reason;
    },
  });
  const controller = new AbortController();
  const req = new Request('app://localhost/upload', { method: 'POST', body, duplex: 'half', signal: controller.signal });
  const p = g.fetch(req);
  for (let i = 0; i < 10; i++) await settle();
  const why = new Error('stopped by the page');
  controller.abort(why);
  const outcome = await Promise.race([p.then(() => 'resolved', (e) => e), new Promise((r) => setTimeout(() => r('still pending after 500 ms'), 500))]);
  await settle();
  assert.equal(outcome, why, 'fetch() rejects with the abort reason');
  assert.equal(cancelled, why, 'the request body is cancelled with it');
  assert.equal(handlerCalled, false, 'nothing was sent');
});

test('abort: abort(null) gives null as the reason, before the call, before the head and while the body is read', async () => {
  const c = new AbortController();
  c.abort(null);
  const { g } = page({ handler: () => new Promise(() => {}) });
  assert.equal(await g.fetch('app://localhost/x', { signal: c.signal }).then(() => 'resolved', (e) => e), null);
  const c2 = new AbortController();
  const p = g.fetch('app://localhost/x', { signal: c2.signal });
  await settle();
  c2.abort(null);
  assert.equal(await p.then(() => 'resolved', (e) => e), null);
  const { g: g3 } = page({
    handler: async (req, res) => {
      res.head(200, {});
      await res.write('abc');
      await new Promise(() => {});
    },
  });
  const c3 = new AbortController();
  const reader = (await g3.fetch('app://localhost/x', { signal: c3.signal })).body.getReader();
  await reader.read();
  c3.abort(null);
  assert.equal(await reader.read().then(() => 'resolved', (e) => e), null);
});

test('abort: a fetch queued behind the session limit cancels its stream body with the reason', async () => {
  const { g } = page({ handler: () => new Promise(() => {}), options: { maxStreams: 1 } });
  g.fetch('app://localhost/busy').catch(() => {}); // holds the only stream
  await settle();
  let cancelled = 'not cancelled';
  const body = new ReadableStream({
    pull(c) {
      c.enqueue(new Uint8Array([1]));
    },
    cancel(reason) {
      cancelled = reason;
    },
  });
  const c = new AbortController();
  const p = g.fetch('app://localhost/upload', { method: 'POST', body, duplex: 'half', signal: c.signal });
  await settle();
  const why = new Error('stopped by the page');
  c.abort(why);
  assert.equal(await p.then(() => 'resolved', (e) => e), why);
  await settle();
  assert.equal(cancelled, why, 'the request body source is cancelled with the reason');
});

test('bodies: a request body stream that errors with an AbortError aborts the fetch; any other error is a TypeError', async () => {
  const { g } = page({ handler: () => new Promise(() => {}) });
  let ctl;
  const p = g.fetch('app://localhost/upload', {
    method: 'POST',
    body: new ReadableStream({
      start(c) {
        ctl = c;
        c.enqueue(new Uint8Array([1]));
      },
    }),
    duplex: 'half',
  });
  for (let i = 0; i < 5; i++) await settle();
  ctl.error(new DOMException('the page stopped its upload', 'AbortError'));
  assert.equal((await p.then(() => 'resolved', (e) => e))?.name, 'AbortError');
  let ctl2;
  const p2 = g.fetch('app://localhost/upload', {
    method: 'POST',
    body: new ReadableStream({
      start(c) {
        ctl2 = c;
      },
    }),
    duplex: 'half',
  });
  await settle();
  ctl2.error(new Error('boom'));
  assert.ok((await p2.then(() => 'resolved', (e) => e)) instanceof TypeError);
});

test('abort: already aborted where Request has no body getter (WebKit), the stream the page gave is still cancelled', async () => {
  const { g } = page({ handler: () => new Promise(() => {}) });
  const desc = Object.getOwnPropertyDescriptor(Request.prototype, 'body');
  delete Request.prototype.body;
  let cancelled = 'not cancelled';
  let got;
  try {
    const c = new AbortController();
    c.abort();
    const body = new ReadableStream({
      pull(ctl) {
        ctl.enqueue(new Uint8Array([1]));
      },
      cancel(r) {
        cancelled = r;
      },
    });
    got = await g.fetch('app://localhost/upload', { method: 'POST', body, duplex: 'half', signal: c.signal }).then(() => 'resolved', (e) => e);
  } finally {
    Object.defineProperty(Request.prototype, 'body', desc);
  }
  assert.equal(got?.name, 'AbortError');
  assert.equal(cancelled, got, 'the source is cancelled with the reason fetch rejects with');
});

// Large byte bodies: an empty view stands in for them in the engine's Request constructor
// (which copied them for nothing); what the page and the handler see must not change.
function bodyPage() {
  const seen = [];
  const handler = async (req, res) => {
    const body = await req.body();
    seen.push({ type: req.headers.get('content-type') ?? null, length: body.length, sha: sha(body) });
    res.head(200, {});
    res.end();
  };
  return { ...page({ handler }), seen };
}
const ramp = (n) => Uint8Array.from({ length: n }, (_, i) => (i * 13) & 255);

test('fetch: a large byte body arrives whole with no Content-Type, from a view at an offset too', async () => {
  const { g, seen } = bodyPage();
  const bytes = ramp(100_000);
  await g.fetch('app://localhost/x', { method: 'POST', body: bytes });
  await g.fetch('app://localhost/x', { method: 'POST', body: new DataView(bytes.buffer, 10) });
  await g.fetch('app://localhost/x', { method: 'POST', body: bytes.buffer });
  assert.deepEqual(seen, [
    { type: null, length: 100_000, sha: sha(bytes) },
    { type: null, length: 99_990, sha: sha(bytes.subarray(10)) },
    { type: null, length: 100_000, sha: sha(bytes) },
  ]);
});

test('fetch: a large byte body on a GET or HEAD is the TypeError it always was', async () => {
  const { g, seen } = bodyPage();
  for (const method of ['GET', 'HEAD']) {
    await assert.rejects(g.fetch('app://localhost/x', { method, body: ramp(100_000) }), TypeError);
  }
  assert.equal(seen.length, 0);
});

test('fetch: an ArrayBuffer from another realm is bytes, as WebIDL has it', async () => {
  const vm = await import('node:vm');
  const { g, seen } = bodyPage();
  const foreign = vm.runInNewContext('new Uint8Array(Array.from({ length: 100000 }, (_, i) => (i * 13) & 255)).buffer');
  await g.fetch('app://localhost/x', { method: 'POST', body: foreign });
  assert.deepEqual(seen, [{ type: null, length: 100_000, sha: sha(ramp(100_000)) }]);
});

test('fetch: the page\'s getters on a body\'s view are not run to decide how to send it', async () => {
  const { g, seen } = bodyPage();
  let reads = 0;
  class Sub extends Uint8Array {
    get buffer() {
      reads++;
      return super.buffer;
    }
  }
  const before = reads;
  await g.fetch('app://localhost/x', { method: 'POST', body: new Sub(ramp(100_000)) });
  assert.equal(seen[0].sha, sha(ramp(100_000)));
  // The body's copy reads it once (as before); deciding on the stand-in reads it no more.
  assert.ok(reads - before <= 1, `the buffer getter ran ${reads - before} times`);
});

