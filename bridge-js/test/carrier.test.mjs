// The upload carrier of domEventTransport (WebKitGTK's relay, bridge-desktop channel.rs): a
// body larger than one frame goes to the relay's MessagePort as bytes, and the host feeds it
// to the stream; smaller bodies, and pages with no relay port, keep to frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BusClient, CARRY_OVER, decode, domEventTransport, encode, fromBase64, toBase64 } from '../dist/bus-bridge.mjs';
import { BusPeer } from './support/bus-peer.mjs';
import { readAll, settle, decodeText } from './support/env.mjs';

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
