// BusClient.attachPeer: a worker's client relayed through the page's client into one bus
// session — ids remapped into the page's id space, credit and cancel passed through, the
// page's maxStreams shared, reset and close ending the peer's streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BusClient, ErrorCode, decode, encode } from '../dist/bus-bridge.mjs';

const settle = () => new Promise((resolve) => setImmediate(resolve));
const text = (s) => new TextEncoder().encode(s);

/** A page client over a scripted bus, and a worker client attached to it as a peer. */
function setup(options = {}) {
  const bus = { sent: [], deliver: null };
  const pageTransport = {
    send: (bytes) => bus.sent.push(decode(bytes)),
    onmessage: null,
  };
  const page = new BusClient(pageTransport, options);
  bus.deliver = (frame) => pageTransport.onmessage(encode(frame));
  bus.take = () => bus.sent.splice(0, bus.sent.length);
  // The worker's transport and the page's end of it: frames cross as copies, as through a port.
  const toPeer = [];
  const peerEnd = { send: (bytes) => toPeer.push(bytes.slice()), onmessage: null };
  const workerTransport = { send: (bytes) => peerEnd.onmessage?.(bytes.slice()), onmessage: null };
  const worker = new BusClient(workerTransport);
  const link = page.attachPeer(peerEnd);
  const pump = () => {
    for (const b of toPeer.splice(0, toPeer.length)) workerTransport.onmessage(b);
  };
  return { bus, page, worker, link, pump, peerEnd, toPeer };
}

async function readAll(body) {
  const reader = body.getReader();
  const parts = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(...value);
  }
  return new TextDecoder().decode(Uint8Array.from(parts));
}

test('a peer stream gets an id of the page session, distinct from the page own', async () => {
  const { bus, page, worker, pump } = setup();
  const own = page.openStream({ method: 'GET', uri: '/a' });
  const theirs = worker.openStream({ method: 'POST', uri: '/b', body: text('hello') });
  await settle();
  const sent = bus.take();
  const heads = sent.filter((f) => f.type === 'RequestHead');
  assert.deepEqual(heads.map((f) => [f.stream, f.uri]), [[1, '/a'], [2, '/b']]);
  // The worker counted from 1 too; the bus saw it as 2, with its body and end.
  assert.deepEqual(
    sent.filter((f) => f.stream === 2).map((f) => f.type),
    ['RequestHead', 'RequestData', 'RequestEnd'],
  );
  assert.equal(page.relayedStreams, 1);
  bus.deliver({ type: 'ResponseHead', stream: 2, status: 201, headers: [] });
  bus.deliver({ type: 'ResponseData', stream: 2, data: text('for the worker') });
  bus.deliver({ type: 'ResponseEnd', stream: 2 });
  bus.deliver({ type: 'ResponseHead', stream: 1, status: 200, headers: [] });
  bus.deliver({ type: 'ResponseEnd', stream: 1 });
  pump();
  const r = await theirs;
  assert.equal(r.status, 201);
  assert.equal(await readAll(r.body), 'for the worker');
  assert.equal((await own).status, 200);
  assert.equal(page.relayedStreams, 0, 'ResponseEnd frees the slot');
});

test('credit flows both ways and cancel reaches the bus under the page id', async () => {
  const { bus, page, worker, pump } = setup();
  page.openStream({ method: 'GET', uri: '/first' }); // id 1 is the page's
  const controller = new AbortController();
  const p = worker.openStream({ method: 'GET', uri: '/stream', window: 8, signal: controller.signal });
  await settle();
  const head = bus.take().find((f) => f.uri === '/stream');
  assert.equal(head.stream, 2);
  assert.equal(head.window, 8);
  bus.deliver({ type: 'ResponseHead', stream: 2, status: 200, headers: [] });
  bus.deliver({ type: 'ResponseData', stream: 2, data: text('12345678') });
  pump();
  const r = await p;
  const reader = r.body.getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), '12345678');
  await settle();
  const credit = bus.take().filter((f) => f.type === 'Credit');
  assert.ok(credit.length >= 1 && credit.every((f) => f.stream === 2), JSON.stringify(credit));
  controller.abort();
  await settle();
  assert.deepEqual(bus.take(), [{ type: 'Cancel', stream: 2 }]);
  assert.equal(page.relayedStreams, 0);
  // Late data for the cancelled stream is dropped, not misrouted.
  bus.deliver({ type: 'ResponseData', stream: 2, data: text('late') });
  assert.equal(bus.sent.length, 0);
});

test('upload credit from the bus reaches the worker', async () => {
  const { bus, worker, pump } = setup();
  const big = new Uint8Array(600 * 1024).fill(7);
  worker.openStream({ method: 'PUT', uri: '/up', body: big });
  await settle();
  let sent = bus.take();
  const data = () => sent.filter((f) => f.type === 'RequestData').reduce((n, f) => n + f.data.byteLength, 0);
  assert.equal(data(), 256 * 1024, 'the initial upload window only');
  bus.deliver({ type: 'Credit', stream: 1, bytes: 1024 * 1024 });
  pump();
  await settle();
  await settle();
  sent = bus.take();
  assert.equal(data(), 600 * 1024 - 256 * 1024);
  assert.equal(sent.at(-1).type, 'RequestEnd');
});

test('peer streams count against maxStreams and wait in order with the page own', async () => {
  const { bus, page, worker, pump } = setup({ maxStreams: 2 });
  page.openStream({ method: 'GET', uri: '/p1' });
  worker.openStream({ method: 'GET', uri: '/w1' });
  const w2 = worker.openStream({ method: 'GET', uri: '/w2' });
  page.openStream({ method: 'GET', uri: '/p2' });
  await settle();
  assert.deepEqual(bus.take().map((f) => f.uri), ['/p1', '/w1']);
  assert.equal(page.queuedStreams, 2);
  bus.deliver({ type: 'ResponseHead', stream: 2, status: 200, headers: [] });
  bus.deliver({ type: 'ResponseEnd', stream: 2 });
  await settle();
  const next = bus.take();
  assert.deepEqual(next.map((f) => [f.stream, f.uri]), [[3, '/w2']]);
  bus.deliver({ type: 'ResponseHead', stream: 3, status: 204, headers: [] });
  bus.deliver({ type: 'ResponseEnd', stream: 3 });
  pump();
  assert.equal((await w2).status, 204);
  await settle();
  assert.deepEqual(bus.take().map((f) => [f.stream, f.uri]), [[4, '/p2']]);
});

test('a peer holding every slot it may take leaves the page its reserved streams', async () => {
  // maxStreams 8: peers may hold 6 (a quarter, 2, is the page's); the worker asks for 8.
  const { bus, page, worker, pump } = setup({ maxStreams: 8 });
  for (let i = 1; i <= 8; i++) worker.openStream({ method: 'GET', uri: `/w${i}` });
  await settle();
  assert.deepEqual(bus.take().map((f) => f.uri), ['/w1', '/w2', '/w3', '/w4', '/w5', '/w6']);
  assert.equal(page.relayedStreams, 6);
  assert.equal(page.queuedStreams, 2);
  // The page's own requests go past the worker's waiting ones, into the reserved slots.
  const p1 = page.openStream({ method: 'GET', uri: '/p1' });
  page.openStream({ method: 'GET', uri: '/p2' });
  page.openStream({ method: 'GET', uri: '/p3' });
  await settle();
  const heads = bus.take();
  assert.deepEqual(heads.map((f) => f.uri), ['/p1', '/p2']);
  assert.equal(page.queuedStreams, 3, 'w7, w8 and p3 wait: every slot is taken');
  // A page stream ends: its slot goes to the page's waiting request, not to the worker's.
  bus.deliver({ type: 'ResponseHead', stream: heads[0].stream, status: 200, headers: [] });
  bus.deliver({ type: 'ResponseEnd', stream: heads[0].stream });
  assert.equal((await p1).status, 200);
  await settle();
  assert.deepEqual(bus.take().map((f) => f.uri), ['/p3']);
  // A worker stream ends: the worker's next waiting one takes its slot.
  bus.deliver({ type: 'ResponseHead', stream: 1, status: 200, headers: [] });
  bus.deliver({ type: 'ResponseEnd', stream: 1 });
  pump();
  await settle();
  assert.deepEqual(bus.take().map((f) => f.uri), ['/w7']);
  assert.equal(page.relayedStreams, 6);
  assert.equal(page.queuedStreams, 1);
});

test('a peer stream cancelled while waiting never reaches the bus', async () => {
  const { bus, page, worker } = setup({ maxStreams: 1 });
  page.openStream({ method: 'GET', uri: '/p1' });
  const c = new AbortController();
  const w = worker.openStream({ method: 'GET', uri: '/w1', signal: c.signal });
  await settle();
  c.abort();
  await assert.rejects(w, { name: 'AbortError' });
  bus.deliver({ type: 'ResponseHead', stream: 1, status: 200, headers: [] });
  bus.deliver({ type: 'ResponseEnd', stream: 1 });
  await settle();
  assert.deepEqual(bus.take().map((f) => f.uri ?? f.type), ['/p1']);
  assert.equal(page.queuedStreams, 0);
});

test('a session reset and a closed client fail the peer streams with Error frames', async () => {
  const { bus, page, worker, pump } = setup();
  const a = worker.openStream({ method: 'GET', uri: '/a' });
  await settle();
  bus.take();
  page.reset(new TypeError('restored from the back/forward cache'));
  // A Cancel for the peer's stream, as for the page's own: a reset page script made up
  // leaves no stream of the bus open.
  assert.deepEqual(bus.take(), [{ type: 'Cancel', stream: 1 }]);
  pump();
  await assert.rejects(a, /Shutdown.*back\/forward cache/);
  const b = worker.openStream({ method: 'GET', uri: '/b' });
  await settle();
  assert.equal(bus.take()[0].stream, 2, 'new streams go on in the new session');
  page.close();
  pump();
  await assert.rejects(b, /Shutdown/);
});

test('link.close() cancels the peer streams on the bus (a terminated worker)', async () => {
  const { bus, page, worker, link } = setup();
  worker.openStream({ method: 'GET', uri: '/a' });
  worker.openStream({ method: 'GET', uri: '/b' });
  await settle();
  bus.take();
  assert.equal(link.openStreams, 2);
  link.close();
  assert.deepEqual(bus.take(), [
    { type: 'Cancel', stream: 1 },
    { type: 'Cancel', stream: 2 },
  ]);
  assert.equal(page.relayedStreams, 0);
  worker.openStream({ method: 'GET', uri: '/c' });
  await settle();
  assert.deepEqual(bus.take(), [], 'nothing more from a closed peer');
});

test('frames a peer must not send get an Error frame and never reach the bus', () => {
  const { bus, peerEnd, toPeer } = setup();
  const from = (frame) => peerEnd.onmessage(encode(frame));
  from({ type: 'ResponseHead', stream: 5, status: 200, headers: [] });
  from({ type: 'Credit', stream: 0, bytes: 1 });
  peerEnd.onmessage(Uint8Array.of(9, 0, 0, 0, 0, 1, 0, 0, 0));
  peerEnd.onmessage(Uint8Array.of(1, 0));
  peerEnd.onmessage(Uint8Array.of(1, 42, 0, 0, 0, 1, 0, 0, 0));
  // Frames for streams the peer never opened are dropped (as the bus drops late ones).
  from({ type: 'RequestData', stream: 9, data: text('x') });
  from({ type: 'Cancel', stream: 9 });
  assert.deepEqual(bus.take(), []);
  const errors = toPeer.map((b) => decode(b));
  assert.deepEqual(
    errors.map((e) => [e.stream, e.code]),
    [
      [5, ErrorCode.Protocol],
      [0, ErrorCode.Protocol],
      [0, ErrorCode.UnsupportedVersion],
      [0, ErrorCode.Malformed],
      [0, ErrorCode.Malformed],
    ],
  );
});

test('a peer reusing an open id closes that stream with StreamIdInUse', () => {
  const { bus, peerEnd, toPeer } = setup();
  const head = (stream) => encode({ type: 'RequestHead', stream, method: 'GET', uri: '/x', headers: [], endStream: true, window: 1024 });
  peerEnd.onmessage(head(3));
  peerEnd.onmessage(head(3));
  assert.deepEqual(
    bus.take().map((f) => [f.type, f.stream]),
    [
      ['RequestHead', 1],
      ['Cancel', 1],
    ],
  );
  assert.deepEqual(decode(toPeer[0]), { type: 'Error', stream: 3, code: ErrorCode.StreamIdInUse, message: 'stream 3 is already open' });
});
