// The WebSocket replacement (WHATWG WebSockets) for URLs that designate the app, carried as
// one bus stream: a GET with `upgrade: websocket`, answered 101, then message records both
// ways in the stream's bodies, within their credit (PROTOCOL.md section 10). Every other URL
// gets the browser's own WebSocket: the constructor returns a native instance.
//
// An app-host `ws:` URL never reaches the network: when the bus cannot take the socket it
// fails with `error` and `close` (1006), as a refused connection does.

import type { BusClient } from './client.js';
import { defineEventHandlers } from './events.js';
import { isToken, latin1, originOf } from './http.js';
import { idlLength, idlShape, microtaskTurns, startTimer } from './intrinsics.js';

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** Record kinds (the u32 variant index of the bincode `Message` enum). */
const TEXT = 0;
const BINARY = 1;
const CLOSE = 2;

/** A close frame's payload is at most 125 bytes: the code and 123 bytes of reason. */
export const MAX_CLOSE_REASON = 123;
/**
 * The socket's response window: bytes of the handler's messages in flight to the page or
 * held by it unread. Four of the bus's largest data frames (1 MiB): with a window of one,
 * a 1 MiB message (plus its 12-byte record header) never fit, and each one waited a whole
 * transport round trip for the credit of its last bytes (handler push of 1 MiB messages:
 * 128 MiB/s with 1 MiB, see benches/README.md for the run with this window).
 */
const WS_WINDOW = 4 << 20;
/** Small messages queued together are sent as one chunk of up to this many bytes. */
const BATCH = 64 * 1024;

/** One WebSocket message as it crosses the bus (PROTOCOL.md section 10). */
export type WsMessage =
  | { type: 'Text'; data: Uint8Array }
  | { type: 'Binary'; data: Uint8Array }
  | { type: 'Close'; code: number; reason: string };

/** Why a record stream cannot be decoded; `code` is the WebSocket close code it calls for. */
export class WsRecordError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'WsRecordError';
  }
}

/** The bytes of a record before its payload. */
export function wsRecordHeader(message: WsMessage): Uint8Array {
  if (message.type === 'Close') {
    const reason = utf8(message.reason);
    const out = new Uint8Array(14);
    const view = new DataView(out.buffer);
    view.setUint32(0, CLOSE, true);
    view.setUint16(4, message.code, true);
    view.setUint32(6, reason.byteLength, true); // high half 0: a reason is at most 123 bytes
    return out;
  }
  const out = new Uint8Array(12);
  const view = new DataView(out.buffer);
  view.setUint32(0, message.type === 'Text' ? TEXT : BINARY, true);
  // A u64 as two u32 halves (no BigInt per message); lengths stay below 2^53.
  const n = message.data.byteLength;
  view.setUint32(4, n % 0x100000000, true);
  view.setUint32(8, Math.floor(n / 0x100000000), true);
  return out;
}

/** A whole record. */
export function encodeWsMessage(message: WsMessage): Uint8Array {
  const header = wsRecordHeader(message);
  const payload = message.type === 'Close' ? utf8(message.reason) : message.data;
  const out = new Uint8Array(header.byteLength + payload.byteLength);
  out.set(header);
  out.set(payload, header.byteLength);
  return out;
}

/**
 * Decodes records from a byte stream fed in pieces of any size, as `bus_core::websocket::
 * Decoder` does: lengths are checked against `maxMessage` before the payload is buffered.
 */
export class WsRecordDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  constructor(private readonly maxMessage: number = Number.MAX_SAFE_INTEGER) {}

  push(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    this.chunks.push(bytes);
    this.buffered += bytes.byteLength;
  }

  /** Whether bytes of an incomplete record are waiting. */
  get hasPartial(): boolean {
    return this.buffered > 0;
  }

  /** The next complete record, or null; throws WsRecordError for a malformed one. */
  next(): WsMessage | null {
    if (this.buffered < 4) return null;
    const head = this.peek(Math.min(this.buffered, 14));
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const kind = view.getUint32(0, true);
    let header: number;
    let at: number;
    if (kind === TEXT || kind === BINARY) {
      if (this.buffered < 12) return null;
      header = 12;
      at = 4;
    } else if (kind === CLOSE) {
      if (this.buffered < 14) return null;
      header = 14;
      at = 6;
    } else {
      throw new WsRecordError(`malformed WebSocket message record: unknown message kind ${kind}`, 1002);
    }
    // A u64 from two u32 halves; past 2^53 it is only ever compared with a limit.
    const high = view.getUint32(at + 4, true);
    const len = high >= 0x200000 ? Number.POSITIVE_INFINITY : high * 0x100000000 + view.getUint32(at, true);
    const shown = high >= 0x200000 ? view.getBigUint64(at, true).toString() : String(len);
    if (kind === CLOSE) {
      if (len > MAX_CLOSE_REASON) {
        throw new WsRecordError(`malformed WebSocket message record: a close reason of ${shown} bytes (at most ${MAX_CLOSE_REASON})`, 1002);
      }
    } else if (len > this.maxMessage) {
      throw new WsRecordError(`a WebSocket message of ${shown} bytes is over the limit of ${this.maxMessage} bytes`, 1009);
    }
    const total = header + len;
    if (this.buffered < total) return null;
    const code = kind === CLOSE ? view.getUint16(4, true) : 0;
    this.take(header);
    // A payload that spans chunks is gathered into a buffer of its own, exactly its size:
    // the page can then have that ArrayBuffer as it is (binaryType 'arraybuffer') instead
    // of a second copy.
    const payload = this.take(len);
    if (kind === CLOSE) {
      let reason: string;
      try {
        reason = strictUtf8.decode(payload);
      } catch {
        throw new WsRecordError('malformed WebSocket message record: a close reason that is not UTF-8', 1002);
      }
      return { type: 'Close', code, reason };
    }
    if (kind === TEXT) {
      try {
        strictUtf8.decode(payload);
      } catch {
        throw new WsRecordError('malformed WebSocket message record: text that is not UTF-8', 1002);
      }
    }
    return { type: kind === TEXT ? 'Text' : 'Binary', data: payload };
  }

  /** The first `n` buffered bytes (a view when they sit in one chunk), not consumed. */
  private peek(n: number): Uint8Array {
    const first = this.chunks[0] as Uint8Array;
    if (first.byteLength >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of this.chunks) {
      const k = Math.min(c.byteLength, n - at);
      out.set(c.subarray(0, k), at);
      at += k;
      if (at === n) break;
    }
    return out;
  }

  /** Removes and returns the first `n` buffered bytes (a view when they sit in one chunk). */
  private take(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0);
    this.buffered -= n;
    const first = this.chunks[0] as Uint8Array;
    if (first.byteLength >= n) {
      if (first.byteLength === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    gathered.add(out.buffer);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0] as Uint8Array;
      const k = Math.min(c.byteLength, n - at);
      out.set(c.subarray(0, k), at);
      at += k;
      if (k === c.byteLength) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}

/** Buffers a decoder allocated to gather a payload that spanned chunks: no one else has them. */
const gathered = new WeakSet<ArrayBuffer>();

/** The payload as an ArrayBuffer of its own: the gathered buffer itself, else a copy. */
function ownBuffer(data: Uint8Array): ArrayBuffer {
  const buffer = data.buffer as ArrayBuffer;
  if (gathered.has(buffer) && data.byteOffset === 0 && data.byteLength === buffer.byteLength) {
    gathered.delete(buffer);
    return buffer;
  }
  return data.slice().buffer;
}

/** Decodes exactly one record (the golden vectors' form); throws WsRecordError otherwise. */
export function decodeWsMessage(bytes: Uint8Array, maxMessage: number = Number.MAX_SAFE_INTEGER): WsMessage {
  const decoder = new WsRecordDecoder(maxMessage);
  decoder.push(bytes);
  const message = decoder.next();
  if (message === null) throw new WsRecordError('malformed WebSocket message record: a truncated record', 1002);
  if (decoder.hasPartial) throw new WsRecordError('malformed WebSocket message record: trailing bytes after the record', 1002);
  return message;
}

// ---------------------------------------------------------------------------------------

/** What the WebSocket shim needs from the installation. */
export interface WebSocketContext {
  readonly client: BusClient;
  /** The bus origins, canonical (`app://localhost`). */
  readonly origins: readonly string[];
  isBus(url: URL): boolean;
  baseURL(): string;
  /** Response window per stream, or undefined for the client's default. */
  readonly window: number | undefined;
}

interface Outgoing {
  kind: number;
  /** The payload (the close reason's UTF-8 for Close), or null while a Blob is unread. */
  bytes: Uint8Array | null;
  blob: Blob | null;
  code: number;
  size: number;
  /** Stream offsets of the payload once the record is handed to the client. */
  start: number;
  end: number;
}

interface WsState {
  readonly target: EventTarget;
  readonly url: URL;
  readonly messageOrigin: string;
  readonly protocols: readonly string[];
  readyState: number;
  protocol: string;
  binaryType: BinaryType;
  /** Payload bytes queued by send() and not yet sent within the bus's credit. */
  buffered: number;
  /** Records waiting for the upload, and those handed to it but not wholly sent. */
  queue: Queue<Outgoing>;
  inflight: Queue<Outgoing>;
  /** Upload stream bytes handed to the client, and sent by it. */
  offset: number;
  sent: number;
  wakeUpload: (() => void) | null;
  /** The page's side is done (its close record is queued, or the socket is gone). */
  uploadDone: boolean;
  closeReceived: { code: number; reason: string } | null;
  connection: AbortController;
  /** The close event has been scheduled (only once). */
  finished: boolean;
}

const states = new WeakMap<object, WsState>();

function st(x: unknown): WsState {
  const s = states.get(x as object);
  if (!s) throw new TypeError('Illegal invocation');
  return s;
}

type CloseEventCtor = new (type: string, init?: CloseEventInit) => Event;

/** CloseEvent for engines (and Node) without one. */
class FallbackCloseEvent extends Event {
  readonly wasClean: boolean;
  readonly code: number;
  readonly reason: string;
  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.wasClean = init.wasClean ?? false;
    this.code = init.code ?? 0;
    this.reason = init.reason ?? '';
  }
}

function closeEvent(init: CloseEventInit): Event {
  const native = (globalThis as { CloseEvent?: CloseEventCtor }).CloseEvent;
  return new (typeof native === 'function' ? native : FallbackCloseEvent)('close', init);
}

/**
 * The bus origin a WebSocket URL designates, or null for a URL the browser's own WebSocket
 * takes: a `ws:`/`wss:` (or `http:`/`https:`, which the constructor makes `ws:`/`wss:`) URL
 * whose host (with port) is a bus origin's, or a URL of a bus origin itself (what a relative
 * URL resolves to on the app's page).
 */
export function busOriginForWebSocket(url: URL, origins: readonly string[], isBus: (url: URL) => boolean): string | null {
  // http(s): is ws(s): to the WebSocket constructor (the standard converts the scheme first),
  // so it designates the same socket: routed by host the same way.
  const p = url.protocol;
  if (p === 'ws:' || p === 'wss:' || p === 'http:' || p === 'https:') {
    for (const origin of origins) {
      if (new URL(origin).host === url.host) return origin;
    }
    return null;
  }
  return isBus(url) ? originOf(url) : null;
}

export function createWebSocket(ctx: WebSocketContext, Original: typeof globalThis.WebSocket | undefined): typeof globalThis.WebSocket {
  class WebSocket extends EventTarget {
    static readonly CONNECTING = CONNECTING;
    static readonly OPEN = OPEN;
    static readonly CLOSING = CLOSING;
    static readonly CLOSED = CLOSED;

    static override [Symbol.hasInstance](x: unknown): boolean {
      if (Function.prototype[Symbol.hasInstance].call(this, x)) return true;
      return this === WebSocket && Original !== undefined && x instanceof Original;
    }

    constructor(url: string | URL, protocols?: string | string[]);
    constructor(...args: unknown[]) {
      if (args.length < 1) throw new TypeError("Failed to construct 'WebSocket': 1 argument required, but only 0 present.");
      // WebIDL converts the arguments first (a Symbol is a TypeError, whatever the URL).
      const urlText = idlString(args[0]);
      let parsed: URL | null;
      try {
        parsed = new URL(urlText, ctx.baseURL());
      } catch {
        parsed = null;
      }
      const busOrigin = parsed === null ? null : busOriginForWebSocket(parsed, ctx.origins, (u) => ctx.isBus(u));
      if (parsed === null || busOrigin === null) {
        // Not ours: the browser's own WebSocket (which throws its SyntaxError for a bad URL).
        if (Original) return new (Original as new (...a: unknown[]) => WebSocket)(...args);
        if (parsed === null) throw new DOMException(`The URL '${urlText}' is invalid.`, 'SyntaxError');
        throw new DOMException('WebSocket: no browser WebSocket for URLs outside the app', 'NotSupportedError');
      }
      if (parsed.hash !== '' || urlText.includes('#')) {
        throw new DOMException(`The URL contains a fragment identifier ('${parsed.hash}'). Fragment identifiers are not allowed in WebSocket URLs.`, 'SyntaxError');
      }
      const raw = args.length > 1 && args[1] !== undefined ? args[1] : [];
      const protocols = typeof raw === 'string' ? [raw] : isIterable(raw) ? [...raw].map(String) : [String(raw)];
      const seen = new Set<string>();
      for (const p of protocols) {
        if (!isToken(p)) throw new DOMException(`The subprotocol '${p}' is invalid.`, 'SyntaxError');
        const key = p.toLowerCase();
        if (seen.has(key)) throw new DOMException(`The subprotocol '${p}' is duplicated.`, 'SyntaxError');
        seen.add(key);
      }
      super();
      // What `url` reports: a ws: URL, as the engine's own WebSocket gives (a relative URL
      // on an https page becomes wss:).
      const shown = new URL(parsed.href);
      if (shown.protocol === 'http:' || shown.protocol === 'https:') {
        // The standard's conversion: only the scheme changes (credentials, port, path stay).
        shown.protocol = shown.protocol === 'https:' ? 'wss:' : 'ws:';
      } else if (shown.protocol !== 'ws:' && shown.protocol !== 'wss:') {
        // A bus origin's own scheme (app:): ws:, or wss: on an https page.
        const secure = ctx.baseURL().startsWith('https:');
        const auth = shown.username !== '' || shown.password !== '' ? `${shown.username}${shown.password !== '' ? `:${shown.password}` : ''}@` : '';
        const text = `${secure ? 'wss' : 'ws'}://${auth}${shown.host}${shown.pathname}${shown.search}`;
        shown.href = new URL(text).href;
      }
      const s: WsState = {
        target: this,
        url: shown,
        messageOrigin: `${shown.protocol}//${shown.host}`,
        protocols,
        readyState: CONNECTING,
        protocol: '',
        binaryType: 'blob',
        buffered: 0,
        queue: new Queue(),
        inflight: new Queue(),
        offset: 0,
        sent: 0,
        wakeUpload: null,
        uploadDone: false,
        closeReceived: null,
        connection: new AbortController(),
        finished: false,
      };
      states.set(this, s);
      connect(s, `${busOrigin}${parsed.pathname}${parsed.search}`);
    }

    get url(): string {
      return st(this).url.href;
    }

    get readyState(): number {
      return st(this).readyState;
    }

    get bufferedAmount(): number {
      const s = st(this);
      let partly = 0;
      const head = s.inflight.first;
      if (head) partly = Math.max(0, Math.min(s.sent, head.end) - head.start);
      return s.buffered - partly;
    }

    get extensions(): string {
      st(this);
      return '';
    }

    get protocol(): string {
      return st(this).protocol;
    }

    get binaryType(): BinaryType {
      return st(this).binaryType;
    }

    set binaryType(value: BinaryType) {
      const s = st(this);
      // An enumeration: converted to a string first (a Symbol is a TypeError), and values
      // that are not one of it are ignored, as WebIDL says for attributes.
      const v = idlString(value);
      if (v === 'blob' || v === 'arraybuffer') s.binaryType = v;
    }

    send(...args: unknown[]): void {
      const s = st(this);
      if (args.length < 1) throw new TypeError("Failed to execute 'send' on 'WebSocket': 1 argument required, but only 0 present.");
      // The argument is converted before the steps run (BufferSource is not [AllowShared]).
      const data = args[0];
      if (isShared(data)) throw new TypeError("Failed to execute 'send' on 'WebSocket': the data must not be a SharedArrayBuffer or a view on one.");
      let item: Outgoing;
      if (typeof Blob !== 'undefined' && data instanceof Blob) {
        item = outgoing(BINARY, null, data.size, data);
      } else if (data instanceof ArrayBuffer) {
        item = outgoing(BINARY, new Uint8Array(data.slice(0)), data.byteLength);
      } else if (ArrayBuffer.isView(data)) {
        const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
        item = outgoing(BINARY, bytes, bytes.byteLength);
      } else {
        const bytes = utf8(idlString(data));
        item = outgoing(TEXT, bytes, bytes.byteLength);
      }
      if (s.readyState === CONNECTING) throw new DOMException("Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.", 'InvalidStateError');
      // Once closing, data is counted but never sent, as the standard says.
      s.buffered += item.size;
      if (s.readyState !== OPEN || s.uploadDone) return;
      s.queue.push(item);
      wake(s);
    }

    close(...args: unknown[]): void {
      const s = st(this);
      const code = args[0];
      const reason = args[1];
      // Both arguments are converted before the steps check them (WebIDL).
      const c: number | null = code === undefined ? null : clampCode(code);
      const reasonText = reason === undefined ? '' : idlString(reason);
      if (c !== null) {
        if (c !== 1000 && (c < 3000 || c > 4999)) {
          throw new DOMException(
            `Failed to execute 'close' on 'WebSocket': The close code must be either 1000, or between 3000 and 4999. ${c} is neither.`,
            'InvalidAccessError',
          );
        }
      }
      const reasonBytes = utf8(reasonText);
      if (reasonBytes.byteLength > MAX_CLOSE_REASON) {
        throw new DOMException(`Failed to execute 'close' on 'WebSocket': The close reason must not be greater than ${MAX_CLOSE_REASON} UTF-8 bytes.`, 'SyntaxError');
      }
      if (s.readyState === CLOSING || s.readyState === CLOSED) return;
      if (s.readyState === CONNECTING) {
        // "Fail the WebSocket connection": nothing reached the handler as an open socket.
        s.readyState = CLOSING;
        s.connection.abort();
        finish(s, null, true);
        return;
      }
      s.readyState = CLOSING;
      const close = outgoing(CLOSE, reasonBytes, 0);
      close.code = c ?? 1005;
      s.queue.push(close);
      s.uploadDone = true;
      wake(s);
    }
  }

  defineEventHandlers(WebSocket.prototype, ['open', 'message', 'error', 'close']);
  if (Original) Object.setPrototypeOf(WebSocket.prototype, Original.prototype);
  for (const [name, value] of [
    ['CONNECTING', CONNECTING],
    ['OPEN', OPEN],
    ['CLOSING', CLOSING],
    ['CLOSED', CLOSED],
  ] as const) {
    Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
  }
  Object.defineProperty(WebSocket.prototype, Symbol.toStringTag, { value: 'WebSocket', configurable: true });

  function connect(s: WsState, uri: string): void {
    const headers: [string, string][] = [
      ['upgrade', 'websocket'],
      ['connection', 'upgrade'],
      ['sec-websocket-version', '13'],
    ];
    if (s.protocols.length > 0) headers.push(['sec-websocket-protocol', s.protocols.join(', ')]);
    ctx.client
      .openStream({
        method: 'GET',
        uri,
        headers,
        body: upload(s),
        signal: s.connection.signal,
        window: ctx.window ?? WS_WINDOW,
        onupload: (sent) => uploaded(s, sent),
      })
      .then(
        async (res) => {
          if (s.readyState !== CONNECTING) {
            void res.body.cancel().catch(() => {});
            return;
          }
          const chosen = res.headers.find(([n]) => n === 'sec-websocket-protocol');
          const protocol = chosen ? latin1(chosen[1]) : '';
          if (res.status !== 101 || (protocol !== '' && !s.protocols.includes(protocol))) {
            void res.body.cancel().catch(() => {});
            s.connection.abort();
            finish(s, null, true);
            return;
          }
          s.protocol = protocol;
          s.readyState = OPEN;
          s.target.dispatchEvent(new Event('open'));
          await receive(s, res.body);
        },
        () => finish(s, null, true),
      );
  }

  /** Reads the handler's records until the stream ends, dispatching messages. */
  async function receive(s: WsState, body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    const decoder = new WsRecordDecoder();
    const text = new TextDecoder('utf-8', { ignoreBOM: true });
    try {
      for (;;) {
        const next = await reader.read();
        if (next.done) break;
        decoder.push(next.value);
        // The messages of one chunk (the bus sends small ones together) go one at a time,
        // with turns of the microtask queue between them: the standard queues a task for
        // each, and a listener that awaits the next message (`once`) must have its
        // reactions run before that message comes.
        let dispatched = false;
        for (let m = decoder.next(); m !== null; m = decoder.next()) {
          if (m.type === 'Close') {
            if (s.closeReceived === null) s.closeReceived = { code: m.code, reason: m.reason };
            if (s.readyState === OPEN) s.readyState = CLOSING;
            // The bus answered the handler's close: nothing more goes up.
            s.uploadDone = true;
            wake(s);
            continue;
          }
          if (s.readyState !== OPEN) continue;
          if (dispatched) {
            await microtaskTurns();
            if (s.readyState !== OPEN) continue;
          }
          dispatched = true;
          let data: unknown;
          if (m.type === 'Text') data = text.decode(m.data);
          else if (s.binaryType === 'arraybuffer') data = ownBuffer(m.data);
          else data = new Blob([m.data as Uint8Array<ArrayBuffer>]);
          s.target.dispatchEvent(new MessageEvent('message', { data, origin: s.messageOrigin }));
        }
      }
    } catch {
      // The stream failed (the session was reset, the bus broke the stream) or a record
      // did not decode: an abnormal close.
      reader.cancel().catch(() => {});
      s.connection.abort();
      finish(s, null, true);
      return;
    }
    finish(s, s.closeReceived, s.closeReceived === null);
  }

  /**
   * "The WebSocket connection is closed": nothing more goes up or comes down from now on;
   * then, in a task of its own as the standard queues it, readyState CLOSED, error (if
   * failed) and close. The task is what a page restored from the back/forward cache sees:
   * the transport fails the old session's streams in the shim's own `pageshow` listener,
   * and the page's `pageshow` listeners, which run next, still find the socket OPEN, with
   * error and close after them — as WebKitGTK's and Chromium's own WebSockets do
   * (`testkit::websocket::check_bfcache`).
   */
  function finish(s: WsState, close: { code: number; reason: string } | null, failed: boolean): void {
    if (s.finished) return;
    s.finished = true;
    s.uploadDone = true;
    s.queue.clear();
    wake(s);
    startTimer(() => {
      s.readyState = CLOSED;
      if (failed) s.target.dispatchEvent(new Event('error'));
      const clean = close !== null;
      s.target.dispatchEvent(closeEvent({ wasClean: clean, code: clean ? close.code : 1006, reason: clean ? close.reason : '' }));
    }, 0);
  }

  idlShape(WebSocket, ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']);
  idlLength(WebSocket, 1);
  idlLength(WebSocket.prototype.send, 1);
  return WebSocket as unknown as typeof globalThis.WebSocket;
}

/** A FIFO whose shift is O(1) (Array.prototype.shift moves every element). */
class Queue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  get first(): T | undefined {
    return this.items[this.head];
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

function outgoing(kind: number, bytes: Uint8Array | null, size: number, blob: Blob | null = null): Outgoing {
  return { kind, bytes, blob, code: 0, size, start: 0, end: 0 };
}

function wake(s: WsState): void {
  const w = s.wakeUpload;
  s.wakeUpload = null;
  w?.();
}

/** The client sent upload bytes up to `sent`: those payload bytes are no longer buffered. */
function uploaded(s: WsState, sent: number): void {
  s.sent = sent;
  for (let done = s.inflight.first; done && done.end <= sent; done = s.inflight.first) {
    s.inflight.shift();
    s.buffered -= done.size;
  }
}

/** The upload body: the queued messages as records, small ones batched into one chunk. */
async function* upload(s: WsState): AsyncGenerator<Uint8Array, void, undefined> {
  for (;;) {
    while (s.queue.size === 0) {
      if (s.uploadDone || s.readyState === CLOSED) return;
      await new Promise<void>((resolve) => {
        s.wakeUpload = resolve;
      });
    }
    if (s.readyState === CLOSED) return;
    const pieces: Uint8Array[] = [];
    let size = 0;
    let last = false;
    for (let item = s.queue.first; item; item = s.queue.first) {
      // A message that does not fit what is gathered goes in the next chunk.
      if (pieces.length > 0 && size + 14 + (item.bytes?.byteLength ?? item.size) > BATCH) break;
      if (item.bytes === null) {
        if (pieces.length > 0) break; // send what is ready; read the Blob next time
        try {
          item.bytes = new Uint8Array(await (item.blob as Blob).arrayBuffer());
        } catch {
          item.bytes = new Uint8Array(0);
        }
        if (s.readyState === CLOSED) return;
      }
      s.queue.shift();
      const message: WsMessage =
        item.kind === CLOSE
          ? { type: 'Close', code: item.code, reason: strictUtf8.decode(item.bytes) }
          : { type: item.kind === TEXT ? 'Text' : 'Binary', data: item.bytes };
      const header = wsRecordHeader(message);
      s.offset += header.byteLength;
      item.start = s.offset;
      s.offset += item.bytes.byteLength;
      item.end = s.offset;
      if (item.size > 0) s.inflight.push(item);
      pieces.push(header);
      if (item.bytes.byteLength > 0) pieces.push(item.bytes);
      size += header.byteLength + item.bytes.byteLength;
      if (item.kind === CLOSE) {
        last = true;
        break;
      }
    }
    if (pieces.length === 1 || size > BATCH) {
      // One large message: its header, then its payload as it is (no copy).
      for (const p of pieces) yield p;
    } else {
      const out = new Uint8Array(size);
      let at = 0;
      for (const p of pieces) {
        out.set(p, at);
        at += p.byteLength;
      }
      yield out;
    }
    if (last) return;
  }
}

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** WebIDL `[Clamp] unsigned short`. */
/** WebIDL's conversion to DOMString/USVString: ToString, which throws for a Symbol. */
function idlString(value: unknown): string {
  if (typeof value === 'symbol') throw new TypeError('Cannot convert a Symbol value to a string');
  return String(value);
}

/** A SharedArrayBuffer or a view on one (BufferSource without [AllowShared] refuses both). */
function isShared(value: unknown): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  if (value instanceof SharedArrayBuffer) return true;
  return ArrayBuffer.isView(value) && value.buffer instanceof SharedArrayBuffer;
}

function clampCode(value: unknown): number {
  const n = Number(value);
  if (Number.isNaN(n)) return 0;
  const clamped = Math.min(Math.max(n, 0), 0xffff);
  // Round half to even, as [Clamp] does.
  const floor = Math.floor(clamped);
  const diff = clamped - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

function isIterable(x: unknown): x is Iterable<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as Iterable<unknown>)[Symbol.iterator] === 'function';
}
