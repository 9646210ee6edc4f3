// The WebSocket differential suite: every case runs twice, against the same axum handlers
// reached natively on localhost by the engine's own WebSocket (base `ws://127.0.0.1:PORT`)
// and through the bus (base `ws://<app host>` or a relative URL), and reports what each
// observed. The host's test compares them. Plain script, no build: served as is.
'use strict';

(function () {
  const TIMEOUT = 60000;

  function withTimeout(promise, what) {
    return Promise.race([
      promise,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), TIMEOUT)),
    ]);
  }

  /** A socket with its event log ([type, readyState, detail]) and promises for its events. */
  function open(url, protocols) {
    const ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
    const log = [];
    const messages = [];
    let resolveOpen;
    let resolveClose;
    const opened = new Promise((r) => (resolveOpen = r));
    const closed = new Promise((r) => (resolveClose = r));
    let waiter = null;
    ws.addEventListener('open', () => {
      log.push(['open', ws.readyState]);
      resolveOpen();
    });
    ws.addEventListener('error', () => {
      log.push(['error', ws.readyState]);
      resolveOpen();
    });
    ws.addEventListener('message', (e) => {
      messages.push(e.data);
      if (waiter && messages.length >= waiter.n) {
        const w = waiter;
        waiter = null;
        w.resolve();
      }
    });
    ws.addEventListener('close', (e) => {
      log.push(['close', ws.readyState, e.code, e.reason, e.wasClean]);
      resolveOpen();
      resolveClose();
      if (waiter) waiter.resolve();
    });
    return {
      ws,
      log,
      messages,
      opened: withTimeout(opened, `open ${url}`),
      closed: withTimeout(closed, `close ${url}`),
      /** Resolves once `n` messages in total have arrived (or the socket closed). */
      received(n) {
        if (messages.length >= n) return Promise.resolve();
        return withTimeout(new Promise((resolve) => (waiter = { n, resolve })), `${n} messages from ${url}`);
      },
    };
  }

  function pattern(size, seed) {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
    return out;
  }

  async function bytesOf(data) {
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
    return null;
  }

  function same(a, b) {
    if (a === null || b === null || a.byteLength !== b.byteLength) return false;
    for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  function errorName(f) {
    try {
      f();
      return 'no error';
    } catch (e) {
      return e && e.name;
    }
  }

  const cases = {
    async api(base, who) {
      const s = open(`${base}/wsd/echo?who=${who}-api`, ['superchat', 'x']);
      const ws = s.ws;
      const initial = {
        readyState: ws.readyState,
        binaryType: ws.binaryType,
        bufferedAmount: ws.bufferedAmount,
        extensions: ws.extensions,
        protocol: ws.protocol,
        constants: [ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED, WebSocket.CLOSED],
        urlPath: new URL(ws.url).pathname,
        // ws: or wss: follows the base each run uses, not the implementation.
        _urlScheme: new URL(ws.url).protocol,
        tag: Object.prototype.toString.call(ws),
        isWebSocket: ws instanceof WebSocket,
        sendEarly: errorName(() => ws.send('x')),
        handlers: [ws.onopen, ws.onmessage, ws.onerror, ws.onclose],
      };
      const order = [];
      ws.onopen = () => order.push('onopen');
      ws.addEventListener('open', () => order.push('listener'));
      ws.binaryType = 'arraybuffer';
      ws.binaryType = 'nonsense';
      await s.opened;
      const opened = { readyState: ws.readyState, protocol: ws.protocol, extensions: ws.extensions, binaryType: ws.binaryType };
      ws.send('ping');
      await s.received(1);
      ws.close();
      const closing = ws.readyState;
      await s.closed;
      return { initial, opened, order, closing, messages: s.messages, log: s.log };
    },

    async 'echo-text'(base, who) {
      const s = open(`${base}/wsd/echo?who=${who}-text`);
      await s.opened;
      const texts = ['', 'hello', 'héllo ✓ 🦀 \u0000 end', 'x'.repeat(100000), '\ud800 lone surrogate'];
      for (const t of texts) s.ws.send(t);
      await s.received(texts.length);
      s.ws.close(1000, 'done');
      await s.closed;
      return {
        lengths: s.messages.map((m) => m.length),
        equal: s.messages.map((m, i) => m === texts[i]),
        surrogate: s.messages[4],
        log: s.log,
      };
    },

    async 'echo-binary'(base, who) {
      const s = open(`${base}/wsd/echo?who=${who}-binary`);
      s.ws.binaryType = 'arraybuffer';
      await s.opened;
      const sizes = [0, 1, 1024, 65539, 1 << 20, 16 << 20];
      const sent = sizes.map((n, i) => pattern(n, i));
      const started = performance.now();
      for (const b of sent) s.ws.send(b);
      // Every kind of binary data: ArrayBuffer, a view with an offset, a DataView, a Blob.
      const whole = pattern(10, 99);
      s.ws.send(whole.buffer);
      s.ws.send(new Uint8Array(whole.buffer, 3, 4));
      s.ws.send(new DataView(whole.buffer, 1, 2));
      s.ws.send(new Blob([whole, 'tail']));
      await s.received(sent.length + 4);
      const ms = performance.now() - started;
      const got = await Promise.all(s.messages.map(bytesOf));
      const expected = [...sent, whole, whole.subarray(3, 7), whole.subarray(1, 3), new Uint8Array([...whole, ...new TextEncoder().encode('tail')])];
      s.ws.close(1000);
      await s.closed;
      return {
        types: s.messages.map((m) => Object.prototype.toString.call(m)),
        sizes: got.map((b) => (b ? b.byteLength : -1)),
        equal: got.map((b, i) => same(b, expected[i])),
        log: s.log,
        _ms: Math.round(ms),
      };
    },

    async 'blob-type'(base, who) {
      const s = open(`${base}/wsd/echo?who=${who}-blob`);
      await s.opened;
      s.ws.send(pattern(3000, 7));
      await s.received(1);
      const m = s.messages[0];
      const bytes = await bytesOf(m);
      s.ws.close();
      await s.closed;
      return { isBlob: m instanceof Blob, size: m.size, type: m.type, equal: same(bytes, pattern(3000, 7)) };
    },

    async 'order-10000'(base, who) {
      const s = open(`${base}/wsd/echo?who=${who}-order`);
      await s.opened;
      const started = performance.now();
      for (let i = 0; i < 10000; i++) s.ws.send(String(i));
      const queued = performance.now() - started;
      await s.received(1);
      const first = performance.now() - started;
      await s.received(5000);
      const half = performance.now() - started;
      await s.received(10000);
      const ms = performance.now() - started;
      let inOrder = true;
      for (let i = 0; i < 10000; i++) if (s.messages[i] !== String(i)) inOrder = false;
      s.ws.close();
      await s.closed;
      return { count: s.messages.length, inOrder, _ms: Math.round(ms), _queued: Math.round(queued), _first: Math.round(first), _half: Math.round(half) };
    },

    async 'sockets-100'(base, who) {
      const sockets = [];
      for (let i = 0; i < 100; i++) sockets.push(open(`${base}/wsd/echo?who=${who}-many`));
      await Promise.all(sockets.map((s) => s.opened));
      sockets.forEach((s, i) => s.ws.send(`socket ${i}`));
      await Promise.all(sockets.map((s) => s.received(1)));
      const ok = sockets.filter((s, i) => s.messages[0] === `socket ${i}`).length;
      sockets.forEach((s) => s.ws.close());
      await Promise.all(sockets.map((s) => s.closed));
      return { ok, clean: sockets.filter((s) => s.log.at(-1)[4] === true).length };
    },

    async push(base, who) {
      const s = open(`${base}/wsd/push?n=1000&who=${who}-push`);
      await s.closed;
      let inOrder = true;
      for (let i = 0; i < 1000; i++) if (s.messages[i] !== String(i)) inOrder = false;
      return { count: s.messages.length, inOrder, log: s.log };
    },

    async 'push-binary'(base, who) {
      const s = open(`${base}/wsd/push?n=64&size=65536&who=${who}-pushbin`);
      s.ws.binaryType = 'arraybuffer';
      await s.closed;
      const indices = s.messages.map((m) => new DataView(m).getUint32(0, true));
      return { count: s.messages.length, sizes: [...new Set(s.messages.map((m) => m.byteLength))], inOrder: indices.every((v, i) => v === i), log: s.log };
    },

    async 'close-from-page'(base, who) {
      const s = open(`${base}/wsd/echo?who=${who}-pageclose`);
      await s.opened;
      s.ws.close(4000, 'bye ✓');
      const closing = s.ws.readyState;
      s.ws.send('after close');
      // The standard adds the data's length; WebKit adds its framing overhead too (17, not
      // 11, here): what both agree on is that it grows.
      const buffered = s.ws.bufferedAmount;
      await s.closed;
      return { closing, bufferedGrew: buffered >= 11, _buffered: buffered, log: s.log };
    },

    async 'close-from-server'(base, who) {
      const s = open(`${base}/wsd/close-after?who=${who}-serverclose`);
      await s.opened;
      s.ws.send('only one');
      await s.closed;
      return { messages: s.messages, log: s.log };
    },

    async 'not-a-websocket'(base) {
      const s = open(`${base}/wsd/plain`);
      await s.closed;
      return { log: s.log, messages: s.messages.length };
    },

    async 'no-such-route'(base) {
      const s = open(`${base}/wsd/nowhere`);
      await s.closed;
      return { log: s.log };
    },

    async validation(base, who) {
      const url = `${base}/wsd/echo?who=${who}-validation`;
      const constructing = {
        fragment: errorName(() => new WebSocket(`${url}#frag`)),
        duplicate: errorName(() => new WebSocket(url, ['chat', 'chat'])),
        badToken: errorName(() => new WebSocket(url, 'a b')),
        empty: errorName(() => new WebSocket(url, [''])),
        noArgs: errorName(() => new WebSocket()),
      };
      const s = open(url);
      await s.opened;
      const closing = {
        code1001: errorName(() => s.ws.close(1001)),
        code2999: errorName(() => s.ws.close(2999)),
        code5000: errorName(() => s.ws.close(5000)),
        longReason: errorName(() => s.ws.close(1000, 'é'.repeat(62))),
        sendNothing: errorName(() => s.ws.send()),
      };
      s.ws.close(3000, 'r'.repeat(123));
      await s.closed;
      return { constructing, closing, log: s.log };
    },

    async buffered(base, who) {
      const s = open(`${base}/wsd/echo?who=${who}-buffered`);
      await s.opened;
      const size = 1 << 20;
      s.ws.send(pattern(size, 1));
      const afterSend = s.ws.bufferedAmount;
      await s.received(1);
      const deadline = performance.now() + 10000;
      while (s.ws.bufferedAmount > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const drained = s.ws.bufferedAmount;
      s.ws.close();
      await s.closed;
      return { afterSendIsSize: afterSend === size, drained };
    },

    async 'message-event'(base, who) {
      const s = open(`${base}/wsd/echo?who=${who}-event`);
      await s.opened;
      const seen = new Promise((resolve) => s.ws.addEventListener('message', resolve, { once: true }));
      s.ws.send('x');
      const e = await withTimeout(seen, 'message');
      const origin = new URL(s.ws.url);
      const out = {
        isMessageEvent: e instanceof MessageEvent,
        originMatchesUrl: e.origin === `${origin.protocol}//${origin.host}`,
        lastEventId: e.lastEventId,
        source: e.source,
        ports: e.ports.length,
        bubbles: e.bubbles,
        cancelable: e.cancelable,
        // Events a script dispatches are untrusted: the shim cannot make them otherwise.
        _isTrusted: e.isTrusted,
      };
      s.ws.close();
      await s.closed;
      return out;
    },
  };

  /** Runs every case against each base; returns { cases, results, differences, timings }. */
  async function runWebSocketSuite(bases, only) {
    const names = Object.keys(cases).filter((n) => !only || only.includes(n));
    const results = [];
    const differences = [];
    const timings = {};
    for (const name of names) {
      const observed = {};
      for (const [who, base] of Object.entries(bases)) {
        const started = performance.now();
        try {
          observed[who] = await cases[name](base, who);
        } catch (e) {
          observed[who] = { failed: String(e && e.stack ? e.stack : e) };
        }
        timings[`${name}/${who}`] = Math.round(performance.now() - started);
      }
      // Fields starting with `_` are measurements, not observations.
      const strip = (o) => JSON.stringify(o, (k, v) => (k.startsWith('_') ? undefined : v));
      const values = Object.values(observed).map(strip);
      const agree = values.every((v) => v === values[0]);
      results.push({ name, observed, agree });
      if (!agree) differences.push(name);
    }
    return { cases: names.length, results, differences, timings };
  }

  globalThis.runWebSocketSuite = runWebSocketSuite;
})();
