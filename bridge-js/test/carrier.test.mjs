// The upload carrier of domEventTransport (WebKitGTK's relay, bridge-desktop channel.rs): a
// body larger than one frame goes to the relay's MessagePort as bytes, and the host feeds it
// to the stream; smaller bodies, and pages with no relay port, keep to frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { BusClient, CARRY_OVER, decode, domEventTransport, encode, fromBase64, install, toBase64 } from '../dist/bus-bridge.mjs';
import { BusPeer } from './support/bus-peer.mjs';
import { confRoutes } from './support/conf-routes.mjs';
import { FakeXHR, readAll, settle, decodeText } from './support/env.mjs';

const bytesOf = (n) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);

/**
 * A relay as the isolated world runs it, and a host as bridge-desktop's channel: frames as
 * base64 events, a carrier port offered on hello, carried bodies fed to the bus as
 * RequestData + RequestEnd (or refused with an error back through the port).
 */
function rig({ offerPort = true, refuse = null } = {}) {
  const doc = new EventTarget();
  const peer = new BusPeer(async (req, res) => {
    const body = await req.body();
    res.head(200, {});
    await res.write(new TextEncoder().encode(`${body.length} ${body.reduce((a, b) => (a + b) % 65521, 0)}`));
    res.end();
  });
  const out = [];
  const carried = [];
  doc.addEventListener('inproc-bus-out', (e) => {
    const bytes = fromBase64(e.detail);
    out.push(decode(bytes));
    peer.transport.send(bytes);
  });
  peer.transport.onmessage = (bytes) => doc.dispatchEvent(new CustomEvent('inproc-bus-in', { detail: toBase64(bytes) }));
  const channel = new MessageChannel();
  if (offerPort) {
    const offer = () => doc.dispatchEvent(new MessageEvent('inproc-bus-port', { ports: [channel.port1] }));
    doc.addEventListener('inproc-bus-hello', offer);
  }
  channel.port2.onmessage = (e) => {
    const { stream, body } = e.data;
    assert.ok(body instanceof ArrayBuffer, 'the relay gets an ArrayBuffer');
    carried.push({ stream, bytes: body.byteLength });
    if (refuse) {
      channel.port2.postMessage({ stream, error: refuse });
      return;
    }
    const all = new Uint8Array(body);
    for (let at = 0; at < all.byteLength; at += 65536) {
      peer.transport.send(encode({ type: 'RequestData', stream, data: all.subarray(at, at + 65536) }));
    }
    peer.transport.send(encode({ type: 'RequestEnd', stream }));
    // Given back once done, as the relay does.
    channel.port2.postMessage({ stream, returned: body }, [body]);
  };
  const client = new BusClient(domEventTransport({ target: doc }));
  return { client, out, carried, close: () => channel.port2.close() };
}

const sum = (b) => b.reduce((a, x) => (a + x) % 65521, 0);

test('carrier: a body over one frame goes as bytes through the relay port, the caller keeps its buffer', async () => {
  const r = rig();
  const body = bytesOf(1 << 20);
  const progress = [];
  const res = await r.client.openStream({ method: 'POST', uri: '/up', body, onupload: (sent, done) => progress.push([sent, done]) });
  assert.equal(decodeText(await readAll(res.body)), `${body.length} ${sum(body)}`);
  assert.deepEqual(r.carried, [{ stream: 1, bytes: 1 << 20 }]);
  assert.deepEqual(r.out.map((f) => f.type), ['RequestHead'], 'no body frames from the page');
  assert.equal(r.out[0].endStream, false);
  assert.equal(body.byteLength, 1 << 20, 'the caller\'s buffer is not detached');
  assert.deepEqual(progress, [[1 << 20, true]]);
  r.close();
});

test('carrier: bodies of one frame or less, and pages without a relay port, keep to frames', async () => {
  const small = rig();
  const body = bytesOf(CARRY_OVER);
  const res = await small.client.openStream({ method: 'POST', uri: '/up', body });
  assert.equal(decodeText(await readAll(res.body)), `${body.length} ${sum(body)}`);
  assert.deepEqual(small.carried, []);
  assert.deepEqual(small.out.map((f) => f.type), ['RequestHead', 'RequestData', 'RequestEnd']);
  small.close();

  const none = rig({ offerPort: false });
  const big = bytesOf(300_000);
  const res2 = await none.client.openStream({ method: 'POST', uri: '/up', body: big });
  assert.equal(decodeText(await readAll(res2.body)), `${big.length} ${sum(big)}`);
  assert.ok(none.out.filter((f) => f.type === 'RequestData').length >= 5);
  none.close();
});

test('carrier: a body the host refuses fails the request with the reason, and cancels the stream', async () => {
  const r = rig({ refuse: 'HTTP 409: stream 1 is not open' });
  const pending = r.client.openStream({ method: 'PUT', uri: '/up', body: bytesOf(200_000) });
  await assert.rejects(pending, (e) => e instanceof TypeError && /could not be carried.*409/.test(e.message));
  await settle();
  assert.deepEqual(r.out.map((f) => f.type), ['RequestHead', 'Cancel']);
  r.close();
});

/**
 * A page with the fetch shim over a transport whose carrier works as the relay's: a body it
 * is lent (a whole buffer) is transferred, not copied, fed to the stream, then given back
 * (or never, with `giveBack: false`).
 */
function carrierPage({ giveBack = true, copyOnly = false, keep = false, loseKept = false, maxStreams = undefined } = {}) {
  const conf = confRoutes();
  const peer = new BusPeer(conf.handler);
  const carried = [];
  const kept = { asked: 0, released: 0 };
  // The buffers lent bodies came in, and those given back, in order.
  const buffers = { lent: [], back: [] };
  peer.transport.sendBody = (stream, body, lend) => {
    buffers.lent.push(body.buffer);
    // copyOnly: a transport that ignores `lend` (copies, gives nothing back).
    const whole = !copyOnly && lend === true && body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
    const buffer = whole ? body.buffer : body.slice().buffer;
    // As postMessage with the buffer in its transfer list: the sender's copy is detached.
    const taken = structuredClone(buffer, { transfer: [buffer] });
    carried.push({ stream, bytes: taken.byteLength, lent: whole });
    setImmediate(() => {
      const all = new Uint8Array(taken);
      for (let at = 0; at < all.byteLength; at += 65536) {
        peer.transport.send(encode({ type: 'RequestData', stream, data: all.subarray(at, at + 65536) }));
      }
      peer.transport.send(encode({ type: 'RequestEnd', stream }));
      // keep: as the desktop relay does with a buffer its socket pinned: kept, given back
      // (a copy) only when asked.
      const back = keep
        ? {
            again: async () => {
              kept.asked++;
              return loseKept ? null : new Uint8Array(taken.slice(0));
            },
            release: () => void kept.released++,
          }
        : new Uint8Array(structuredClone(taken, { transfer: [taken] }));
      if (!keep) buffers.back.push(back.buffer);
      if (giveBack && !copyOnly) setImmediate(() => peer.transport.oncarryreturn?.(stream, back));
    });
    return true;
  };
  const g = {
    document: { baseURI: 'app://localhost/' },
    location: { href: 'app://localhost/' },
    fetch: async () => new Response('from the browser'),
    XMLHttpRequest: FakeXHR,
  };
  const inst = install({ origins: ['app://localhost'], transport: peer.transport, global: g, maxStreams });
  return { g, peer, inst, carried, kept, buffers };
}

const sha = (b) => createHash('sha256').update(b).digest('hex');

test('carrier: fetch lends its own copy of the body (no second copy); the caller keeps its buffer', async () => {
  const { g, carried } = carrierPage();
  const body = bytesOf(300_000);
  const res = await g.fetch('app://localhost/conf/echo', { method: 'POST', body });
  assert.equal(sha(new Uint8Array(await res.arrayBuffer())), sha(body));
  assert.deepEqual(carried, [{ stream: 1, bytes: 300_000, lent: true }], 'fetch\'s snapshot went as it was');
  assert.equal(body.byteLength, 300_000, 'the caller\'s buffer is not detached');
});

test('carrier: a large body\'s copy, back once its fetch is done, takes the next body of its size', async () => {
  const { g, buffers } = carrierPage();
  const size = 2 << 20;
  const first = bytesOf(size);
  let res = await g.fetch('app://localhost/conf/echo', { method: 'POST', body: first });
  assert.equal(sha(new Uint8Array(await res.arrayBuffer())), sha(first));
  await settle();
  assert.equal(buffers.back.length, 1);
  // Same size, other bytes: they go in the buffer that came back, and arrive as they are.
  const second = first.map((b) => b ^ 0x5a);
  res = await g.fetch('app://localhost/conf/echo', { method: 'POST', body: second });
  assert.equal(sha(new Uint8Array(await res.arrayBuffer())), sha(second));
  assert.equal(buffers.lent[1], buffers.back[0], 'the second copy used the first\'s buffer');
  assert.equal(first[0], 3, 'the caller\'s bytes are untouched');
  await settle();
  // One buffer kept, two bodies of its size at once: the first takes it, the second (made
  // while the first's buffer is lent) a new one; another size, a new one too.
  const third = bytesOf(size).map((b) => b ^ 0x33);
  const fourth = bytesOf(size).map((b) => b ^ 0x77);
  const fifth = bytesOf(size + 1);
  const [r3, r4, r5] = await Promise.all([
    g.fetch('app://localhost/conf/echo', { method: 'POST', body: third }),
    g.fetch('app://localhost/conf/echo', { method: 'POST', body: fourth }),
    g.fetch('app://localhost/conf/echo', { method: 'POST', body: fifth }),
  ]);
  assert.equal(sha(new Uint8Array(await r3.arrayBuffer())), sha(third));
  assert.equal(sha(new Uint8Array(await r4.arrayBuffer())), sha(fourth));
  assert.equal(sha(new Uint8Array(await r5.arrayBuffer())), sha(fifth));
  assert.equal(buffers.lent[2], buffers.back[1], 'the third took the buffer back from the second');
  assert.equal(new Set(buffers.lent.slice(2, 5)).size, 3, 'three bodies in flight, three buffers');
});

test('carrier: an XHR body sent again after a 401 keeps its bytes while another body of its size is made', async () => {
  // Two stream slots, one held: the XHR's retry waits for a slot with its body back from
  // the carrier, and another body of the same size is made meanwhile. It must not take the
  // retry's buffer (it did, when the first try's end put it up for use again).
  const { g, buffers } = carrierPage({ maxStreams: 2 });
  const size = 2 << 20;
  const a = new Uint8Array(size).fill(0xaa);
  const b = new Uint8Array(size).fill(0xbb);
  const holds = [new AbortController(), new AbortController()];
  const held = holds.map((c) => g.fetch('app://localhost/conf/hang', { signal: c.signal }).catch(() => {}));
  await settle();
  const xhr = new g.XMLHttpRequest();
  xhr.open('POST', 'app://localhost/conf/basic-echo', true, 'user', 'pw');
  xhr.responseType = 'arraybuffer';
  const done = new Promise((resolve) => xhr.addEventListener('loadend', resolve));
  holds[1].abort(); // a slot for the first try only: the second hang takes it back after
  xhr.send(a);
  const again = new AbortController();
  const third = g.fetch('app://localhost/conf/hang', { signal: again.signal }).catch(() => {});
  while (buffers.back.length < 1) await settle();
  for (let i = 0; i < 20; i++) await settle();
  const other = g.fetch('app://localhost/conf/echo', { method: 'POST', body: b });
  holds[0].abort();
  again.abort();
  await Promise.all([...held, third]);
  await done;
  assert.equal(xhr.status, 200);
  assert.equal(sha(new Uint8Array(xhr.response)), sha(a), 'the retry sent a\'s bytes');
  assert.equal(sha(new Uint8Array(await (await other).arrayBuffer())), sha(b), 'the other fetch sent b\'s');
});

test('carrier: bodies under a MiB are copied as ever (never taken from what came back)', async () => {
  const { g, buffers } = carrierPage();
  for (let i = 0; i < 2; i++) {
    const body = bytesOf(500_000);
    const res = await g.fetch('app://localhost/conf/echo', { method: 'POST', body });
    assert.equal(sha(new Uint8Array(await res.arrayBuffer())), sha(body));
    await settle();
  }
  assert.notEqual(buffers.lent[1], buffers.back[0]);
});

test('carrier: a 307 or 308 after a carried body sends the same bytes again, once they are back', async () => {
  for (const code of [307, 308]) {
    const { g, carried } = carrierPage();
    const body = bytesOf(200_000);
    const res = await g.fetch(`app://localhost/conf/redirect/${code}?to=/conf/echo`, { method: 'POST', body });
    assert.equal(res.status, 200);
    assert.equal(res.redirected, true);
    assert.equal(sha(new Uint8Array(await res.arrayBuffer())), sha(body));
    assert.deepEqual(carried.map((c) => [c.bytes, c.lent]), [[200_000, true], [200_000, true]]);
  }
});

test('carrier: a body the carrier keeps is asked for only by a redirect, and let go once the fetch is done', async () => {
  for (const code of [307, 308]) {
    const { g, carried, kept } = carrierPage({ keep: true });
    const body = bytesOf(200_000);
    const res = await g.fetch(`app://localhost/conf/redirect/${code}?to=/conf/echo`, { method: 'POST', body });
    assert.equal(res.status, 200);
    assert.equal(sha(new Uint8Array(await res.arrayBuffer())), sha(body));
    assert.deepEqual(carried.map((c) => c.bytes), [200_000, 200_000]);
    await settle();
    assert.deepEqual(kept, { asked: 1, released: 1 }, 'asked for once (the redirect), the second kept body let go');
  }
  const { g, kept } = carrierPage({ keep: true });
  const res = await g.fetch('app://localhost/conf/echo', { method: 'POST', body: bytesOf(200_000) });
  assert.equal((await res.arrayBuffer()).byteLength, 200_000);
  await settle();
  assert.deepEqual(kept, { asked: 0, released: 1 }, 'no redirect: never copied back, let go');
  const lost = carrierPage({ keep: true, loseKept: true });
  await assert.rejects(
    lost.g.fetch('app://localhost/conf/redirect/307?to=/conf/echo', { method: 'POST', body: bytesOf(200_000) }),
    (e) => e instanceof TypeError && /cannot be sent again/.test(e.message),
  );
});

test('carrier: a body the carrier keeps that nobody lent (a copy) is let go at once', async () => {
  const { inst, kept } = carrierPage({ keep: true });
  const res = await inst.client.openStream({ method: 'POST', uri: '/conf/echo', body: bytesOf(200_000) });
  assert.equal((await readAll(res.body)).length, 200_000);
  await settle();
  await settle();
  assert.deepEqual(kept, { asked: 0, released: 1 });
});

test('carrier: a lent body that never comes back fails the redirect with a TypeError once the client closes, and nothing hangs', async () => {
  const { g, inst } = carrierPage({ giveBack: false });
  const pending = g.fetch('app://localhost/conf/redirect/307?to=/conf/echo', { method: 'POST', body: bytesOf(100_000) });
  await settle();
  await settle();
  inst.client.close();
  await assert.rejects(pending, (e) => e instanceof TypeError && /cannot be sent again/.test(e.message));
});

test('carrier: openStream lends only when asked, and gets the bytes back through lendBody', async () => {
  const r = rig();
  try {
    const body = bytesOf(1 << 17);
    const expected = `${body.length} ${sum(body)}`;
    let back = null;
    const progress = [];
    const res = await r.client.openStream({
      method: 'POST',
      uri: '/up',
      body,
      lendBody: (p) => (back = p),
      onupload: (sent, done) => progress.push([sent, done]),
    });
    assert.equal(body.byteLength, 0, 'a lent whole buffer is taken, not copied');
    assert.deepEqual(progress, [[1 << 17, true]], 'progress counts the bytes the carrier took');
    assert.equal(decodeText(await readAll(res.body)), expected);
    const returned = await back;
    assert.ok(returned instanceof Uint8Array);
    assert.equal(`${returned.length} ${sum(returned)}`, expected, 'the same bytes, back');
    // A view of part of a buffer is copied even when lent: the caller's buffer stays.
    const big = bytesOf(1 << 18);
    const part = big.subarray(1000, 1000 + (1 << 17));
    const res2 = await r.client.openStream({ method: 'POST', uri: '/up', body: part, lendBody: () => {} });
    assert.equal(decodeText(await readAll(res2.body)), `${part.length} ${sum(part)}`);
    assert.equal(big.byteLength, 1 << 18);
  } finally {
    r.close();
  }
});

test('carrier: a transport that copies a lent body (and gives nothing back) is not waited for on a redirect', async () => {
  const { g, carried } = carrierPage({ copyOnly: true });
  const body = bytesOf(150_000);
  const res = await g.fetch('app://localhost/conf/redirect/308?to=/conf/echo', { method: 'POST', body });
  assert.equal(res.status, 200);
  assert.equal(sha(new Uint8Array(await res.arrayBuffer())), sha(body));
  assert.deepEqual(carried.map((c) => c.lent), [false, false]);
});

test('carrier: an abort while a redirect waits for its lent body rejects the fetch with the reason', async () => {
  const { g } = carrierPage({ giveBack: false });
  const controller = new AbortController();
  const pending = g.fetch('app://localhost/conf/redirect/307?to=/conf/echo', { method: 'POST', body: bytesOf(100_000), signal: controller.signal });
  for (let i = 0; i < 5; i++) await settle();
  const reason = new Error('stop waiting');
  controller.abort(reason);
  await assert.rejects(pending, (e) => e === reason);
});

test('carrier: a Request\'s stream body is sent as a copy: the chunk the page enqueued is not detached', async () => {
  const { g, carried } = carrierPage();
  const chunk = bytesOf(2 << 20);
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(chunk);
      c.close();
    },
  });
  const request = new Request('app://localhost/conf/echo', { method: 'POST', body: stream, duplex: 'half' });
  const res = await g.fetch(request);
  assert.equal(sha(new Uint8Array(await res.arrayBuffer())), sha(bytesOf(2 << 20)));
  assert.deepEqual(carried.map((c) => c.lent), [true], 'the copy was lent');
  assert.equal(chunk.byteLength, 2 << 20, 'the page\'s chunk is not detached');
});
