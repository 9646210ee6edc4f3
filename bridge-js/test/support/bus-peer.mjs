// A scripted bus for tests: speaks real frames through the real codec, with credit flow
// control both ways, and hands each stream to an async handler(req, res).
import { decode, encode } from '../../dist/bus-bridge.mjs';

const enc = new TextEncoder();
// The page's Promise.prototype.then and Array iterator may be patched by a conformance case:
// the scripted bus uses neither (it plays the native side, which would not).
const promiseThen = Promise.prototype.then;
const then = (p, f, r) => Reflect.apply(promiseThen, p, [f, r]);
const latin1 = (bytes) => String.fromCharCode(...bytes);
const toBytes = (x) => (typeof x === 'string' ? enc.encode(x) : x);

export class BusPeer {
  /**
   * @param {(req, res) => Promise<void>|void} handler
   * @param {{ maxChunk?: number, autoCredit?: boolean, maxStreams?: number }} options
   *   maxStreams: streams open at once, as the Rust port's `SessionConfig::max_streams`: one
   *   more is refused with `Error TooManyStreams` (9). Default: no limit.
   */
  constructor(handler, options = {}) {
    this.handler = handler;
    this.maxChunk = options.maxChunk ?? 64 * 1024;
    this.autoCredit = options.autoCredit ?? true;
    this.maxStreams = options.maxStreams ?? Infinity;
    this.peakStreams = 0;
    this.received = []; // every frame from the page, decoded
    this.streams = new Map();
    this.transport = {
      send: (bytes) => this.#receive(decode(bytes.slice())),
      onmessage: null,
    };
  }

  /** Frames of one type from the page (e.g. 'Cancel'). */
  frames(type) {
    return this.received.filter((f) => f.type === type);
  }

  #deliver(frame) {
    // Asynchronous, as any real bridge is; order is kept.
    const bytes = encode(frame);
    queueMicrotask(() => this.transport.onmessage?.(bytes));
  }

  #receive(frame) {
    this.received.push(frame);
    const s = this.streams.get(frame.stream);
    switch (frame.type) {
      case 'RequestHead':
        return this.#open(frame);
      case 'RequestData':
        if (!s) return;
        s.bodyChunks.push(frame.data.slice());
        // The handler "reads" at once: credit back what arrived.
        if (this.autoCredit && frame.data.byteLength > 0) this.#deliver({ type: 'Credit', stream: s.id, bytes: frame.data.byteLength });
        s.wakeBody?.();
        return;
      case 'RequestEnd':
        if (!s) return;
        s.bodyDone = true;
        s.wakeBody?.();
        return;
      case 'Cancel':
        if (!s) return;
        s.closed = true;
        this.streams.delete(s.id);
        s.ac.abort();
        s.wakeCredit?.();
        s.wakeBody?.();
        return;
      case 'Credit':
        if (!s) return;
        s.credit += frame.bytes;
        s.wakeCredit?.();
        return;
    }
  }

  #open(head) {
    const id = head.stream;
    if (this.streams.size >= this.maxStreams) {
      this.#deliver({ type: 'Error', stream: id, code: 9, message: `this session already has ${this.maxStreams} open streams` });
      return;
    }
    const url = new URL(head.uri, 'app://localhost');
    const headers = new Map();
    for (let i = 0; i < head.headers.length; i++) {
      const n = head.headers[i][0];
      const v = head.headers[i][1];
      headers.set(n, headers.has(n) ? `${headers.get(n)}, ${latin1(v)}` : latin1(v));
    }
    const s = {
      id,
      credit: head.window,
      bodyChunks: [],
      bodyDone: head.endStream,
      closed: false,
      ac: new AbortController(),
      wakeBody: null,
      wakeCredit: null,
    };
    this.streams.set(id, s);
    this.peakStreams = Math.max(this.peakStreams, this.streams.size);
    const peer = this;
    const req = {
      stream: id,
      method: head.method,
      uri: head.uri,
      url,
      headers,
      signal: s.ac.signal,
      async body() {
        while (!s.bodyDone && !s.closed) await new Promise((r) => (s.wakeBody = r));
        const total = s.bodyChunks.reduce((n, c) => n + c.byteLength, 0);
        const out = new Uint8Array(total);
        let at = 0;
        for (let i = 0; i < s.bodyChunks.length; i++) {
          const c = s.bodyChunks[i];
          out.set(c, at);
          at += c.byteLength;
        }
        return out;
      },
    };
    const res = {
      head(status, headers = {}) {
        if (s.closed) return;
        const list = Array.isArray(headers) ? headers : Object.entries(headers);
        peer.#deliver({ type: 'ResponseHead', stream: id, status, headers: list.map((h) => [h[0].toLowerCase(), toBytes(h[1])]) });
      },
      /** Sends within credit, splitting as needed; resolves when all is sent (or the stream closed). */
      async write(data) {
        let bytes = toBytes(data);
        while (bytes.byteLength > 0 && !s.closed) {
          if (s.credit === 0) {
            await new Promise((r) => (s.wakeCredit = r));
            continue;
          }
          const n = Math.min(bytes.byteLength, s.credit, peer.maxChunk);
          s.credit -= n;
          peer.#deliver({ type: 'ResponseData', stream: id, data: bytes.slice(0, n) });
          bytes = bytes.subarray(n);
        }
      },
      end() {
        if (s.closed) return;
        s.closed = true;
        peer.streams.delete(id);
        peer.#deliver({ type: 'ResponseEnd', stream: id });
      },
      error(code, message = 'test error') {
        if (s.closed) return;
        s.closed = true;
        peer.streams.delete(id);
        peer.#deliver({ type: 'Error', stream: id, code, message });
      },
      get closed() {
        return s.closed;
      },
    };
    queueMicrotask(() => {
      let done;
      try {
        done = this.handler(req, res);
      } catch (e) {
        res.error(12, String(e));
        return;
      }
      if (done instanceof Promise) then(done, undefined, (e) => res.error(12, String(e)));
    });
  }
}

