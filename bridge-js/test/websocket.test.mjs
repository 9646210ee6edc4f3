// The WebSocket shim: the message record codec against the golden vectors of
// protocol/ws-vectors/ (shared with bus_core::websocket), and the socket's API over a
// scripted bus that speaks real frames and real records: URL routing, readyState, events in
// order, binaryType, send of every type, bufferedAmount under backpressure, protocol
// negotiation, close validation, server close, failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  BusClient,
  WsRecordDecoder,
  decode,
  decodeWsMessage,
  encode,
  encodeWsMessage,
  install,
} from '../dist/bus-bridge.mjs';

const vectorsDir = new URL('../../protocol/ws-vectors/', import.meta.url);
const index = JSON.parse(readFileSync(new URL('index.json', vectorsDir), 'utf8'));
const hex = (b) => Buffer.from(b).toString('hex');
const settle = () => new Promise((resolve) => setImmediate(resolve));
const utf8 = (s) => new TextEncoder().encode(s);

test('every golden record decodes as described and re-encodes identically', () => {
  assert.ok(index.vectors.length >= 15);
  for (const v of index.vectors) {
    const bytes = new Uint8Array(readFileSync(new URL(v.file, vectorsDir)));
    if (v.message) {
      const m = decodeWsMessage(bytes, index.max_message);
      const described = m.type === 'Close' ? { type: 'Close', code: m.code, reason: m.reason } : { type: m.type, data: hex(m.data) };
      assert.deepEqual(described, v.message, v.file);
      assert.equal(hex(encodeWsMessage(m)), hex(bytes), `${v.file} re-encodes`);
    } else {
      assert.throws(() => decodeWsMessage(bytes, index.max_message), (e) => e.code === v.error, v.file);
    }
  }
});

test('records decode from pieces of any size', () => {
  const messages = [
    { type: 'Text', data: utf8('héllo') },
    { type: 'Binary', data: new Uint8Array([0, 1, 255]) },
    { type: 'Close', code: 4000, reason: 'bye' },
  ];
  const stream = Buffer.concat(messages.map((m) => encodeWsMessage(m)));
  for (let split = 1; split < stream.length; split++) {
    const d = new WsRecordDecoder();
    const out = [];
    for (let i = 0; i < stream.length; i += split) {
      d.push(new Uint8Array(stream.subarray(i, i + split)));
      for (let m = d.next(); m; m = d.next()) out.push(m);
    }
    assert.deepEqual(
      out.map((m) => (m.type === 'Close' ? m : { type: m.type, data: hex(m.data) })),
      messages.map((m) => (m.type === 'Close' ? m : { type: m.type, data: hex(m.data) })),
    );
  }
});

test('a payload that spans chunks gets a buffer of exactly its size (handed on without a copy)', () => {
  const data = new Uint8Array(100_000).map((_, i) => i & 0xff);
  const record = encodeWsMessage({ type: 'Binary', data });
  const d = new WsRecordDecoder();
  d.push(record.subarray(0, 5));
  d.push(record.subarray(5, 70_000));
  d.push(record.subarray(70_000));
  const m = d.next();
  assert.equal(m.type, 'Binary');
  assert.equal(hex(m.data), hex(data));
  assert.equal(m.data.byteOffset, 0);
  assert.equal(m.data.buffer.byteLength, data.byteLength, 'the gathered buffer holds the payload alone');
  assert.equal(d.next(), null);
  assert.equal(d.hasPartial, false);
  // In one chunk: a view into it, header bytes in front.
  const one = new WsRecordDecoder();
  one.push(record);
  const v = one.next();
  assert.equal(v.data.byteOffset, 12);
  assert.equal(hex(v.data), hex(data));
});

/**
 * A scripted bus for WebSockets: real frames, real records, credit both ways. Routes:
 * /ws/echo (101, echoes, answers a close with the same close), /ws/push?n= (n texts, then
 * close 4001), /ws/together?n= (n texts in one chunk, left open), /ws/plain (200),
 * /ws/stall (101, reads nothing: no upload credit back).
 */
class WsPeer {
  constructor() {
    this.received = [];
    this.streams = new Map();
    this.heads = [];
    this.transport = { send: (bytes) => this.#receive(decode(bytes.slice())), onmessage: null };
  }
  #deliver(frame) {
    const bytes = encode(frame);
    setImmediate(() => this.transport.onmessage?.(bytes));
  }
  #write(s, record) {
    // The page's window is large enough for these tests; check it all the same.
    s.sentBytes += record.byteLength;
    assert.ok(s.sentBytes <= s.credit, 'within the page credit');
    this.#deliver({ type: 'ResponseData', stream: s.id, data: record });
  }
  #receive(frame) {
    this.received.push(frame);
    const s = this.streams.get(frame.stream);
    switch (frame.type) {
      case 'RequestHead': {
        const url = new URL(frame.uri);
        const headers = Object.fromEntries(frame.headers.map(([n, v]) => [n, Buffer.from(v).toString('latin1')]));
        this.heads.push({ uri: frame.uri, headers });
        const st = { id: frame.stream, path: url.pathname, credit: frame.window, sentBytes: 0, decoder: new WsRecordDecoder(), closed: false };
        this.streams.set(st.id, st);
        if (url.pathname === '/ws/plain') {
          this.#deliver({ type: 'ResponseHead', stream: st.id, status: 200, headers: [] });
          this.#deliver({ type: 'ResponseEnd', stream: st.id });
          return;
        }
        const offered = (headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
        const chosen = url.searchParams.get('force') ?? offered.find((p) => p === 'chat' || p === 'superchat');
        this.#deliver({ type: 'ResponseHead', stream: st.id, status: 101, headers: chosen ? [['sec-websocket-protocol', utf8(chosen)]] : [] });
        if (url.pathname === '/ws/push') {
          const n = Number(url.searchParams.get('n') ?? 3);
          for (let i = 0; i < n; i++) this.#write(st, encodeWsMessage({ type: 'Text', data: utf8(`m${i}`) }));
          this.#write(st, encodeWsMessage({ type: 'Close', code: 4001, reason: 'done' }));
          this.#deliver({ type: 'ResponseEnd', stream: st.id });
          st.closed = true;
        }
        if (url.pathname === '/ws/together') {
          // n texts in one chunk, as the bus batches small messages.
          const n = Number(url.searchParams.get('n') ?? 3);
          const records = [];
          for (let i = 0; i < n; i++) records.push(encodeWsMessage({ type: 'Text', data: utf8(`m${i}`) }));
          const chunk = new Uint8Array(records.reduce((k, r) => k + r.byteLength, 0));
          let at = 0;
          for (const r of records) {
            chunk.set(r, at);
            at += r.byteLength;
          }
          this.#write(st, chunk);
        }
        if (url.pathname === '/ws/drop') {
          this.#deliver({ type: 'ResponseEnd', stream: st.id });
          st.closed = true;
        }
        return;
      }
      case 'RequestData': {
        if (!s || s.closed) return;
        if (s.path === '/ws/stall') return; // takes nothing: no credit back
        this.#deliver({ type: 'Credit', stream: s.id, bytes: frame.data.byteLength });
        s.decoder.push(frame.data.slice());
        for (let m = s.decoder.next(); m; m = s.decoder.next()) {
          if (m.type === 'Close') {
            this.#write(s, encodeWsMessage(m));
            this.#deliver({ type: 'ResponseEnd', stream: s.id });
            s.closed = true;
            return;
          }
          this.#write(s, encodeWsMessage(m));
        }
        return;
      }
      case 'Credit':
        if (s) s.credit += frame.bytes;
        return;
      default:
        return;
    }
  }
}

class NativeWebSocket extends EventTarget {
  static made = [];
  constructor(url, protocols) {
    super();
    this.args = [url, protocols];
    NativeWebSocket.made.push(this);
  }
}

function page(origin = 'app://localhost') {
  const peer = new WsPeer();
  const g = { document: { baseURI: `${origin}/index.html` }, location: { href: `${origin}/index.html` }, WebSocket: NativeWebSocket };
  const inst = install({ origins: [origin], transport: peer.transport, global: g, forms: false });
  return { g, peer, inst };
}

/** Records every event of a socket as [type, readyState, detail]. */
function record(ws) {
  const log = [];
  for (const type of ['open', 'message', 'error', 'close']) {
    ws.addEventListener(type, (e) => {
      const detail = type === 'message' ? e.data : type === 'close' ? [e.code, e.reason, e.wasClean] : undefined;
      log.push([type, ws.readyState, detail]);
    });
  }
  return log;
}

async function until(cond, what) {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await settle();
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('URLs: relative and app-host ws: go to the bus; other hosts go to the engine, untouched', () => {
  const { g, peer } = page();
  NativeWebSocket.made = [];
  const a = new g.WebSocket('/ws/echo');
  assert.equal(a.url, 'ws://localhost/ws/echo');
  const b = new g.WebSocket('ws://localhost/ws/echo?x=1');
  assert.equal(b.url, 'ws://localhost/ws/echo?x=1');
  const c = new g.WebSocket('ws://localhost:8080/ws');
  const d = new g.WebSocket('wss://example.com/ws', ['chat']);
  assert.ok(c instanceof NativeWebSocket && d instanceof NativeWebSocket);
  assert.ok(d instanceof g.WebSocket, 'a native instance is still instanceof the shim');
  assert.deepEqual(d.args, ['wss://example.com/ws', ['chat']]);
  assert.equal(NativeWebSocket.made.length, 2);
  assert.deepEqual(
    peer.heads.map((h) => h.uri),
    ['app://localhost/ws/echo', 'app://localhost/ws/echo?x=1'],
  );
  assert.equal(peer.heads[0].headers.upgrade, 'websocket');
  assert.equal(peer.heads[0].headers['sec-websocket-version'], '13');
  assert.equal(a.readyState, g.WebSocket.CONNECTING);
  assert.equal(a.CLOSED, 3);
  assert.equal(a.binaryType, 'blob');
  assert.equal(a.extensions, '');
  assert.equal(a.protocol, '');
  assert.equal(Object.prototype.toString.call(a), '[object WebSocket]');
});

test('on an https origin, wss: URLs of its host go to the bus and relative URLs show as wss:', () => {
  const { g, peer } = page('https://app.invalid');
  const a = new g.WebSocket('/ws/echo');
  assert.equal(a.url, 'wss://app.invalid/ws/echo');
  new g.WebSocket('wss://app.invalid/ws/echo');
  assert.deepEqual(
    peer.heads.map((h) => h.uri),
    ['https://app.invalid/ws/echo', 'https://app.invalid/ws/echo'],
  );
});

test('SyntaxError for fragments, bad and duplicate subprotocols; TypeError without arguments', () => {
  const { g } = page();
  assert.throws(() => new g.WebSocket('/ws#frag'), { name: 'SyntaxError' });
  assert.throws(() => new g.WebSocket('/ws', 'a b'), { name: 'SyntaxError' });
  assert.throws(() => new g.WebSocket('/ws', ['chat', 'chat']), { name: 'SyntaxError' });
  assert.throws(() => new g.WebSocket('/ws', ['']), { name: 'SyntaxError' });
  assert.throws(() => new g.WebSocket(), TypeError);
});

test('open, echo of text and every binary type, close: events in order with readyState', async () => {
  const { g } = page();
  const ws = new g.WebSocket('/ws/echo', ['superchat', 'other']);
  const log = record(ws);
  assert.throws(() => ws.send('too early'), { name: 'InvalidStateError' });
  let handlerCalls = 0;
  ws.onopen = () => handlerCalls++;
  await until(() => log.length === 1, 'open');
  assert.deepEqual(log[0], ['open', 1, undefined]);
  assert.equal(ws.protocol, 'superchat');
  assert.equal(handlerCalls, 1);

  ws.binaryType = 'arraybuffer';
  ws.binaryType = 'nonsense'; // ignored
  assert.equal(ws.binaryType, 'arraybuffer');
  ws.send('héllo');
  ws.send(new Uint8Array([1, 2, 3]).buffer);
  ws.send(new Uint16Array([0x0201, 0x0403]).subarray(1));
  ws.send(new Blob([new Uint8Array([9, 8])]));
  ws.send(new DataView(new Uint8Array([7]).buffer));
  ws.send(42);
  await until(() => log.length === 7, 'six echoes');
  const data = log.slice(1).map(([type, , d]) => [type, d instanceof ArrayBuffer ? [...new Uint8Array(d)] : d]);
  assert.deepEqual(data, [
    ['message', 'héllo'],
    ['message', [1, 2, 3]],
    ['message', [3, 4]],
    ['message', [9, 8]],
    ['message', [7]],
    ['message', '42'],
  ]);
  ws.binaryType = 'blob';
  ws.send(new Uint8Array([5]));
  await until(() => log.length === 8, 'a blob');
  const blob = log[7][2];
  assert.ok(blob instanceof Blob);
  assert.deepEqual([...new Uint8Array(await blob.arrayBuffer())], [5]);

  ws.close(4000, 'bye');
  assert.equal(ws.readyState, 2);
  ws.send('after close'); // counted, never sent
  assert.equal(ws.bufferedAmount, 11);
  await until(() => log.length === 9, 'close');
  assert.deepEqual(log[8], ['close', 3, [4000, 'bye', true]]);
});

test('close validation: InvalidAccessError for codes, SyntaxError for long reasons', () => {
  const { g } = page();
  const ws = new g.WebSocket('/ws/echo');
  for (const code of [0, 999, 1001, 1005, 2999, 5000]) {
    assert.throws(() => ws.close(code), { name: 'InvalidAccessError' }, String(code));
  }
  assert.throws(() => ws.close(1000, 'é'.repeat(62)), { name: 'SyntaxError' });
  ws.close(1000, 'r'.repeat(123)); // allowed (in CONNECTING: fails the connection)
});

test('close() while connecting fails the connection: error, then close 1006, not clean', async () => {
  const { g } = page();
  const ws = new g.WebSocket('/ws/echo');
  const log = record(ws);
  ws.close();
  assert.equal(ws.readyState, 2);
  await until(() => log.length === 2, 'error and close');
  assert.deepEqual(log, [
    ['error', 3, undefined],
    ['close', 3, [1006, '', false]],
  ]);
});

test('the handler pushes, then closes with its code and reason', async () => {
  const { g } = page();
  const ws = new g.WebSocket('/ws/push?n=3');
  const log = record(ws);
  await until(() => log.some(([t]) => t === 'close'), 'close');
  assert.deepEqual(log, [
    ['open', 1, undefined],
    ['message', 1, 'm0'],
    ['message', 1, 'm1'],
    ['message', 1, 'm2'],
    ['close', 3, [4001, 'done', true]],
  ]);
});

test('a route that is not a WebSocket, a refused protocol, a drop: error + close 1006, never the network', async () => {
  NativeWebSocket.made = [];
  for (const url of ['/ws/plain', '/ws/echo?force=other', '/ws/drop']) {
    const { g } = page();
    const ws = new g.WebSocket(url, url.includes('force') ? ['chat'] : []);
    const log = record(ws);
    await until(() => log.some(([t]) => t === 'close'), `close of ${url}`);
    const tail = log.slice(-2);
    assert.deepEqual(tail, [
      ['error', 3, undefined],
      ['close', 3, [1006, '', false]],
    ], url);
  }
  assert.equal(NativeWebSocket.made.length, 0);
});

test('bufferedAmount counts what the bus has not taken, and falls as it takes it', async () => {
  const { g, peer } = page();
  const ws = new g.WebSocket('/ws/stall');
  await new Promise((resolve) => ws.addEventListener('open', resolve));
  const chunk = new Uint8Array(100 * 1024);
  for (let i = 0; i < 10; i++) ws.send(chunk);
  assert.equal(ws.bufferedAmount, 10 * 100 * 1024);
  await settle();
  await settle();
  // The bus granted 256 KiB at open and nothing since: the rest stays in the page.
  const sent = peer.received.filter((f) => f.type === 'RequestData').reduce((n, f) => n + f.data.byteLength, 0);
  assert.ok(sent <= 256 * 1024, `sent ${sent}`);
  assert.ok(ws.bufferedAmount >= 10 * 100 * 1024 - 256 * 1024, `buffered ${ws.bufferedAmount}`);
  // Now the bus takes everything: credit for the whole lot.
  peer.transport.onmessage(encode({ type: 'Credit', stream: 1, bytes: 4 << 20 }));
  await until(() => ws.bufferedAmount === 0, 'buffer drained');
});

test('a bus session reset fails open sockets with 1006', async () => {
  const peer = new WsPeer();
  const client = new BusClient(peer.transport);
  const g = { document: { baseURI: 'app://localhost/' }, location: { href: 'app://localhost/' } };
  install({ origins: ['app://localhost'], client, global: g, forms: false });
  const ws = new g.WebSocket('/ws/echo');
  const log = record(ws);
  await until(() => log.length === 1, 'open');
  peer.transport.onreset?.('bfcache');
  await until(() => log.length === 3, 'close');
  assert.deepEqual(log.slice(1), [
    ['error', 3, undefined],
    ['close', 3, [1006, '', false]],
  ]);
});

test('uninstall puts the engine WebSocket back', () => {
  const { g, inst } = page();
  assert.notEqual(g.WebSocket, NativeWebSocket);
  inst.uninstall();
  assert.equal(g.WebSocket, NativeWebSocket);
});

test('messages that came in one chunk reach a listener that awaits each in turn (a task each, natively)', async () => {
  const { g } = page();
  const ws = new g.WebSocket('/ws/together?n=4');
  const next = () => new Promise((resolve) => ws.addEventListener('message', (e) => resolve(e.data), { once: true }));
  await new Promise((resolve) => ws.addEventListener('open', resolve, { once: true }));
  const got = [];
  for (let i = 0; i < 4; i++) got.push(await next());
  assert.deepEqual(got, ['m0', 'm1', 'm2', 'm3']);
  ws.close();
});

test('http: and https: URLs are ws: and wss: to the constructor: a bus host goes over the bus, with the URL converted as the standard says', () => {
  const { g, peer } = page();
  NativeWebSocket.made = [];
  const a = new g.WebSocket('http://localhost/ws/echo');
  const b = new g.WebSocket('https://localhost/ws/echo');
  assert.deepEqual(NativeWebSocket.made, [], 'nothing reaches the browser (a socket to localhost:80 or 443)');
  assert.equal(peer.heads.length, 2);
  assert.deepEqual([a.url, b.url], ['ws://localhost/ws/echo', 'wss://localhost/ws/echo']);
  a.close();
  b.close();
  const { g: g2 } = page('https://app.invalid');
  const c = new g2.WebSocket('https://user:pw@app.invalid/ws/echo');
  assert.equal(c.url, 'wss://user:pw@app.invalid/ws/echo', 'only the scheme changes');
  c.close();
});

test('WebIDL conversions: arguments converted before the steps; Symbols and SharedArrayBuffers are TypeErrors; binaryType takes ToString', async () => {
  const { g, peer } = page();
  assert.throws(() => new g.WebSocket(Symbol('x')), TypeError);
  assert.equal(peer.heads.length, 0);
  const ws = new g.WebSocket('/ws/echo');
  ws.binaryType = { toString: () => 'arraybuffer' };
  assert.equal(ws.binaryType, 'arraybuffer');
  ws.binaryType = new String('blob');
  assert.equal(ws.binaryType, 'blob');
  assert.throws(() => {
    ws.binaryType = Symbol('x');
  }, TypeError);
  assert.throws(() => ws.send(Symbol('s')), TypeError, 'converted before the CONNECTING check');
  await new Promise((r) => ws.addEventListener('open', r));
  assert.throws(() => ws.send(new SharedArrayBuffer(4)), TypeError);
  assert.throws(() => ws.send(new Uint8Array(new SharedArrayBuffer(4))), TypeError);
  assert.equal(ws.bufferedAmount, 0);
  assert.throws(() => ws.close(1000, Symbol('r')), TypeError);
  const boom = new Error('reason converted');
  assert.throws(
    () =>
      ws.close(5000, {
        toString() {
          throw boom;
        },
      }),
    (e) => e === boom,
    'the reason is converted before the code is checked',
  );
  ws.close();
});
