// Base64 (native and fallback agree) and the string transports, end to end with a client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BusClient,
  bindingTransport,
  domEventTransport,
  encode,
  decode,
  fallbackFromBase64,
  fallbackToBase64,
  fromBase64,
  messagePortTransport,
  queuedTransport,
  toBase64,
} from '../dist/bus-bridge.mjs';
import { BusPeer } from './support/bus-peer.mjs';
import { readAll, settle, text, decodeText } from './support/env.mjs';

function random(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

const bytes = (n, rnd) => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));

test('base64 fallback encodes like the reference (Buffer) for every length and tail', () => {
  const rnd = random(11);
  for (let n = 0; n < 200; n++) {
    const b = bytes(n, rnd);
    assert.equal(fallbackToBase64(b), Buffer.from(b).toString('base64'), `length ${n}`);
  }
  const big = bytes(3 * 1024 * 1024 + 2, rnd);
  assert.equal(fallbackToBase64(big), Buffer.from(big).toString('base64'));
  // A view encodes only its own bytes.
  assert.equal(fallbackToBase64(big.subarray(5, 9)), Buffer.from(big.subarray(5, 9)).toString('base64'));
});

test('base64 fallback decodes what it encodes, skips whitespace, and refuses non-base64', () => {
  const rnd = random(12);
  for (let n = 0; n < 200; n++) {
    const b = bytes(n, rnd);
    assert.deepEqual(fallbackFromBase64(fallbackToBase64(b)), b, `length ${n}`);
  }
  // Padding optional (fromBase64's "loose" default); ASCII whitespace (Android wraps lines) ignored.
  assert.deepEqual(fallbackFromBase64('aGk'), text('hi'));
  assert.deepEqual(fallbackFromBase64('aGVs\nbG8=\r\n'), text('hello'));
  assert.deepEqual(fallbackFromBase64(' a G V s b G 8 '), text('hello'));
  assert.deepEqual(fallbackFromBase64(''), new Uint8Array(0));
  for (const bad of ['A', 'AB=', 'A===', '@@@@', 'AA=A', 'aGk*', 'aGVsbG8=aGk=', '\u00e9AAA']) {
    assert.throws(() => fallbackFromBase64(bad), SyntaxError, JSON.stringify(bad));
  }
});

test('toBase64/fromBase64 use the engine methods when present, and agree with the fallback', () => {
  const rnd = random(13);
  const hadTo = 'toBase64' in Uint8Array.prototype;
  const hadFrom = 'fromBase64' in Uint8Array;
  if (hadTo && hadFrom) {
    // An engine with them (Node 25+, Chromium 140+): they must agree with the fallback.
    for (let n = 0; n < 100; n++) {
      const b = bytes(n, rnd);
      assert.equal(toBase64(b), fallbackToBase64(b));
      assert.deepEqual(fromBase64(toBase64(b)), fallbackFromBase64(fallbackToBase64(b)));
    }
    return;
  }
  let used = 0;
  Object.defineProperty(Uint8Array.prototype, 'toBase64', {
    configurable: true,
    value() {
      used++;
      return Buffer.from(this.buffer, this.byteOffset, this.byteLength).toString('base64');
    },
  });
  Object.defineProperty(Uint8Array, 'fromBase64', {
    configurable: true,
    value(s) {
      used++;
      return new Uint8Array(Buffer.from(s, 'base64'));
    },
  });
  try {
    for (let n = 0; n < 50; n++) {
      const b = bytes(n, rnd);
      assert.equal(toBase64(b), fallbackToBase64(b));
      assert.deepEqual(fromBase64(toBase64(b)), b);
    }
    assert.equal(used, 150, 'the engine methods were used (3 calls a round)');
  } finally {
    delete Uint8Array.prototype.toBase64;
    delete Uint8Array.fromBase64;
  }
  assert.equal(toBase64(text('hi')), 'aGk=', 'fallback again');
});

test('domEventTransport: CustomEvents with base64 details, both ways', () => {
  const target = new EventTarget();
  const out = [];
  target.addEventListener('inproc-bus-out', (e) => out.push(e.detail));
  const errors = [];
  const t = domEventTransport({ target, onerror: (e) => errors.push(e) });
  const got = [];
  t.onmessage = (b) => got.push(b);
  t.send(new Uint8Array([1, 2, 3]));
  assert.deepEqual(out, ['AQID']);
  target.dispatchEvent(new CustomEvent('inproc-bus-in', { detail: 'BAUG' }));
  assert.deepEqual(got, [new Uint8Array([4, 5, 6])]);
  target.dispatchEvent(new CustomEvent('inproc-bus-in', { detail: { not: 'a string' } }));
  target.dispatchEvent(new CustomEvent('inproc-bus-in', { detail: '!!' }));
  assert.equal(errors.length, 2);
  assert.ok(errors[0] instanceof TypeError);
  assert.ok(errors[1] instanceof SyntaxError);
  t.close();
  target.dispatchEvent(new CustomEvent('inproc-bus-in', { detail: 'BAUG' }));
  assert.equal(got.length, 1, 'closed: no more deliveries');
});

test('domEventTransport: a Uint8Array detail is one frame (the desktop relay by the extension\'s socket)', () => {
  const doc = new EventTarget();
  const t = domEventTransport({ target: doc });
  const got = [];
  t.onmessage = (bytes) => got.push(Array.from(bytes));
  doc.dispatchEvent(new CustomEvent('inproc-bus-in', { detail: new Uint8Array([1, 2, 3]) }));
  doc.dispatchEvent(new CustomEvent('inproc-bus-in', { detail: toBase64(new Uint8Array([4, 5])) + ' ' + toBase64(new Uint8Array([6])) }));
  assert.deepEqual(got, [[1, 2, 3], [4, 5], [6]]);
  const errors = [];
  const t2 = domEventTransport({ target: doc, inEvent: 'other-in', onerror: (e) => errors.push(e) });
  t2.onmessage = () => assert.fail('not a frame');
  doc.dispatchEvent(new CustomEvent('other-in', { detail: new Uint16Array([1]) }));
  assert.equal(errors.length, 1, 'another typed array is refused, as any other non-string');
});

test('domEventTransport: custom event names, and a client over an isolated-world style relay', async () => {
  const doc = new EventTarget();
  const peer = new BusPeer(async (req, res) => {
    const body = await req.body();
    res.head(200, { 'x-len': String(body.length) });
    await res.write(body);
    res.end();
  });
  // The relay: what the isolated-world script does with the native handler in between.
  doc.addEventListener('to-host', (e) => peer.transport.send(fromBase64(e.detail)));
  peer.transport.onmessage = (bytes) => doc.dispatchEvent(new CustomEvent('from-host', { detail: toBase64(bytes) }));
  const client = new BusClient(domEventTransport({ target: doc, outEvent: 'to-host', inEvent: 'from-host' }));
  const res = await client.openStream({ method: 'POST', uri: 'app://localhost/echo', body: text('ping') });
  assert.equal(res.status, 200);
  assert.equal(decodeText(await readAll(res.body)), 'ping');
});

test('domEventTransport: the relay\'s reset event fails open streams, cancelling them; new ones work', async () => {
  const doc = new EventTarget();
  const sent = [];
  doc.addEventListener('inproc-bus-out', (e) => sent.push(decode(fromBase64(e.detail))));
  const client = new BusClient(domEventTransport({ target: doc }));
  const open = client.openStream({ method: 'GET', uri: 'app://localhost/hang' });
  doc.dispatchEvent(new CustomEvent('inproc-bus-reset'));
  await assert.rejects(open, (e) => e instanceof TypeError && /reset/.test(e.message));
  const next = client.openStream({ method: 'GET', uri: 'app://localhost/after' });
  const reply = (frame) => doc.dispatchEvent(new CustomEvent('inproc-bus-in', { detail: toBase64(encode(frame)) }));
  reply({ type: 'ResponseHead', stream: 2, status: 204, headers: [] });
  reply({ type: 'ResponseEnd', stream: 2 });
  assert.equal((await next).status, 204);
  // A Cancel for each stream the reset failed: a new session ignores it, and a reset page
  // script made up (the session lives on) leaves no stream of the bus open.
  assert.deepEqual(sent.map((f) => [f.type, f.stream]), [['RequestHead', 1], ['Cancel', 1], ['RequestHead', 2]]);
});

test('bindingTransport: a hidden deliver global, several frames per call, and re-injection reuses it', () => {
  const win = {};
  const sent = [];
  const t = bindingTransport({ send: (s) => sent.push(s), target: win });
  const d = Object.getOwnPropertyDescriptor(win, '__inprocBusDeliver');
  assert.equal(typeof d.value, 'function');
  assert.equal(d.enumerable, false);
  assert.equal(d.writable, false);
  assert.equal(d.configurable, false);
  assert.deepEqual(Object.keys(win), []);
  assert.throws(() => {
    'use strict';
    win.__inprocBusDeliver = () => {};
  }, TypeError);

  const frames = [];
  t.onmessage = (b) => frames.push(decode(b));
  const f1 = encode({ type: 'Credit', stream: 1, bytes: 5 });
  const f2 = encode({ type: 'ResponseEnd', stream: 1 });
  win.__inprocBusDeliver(toBase64(f1), toBase64(f2));
  assert.deepEqual(frames, [{ type: 'Credit', stream: 1, bytes: 5 }, { type: 'ResponseEnd', stream: 1 }]);

  t.send(new Uint8Array([255]));
  assert.deepEqual(sent, ['/w==']);

  // The script injected again: the same transport comes back (the global cannot change).
  assert.equal(bindingTransport({ send: () => {}, target: win }), t);
  // A name someone else owns is refused.
  assert.throws(() => bindingTransport({ send: () => {}, target: { taken: 1 }, deliverGlobal: 'taken' }), TypeError);
  assert.throws(() => bindingTransport({ target: {} }), TypeError);
});

test('messagePortTransport: strings by default, binary when asked, over a real MessageChannel', async () => {
  const { port1, port2 } = new MessageChannel();
  const ch = new MessageChannel();
  // Until the messages are there (a fixed delay failed on a loaded machine), and the ports
  // closed whatever happens (an open port keeps the test process alive).
  const until = async (ok) => {
    for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  };
  try {
    const t = messagePortTransport(port1);
    const got = [];
    t.onmessage = (b) => got.push([...b]);
    const hostGot = [];
    port2.onmessage = (e) => hostGot.push(e.data);
    t.send(new Uint8Array([1, 2, 3]));
    port2.postMessage('BAUG');
    port2.postMessage(new Uint8Array([7, 8]).buffer);
    port2.postMessage(new Uint8Array([1, 9, 9]).subarray(1));
    await until(() => hostGot.length >= 1 && got.length >= 3);
    assert.deepEqual(hostGot, ['AQID']);
    assert.deepEqual(got, [[4, 5, 6], [7, 8], [9, 9]]);
    t.close();

    const bt = messagePortTransport(ch.port1, { binary: true });
    const raw = [];
    ch.port2.onmessage = (e) => raw.push(e.data);
    const frame = new Uint8Array([1, 2]);
    bt.send(frame);
    await until(() => raw.length >= 1);
    assert.ok(raw[0] instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(raw[0])], [1, 2]);
    assert.deepEqual([...frame], [1, 2], 'the caller keeps its bytes (a copy is transferred)');
  } finally {
    ch.port1.close();
    ch.port2.close();
    port1.close();
    port2.close();
  }
});

test('a client over base64 strings moves a large body intact (chunks of every size)', async () => {
  const payload = bytes(700 * 1024 + 3, random(5));
  const peer = new BusPeer(async (req, res) => {
    res.head(200);
    await res.write(payload);
    res.end();
  }, { maxChunk: 100 * 1024 + 1 });
  const win = {};
  const t = bindingTransport({ send: (s) => peer.transport.send(fromBase64(s)), target: win });
  peer.transport.onmessage = (bytes) => win.__inprocBusDeliver(toBase64(bytes));
  const client = new BusClient(t);
  const res = await client.openStream({ method: 'GET', uri: '/big' });
  assert.deepEqual(await readAll(res.body), payload);
  await settle();
});

test('messagePortTransport takes a port-like object without start() (androidx addWebMessageListener)', () => {
  const listeners = [];
  const posted = [];
  const proxy = {
    postMessage: (m) => posted.push(m),
    addEventListener: (type, l) => listeners.push(l),
    removeEventListener: (type, l) => listeners.splice(listeners.indexOf(l), 1),
  };
  const t = messagePortTransport(proxy);
  const got = [];
  t.onmessage = (b) => got.push([...b]);
  t.send(new Uint8Array([1]));
  listeners[0]({ data: 'Ag==' });
  assert.deepEqual(posted, ['AQ==']);
  assert.deepEqual(got, [[2]]);
  t.close();
  assert.equal(listeners.length, 0);
});

test('queuedTransport: a client can start before the bridge exists; frames wait, in order', async () => {
  const q = queuedTransport();
  const client = new BusClient(q);
  const peer = new BusPeer(async (req, res) => {
    const body = await req.body();
    res.head(200);
    await res.write(body);
    res.end();
  });
  const pending = client.openStream({ method: 'POST', uri: '/echo', body: text('early bird') });
  await settle();
  assert.equal(peer.received.length, 0);
  q.connect(peer.transport);
  const res = await pending;
  assert.equal(decodeText(await readAll(res.body)), 'early bird');
  assert.deepEqual(peer.received.map((f) => f.type), ['RequestHead', 'RequestData', 'RequestEnd']);
  assert.throws(() => q.connect(peer.transport), TypeError);
  q.close();
  assert.throws(() => q.send(new Uint8Array([1])), TypeError);
});

test('binding, port and queued transports reset their client once when the page comes back from the back/forward cache', async () => {
  // No window in Node: a global addEventListener that keeps the listeners, so the test can
  // hand them events a page cannot forge (isTrusted).
  const listeners = new Set();
  const saved = { add: globalThis.addEventListener, remove: globalThis.removeEventListener };
  globalThis.addEventListener = (type, l) => type === 'pageshow' && listeners.add(l);
  globalThis.removeEventListener = (type, l) => type === 'pageshow' && listeners.delete(l);
  const show = (event) => {
    for (const l of [...listeners]) l(event);
  };
  try {
    // Android's interface fallback: a queued transport around a binding.
    const q = queuedTransport();
    const client = new BusClient(q);
    const win = {};
    const sent = [];
    q.connect(bindingTransport({ send: (s) => sent.push(decode(fromBase64(s))), target: win }));
    assert.equal(listeners.size, 2);
    const install = q.onreset;
    let resets = 0;
    q.onreset = (reason) => {
      resets++;
      install(reason);
    };
    let outcome = 'pending';
    const open = client.openStream({ method: 'GET', uri: '/hang' });
    open.then(
      () => (outcome = 'resolved'),
      (e) => (outcome = e),
    );
    show({ type: 'pageshow', isTrusted: false, persisted: true }); // a page script's own event
    show({ type: 'pageshow', isTrusted: true, persisted: false }); // a fresh showing
    await settle();
    assert.equal(outcome, 'pending');
    assert.equal(resets, 0);
    show({ type: 'pageshow', isTrusted: true, persisted: true });
    await settle();
    assert.equal(resets, 1, 'one reset for the two transports');
    assert.ok(outcome instanceof TypeError && /back\/forward cache/.test(outcome.message), String(outcome));
    // New requests go on (to the host's new session).
    const next = client.openStream({ method: 'GET', uri: '/after' });
    const stream = sent.at(-1).stream;
    win.__inprocBusDeliver(
      toBase64(encode({ type: 'ResponseHead', stream, status: 204, headers: [] })),
      toBase64(encode({ type: 'ResponseEnd', stream })),
    );
    assert.equal((await next).status, 204);
    q.close();
    assert.equal(listeners.size, 0, 'closing removes the listeners');

    // A port alone.
    const { port1, port2 } = new MessageChannel();
    const portClient = new BusClient(messagePortTransport(port1));
    const hanging = portClient.openStream({ method: 'GET', uri: '/hang' });
    show({ type: 'pageshow', isTrusted: true, persisted: true });
    await assert.rejects(hanging, /back\/forward cache/);
    port1.close();
    port2.close();
  } finally {
    globalThis.addEventListener = saved.add;
    globalThis.removeEventListener = saved.remove;
  }
});
