// Spec details a large Fetch/XHR conformance suite checks (issue 17), and session hygiene:
// abort after the response, empty bodies, a page's prototype changes, header order and
// combination, window.stop(), open()'s credentials, required arguments, send()'s argument
// conversion, XML/HTML decoding, timeouts after long tasks, control characters, more
// requests than a session has streams, heads too large for a frame.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_FRAME } from '../dist/bus-bridge.mjs';
import { gate, heads, headerMap, page, readAll, settle } from './support/env.mjs';

const enc = new TextEncoder();
const errorName = async (p) => {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return e?.name ?? String(e);
  }
};

/** Runs an XHR to its loadend, recording event types. */
function xhrDone(xhr, events = []) {
  return new Promise((resolve) => {
    for (const t of ['readystatechange', 'loadstart', 'progress', 'abort', 'error', 'load', 'timeout', 'loadend']) {
      xhr.addEventListener(t, () => {
        events.push(t === 'readystatechange' ? `rs:${xhr.readyState}` : t);
        if (t === 'loadend') resolve(events);
      });
    }
  });
}

// 1. Abort after the response ------------------------------------------------------------

test('abort after fetch() resolved: a complete, unread body rejects with the signal\'s reason', async () => {
  const { g } = page();
  const c = new AbortController();
  const res = await g.fetch('/conf/text', { signal: c.signal });
  c.abort();
  const e = await res.text().catch((x) => x);
  assert.equal(e.name, 'AbortError');
  assert.equal(await errorName(res.json()), 'AbortError', 'again: the reason, not "body used"');
  assert.equal(res.bodyUsed, false);

  // A clone is aborted with the original; an empty body is closed before any abort.
  const cc = new AbortController();
  const orig = await g.fetch('/conf/text', { signal: cc.signal });
  const clone = orig.clone();
  cc.abort();
  assert.equal(await errorName(clone.text()), 'AbortError');
  assert.equal(await errorName(orig.arrayBuffer()), 'AbortError');
  const ce = new AbortController();
  const empty = await g.fetch('/conf/echo', { method: 'POST', body: '', signal: ce.signal });
  const reader = empty.body.getReader();
  ce.abort();
  assert.equal((await reader.read()).done, true);

  const c2 = new AbortController();
  const res2 = await g.fetch('/conf/text', { signal: c2.signal });
  const reason = new Error('mine');
  c2.abort(reason);
  assert.equal(await res2.body.getReader().read().catch((x) => x), reason);

  // Read to its end first: the abort changes nothing.
  const c3 = new AbortController();
  const res3 = await g.fetch('/conf/text', { signal: c3.signal });
  assert.equal(await res3.text(), 'hello');
  c3.abort();
  assert.equal(res3.bodyUsed, true);

  // Without a signal the body is the engine's own bytes, as before.
  assert.equal(await (await g.fetch('/conf/text')).text(), 'hello');
});

test('abort after the stream ended but before it was read, and while it streams: the reason, not a TypeError', async () => {
  const { g, peer } = page();
  const c = new AbortController();
  const res = await g.fetch('/conf/stream?chunks=3&ms=5', { signal: c.signal });
  await new Promise((r) => setTimeout(r, 80)); // every chunk and the end arrived
  c.abort();
  assert.equal(await errorName(res.body.getReader().read()), 'AbortError');

  const c2 = new AbortController();
  const res2 = await g.fetch('/conf/stream?chunks=10&ms=50', { signal: c2.signal });
  const reason = new DOMException('stop it', 'AbortError');
  const p = res2.text();
  setTimeout(() => c2.abort(reason), 60);
  assert.equal(await p.catch((x) => x), reason, 'text() rejects with the reason itself');
  await settle();
  assert.ok(peer.frames('Cancel').some((f) => f.stream === heads(peer).at(-1).stream), 'the handler is cancelled');
});

// 2. Empty bodies -------------------------------------------------------------------------

test('an empty body is a stream whose first read is done: no empty chunk', async () => {
  const later = gate();
  const { g } = page({
    handler: async (req, res) => {
      res.head(200, { 'content-type': 'text/plain' });
      await later.wait(); // the end comes in a later delivery than the head
      res.end();
    },
  });
  const p = g.fetch('/empty');
  await settle();
  later.open();
  const res = await p;
  assert.deepEqual(await res.body.getReader().read(), { done: true, value: undefined });

  const { g: g2 } = page();
  const c = new AbortController();
  const res2 = await g2.fetch('/conf/echo', { method: 'POST', body: '', signal: c.signal });
  assert.deepEqual(await res2.body.getReader().read(), { done: true, value: undefined });
});

// 3. Safe stream creation, and no request left unsettled -----------------------------------

test('Object.prototype accessors the page defines do not reach the shim\'s streams and records', async () => {
  const { g } = page();
  // (Not 'status', 'headers', 'body', 'pull' or 'cancel': Node's own Request and Response read
  // and write those through plain objects; browsers' do not.)
  const names = ['start', 'type', 'size', 'highWaterMark', 'complete', 'once'];
  for (const how of ['throw', 'invalid']) {
    const read = [];
    for (const n of names) {
      Object.defineProperty(Object.prototype, n, {
        configurable: true,
        get() {
          read.push(n);
          if (how === 'throw') throw new Error(`Object.prototype.${n} was read`);
          return -1;
        },
      });
    }
    try {
      const c = new AbortController();
      const a = await g.fetch('/conf/text');
      const b = await g.fetch('/conf/stream?chunks=2&ms=1', { signal: c.signal });
      assert.equal(await a.text(), 'hello');
      assert.equal(await b.text(), 'chunk 0\nchunk 1\n');
      const xhr = new g.XMLHttpRequest();
      xhr.open('GET', '/conf/text');
      const done = xhrDone(xhr);
      xhr.send();
      await done;
      assert.equal(xhr.responseText, 'hello');
    } finally {
      for (const n of names) delete Object.prototype[n];
    }
    assert.deepEqual(read, [], `${how}: nothing read through Object.prototype`);
  }
});

test('the page\'s Promise.prototype.then and Array iterator are not called by a fetch', async () => {
  const { g } = page();
  // Warm up, so nothing lazily made is counted.
  await (await g.fetch('/conf/echo', { method: 'POST', body: 'x' })).text();
  const then = Promise.prototype.then;
  const iterator = Array.prototype[Symbol.iterator];
  const calls = { then: [], iterator: [] };
  const ours = (stack) => stack.includes('bus-bridge.mjs');
  Promise.prototype.then = function (...a) {
    calls.then.push(new Error().stack);
    return then.apply(this, a);
  };
  Array.prototype[Symbol.iterator] = function () {
    calls.iterator.push(new Error().stack);
    return iterator.call(this);
  };
  let text;
  try {
    const c = new AbortController();
    const res = await g.fetch('/conf/echo', { method: 'POST', body: 'abc', headers: { 'x-a': '1' }, signal: c.signal });
    text = await res.text();
  } finally {
    Promise.prototype.then = then;
    Array.prototype[Symbol.iterator] = iterator;
  }
  assert.equal(text, 'abc');
  // Only calls made from the shim's own code count (Node's fetch internals and the scripted
  // bus are not the shim).
  const direct = (list) => list.filter((s) => ours(s.split('\n').slice(2, 3).join('')));
  assert.deepEqual(direct(calls.then), []);
  assert.deepEqual(direct(calls.iterator), []);
});

test('an internal failure rejects the request instead of leaving it unsettled', async () => {
  const { g } = page();
  const RS = globalThis.ReadableStream;
  // The client builds a stream for a response that keeps streaming: make that fail once.
  let armed = true;
  globalThis.ReadableStream = class extends RS {
    constructor(...a) {
      if (armed) {
        armed = false;
        throw new Error('no streams today');
      }
      super(...a);
    }
  };
  try {
    const e = await g.fetch('/conf/stream?chunks=3&ms=20').catch((x) => x);
    assert.ok(e instanceof TypeError, String(e));
    assert.match(e.message, /no streams today/);
  } finally {
    globalThis.ReadableStream = RS;
  }
  assert.equal(await (await g.fetch('/conf/text')).text(), 'hello', 'and the next request works');
});

// 4 and 5. Response headers: order and combination -----------------------------------------

test('getAllResponseHeaders sorts by the byte-uppercased name; values are trimmed, then combined with ", "', async () => {
  const { g } = page({
    handler: (req, res) => {
      res.head(200, [
        ['x-s-a~', '1'],
        ['x-s-a_', '2'],
        ['x-s-ab', '3'],
        ['x-empty', ''],
        ['x-empty', ''],
        ['x-pad', ' a '],
        ['x-pad', '\tb\t'],
      ]);
      res.end();
    },
  });
  const xhr = new g.XMLHttpRequest();
  xhr.open('GET', '/h');
  const done = xhrDone(xhr);
  xhr.send();
  await done;
  assert.equal(xhr.getAllResponseHeaders(), 'x-empty: , \r\nx-pad: a, b\r\nx-s-ab: 3\r\nx-s-a_: 2\r\nx-s-a~: 1\r\n');
  assert.equal(xhr.getResponseHeader('x-pad'), 'a, b');
  const res = await g.fetch('/h');
  assert.equal(res.headers.get('x-empty'), ', ', 'no second normalization of the combined value');
  assert.equal(res.headers.get('x-pad'), 'a, b');
});

// 6. window.stop() --------------------------------------------------------------------------

test('window.stop() aborts in-flight bus XHRs (abort events, later) and fetches (TypeError), then stops natively', async () => {
  const stops = [];
  const { g, peer, conf } = page({ globals: { stop: () => stops.push('native') } });
  const xhr = new g.XMLHttpRequest();
  xhr.open('GET', '/conf/hang');
  const events = [];
  const done = xhrDone(xhr, events);
  xhr.send();
  const pending = g.fetch('/conf/hang');
  const streaming = await g.fetch('/conf/stream?chunks=20&ms=30');
  const reader = streaming.body.getReader();
  await reader.read();
  await settle();
  events.length = 0;
  g.stop();
  assert.deepEqual(events, [], 'the events come later, as natively');
  assert.deepEqual(stops, ['native']);
  await done;
  assert.deepEqual(events, ['rs:4', 'abort', 'loadend']);
  assert.equal(xhr.status, 0);
  assert.equal(await errorName(pending), 'TypeError');
  assert.equal(await errorName((async () => { for (;;) if ((await reader.read()).done) return; })()), 'TypeError');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(conf.state.cancelled, 2, 'both /conf/hang handlers were cancelled');
  assert.ok(peer.frames('Cancel').length >= 3);
  // A later request is not affected.
  assert.equal(await (await g.fetch('/conf/text')).text(), 'hello');
});

test('window.stop() fails an EventSource connection in flight for good, a task later', async () => {
  const { g, conf } = page({ globals: { stop: () => {} } });
  const es = new g.EventSource('/conf/hang');
  const events = [];
  es.onerror = () => events.push(`error:${es.readyState}`);
  await new Promise((r) => setTimeout(r, 20));
  g.stop();
  assert.deepEqual(events, []);
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(events, ['error:2']);
  assert.equal(es.readyState, 2);
  assert.equal(conf.state.cancelled, 1);
});

// 7. open() with credentials ----------------------------------------------------------------

test('open(): arguments converted in order; username/password answer a Basic challenge; never in responseURL', async () => {
  const { g, peer } = page();
  const log = [];
  const arg = (name, value) => ({ toString: () => (log.push(name), value) });
  const xhr = new g.XMLHttpRequest();
  xhr.open(arg('method', 'GET'), arg('url', '/conf/auth'), true, arg('username', 'us\u00e9r'), arg('password', 'p:w'));
  assert.deepEqual(log, ['method', 'url', 'username', 'password']);
  const done = xhrDone(xhr);
  xhr.send();
  await done;
  assert.equal(xhr.status, 200);
  const expected = `Basic ${Buffer.from('us\u00e9r:p:w', 'utf8').toString('base64')}`;
  assert.equal(xhr.responseText, expected);
  assert.equal(xhr.responseURL, 'app://localhost/conf/auth');
  const sent = heads(peer).map((h) => headerMap(h).authorization ?? null);
  assert.deepEqual(sent, [null, expected], 'first without, then answering the challenge');

  // Credentials in the URL work the same; a bad method still converts every argument first.
  const x2 = new g.XMLHttpRequest();
  x2.open('GET', 'app://a%20b:c@localhost/conf/auth');
  const d2 = xhrDone(x2);
  x2.send();
  await d2;
  assert.equal(x2.responseText, `Basic ${Buffer.from('a b:c').toString('base64')}`);
  const log2 = [];
  assert.throws(
    () => new g.XMLHttpRequest().open('G E T', '/x', true, { toString: () => (log2.push('u'), 'u') }, { toString: () => (log2.push('p'), 'p') }),
    (e) => e.name === 'SyntaxError',
  );
  assert.deepEqual(log2, ['u', 'p']);
  // Without credentials a 401 is just the answer.
  const x3 = new g.XMLHttpRequest();
  x3.open('GET', '/conf/auth');
  const d3 = xhrDone(x3);
  x3.send();
  await d3;
  assert.equal(x3.status, 401);
});

// 8 and 9. Required arguments; send()'s conversion before its state checks -----------------

test('setRequestHeader/getResponseHeader/overrideMimeType with missing arguments throw TypeError', () => {
  const { g, peer } = page();
  const xhr = new g.XMLHttpRequest();
  xhr.open('GET', '/conf/headers');
  assert.throws(() => xhr.setRequestHeader('x-a'), TypeError);
  assert.throws(() => xhr.setRequestHeader(), TypeError);
  assert.throws(() => xhr.getResponseHeader(), TypeError);
  assert.throws(() => xhr.overrideMimeType(), TypeError);
  xhr.send();
  assert.ok(!('x-a' in headerMap(heads(peer)[0] ?? { headers: [] })));
});

test('send(body) converts its argument (toString) before the state checks', async () => {
  const { g } = page();
  const log = [];
  const body = { toString: () => (log.push('toString'), 'converted') };
  const xhr = new g.XMLHttpRequest();
  assert.throws(() => xhr.send(body), (e) => e.name === 'InvalidStateError');
  assert.deepEqual(log, ['toString']);
  xhr.open('POST', '/conf/echo');
  const done = xhrDone(xhr);
  xhr.send(body);
  await done;
  assert.equal(xhr.responseText, 'converted');
  assert.equal(xhr.getResponseHeader('x-echo-content-type'), 'text/plain;charset=UTF-8');
  assert.throws(() => xhr.send(body), (e) => e.name === 'InvalidStateError');
  assert.equal(log.length, 3);
});

// 10. Decoding ------------------------------------------------------------------------------

test('responseText: an XML response without charset follows its encoding declaration; a BOM and a charset win', async () => {
  const cases = [
    ['application/xml', [...enc.encode('<?xml version="1.0" encoding="windows-1252"?><r>'), 0xe9, ...enc.encode('</r>')], '<?xml version="1.0" encoding="windows-1252"?><r>\u00e9</r>'],
    ['text/xml', [...enc.encode("<?xml version='1.0' encoding='iso-8859-2'?><r>"), 0xb1, ...enc.encode('</r>')], "<?xml version='1.0' encoding='iso-8859-2'?><r>\u0105</r>"],
    ['application/xml;charset=utf-8', [...enc.encode('<?xml version="1.0" encoding="windows-1252"?><r>'), 0xc3, 0xa9, ...enc.encode('</r>')], '<?xml version="1.0" encoding="windows-1252"?><r>\u00e9</r>'],
    ['application/xml', [0xef, 0xbb, 0xbf, ...enc.encode('<?xml version="1.0" encoding="windows-1252"?><r>'), 0xc3, 0xa9, ...enc.encode('</r>')], '<?xml version="1.0" encoding="windows-1252"?><r>\u00e9</r>'],
    ['text/plain', [...enc.encode('<?xml version="1.0" encoding="windows-1252"?>'), 0xc3, 0xa9], '<?xml version="1.0" encoding="windows-1252"?>\u00e9'],
  ];
  for (const [type, bytes, expected] of cases) {
    const { g } = page({
      handler: (req, res) => {
        res.head(200, { 'content-type': type });
        void res.write(new Uint8Array(bytes)).then(() => res.end());
      },
    });
    const xhr = new g.XMLHttpRequest();
    xhr.open('GET', '/x');
    const done = xhrDone(xhr);
    xhr.send();
    await done;
    assert.equal(xhr.responseText, expected, type);
  }
});

// 11. Timeouts after a long task ------------------------------------------------------------

/** A page whose bridge delivers each frame in a task of its own, as the hosts' bridges do. */
function taskDeliveredPage(options) {
  const p = page(options);
  const deliver = p.peer.transport.onmessage;
  p.peer.transport.onmessage = (bytes) => setTimeout(() => deliver(bytes), 0);
  return p;
}

test('timeout: a response that was waiting behind a long task is delivered, not timed out', async () => {
  const { g } = taskDeliveredPage();
  const xhr = new g.XMLHttpRequest();
  xhr.open('GET', '/conf/text');
  xhr.timeout = 50;
  const events = [];
  const done = xhrDone(xhr, events);
  xhr.send();
  const until = Date.now() + 200;
  while (Date.now() < until) {
    /* the page is busy past the deadline */
  }
  await done;
  assert.ok(events.includes('load'), events.join(' '));
  assert.ok(!events.includes('timeout'));
  assert.equal(xhr.responseText, 'hello');
});

test('timeout: a response that is really late still times out, after a long task too', async () => {
  const { g, peer } = taskDeliveredPage();
  const xhr = new g.XMLHttpRequest();
  xhr.open('GET', '/conf/slow?ms=2000');
  xhr.timeout = 50;
  const events = [];
  const done = xhrDone(xhr, events);
  xhr.send();
  const until = Date.now() + 150;
  while (Date.now() < until) {
    /* busy */
  }
  const start = Date.now();
  await done;
  assert.ok(events.includes('timeout'), events.join(' '));
  assert.ok(Date.now() - start < 500, 'soon after the long task');
  await settle();
  assert.equal(peer.frames('Cancel').length, 1);
});

// 12. Control characters in header values ---------------------------------------------------

test('header values with control characters the bus cannot carry: TypeError at the call, naming the header', async () => {
  const { g, peer } = page();
  const e = await g.fetch('/conf/headers', { headers: { 'x-ctl': 'a\u0001b' } }).catch((x) => x);
  assert.ok(e instanceof TypeError);
  assert.match(e.message, /x-ctl/);
  assert.match(e.message, /U\+0001/);
  assert.equal(heads(peer).length, 0, 'nothing was sent');
  const xhr = new g.XMLHttpRequest();
  xhr.open('GET', '/conf/headers');
  assert.throws(() => xhr.setRequestHeader('X-Ctl', 'a\u007fb'), (x) => x instanceof TypeError && /X-Ctl/.test(x.message));
  // Tab is fine, and so are the values Fetch itself refuses, refused as before.
  const res = await g.fetch('/conf/headers', { headers: { 'x-tab': 'a\tb' } });
  assert.equal((await res.json())['x-tab'], 'a\tb');
  assert.equal(await errorName(g.fetch('/conf/headers', { headers: { 'x-a': 'a\nb' } })), 'TypeError');
  // The native route checks the same before the engine sends anything.
  const { g: gn, calls } = page({ options: { routes: { fetch: 'native' } } });
  assert.equal(await errorName(gn.fetch('/conf/headers', { headers: { 'x-ctl': '\u001f' } })), 'TypeError');
  assert.equal(calls.fetch.length, 0);
});

test('an EventSource whose last event ID has a control character reconnects without Last-Event-ID', async () => {
  let n = 0;
  const seen = [];
  const { g } = page({
    handler: async (req, res) => {
      seen.push(req.headers.get('last-event-id') ?? null);
      res.head(200, { 'content-type': 'text/event-stream' });
      await res.write(n++ === 0 ? 'retry: 10\nid: a\u0001b\ndata: one\n\n' : 'data: two\n\n');
      res.end();
    },
  });
  const es = new g.EventSource('/sse');
  const data = await new Promise((resolve) => {
    const got = [];
    es.onmessage = (e) => {
      got.push(`${e.lastEventId}:${e.data}`);
      if (got.length === 2) resolve(got);
    };
  });
  es.close();
  assert.deepEqual(data, ['a\u0001b:one', 'a\u0001b:two']);
  assert.deepEqual(seen, [null, null]);
});

// Session hygiene: more requests than streams; heads too large for a frame ------------------

test('300 concurrent fetches on a session of 256 streams all succeed: the rest wait for a free stream', async () => {
  const { g, peer, inst } = page({ peerOptions: { maxStreams: 256 } });
  const all = await Promise.all(Array.from({ length: 300 }, (_, i) => g.fetch(`/conf/slow?ms=30&i=${i}`).then((r) => r.text())));
  assert.equal(all.length, 300);
  assert.ok(all.every((t) => t === 'slow'));
  assert.equal(peer.peakStreams, 256);
  assert.equal(peer.frames('RequestHead').length, 300, 'none refused and retried');
  assert.equal(inst.client.openStreams, 0);
  assert.equal(inst.client.queuedStreams, 0);
});

test('a waiting request can be aborted, and the client closing rejects the waiting ones', async () => {
  const { g, inst } = page({ peerOptions: { maxStreams: 2 }, options: { maxStreams: 2 } });
  const hang = [g.fetch('/conf/hang'), g.fetch('/conf/hang')].map((p) => p.catch((e) => e.name));
  const c = new AbortController();
  const waiting = g.fetch('/conf/text', { signal: c.signal });
  const waiting2 = g.fetch('/conf/text');
  await settle();
  assert.equal(inst.client.queuedStreams, 2);
  c.abort();
  assert.equal(await errorName(waiting), 'AbortError');
  assert.equal(inst.client.queuedStreams, 1);
  inst.client.close();
  assert.equal(await errorName(waiting2), 'TypeError');
  assert.deepEqual(await Promise.all(hang), ['TypeError', 'TypeError']);
});

test('a head too large for any frame is answered 414 (URI) or 431 (headers) by the page side', async () => {
  const { g, peer } = page();
  const res = await g.fetch(`/conf/text?pad=${'x'.repeat(MAX_FRAME)}`);
  assert.equal(res.status, 414);
  assert.equal(res.statusText, 'URI Too Long');
  assert.match(await res.text(), /too long for the bus/);
  const xhr = new g.XMLHttpRequest();
  xhr.open('GET', '/conf/headers');
  xhr.setRequestHeader('x-big', 'y'.repeat(MAX_FRAME));
  const done = xhrDone(xhr);
  xhr.send();
  await done;
  assert.equal(xhr.status, 431);
  assert.equal(heads(peer).length, 0);
  // A status the bus itself answers (its URI and header limits) reaches the page as it is.
  const { g: g2 } = page({ handler: (req, res) => (res.head(414, { 'content-type': 'text/plain' }), res.write('long').then(() => res.end())) });
  const r2 = await g2.fetch(`/x?${'a'.repeat(70 * 1024)}`);
  assert.equal(r2.status, 414);
  assert.equal(await r2.text(), 'long');
  assert.deepEqual(await readAll((await g2.fetch('/y')).body), enc.encode('long'));
});
