// The EventSource shim: the HTML event stream parser, and the connection state machine over
// the bus (open, messages, named events, reconnection with Last-Event-ID, failure, close).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventStreamParser } from '../dist/bus-bridge.mjs';
import { FakeEventSource, headerMap, heads, page, settle, text, withFrozenPageClock } from './support/env.mjs';

function parse(pieces) {
  const events = [];
  const retries = [];
  const p = new EventStreamParser({ event: (type, data, id) => events.push([type, data, id]), retry: (ms) => retries.push(ms) });
  for (const piece of pieces) p.push(piece);
  return { events, retries, parser: p };
}

test('parser: fields, comments, spaces, multi-line data, and event types', () => {
  const { events } = parse([
    ': a comment\n',
    'data: one\n\n',
    'data:no space\n\n',
    'data:  two spaces\n\n',
    'data: a\ndata: b\ndata\n\n',
    'event: tick\ndata: named\n\n',
    'data: after named\n\n',
    'unknown: field\ndata: x\n\n',
    'data\n\n',
    'data:\n\n',
    ': only a comment\n\n',
  ]);
  assert.deepEqual(events, [
    ['message', 'one', ''],
    ['message', 'no space', ''],
    ['message', ' two spaces', ''],
    ['message', 'a\nb\n', ''],
    ['tick', 'named', ''],
    ['message', 'after named', ''],
    ['message', 'x', ''],
    ['message', '', ''],
    ['message', '', ''],
  ]);
});

test('parser: CRLF, LF and CR line endings, and a CRLF split across pieces', () => {
  assert.deepEqual(parse(['data: a\r\n\r\ndata: b\n\ndata: c\r\rdata: d\r\n', '\r\n']).events, [
    ['message', 'a', ''],
    ['message', 'b', ''],
    ['message', 'c', ''],
    ['message', 'd', ''],
  ]);
  // "\r" then "\n" in the next piece is one line end, not two (which would dispatch early).
  assert.deepEqual(parse(['data: x\r', '\ndata: y\r', '\n\r', '\n']).events, [['message', 'x\ny', '']]);
  // One character at a time.
  const s = 'id: 7\r\nevent: e\rdata: 1\ndata: 2\r\n\r\n';
  assert.deepEqual(parse([...s]).events, [['e', '1\n2', '7']]);
});

test('parser: id and retry rules, and an unfinished event is discarded at reset', () => {
  const { events, retries, parser } = parse([
    'id: 1\ndata: a\n\n',
    'data: keeps id 1\n\n',
    'id: bad\0id\ndata: b\n\n',
    'id\ndata: c\n\n',
    'id: 5\n\n',
    'retry: 1500\nretry: 15x\nretry: -1\nretry:\nretry: 20\n',
    'data: unfinished\n',
  ]);
  assert.deepEqual(events, [
    ['message', 'a', '1'],
    ['message', 'keeps id 1', '1'],
    ['message', 'b', '1'],
    ['message', 'c', ''],
  ]);
  assert.equal(parser.lastEventId, '5', 'an event without data still sets the last event ID');
  assert.deepEqual(retries, [1500, 20]);
  parser.reset();
  parser.push('\n');
  assert.equal(events.length, 4, 'the unfinished event was dropped');
});

test('EventSource: open, messages with origin and lastEventId, named events, readyState', async () => {
  const { g, peer } = page();
  const ES = g.EventSource;
  const es = new ES('/conf/sse?n=3');
  assert.equal(es.readyState, ES.CONNECTING);
  assert.equal(es.url, 'app://localhost/conf/sse?n=3');
  assert.equal(es.withCredentials, false);
  const seen = [];
  es.onopen = (e) => seen.push(['open', es.readyState, e.constructor.name]);
  es.onmessage = (e) => seen.push(['message', e.data, e.lastEventId, e.origin, e instanceof MessageEvent]);
  es.addEventListener('tick', (e) => seen.push(['tick', e.data, e.lastEventId]));
  await new Promise((resolve) => (es.onerror = resolve));
  es.close();
  assert.deepEqual(seen, [
    ['open', 1, 'Event'],
    ['message', 'event 1', '1', 'app://localhost', true],
    ['tick', 'event 2', '2'],
    ['message', 'event 3', '3', 'app://localhost', true],
  ]);
  const h = headerMap(heads(peer)[0]);
  assert.equal(h.accept, 'text/event-stream');
  assert.equal(h['last-event-id'], undefined);
});

test('EventSource: reconnects after the stream ends, with Last-Event-ID and the retry delay', async () => {
  let connections = 0;
  const { g, peer } = page({
    handler: async (req, res) => {
      connections++;
      res.head(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      if (connections === 1) await res.write('retry: 80\nid: \u2713-7\ndata: first\n\n');
      else await res.write('data: second\n\n');
      res.end();
    },
    options: { eventSourceRetry: 5000 },
  });
  const es = new g.EventSource('/events');
  const seen = [];
  const times = [];
  es.onopen = () => {
    seen.push(`open:${es.readyState}`);
    times.push(Date.now());
  };
  es.onmessage = (e) => seen.push(`message:${e.data}:${e.lastEventId}`);
  es.onerror = () => {
    seen.push(`error:${es.readyState}`);
    times.push(Date.now());
  };
  await new Promise((resolve) => {
    es.addEventListener('message', (e) => e.data === 'second' && resolve());
  });
  es.close();
  assert.deepEqual(seen, ['open:1', 'message:first:\u2713-7', 'error:0', 'open:1', 'message:second:\u2713-7']);
  assert.ok(times[2] - times[1] >= 70, 'waited the retry: delay the server set, not the 5 s default');
  const [, value] = heads(peer)[1].headers.find(([n]) => n === 'last-event-id');
  assert.deepEqual(value, text('\u2713-7'), 'the ID as UTF-8 bytes');
});

test('EventSource: a non-200 status or another Content-Type fails the connection for good', async () => {
  const { g, peer } = page();
  for (const path of ['/conf/status/404', '/conf/text', '/conf/status/204']) {
    const es = new g.EventSource(path);
    const seen = [];
    es.onopen = () => seen.push('open');
    await new Promise((resolve) => {
      es.onerror = () => {
        seen.push(`error:${es.readyState}`);
        resolve();
      };
    });
    await new Promise((r) => setTimeout(r, 80));
    assert.deepEqual(seen, ['error:2'], path);
    assert.equal(es.readyState, g.EventSource.CLOSED);
  }
  assert.equal(heads(peer).length, 3, 'no reconnection');
});

test('EventSource: a network error before the response reconnects (it does not fail)', async () => {
  let n = 0;
  const { g } = page({
    handler: async (req, res) => {
      if (++n === 1) return res.error(11, 'shutting down');
      res.head(200, { 'content-type': 'text/event-stream' });
      await res.write('data: ok\n\n');
    },
  });
  const es = new g.EventSource('/e');
  const seen = [];
  es.onerror = () => seen.push(`error:${es.readyState}`);
  es.onopen = () => seen.push('open');
  await new Promise((resolve) => (es.onmessage = (e) => resolve(seen.push(e.data))));
  es.close();
  assert.deepEqual(seen, ['error:0', 'open', 'ok']);
});

test('EventSource: close() cancels the stream; nothing is dispatched after it', async () => {
  const { g, peer } = page({
    handler: async (req, res) => {
      res.head(200, { 'content-type': 'text/event-stream' });
      await res.write('data: 1\n\ndata: 2\n\ndata: 3\n\n');
      await new Promise((r) => req.signal.addEventListener('abort', r));
    },
  });
  const es = new g.EventSource('/e');
  const seen = [];
  es.onmessage = (e) => {
    seen.push(e.data);
    if (e.data === '2') es.close();
  };
  es.onerror = () => seen.push('error');
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(seen, ['1', '2']);
  assert.equal(es.readyState, 2);
  assert.equal(peer.frames('Cancel').length, 1);
  es.close(); // twice is fine
});

test('EventSource: a BOM and multi-byte characters split across frames decode correctly', async () => {
  const bytes = text('\ufeffdata: caf\u00e9 \u2713\n\n');
  const { g } = page({
    handler: async (req, res) => {
      res.head(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < bytes.length; i++) await res.write(bytes.subarray(i, i + 1));
    },
  });
  const es = new g.EventSource('/e');
  const data = await new Promise((resolve) => (es.onmessage = (e) => resolve(e.data)));
  es.close();
  assert.equal(data, 'caf\u00e9 \u2713');
});

test('EventSource: non-bus URLs get the browser EventSource; bad URLs are SyntaxErrors', () => {
  const { g, peer } = page();
  const init = { withCredentials: true };
  const es = new g.EventSource('https://example.com/stream', init);
  assert.ok(es instanceof FakeEventSource);
  assert.ok(es instanceof g.EventSource, 'instanceof the patched global');
  assert.equal(es.init, init);
  assert.equal(peer.received.length, 0);
  const ours = new g.EventSource('/conf/sse?n=0', { withCredentials: true });
  assert.equal(ours.withCredentials, true);
  assert.ok(ours instanceof FakeEventSource, 'the original prototype is in the chain');
  assert.equal(Object.prototype.toString.call(ours), '[object EventSource]');
  ours.close();
  assert.throws(() => new g.EventSource(), TypeError);
});

test('EventSource without a browser EventSource: bus URLs work, others are refused', async () => {
  const { install } = await import('../dist/bus-bridge.mjs');
  const { BusPeer } = await import('./support/bus-peer.mjs');
  const peer = new BusPeer(async (req, res) => {
    res.head(200, { 'content-type': 'text/event-stream' });
    await res.write('data: hi\n\n');
  });
  const g = { document: { baseURI: 'app://localhost/' }, location: { href: 'app://localhost/' } };
  install({ origins: ['app://localhost'], transport: peer.transport, global: g });
  assert.throws(() => new g.EventSource('https://example.com/'), { name: 'NotSupportedError' });
  assert.throws(() => new g.EventSource('http://['), { name: 'SyntaxError' });
  const es = new g.EventSource('/e');
  assert.equal(await new Promise((r) => (es.onmessage = (e) => r(e.data))), 'hi');
  es.close();
  await settle();
});

test('EventSource: reconnects on the clock the page started with, whatever replaced setTimeout since', async () => {
  let connections = 0;
  const { g } = page({
    handler: async (req, res) => {
      connections++;
      res.head(200, { 'content-type': 'text/event-stream' });
      await res.write(connections === 1 ? 'retry: 20\ndata: first\n\n' : 'data: second\n\n');
      res.end();
    },
  });
  const seen = [];
  let es;
  const asked = await withFrozenPageClock(async () => {
    es = new g.EventSource('/events');
    await new Promise((resolve) => {
      es.onmessage = (e) => {
        seen.push(e.data);
        if (e.data === 'second') resolve();
      };
    });
  });
  es.close();
  assert.deepEqual(seen, ['first', 'second']);
  assert.deepEqual(asked, [], "no timer of the shim's went through the page's setTimeout");
});

test('EventSource: events that came in one chunk reach a listener that awaits each in turn (a task each, natively)', async () => {
  const { g } = page({
    handler: async (req, res) => {
      res.head(200, { 'content-type': 'text/event-stream' });
      await res.write('data: a\n\ndata: b\n\nevent: other\ndata: c\n\ndata: d\n\n');
    },
  });
  const es = new g.EventSource('/events');
  const next = (type) => new Promise((resolve) => es.addEventListener(type, (e) => resolve(e.data), { once: true }));
  const got = [await next('message'), await next('message'), await next('other'), await next('message')];
  es.close();
  assert.deepEqual(got, ['a', 'b', 'c', 'd']);
});
