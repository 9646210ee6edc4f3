// The client's stream state machine against a scripted peer playing the bus.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BusClient,
  DecodeError,
  ProtocolError,
  INITIAL_UPLOAD_WINDOW,
  UPLOAD_CHUNK,
  DEFAULT_WINDOW,
  decode,
  encode,
} from '../dist/bus-bridge.mjs';

/** Lets queued promise jobs and stream machinery run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A scripted bus: records what the client sends (decoded), delivers what the test says. */
class Peer {
  constructor(options) {
    this.sent = [];
    this.protocolErrors = [];
    this.onframe = null;
    this.transport = {
      send: (bytes) => {
        const frame = decode(bytes);
        this.sent.push(frame);
        this.onframe?.(frame);
      },
      onmessage: null,
    };
    this.client = new BusClient(this.transport, {
      onprotocolerror: (e) => this.protocolErrors.push(e),
      ...options,
    });
  }

  deliver(frame) {
    this.transport.onmessage(encode(frame));
  }

  /** Frames sent since the last call. */
  take() {
    const out = this.sent;
    this.sent = [];
    return out;
  }

  head(stream, status = 200, headers = []) {
    this.deliver({ type: 'ResponseHead', stream, status, headers });
  }

  data(stream, bytes) {
    this.deliver({ type: 'ResponseData', stream, data: bytes });
  }
}

const text = (s) => new TextEncoder().encode(s);
const bytesOf = (n, seed = 0) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const concat = (chunks) => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
};
const creditsIn = (frames) => frames.filter((f) => f.type === 'Credit').reduce((n, f) => n + f.bytes, 0);

async function readAll(body) {
  const chunks = [];
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return concat(chunks);
    chunks.push(value);
  }
}

test('a GET: head on the wire, response head, body, end', async () => {
  const peer = new Peer();
  const pending = peer.client.openStream({
    method: 'GET',
    uri: '/api/items/7',
    headers: [['Accept', 'application/json'], ['X-Latin1', 'caf\u00e9'], ['x-raw', new Uint8Array([0xff])]],
  });
  const [head] = peer.take();
  assert.equal(head.type, 'RequestHead');
  assert.equal(head.stream, 1);
  assert.equal(head.method, 'GET');
  assert.equal(head.uri, '/api/items/7');
  assert.equal(head.endStream, true);
  assert.equal(head.window, DEFAULT_WINDOW);
  assert.deepEqual(
    head.headers.map(([n, v]) => [n, [...v]]),
    [['accept', [...text('application/json')]], ['x-latin1', [0x63, 0x61, 0x66, 0xe9]], ['x-raw', [0xff]]],
  );

  peer.head(1, 201, [['content-type', text('text/plain')]]);
  const response = await pending;
  assert.equal(response.status, 201);
  assert.deepEqual(response.headers.map(([n, v]) => [n, new TextDecoder().decode(v)]), [['content-type', 'text/plain']]);
  peer.data(1, text('hello '));
  peer.data(1, new Uint8Array(0));
  peer.data(1, text('world'));
  peer.deliver({ type: 'ResponseEnd', stream: 1 });
  assert.equal(new TextDecoder().decode(await readAll(response.body)), 'hello world');
  assert.equal(peer.client.openStreams, 0);
  assert.deepEqual(peer.protocolErrors, []);
});

test('stream ids count up from 1', async () => {
  const peer = new Peer();
  for (let i = 0; i < 3; i++) peer.client.openStream({ method: 'GET', uri: '/' }).catch(() => {});
  assert.deepEqual(peer.take().map((f) => f.stream), [1, 2, 3]);
  assert.equal(peer.client.openStreams, 3);
});

test('an empty Uint8Array body is sent as end_stream; a non-empty one is not', async () => {
  const peer = new Peer();
  peer.client.openStream({ method: 'POST', uri: '/', body: new Uint8Array(0) }).catch(() => {});
  peer.client.openStream({ method: 'POST', uri: '/', body: text('x') }).catch(() => {});
  await settle();
  const frames = peer.take();
  assert.deepEqual(frames.map((f) => [f.type, f.stream, f.endStream]), [
    ['RequestHead', 1, true],
    ['RequestHead', 2, false],
    ['RequestData', 2, undefined],
    ['RequestEnd', 2, undefined],
  ]);
});

test('backpressure: a consumer that does not read gets no credit beyond the window', async () => {
  const peer = new Peer();
  const window = 1000;
  const pending = peer.client.openStream({ method: 'GET', uri: '/big', window });
  assert.equal(peer.take()[0].window, window);
  peer.head(1);
  const { body } = await pending;
  for (let i = 0; i < 4; i++) peer.data(1, bytesOf(250, i));
  await settle();
  assert.equal(creditsIn(peer.take()), 0, 'nothing read, nothing granted');

  const reader = body.getReader();
  const first = await reader.read();
  assert.equal(first.value.byteLength, 250);
  await settle();
  const granted = creditsIn(peer.take());
  assert.equal(granted, 250, 'exactly what was read is granted back');

  // Draining the queue grants the rest, never more than the window in flight.
  for (let i = 0; i < 3; i++) await reader.read();
  await settle();
  assert.equal(creditsIn(peer.take()), 750);
});

test('credit: a long body through a bus that honours credit, with a slow consumer', async () => {
  const peer = new Peer();
  const window = 4096;
  const total = 25 * window + 123;
  const payload = bytesOf(total, 5);
  const pending = peer.client.openStream({ method: 'GET', uri: '/long', window });
  peer.take();
  peer.head(1);
  const { body } = await pending;

  // The bus side: send within credit only, in odd-sized chunks, checking that the client
  // never grants more than window bytes beyond what it has consumed.
  let credit = window;
  let sent = 0;
  let wake = null;
  peer.onframe = (f) => {
    if (f.type !== 'Credit') return;
    credit += f.bytes;
    assert.ok(credit <= window, `client granted ${credit} bytes in flight with a ${window} window`);
    wake?.();
  };
  const producer = (async () => {
    while (sent < total) {
      if (credit === 0) await new Promise((r) => (wake = r));
      const n = Math.min(credit, total - sent, 700 + (sent % 900));
      credit -= n;
      peer.data(1, payload.subarray(sent, sent + n));
      sent += n;
      await settle();
    }
    peer.deliver({ type: 'ResponseEnd', stream: 1 });
  })();

  const chunks = [];
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    if (chunks.length % 3 === 0) await settle(); // a consumer slower than the bus
  }
  await producer;
  assert.deepEqual(concat(chunks), payload);
  assert.deepEqual(peer.protocolErrors, []);
});

test('data beyond the granted credit fails the stream and is reported', async () => {
  const peer = new Peer();
  const pending = peer.client.openStream({ method: 'GET', uri: '/', window: 10 });
  peer.take();
  peer.head(1);
  const { body } = await pending;
  peer.data(1, bytesOf(11));
  assert.deepEqual(peer.take().map((f) => f.type), ['Cancel']);
  assert.equal(peer.protocolErrors.length, 1);
  assert.ok(peer.protocolErrors[0] instanceof ProtocolError);
  assert.equal(peer.protocolErrors[0].stream, 1);
  await assert.rejects(body.getReader().read(), TypeError);
});

test('upload: sent in chunks of at most UPLOAD_CHUNK, only within the credit the bus grants', async () => {
  const peer = new Peer();
  const payload = bytesOf(600 * 1024, 9);
  peer.client.openStream({ method: 'POST', uri: '/upload', body: payload }).catch(() => {});
  await settle();
  let frames = peer.take();
  assert.equal(frames[0].type, 'RequestHead');
  assert.equal(frames[0].endStream, false);
  const data = frames.slice(1);
  // The initial window, in chunks: several in flight at once.
  assert.equal(INITIAL_UPLOAD_WINDOW % UPLOAD_CHUNK, 0);
  assert.deepEqual(
    data.map((f) => [f.type, f.data.byteLength]),
    Array.from({ length: INITIAL_UPLOAD_WINDOW / UPLOAD_CHUNK }, () => ['RequestData', UPLOAD_CHUNK]),
  );

  peer.deliver({ type: 'Credit', stream: 1, bytes: 1000 });
  await settle();
  frames = peer.take();
  assert.deepEqual(frames.map((f) => [f.type, f.data.byteLength]), [['RequestData', 1000]]);
  data.push(...frames);

  peer.deliver({ type: 'Credit', stream: 1, bytes: 0xffffffff });
  await settle();
  frames = peer.take();
  assert.equal(frames.at(-1).type, 'RequestEnd');
  data.push(...frames.slice(0, -1));
  assert.ok(data.every((f) => f.type === 'RequestData' && f.data.byteLength <= UPLOAD_CHUNK));
  assert.deepEqual(concat(data.map((f) => f.data)), payload);
});

test('upload from an async iterable and from a ReadableStream: big chunks are split', async () => {
  const chunks = [bytesOf(300 * 1024, 1), bytesOf(10, 2), bytesOf(0), bytesOf(5, 3)];
  async function* gen() {
    for (const c of chunks) yield c;
  }
  const stream = () =>
    new ReadableStream({
      start(c) {
        for (const chunk of chunks) c.enqueue(chunk);
        c.close();
      },
    });
  for (const body of [gen(), stream()]) {
    const peer = new Peer();
    peer.client.openStream({ method: 'PUT', uri: '/x', body }).catch(() => {});
    peer.deliver({ type: 'Credit', stream: 1, bytes: 1 << 20 });
    await settle();
    const frames = peer.take();
    assert.equal(frames.at(-1).type, 'RequestEnd');
    const data = frames.filter((f) => f.type === 'RequestData');
    assert.ok(data.every((f) => f.data.byteLength > 0 && f.data.byteLength <= UPLOAD_CHUNK));
    assert.deepEqual(concat(data.map((f) => f.data)), concat(chunks));
  }
});

test('a response that ends before the upload stops the upload and its source', async () => {
  const peer = new Peer();
  let finished = false;
  async function* body() {
    try {
      for (;;) yield bytesOf(128 * 1024);
    } finally {
      finished = true;
    }
  }
  const pending = peer.client.openStream({ method: 'POST', uri: '/', body: body() });
  await settle();
  peer.head(1, 413);
  peer.deliver({ type: 'ResponseEnd', stream: 1 });
  const response = await pending;
  assert.equal(response.status, 413);
  peer.deliver({ type: 'Credit', stream: 1, bytes: 1 << 20 }); // raced with the end: ignored
  await settle();
  assert.ok(finished, 'the source was closed');
  // The head and the chunks within the initial credit; nothing after the end.
  const sent = peer.take();
  assert.deepEqual(sent.map((f) => f.type), ['RequestHead', ...Array(INITIAL_UPLOAD_WINDOW / UPLOAD_CHUNK).fill('RequestData')]);
});

test('a failing upload source cancels the stream with a TypeError', async () => {
  const peer = new Peer();
  async function* body() {
    yield text('a');
    throw new Error('disk on fire');
  }
  const pending = peer.client.openStream({ method: 'POST', uri: '/', body: body() });
  await assert.rejects(pending, (e) => e instanceof TypeError && /disk on fire/.test(e.message));
  assert.deepEqual(peer.take().map((f) => f.type), ['RequestHead', 'RequestData', 'Cancel']);
});

test('abort before the head: Cancel on the wire, AbortError to the caller', async () => {
  const peer = new Peer();
  const controller = new AbortController();
  const pending = peer.client.openStream({ method: 'GET', uri: '/slow', signal: controller.signal });
  controller.abort();
  await assert.rejects(pending, (e) => e instanceof DOMException && e.name === 'AbortError');
  assert.deepEqual(peer.take().map((f) => [f.type, f.stream]), [['RequestHead', 1], ['Cancel', 1]]);
  // Frames the bus sent before it saw the Cancel are ignored quietly.
  peer.head(1);
  peer.data(1, text('late'));
  peer.deliver({ type: 'ResponseEnd', stream: 1 });
  assert.deepEqual(peer.protocolErrors, []);
  assert.deepEqual(peer.take(), []);
});

test('an already aborted signal sends nothing', async () => {
  const peer = new Peer();
  const pending = peer.client.openStream({ method: 'GET', uri: '/', signal: AbortSignal.abort() });
  await assert.rejects(pending, { name: 'AbortError' });
  assert.deepEqual(peer.take(), []);
});

test('abort during the body errors the body and stops the upload', async () => {
  const peer = new Peer();
  const controller = new AbortController();
  const pending = peer.client.openStream({
    method: 'POST',
    uri: '/',
    body: bytesOf(INITIAL_UPLOAD_WINDOW + 10),
    signal: controller.signal,
  });
  await settle();
  peer.head(1);
  const { body } = await pending;
  peer.data(1, text('partial'));
  controller.abort();
  await assert.rejects(readAll(body), { name: 'AbortError' });
  peer.deliver({ type: 'Credit', stream: 1, bytes: 1000 });
  await settle();
  assert.deepEqual(peer.take().map((f) => f.type), [
    'RequestHead',
    ...Array(INITIAL_UPLOAD_WINDOW / UPLOAD_CHUNK).fill('RequestData'),
    'Cancel',
  ]);
});

test('cancelling the body sends Cancel', async () => {
  const peer = new Peer();
  const pending = peer.client.openStream({ method: 'GET', uri: '/' });
  peer.head(1);
  const { body } = await pending;
  await body.cancel();
  assert.deepEqual(peer.take().map((f) => f.type), ['RequestHead', 'Cancel']);
  assert.equal(peer.client.openStreams, 0);
});

test('Error frames reject with a TypeError naming the code', async () => {
  const peer = new Peer();
  const a = peer.client.openStream({ method: 'G E T', uri: '/' });
  const b = peer.client.openStream({ method: 'GET', uri: '/' });
  const c = peer.client.openStream({ method: 'GET', uri: '/' });
  peer.deliver({ type: 'Error', stream: 1, code: 8, message: 'invalid method "G E T"' });
  await assert.rejects(a, (e) => e instanceof TypeError && e.message.includes('InvalidHead') && e.message.includes('invalid method'));
  peer.deliver({ type: 'Error', stream: 3, code: 999, message: 'from the future' });
  await assert.rejects(c, (e) => e instanceof TypeError && e.message.includes('999') && e.message.includes('from the future'));

  // After the head, an Error fails the body.
  peer.head(2);
  const { body } = await b;
  peer.data(2, text('half'));
  peer.deliver({ type: 'Error', stream: 2, code: 10, message: 'response body failed: boom' });
  await assert.rejects(readAll(body), (e) => e instanceof TypeError && e.message.includes('BodyFailed'));
  assert.equal(peer.client.openStreams, 0);
  assert.deepEqual(peer.protocolErrors, []);
  // Each Error is answered with a Cancel, so the bus closes the stream too if it had not.
  assert.deepEqual(peer.take().map((f) => [f.type, f.stream]), [
    ['RequestHead', 1], ['RequestHead', 2], ['RequestHead', 3], ['Cancel', 1], ['Cancel', 3], ['Cancel', 2],
  ]);
});

test('a malformed inbound frame is reported and fails nothing', async () => {
  const peer = new Peer();
  const pending = peer.client.openStream({ method: 'GET', uri: '/' });
  peer.transport.onmessage(new Uint8Array([1, 42, 0, 0, 0]));
  peer.transport.onmessage(new Uint8Array([]));
  peer.transport.onmessage(new Uint8Array([9]));
  assert.deepEqual(peer.protocolErrors.map((e) => [e instanceof DecodeError, e.code]), [[true, 1], [true, 1], [true, 2]]);
  peer.head(1, 204);
  peer.deliver({ type: 'ResponseEnd', stream: 1 });
  assert.equal((await pending).status, 204);
});

test('session errors and frames in the wrong direction are reported', () => {
  const peer = new Peer();
  peer.deliver({ type: 'Error', stream: 0, code: 1, message: 'malformed frame: x' });
  peer.deliver({ type: 'Cancel', stream: 1 });
  peer.deliver({ type: 'RequestData', stream: 1, data: text('x') });
  const [session, ...wrong] = peer.protocolErrors;
  assert.ok(session instanceof ProtocolError);
  assert.equal(session.code, 1);
  assert.equal(session.stream, 0);
  assert.match(session.message, /Malformed/);
  assert.deepEqual(wrong.map((e) => [e.name, e.stream, e.code]), [['ProtocolError', 1, null], ['ProtocolError', 1, null]]);
});

test('ResponseData before ResponseHead is a violation that fails the stream', async () => {
  const peer = new Peer();
  const pending = peer.client.openStream({ method: 'GET', uri: '/' });
  peer.data(1, text('x'));
  await assert.rejects(pending, TypeError);
  assert.deepEqual(peer.take().map((f) => f.type), ['RequestHead', 'Cancel']);
  assert.equal(peer.protocolErrors.length, 1);
});

test('no credit is granted after the stream ended', async () => {
  const peer = new Peer();
  const pending = peer.client.openStream({ method: 'GET', uri: '/', window: 100 });
  peer.head(1);
  const { body } = await pending;
  peer.data(1, bytesOf(100));
  peer.deliver({ type: 'ResponseEnd', stream: 1 });
  assert.equal((await readAll(body)).byteLength, 100);
  assert.deepEqual(peer.take().map((f) => f.type), ['RequestHead']);
});

test('invalid arguments reject without sending; close() fails open streams', async () => {
  const peer = new Peer();
  await assert.rejects(peer.client.openStream({ method: 'GET', uri: '/', window: 0 }), RangeError);
  await assert.rejects(peer.client.openStream({ method: 'GET', uri: '/', headers: [['x', '\u20ac']] }), TypeError);
  await assert.rejects(peer.client.openStream({ method: 'GET', uri: '/\uD800' }), TypeError);
  await assert.rejects(peer.client.openStream({ method: 'GET', uri: '/', body: 'text' }), TypeError);
  assert.deepEqual(peer.take(), []);

  const pending = peer.client.openStream({ method: 'GET', uri: '/' });
  peer.client.close();
  await assert.rejects(pending, TypeError);
  await assert.rejects(peer.client.openStream({ method: 'GET', uri: '/' }), TypeError);
});

test('a throwing transport fails the stream with a TypeError', async () => {
  const peer = new Peer();
  peer.transport.send = () => {
    throw new Error('bridge gone');
  };
  await assert.rejects(peer.client.openStream({ method: 'GET', uri: '/' }), (e) => e instanceof TypeError && /bridge gone/.test(e.message));
  assert.equal(peer.client.openStreams, 0);
});

test('a response whose data and end come in the same delivery as its head is handed over whole', async () => {
  const peer = new Peer();
  const pending = peer.client.openStream({ method: 'GET', uri: '/small' });
  // One synchronous batch, as a transport delivers it.
  peer.head(1, 200, [['content-type', text('text/plain')]]);
  peer.data(1, text('hello '));
  peer.data(1, text('world'));
  peer.deliver({ type: 'ResponseEnd', stream: 1 });
  const res = await pending;
  assert.equal(res.status, 200);
  assert.deepEqual(res.complete, text('hello world'));
  // The stream is still there for callers that read it, with the same bytes.
  assert.deepEqual(await readAll(res.body), text('hello world'));
  assert.deepEqual(peer.take().map((f) => f.type), ['RequestHead'], 'no Credit, no Cancel');
});

test('a whole Response frame is the head, the body and the end at once', async () => {
  const peer = new Peer();
  const pending = peer.client.openStream({ method: 'GET', uri: '/small' });
  peer.deliver({ type: 'Response', stream: 1, status: 201, headers: [['content-type', text('text/plain')]], data: text('hello') });
  const res = await pending;
  assert.equal(res.status, 201);
  assert.deepEqual(res.headers, [['content-type', text('text/plain')]]);
  assert.deepEqual(res.complete, text('hello'));
  assert.deepEqual(await readAll(res.body), text('hello'));
  // The stream is closed: a late frame for it is ignored, no Credit or Cancel goes out.
  peer.deliver({ type: 'ResponseEnd', stream: 1 });
  assert.deepEqual(peer.take().map((f) => f.type), ['RequestHead']);
  assert.equal(peer.protocolErrors.length, 0);
  // An empty body.
  const empty = peer.client.openStream({ method: 'GET', uri: '/none' });
  peer.deliver({ type: 'Response', stream: 2, status: 204, headers: [], data: new Uint8Array(0) });
  assert.equal((await readAll((await empty).body)).byteLength, 0);
});

test('a Response frame beyond the window, or after a ResponseHead, is a violation', async () => {
  const peer = new Peer();
  const big = peer.client.openStream({ method: 'GET', uri: '/', window: 4 });
  peer.deliver({ type: 'Response', stream: 1, status: 200, headers: [], data: bytesOf(5) });
  const res = await big.catch((e) => e);
  // Published with its head, then failed: either way the body does not arrive.
  if (res instanceof Error) assert.ok(res instanceof TypeError);
  else await assert.rejects(readAll(res.body), TypeError);
  const second = peer.client.openStream({ method: 'GET', uri: '/' });
  peer.head(2);
  peer.deliver({ type: 'Response', stream: 2, status: 200, headers: [], data: text('x') });
  const r2 = await second.catch((e) => e);
  if (r2 instanceof Error) assert.ok(r2 instanceof TypeError);
  else await assert.rejects(readAll(r2.body), TypeError);
  assert.equal(peer.protocolErrors.length, 2);
});

test('a response whose data comes later streams as before, early data first', async () => {
  const peer = new Peer();
  const pending = peer.client.openStream({ method: 'GET', uri: '/slow' });
  peer.head(1);
  peer.data(1, text('early '));
  const res = await pending;
  assert.equal(res.complete, null);
  peer.data(1, text('late'));
  peer.deliver({ type: 'ResponseEnd', stream: 1 });
  assert.deepEqual(await readAll(res.body), text('early late'));
});

test('an Error in the same delivery as the head resolves the response and fails its body', async () => {
  const peer = new Peer();
  const pending = peer.client.openStream({ method: 'GET', uri: '/broken' });
  peer.head(1);
  peer.data(1, text('part'));
  peer.deliver({ type: 'Error', stream: 1, code: 9, message: 'the handler failed midway' });
  const res = await pending;
  assert.equal(res.complete, null);
  await assert.rejects(readAll(res.body), (e) => e instanceof TypeError && /the handler failed midway/.test(e.message));
});

test('an abort between the head and its publication rejects the response with the reason', async () => {
  const peer = new Peer();
  const ac = new AbortController();
  const pending = peer.client.openStream({ method: 'GET', uri: '/x', signal: ac.signal });
  peer.head(1);
  peer.data(1, text('part'));
  ac.abort(new Error('stop'));
  await assert.rejects(pending, /stop/);
  assert.deepEqual(peer.take().map((f) => f.type), ['RequestHead', 'Cancel']);
  assert.equal(peer.client.openStreams, 0);
});

test('reset fails the open streams and keeps the client usable', async () => {
  const peer = new Peer();
  const open = peer.client.openStream({ method: 'GET', uri: '/hang' });
  peer.head(2); // not ours: ignored
  const reason = new TypeError('session reset');
  peer.transport.onreset(reason);
  await assert.rejects(open, (e) => e === reason);
  assert.equal(peer.client.openStreams, 0);
  const next = peer.client.openStream({ method: 'GET', uri: '/after' });
  peer.head(2);
  peer.deliver({ type: 'ResponseEnd', stream: 2 });
  assert.equal((await next).status, 200);
});
