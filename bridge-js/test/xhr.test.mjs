// The XMLHttpRequest shim: the XHR standard's state machine and events over the bus,
// headers, response types, errors, and delegation to the browser's XHR for other URLs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UPLOAD_CHUNK } from '../dist/bus-bridge.mjs';
import { parseMultipart } from './support/conf-routes.mjs';
import { FakeXHR, decodeText, gate, headerMap, heads, page, settle, withFrozenPageClock } from './support/env.mjs';

const TYPES = ['loadstart', 'progress', 'abort', 'error', 'load', 'timeout', 'loadend'];

/** Records every event in order: readystatechange as "rsc:N", upload events as "upload.x". */
function record(xhr, { upload = false } = {}) {
  const events = [];
  const progress = [];
  xhr.onreadystatechange = () => events.push(`rsc:${xhr.readyState}`);
  for (const t of TYPES) {
    xhr.addEventListener(t, (e) => {
      events.push(t);
      if ('loaded' in e) progress.push([t, e.loaded, e.total, e.lengthComputable]);
      assert.equal(e.target, xhr);
    });
    if (upload) xhr.upload.addEventListener(t, (e) => {
      events.push(`upload.${t}`);
      progress.push([`upload.${t}`, e.loaded, e.total, e.lengthComputable]);
      assert.equal(e.target, xhr.upload);
    });
  }
  const done = new Promise((r) => xhr.addEventListener('loadend', () => setTimeout(r, 0)));
  return { events, progress, done };
}

test('GET: readyState 0 to 4, events in the standard order, status and text', async () => {
  const { g, peer } = page();
  const xhr = new g.XMLHttpRequest();
  assert.equal(xhr.readyState, 0);
  assert.equal(xhr.status, 0);
  assert.equal(xhr.responseText, '');
  const r = record(xhr);
  let onload = 0;
  xhr.onload = function (e) {
    onload++;
    assert.equal(this, xhr);
    assert.equal(e.type, 'load');
  };
  xhr.open('GET', '/conf/text#frag');
  assert.equal(xhr.readyState, 1);
  xhr.send();
  await r.done;
  assert.deepEqual(r.events, ['rsc:1', 'loadstart', 'rsc:2', 'rsc:3', 'progress', 'rsc:4', 'load', 'loadend']);
  assert.deepEqual(r.progress, [
    ['loadstart', 0, 0, false],
    ['progress', 5, 5, true],
    ['load', 5, 5, true],
    ['loadend', 5, 5, true],
  ]);
  assert.equal(onload, 1);
  assert.equal(xhr.status, 200);
  assert.equal(xhr.statusText, 'OK');
  assert.equal(xhr.responseText, 'hello');
  assert.equal(xhr.response, 'hello');
  assert.equal(xhr.responseURL, 'app://localhost/conf/text');
  assert.equal(heads(peer)[0].uri, 'app://localhost/conf/text');
  assert.deepEqual(headerMap(heads(peer)[0]), { accept: '*/*' });
});

test('POST with upload listeners: upload events with real progress, before the response', async () => {
  const { g, peer } = page();
  const body = new Uint8Array(1024 * 1024 + 5).map((_, i) => i & 255);
  const xhr = new g.XMLHttpRequest();
  const r = record(xhr, { upload: true });
  xhr.open('POST', '/conf/echo');
  xhr.send(body);
  await r.done;
  const folded = r.events.filter((e, i, a) => !(e === 'upload.progress' && a[i - 1] === 'upload.progress'));
  assert.deepEqual(folded, [
    'rsc:1', 'loadstart', 'upload.loadstart', 'upload.progress', 'upload.load', 'upload.loadend',
    'rsc:2', 'rsc:3', 'progress', ...folded.slice(9, -3), 'rsc:4', 'load', 'loadend',
  ]);
  const up = r.progress.filter(([t]) => t.startsWith('upload.'));
  assert.deepEqual(up[0], ['upload.loadstart', 0, body.length, true]);
  assert.deepEqual(up.at(-1), ['upload.loadend', body.length, body.length, true]);
  const steps = up.filter(([t]) => t === 'upload.progress').map(([, loaded]) => loaded);
  assert.ok(steps.length >= 1);
  assert.ok(steps.every((n, i) => i === 0 || n > steps[i - 1]), 'increasing');
  assert.equal(steps.at(-1), body.length);
  assert.equal(xhr.getResponseHeader('x-echo-length'), String(body.length));
  assert.equal(peer.frames('RequestData').length, Math.ceil(body.length / UPLOAD_CHUNK), 'sent in UPLOAD_CHUNK frames within credit');
});

test('POST without upload listeners fires no upload events; an empty body completes its upload', async () => {
  const { g } = page();
  let xhr = new g.XMLHttpRequest();
  let r = record(xhr);
  xhr.open('POST', '/conf/echo');
  xhr.send('abc');
  await r.done;
  assert.deepEqual(r.events, ['rsc:1', 'loadstart', 'rsc:2', 'rsc:3', 'progress', 'rsc:4', 'load', 'loadend']);

  xhr = new g.XMLHttpRequest();
  r = record(xhr, { upload: true });
  xhr.open('POST', '/conf/echo');
  xhr.send('');
  await r.done;
  assert.deepEqual(r.events.slice(0, 6), ['rsc:1', 'loadstart', 'upload.loadstart', 'upload.progress', 'upload.load', 'upload.loadend']);

  // GET ignores a body: no upload events even with listeners.
  xhr = new g.XMLHttpRequest();
  r = record(xhr, { upload: true });
  xhr.open('GET', '/conf/text');
  xhr.send('ignored');
  await r.done;
  assert.ok(!r.events.some((e) => e.startsWith('upload.')));
});

test('network error (Error frame): error events, status 0, and upload error when incomplete', async () => {
  const hold = gate();
  const { g } = page({
    handler: async (req, res) => {
      if (req.url.pathname === '/slow-upload') await hold.wait();
      res.error(12, 'boom');
    },
    // This handler reads nothing: no credit beyond the initial window.
    peerOptions: { autoCredit: false },
  });
  let xhr = new g.XMLHttpRequest();
  let r = record(xhr);
  xhr.open('GET', '/fail');
  xhr.send();
  await r.done;
  assert.deepEqual(r.events, ['rsc:1', 'loadstart', 'rsc:4', 'error', 'loadend']);
  assert.equal(xhr.status, 0);
  assert.equal(xhr.statusText, '');
  assert.equal(xhr.responseText, '');
  assert.equal(xhr.getAllResponseHeaders(), '');

  // The upload is incomplete when the bus fails the stream (no credit beyond the first window).
  xhr = new g.XMLHttpRequest();
  r = record(xhr, { upload: true });
  xhr.open('POST', '/slow-upload');
  xhr.send(new Uint8Array(600 * 1024));
  await settle();
  hold.open();
  await r.done;
  const tail = r.events.slice(r.events.indexOf('rsc:4'));
  assert.deepEqual(tail, ['rsc:4', 'upload.error', 'upload.loadend', 'error', 'loadend']);
});

test('abort(): Cancel on the wire, abort events, and readyState back to UNSENT', async () => {
  const { g, peer, conf } = page();
  const xhr = new g.XMLHttpRequest();
  const r = record(xhr, { upload: true });
  xhr.open('GET', '/conf/hang');
  xhr.send();
  await settle();
  xhr.abort();
  assert.deepEqual(r.events, ['rsc:1', 'loadstart', 'rsc:4', 'abort', 'loadend']);
  assert.equal(xhr.readyState, 0);
  assert.equal(xhr.status, 0);
  await settle();
  assert.equal(peer.frames('Cancel').length, 1);
  assert.equal(conf.state.cancelled, 1);

  // Right after send() with a body and upload listeners: the upload is aborted too.
  const x2 = new g.XMLHttpRequest();
  const r2 = record(x2, { upload: true });
  x2.open('POST', '/conf/echo');
  x2.send('body');
  x2.abort();
  assert.deepEqual(r2.events, ['rsc:1', 'loadstart', 'upload.loadstart', 'rsc:4', 'upload.abort', 'upload.loadend', 'abort', 'loadend']);

  // abort() when DONE: back to UNSENT without events; when UNSENT/OPENED: nothing.
  const x3 = new g.XMLHttpRequest();
  const r3 = record(x3);
  x3.abort();
  x3.open('GET', '/conf/text');
  x3.abort();
  assert.equal(x3.readyState, 1);
  x3.send();
  await r3.done;
  const n = r3.events.length;
  x3.abort();
  assert.equal(x3.readyState, 0);
  assert.equal(r3.events.length, n);
});

test('abort() while the body streams, and open() during a request terminates it silently', async () => {
  const { g, peer } = page();
  const xhr = new g.XMLHttpRequest();
  const r = record(xhr);
  xhr.open('GET', '/conf/stream?chunks=20&ms=10');
  xhr.onprogress = () => {
    if (xhr.readyState === 3) xhr.abort();
  };
  xhr.send();
  await r.done;
  assert.deepEqual(r.events, ['rsc:1', 'loadstart', 'rsc:2', 'rsc:3', 'progress', 'rsc:4', 'abort', 'loadend']);
  assert.equal(xhr.responseText, '');

  const x2 = new g.XMLHttpRequest();
  const r2 = record(x2);
  x2.open('GET', '/conf/hang');
  x2.send();
  await settle();
  x2.open('GET', '/conf/text');
  assert.deepEqual(r2.events, ['rsc:1', 'loadstart'], 'no events for the terminated request; still OPENED');
  await settle();
  assert.equal(peer.frames('Cancel').length, 2);
  x2.send();
  await r2.done;
  assert.equal(x2.responseText, 'hello');
});

test('timeout: TimeoutError events after the delay, Cancel on the wire; changing timeout mid-flight', async () => {
  const { g, peer } = page();
  const xhr = new g.XMLHttpRequest();
  const r = record(xhr);
  xhr.open('GET', '/conf/slow?ms=2000');
  xhr.timeout = 40;
  let ontimeout = 0;
  xhr.ontimeout = () => ontimeout++;
  const start = Date.now();
  xhr.send();
  await r.done;
  assert.ok(Date.now() - start >= 35);
  assert.deepEqual(r.events, ['rsc:1', 'loadstart', 'rsc:4', 'timeout', 'loadend']);
  assert.equal(ontimeout, 1);
  assert.equal(xhr.readyState, 4);
  assert.equal(xhr.status, 0);
  await settle();
  assert.equal(peer.frames('Cancel').length, 1);

  // A timeout set after send() counts from the start of the request.
  const x2 = new g.XMLHttpRequest();
  const r2 = record(x2);
  x2.open('GET', '/conf/slow?ms=2000');
  x2.send();
  await new Promise((res) => setTimeout(res, 30));
  x2.timeout = 10;
  await r2.done;
  assert.ok(r2.events.includes('timeout'));

  // A fast response beats its timeout.
  const x3 = new g.XMLHttpRequest();
  const r3 = record(x3);
  x3.timeout = 1000;
  x3.open('GET', '/conf/text');
  x3.send();
  await r3.done;
  assert.ok(r3.events.includes('load'));
});

test('response headers: sorted, lower-case, combined with ", ", CRLF; Set-Cookie hidden', async () => {
  const { g } = page({
    handler: async (req, res) => {
      res.head(200, [
        ['x-multi', 'a'],
        ['content-type', 'text/plain; charset=iso-8859-1'],
        ['x-multi', 'b'],
        ['set-cookie', 's=1'],
        ['a-first', '1'],
        ['x-latin1', new Uint8Array([0x63, 0x61, 0x66, 0xe9])], // obs-text: one char per byte
      ]);
      await res.write(new Uint8Array([0x63, 0x61, 0x66, 0xe9]));
      res.end();
    },
  });
  const xhr = new g.XMLHttpRequest();
  const r = record(xhr);
  let early;
  xhr.addEventListener('readystatechange', () => {
    if (xhr.readyState === 1) early = [xhr.getResponseHeader('x-multi'), xhr.getAllResponseHeaders()];
  });
  xhr.open('GET', '/h');
  xhr.send();
  await r.done;
  assert.deepEqual(early, [null, '']);
  assert.equal(
    xhr.getAllResponseHeaders(),
    'a-first: 1\r\ncontent-type: text/plain; charset=iso-8859-1\r\nx-latin1: caf\u00e9\r\nx-multi: a, b\r\n',
  );
  assert.equal(xhr.getResponseHeader('X-MULTI'), 'a, b');
  assert.equal(xhr.getResponseHeader('Set-Cookie'), null);
  assert.equal(xhr.getResponseHeader('nope'), null);
  assert.equal(xhr.responseText, 'caf\u00e9', 'decoded with the charset of the Content-Type');
});

test('setRequestHeader: state checks, validation, forbidden names ignored, repeats combined', async () => {
  const { g, peer } = page();
  const xhr = new g.XMLHttpRequest();
  assert.throws(() => xhr.setRequestHeader('x-a', '1'), { name: 'InvalidStateError' });
  xhr.open('POST', '/conf/echo');
  xhr.setRequestHeader('X-A', ' 1 ');
  xhr.setRequestHeader('x-a', '2');
  xhr.setRequestHeader('Cookie', 'c');
  xhr.setRequestHeader('Sec-Fetch-Mode', 'x');
  xhr.setRequestHeader('Proxy-X', 'x');
  xhr.setRequestHeader('X-HTTP-Method-Override', 'connect');
  xhr.setRequestHeader('Content-Type', 'text/plain;charset=latin1');
  assert.throws(() => xhr.setRequestHeader('bad name', 'x'), { name: 'SyntaxError' });
  assert.throws(() => xhr.setRequestHeader('x', 'a\nb'), { name: 'SyntaxError' });
  assert.throws(() => xhr.setRequestHeader('x', '\u2713'), TypeError);
  const r = record(xhr);
  xhr.send('caf\u00e9');
  assert.throws(() => xhr.setRequestHeader('x-late', '1'), { name: 'InvalidStateError' });
  assert.throws(() => xhr.send(), { name: 'InvalidStateError' });
  await r.done;
  assert.deepEqual(headerMap(heads(peer)[0]), {
    'x-a': '1, 2',
    // A string body is UTF-8, so the charset the page named is corrected.
    'content-type': 'text/plain;charset=UTF-8',
    accept: '*/*',
    'content-length': '5',
  });
});

test('send() bodies: default Content-Types and multipart with files', async () => {
  const { g, peer } = page();
  const send = async (body, type) => {
    const xhr = new g.XMLHttpRequest();
    const r = record(xhr);
    xhr.open('POST', '/conf/echo');
    if (type) xhr.setRequestHeader('content-type', type);
    xhr.send(body);
    await r.done;
    return xhr;
  };
  assert.equal((await send('s')).getResponseHeader('x-echo-content-type'), 'text/plain;charset=UTF-8');
  assert.equal((await send(new URLSearchParams('a=1'))).getResponseHeader('x-echo-content-type'), 'application/x-www-form-urlencoded;charset=UTF-8');
  assert.equal((await send(new Blob(['b'], { type: 'image/png' }))).getResponseHeader('x-echo-content-type'), 'image/png');
  assert.equal((await send(new Uint8Array([1]))).getResponseHeader('x-echo-content-type'), '');
  assert.equal((await send('s', 'application/json')).getResponseHeader('x-echo-content-type'), 'application/json');
  const form = new FormData();
  form.append('k', 'v');
  form.append('f', new File(['data'], 'f.txt', { type: 'text/plain' }));
  const x = await send(form);
  const type = x.getResponseHeader('x-echo-content-type');
  const parsed = parseMultipart(new TextEncoder().encode(x.responseText), type);
  assert.deepEqual(parsed.fields, { k: 'v' });
  assert.equal(parsed.files[0].size, 4);
  assert.equal(heads(peer).length, 6);
});

test('responseType: json, arraybuffer, blob, text, document; responseText guarded', async () => {
  const { g } = page();
  const get = async (path, responseType, setup) => {
    const xhr = new g.XMLHttpRequest();
    const r = record(xhr);
    xhr.open('GET', path);
    xhr.responseType = responseType;
    setup?.(xhr);
    let loading;
    xhr.addEventListener('progress', () => (loading ??= xhr.response));
    xhr.send();
    await r.done;
    return { xhr, loading };
  };
  let { xhr, loading } = await get('/conf/json', 'json');
  assert.deepEqual(xhr.response, { ok: true, n: 42 });
  assert.equal(xhr.response, xhr.response, 'the same object each time');
  assert.equal(loading, null, 'null before DONE');
  assert.throws(() => xhr.responseText, { name: 'InvalidStateError' });
  assert.throws(() => xhr.responseXML, { name: 'InvalidStateError' });
  assert.throws(() => (xhr.responseType = 'text'), { name: 'InvalidStateError' }, 'not in DONE');

  ({ xhr } = await get('/conf/bytes?n=1000', 'arraybuffer'));
  assert.ok(xhr.response instanceof ArrayBuffer);
  assert.equal(xhr.response.byteLength, 1000);
  assert.equal(new Uint8Array(xhr.response)[252], 1);

  ({ xhr } = await get('/conf/bytes?n=10', 'blob'));
  assert.ok(xhr.response instanceof Blob);
  assert.equal(xhr.response.type, 'application/octet-stream');
  assert.equal(xhr.response.size, 10);

  ({ xhr } = await get('/conf/text', 'text'));
  assert.equal(xhr.response, 'hello');
  assert.equal(xhr.responseText, 'hello');

  ({ xhr, loading } = await get('/conf/text', ''));
  assert.equal(loading, 'hello', 'text is readable while LOADING');

  // Invalid JSON is null; an invalid responseType value is ignored.
  ({ xhr } = await get('/conf/text', 'json'));
  assert.equal(xhr.response, null);
  ({ xhr } = await get('/conf/text', 'nonsense'));
  assert.equal(xhr.responseType, '');

  // overrideMimeType changes the charset (and the Blob type).
  ({ xhr } = await get('/conf/multi-header', 'blob', (x) => x.overrideMimeType('application/x-mine; charset=utf-8')));
  assert.equal(xhr.response.type, 'application/x-mine;charset=utf-8');
});

test('responseType document and responseXML go through DOMParser', async () => {
  const parsed = [];
  globalThis.DOMParser = class {
    parseFromString(text, type) {
      parsed.push([text, type]);
      return { text, type, getElementsByTagName: (n) => (n === 'parsererror' && text.includes('<bad') ? [{}] : []) };
    }
  };
  try {
    const bodies = { '/html': ['text/html', '<p>hi</p>'], '/xml': ['application/xml', '<a/>'], '/svg': ['image/svg+xml', '<svg/>'], '/bad': ['text/xml', '<bad'], '/plain': ['text/plain', 'x'] };
    const { g } = page({
      handler: async (req, res) => {
        const [type, body] = bodies[req.url.pathname];
        res.head(200, { 'content-type': type });
        await res.write(body);
        res.end();
      },
    });
    const get = async (path, responseType) => {
      const xhr = new g.XMLHttpRequest();
      const r = record(xhr);
      xhr.open('GET', path);
      xhr.responseType = responseType;
      xhr.send();
      await r.done;
      return xhr;
    };
    assert.deepEqual((await get('/html', 'document')).response.type, 'text/html');
    assert.equal((await get('/html', '')).responseXML, null, 'responseXML does not parse HTML');
    assert.equal((await get('/xml', '')).responseXML.type, 'application/xml');
    assert.equal((await get('/svg', 'document')).response.type, 'image/svg+xml');
    assert.equal((await get('/bad', 'document')).response, null, 'a parse error is null');
    assert.equal((await get('/plain', 'document')).response, null);
    assert.deepEqual(parsed.map(([, t]) => t), ['text/html', 'application/xml', 'image/svg+xml', 'text/xml']);
  } finally {
    delete globalThis.DOMParser;
  }
});

test('redirects are followed: responseURL is the final URL', async () => {
  const { g } = page();
  const xhr = new g.XMLHttpRequest();
  const r = record(xhr);
  xhr.open('GET', '/conf/redirect/307?to=/conf/json');
  xhr.send();
  await r.done;
  assert.equal(xhr.status, 200);
  assert.equal(xhr.responseURL, 'app://localhost/conf/json');
});

test('synchronous XHR to a bus URL: InvalidAccessError at send(); timeout/responseType at open()', () => {
  const { g, peer } = page();
  const xhr = new g.XMLHttpRequest();
  xhr.open('GET', '/conf/text', false);
  assert.throws(() => xhr.send(), { name: 'InvalidAccessError' });
  assert.throws(() => (xhr.timeout = 5), { name: 'InvalidAccessError' });
  assert.throws(() => (xhr.responseType = 'json'), { name: 'InvalidAccessError' });
  const x2 = new g.XMLHttpRequest();
  x2.responseType = 'json';
  assert.throws(() => x2.open('GET', '/conf/text', false), { name: 'InvalidAccessError' });
  // open(method, url, undefined) is synchronous, as in browsers (the third argument is given).
  const x3 = new g.XMLHttpRequest();
  x3.open('GET', '/conf/text', undefined);
  assert.throws(() => x3.send(), { name: 'InvalidAccessError' });
  assert.equal(peer.received.length, 0);
  assert.throws(() => x3.open('G ET', '/x'), { name: 'SyntaxError' });
  assert.throws(() => x3.open('TRACE', '/x'), { name: 'SecurityError' });
  assert.throws(() => x3.open('GET'), TypeError);
});

test('instanceof, constants, toStringTag, and on* handler semantics', () => {
  const { g } = page();
  const XHR = g.XMLHttpRequest;
  const xhr = new XHR();
  assert.ok(xhr instanceof XHR);
  assert.ok(xhr instanceof FakeXHR, 'the original prototype is in the chain');
  assert.ok(xhr instanceof EventTarget);
  assert.ok(new FakeXHR() instanceof XHR, 'native instances are XMLHttpRequests too');
  assert.ok(!({} instanceof XHR));
  class Sub extends XHR {}
  assert.ok(new Sub() instanceof XHR);
  assert.ok(!(new FakeXHR() instanceof Sub));
  assert.equal(Object.prototype.toString.call(xhr), '[object XMLHttpRequest]');
  assert.deepEqual([XHR.UNSENT, XHR.OPENED, XHR.HEADERS_RECEIVED, XHR.LOADING, XHR.DONE], [0, 1, 2, 3, 4]);
  assert.equal(xhr.DONE, 4);
  assert.equal(xhr.upload, xhr.upload);
  assert.ok(xhr.upload instanceof EventTarget);
  assert.deepEqual(Object.keys(xhr), [], 'no own state visible');
  // on* handlers: kept in the position first set, replaced in place, removed by null.
  const order = [];
  xhr.onreadystatechange = () => order.push('handler-1');
  xhr.addEventListener('readystatechange', () => order.push('listener'));
  xhr.onreadystatechange = () => order.push('handler-2');
  xhr.open('GET', '/conf/text');
  assert.deepEqual(order, ['handler-2', 'listener']);
  xhr.onreadystatechange = null;
  assert.equal(xhr.onreadystatechange, null);
  xhr.onreadystatechange = 'not a function';
  assert.equal(xhr.onreadystatechange, null);
});

test('non-bus URLs: everything is delegated to the browser XHR and its events re-dispatched', async () => {
  const { g, peer } = page();
  FakeXHR.instances.length = 0;
  const xhr = new g.XMLHttpRequest();
  xhr.timeout = 123;
  xhr.responseType = 'text';
  const r = record(xhr);
  xhr.open('POST', 'https://example.com/api', true);
  const native = FakeXHR.instances[0];
  assert.ok(native, 'a native XHR was made at open()');
  assert.equal(native.timeout, 123, 'settings made before open() carry over');
  assert.equal(native.responseType, 'text');
  xhr.setRequestHeader('X-A', '1');
  const body = new Blob(['kept as it is']);
  xhr.send(body);
  assert.equal(native.sentBody, body, 'the body untouched');
  assert.deepEqual(native.calls.slice(0, 3), [['open', 'POST', 'https://example.com/api', true], ['setRequestHeader', 'X-A', '1'], ['send', body]]);
  native.finish('native text');
  await r.done;
  assert.deepEqual(r.events, ['rsc:1', 'loadstart', 'rsc:4', 'load', 'loadend']);
  assert.equal(xhr.readyState, 4);
  assert.equal(xhr.status, 200);
  assert.equal(xhr.responseText, 'native text');
  assert.equal(xhr.getResponseHeader('x-fake'), 'yes');
  assert.equal(xhr.getAllResponseHeaders(), 'x-fake: yes\r\n');
  xhr.abort();
  assert.deepEqual(native.calls.at(-1), ['abort']);
  assert.equal(peer.received.length, 0);

  // The same object can be opened on the bus afterwards, and back.
  const r2 = record(xhr);
  xhr.open('GET', '/conf/text');
  xhr.send();
  await r2.done;
  assert.equal(xhr.responseText, 'hello');
  xhr.timeout = 77;
  xhr.open('GET', 'https://example.com/again');
  const fresh = FakeXHR.instances[1];
  assert.notEqual(fresh, native, 'a fresh delegate, with the settings made meanwhile');
  assert.equal(fresh.timeout, 77);
  assert.deepEqual(fresh.calls, [['open', 'GET', 'https://example.com/again']]);
  assert.equal(xhr.readyState, 1);
});

test('native route: Blob and FormData-with-File bodies reach the browser XHR as ArrayBuffers', async () => {
  const { g, peer } = page({ options: { routes: { xhr: 'native' } } });
  FakeXHR.instances.length = 0;
  const xhr = new g.XMLHttpRequest();
  xhr.open('POST', '/upload');
  xhr.send(new Blob(['blob bytes'], { type: 'text/x-blob' }));
  assert.throws(() => xhr.setRequestHeader('x', '1'), { name: 'InvalidStateError' }, 'send() already called');
  await settle();
  await settle();
  const native = FakeXHR.instances[0];
  assert.deepEqual(native.calls[0], ['open', 'POST', '/upload']);
  assert.ok(native.sentBody instanceof ArrayBuffer);
  assert.equal(decodeText(new Uint8Array(native.sentBody)), 'blob bytes');
  assert.deepEqual(native.headers, [['x-inproc-bus-body', '1'], ['Content-Type', 'text/x-blob']]);

  const x2 = new g.XMLHttpRequest();
  x2.open('POST', '/upload');
  x2.setRequestHeader('Content-Type', 'multipart/form-data; boundary=mine');
  const form = new FormData();
  form.append('f', new File(['z'], 'z.txt'));
  x2.send(form);
  await settle();
  await settle();
  const n2 = FakeXHR.instances[1];
  assert.ok(n2.sentBody instanceof ArrayBuffer);
  assert.deepEqual(n2.headers, [['Content-Type', 'multipart/form-data; boundary=mine'], ['x-inproc-bus-body', '1']], "the page's header is kept");

  // A string body goes through unchanged, at once, with the marker; a GET sends no body.
  const x3 = new g.XMLHttpRequest();
  x3.open('POST', '/upload');
  x3.send('plain');
  assert.equal(FakeXHR.instances[2].sentBody, 'plain');
  assert.deepEqual(FakeXHR.instances[2].headers, [['x-inproc-bus-body', '1']]);
  const get = new g.XMLHttpRequest();
  get.open('GET', '/upload');
  get.send('ignored');
  assert.deepEqual(FakeXHR.instances[3].headers, []);
  FakeXHR.instances.splice(3, 1);

  // Synchronous with a Blob: refused (its bytes can only be read asynchronously).
  const sync = new g.XMLHttpRequest();
  sync.open('POST', '/upload', false);
  assert.throws(() => sync.send(new Blob(['x'])), { name: 'InvalidAccessError' });
  FakeXHR.instances.splice(3, 1);

  // Aborting while the Blob is being read: the standard's abort events, nothing sent.
  const x4 = new g.XMLHttpRequest();
  const r4 = record(x4, { upload: true });
  x4.open('POST', '/upload');
  x4.send(new Blob(['never sent']));
  x4.abort();
  assert.deepEqual(r4.events, ['rsc:1', 'rsc:4', 'upload.abort', 'upload.loadend', 'abort', 'loadend']);
  assert.equal(x4.readyState, 0);
  await settle();
  await settle();
  assert.equal(FakeXHR.instances[3].sentBody, undefined);
  assert.equal(peer.received.length, 0);
});

test('timeout: runs on the clock the page started with, whatever replaced setTimeout and the clocks since', async () => {
  const { g, peer } = page({ handler: () => new Promise(() => {}) });
  const xhr = new g.XMLHttpRequest();
  const events = [];
  const saved = globalThis.setTimeout;
  const asked = await withFrozenPageClock(async () => {
    await new Promise((resolve) => {
      for (const t of TYPES) xhr.addEventListener(t, () => events.push(t));
      xhr.addEventListener('loadend', resolve);
      xhr.open('GET', '/never');
      xhr.timeout = 30;
      xhr.send();
    });
  });
  assert.deepEqual(events, ['loadstart', 'timeout', 'loadend']);
  assert.deepEqual(asked, [], "no timer of the shim's went through the page's setTimeout");
  await new Promise((r) => saved(r, 0));
  assert.equal(peer.frames('Cancel').length, 1);
});

test('HEAD and 204: load and loadend carry the Content-Length as their total (the header list\'s length, body or not)', async () => {
  const { g } = page({
    handler: async (req, res) => {
      res.head(req.url.pathname === '/none' ? 204 : 200, { 'content-type': 'text/plain', 'content-length': '5' });
      res.end();
    },
  });
  for (const [method, path] of [['HEAD', '/text'], ['GET', '/none']]) {
    const xhr = new g.XMLHttpRequest();
    const r = record(xhr);
    xhr.open(method, path);
    xhr.send();
    await r.done;
    const load = r.progress.find(([t]) => t === 'load');
    assert.deepEqual(load, ['load', 0, 5, true], `${method} ${path}: ${JSON.stringify(r.progress)}`);
  }
});

test('the shim\'s constructors and operations have the lengths WebIDL gives the engine\'s own', () => {
  const { g } = page();
  const X = g.XMLHttpRequest.prototype;
  assert.deepEqual([X.open.length, X.setRequestHeader.length, X.getResponseHeader.length, X.overrideMimeType.length, X.send.length], [2, 2, 1, 1, 0]);
  assert.equal(g.EventSource.length, 1);
  assert.deepEqual([g.WebSocket.length, g.WebSocket.prototype.send.length], [1, 1]);
});

test('the shim\'s interfaces have WebIDL\'s property shapes: enumerable operations and attributes, read-only constants', () => {
  const { g } = page();
  for (const [iface, members, constants] of [
    ['XMLHttpRequest', ['open', 'send', 'abort', 'readyState', 'status', 'response', 'timeout', 'upload'], ['UNSENT', 'OPENED', 'HEADERS_RECEIVED', 'LOADING', 'DONE']],
    ['EventSource', ['close', 'readyState', 'url', 'withCredentials'], ['CONNECTING', 'OPEN', 'CLOSED']],
    ['WebSocket', ['send', 'close', 'readyState', 'binaryType', 'url'], ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']],
  ]) {
    for (const name of members) {
      const d = Object.getOwnPropertyDescriptor(g[iface].prototype, name);
      assert.deepEqual([d.enumerable, d.configurable], [true, true], `${iface}.prototype.${name}`);
    }
    for (const name of constants) {
      const d = Object.getOwnPropertyDescriptor(g[iface], name);
      assert.deepEqual([d.writable, d.enumerable, d.configurable], [false, true, false], `${iface}.${name}`);
      assert.equal(g[iface][name], g[iface].prototype[name]);
    }
  }
});

test('overrideMimeType() carries over open() whichever XHR runs the request, the browser\'s or the bus\'s', async () => {
  const { g } = page({ options: { routes: { xhr: 'native' } } });
  const xhr = new g.XMLHttpRequest();
  xhr.overrideMimeType('text/plain;charset=Shift-JIS');
  xhr.open('GET', '/conf/text');
  assert.ok(FakeXHR.instances.at(-1).calls.some((c) => c[0] === 'overrideMimeType' && c[1] === 'text/plain;charset=Shift-JIS'), 'the delegate got it');

  const { g: g2 } = page({
    handler: async (req, res) => {
      res.head(200, { 'content-type': 'text/plain' });
      await res.write(new Uint8Array([0xc3, 0xa9]));
      res.end();
    },
  });
  const x2 = new g2.XMLHttpRequest();
  x2.open('GET', 'https://example.com/elsewhere'); // delegated
  x2.overrideMimeType('text/plain;charset=windows-1252');
  x2.open('GET', '/bytes'); // the bus
  x2.send();
  await new Promise((r) => (x2.onloadend = r));
  assert.equal(x2.responseText, '\u00c3\u00a9', 'C3 A9 decoded as windows-1252');
});

test('text: a replacement-encoding charset decodes any bytes to one U+FFFD; MIME parameters with values outside quoted-string code points are dropped', async () => {
  const { g } = page({
    handler: async (req, res) => {
      res.head(200, { 'content-type': 'text/plain;charset=iso-2022-kr' });
      await res.write('abc');
      res.end();
    },
  });
  const xhr = new g.XMLHttpRequest();
  xhr.open('GET', '/r');
  xhr.send();
  await new Promise((r) => (xhr.onloadend = r));
  assert.equal(xhr.responseText, '\uFFFD');

  const { g: g2 } = page({
    handler: async (req, res) => {
      res.head(200, [['content-type', '']]);
      await res.write('x');
      res.end();
    },
  });
  const x2 = new g2.XMLHttpRequest();
  x2.open('GET', '/status');
  x2.responseType = 'blob';
  x2.overrideMimeType('x/x;test=\uFFFD;x=x');
  x2.send();
  await new Promise((r) => (x2.onloadend = r));
  assert.equal(x2.response.type, 'x/x;x=x');
});
