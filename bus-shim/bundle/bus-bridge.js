// Generated from bridge-js by scripts/sync-shim.sh (npm run build); do not edit.
var InprocBusBridge = (function __inprocBusBundle() {
"use strict";
var InprocBusBridge = (() => {
  var __defProp = Object.defineProperty;
  var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
  var __getOwnPropNames = Object.getOwnPropertyNames;
  var __hasOwnProp = Object.prototype.hasOwnProperty;
  var __export = (target, all) => {
    for (var name in all)
      __defProp(target, name, { get: all[name], enumerable: true });
  };
  var __copyProps = (to, from, except, desc) => {
    if (from && typeof from === "object" || typeof from === "function") {
      for (let key of __getOwnPropNames(from))
        if (!__hasOwnProp.call(to, key) && key !== except)
          __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
    }
    return to;
  };
  var __toCommonJS = (mod) => __copyProps(__defProp({}, "__esModule", { value: true }), mod);

  // src/index.ts
  var index_exports = {};
  __export(index_exports, {
    BusClient: () => BusClient,
    CARRY_OVER: () => CARRY_OVER,
    COOKIE_PATH: () => COOKIE_PATH,
    DEFAULT_MAX_STREAMS: () => DEFAULT_MAX_STREAMS,
    DEFAULT_WINDOW: () => DEFAULT_WINDOW,
    DecodeError: () => DecodeError,
    ErrorCode: () => ErrorCode,
    EventStreamParser: () => EventStreamParser,
    FRAME_TYPES: () => FRAME_TYPES,
    INITIAL_UPLOAD_WINDOW: () => INITIAL_UPLOAD_WINDOW,
    INSTALLATION: () => INSTALLATION,
    MAX_DATA: () => MAX_DATA,
    MAX_FRAME: () => MAX_FRAME,
    MIRROR_HEADER: () => MIRROR_HEADER,
    PAGE_RESERVED_STREAMS: () => PAGE_RESERVED_STREAMS,
    ProtocolError: () => ProtocolError,
    SESSION_STREAM: () => SESSION_STREAM,
    UPLOAD_CHUNK: () => UPLOAD_CHUNK,
    VERSION: () => VERSION,
    WsRecordDecoder: () => WsRecordDecoder,
    WsRecordError: () => WsRecordError,
    applyWrite: () => applyWrite,
    bindingTransport: () => bindingTransport,
    bundleSource: () => bundleSource,
    busOriginForWebSocket: () => busOriginForWebSocket,
    clusterTimecode: () => clusterTimecode,
    decode: () => decode,
    decodeWsMessage: () => decodeWsMessage,
    documentCookie: () => documentCookie,
    domEventTransport: () => domEventTransport,
    encode: () => encode,
    encodeWsMessage: () => encodeWsMessage,
    errorCodeName: () => errorCodeName,
    fallbackFromBase64: () => fallbackFromBase64,
    fallbackToBase64: () => fallbackToBase64,
    fetchRange: () => fetchRange,
    findCluster: () => findCluster,
    fromBase64: () => fromBase64,
    install: () => install,
    installDocumentCookie: () => installDocumentCookie,
    installInWorker: () => installInWorker,
    installation: () => installation,
    interceptForms: () => interceptForms,
    messagePortTransport: () => messagePortTransport,
    multipartBlob: () => multipartBlob,
    pathMatches: () => pathMatches,
    queuedTransport: () => queuedTransport,
    runWorkerScript: () => runWorkerScript,
    toBase64: () => toBase64,
    upgradeMedia: () => upgradeMedia,
    webmMimeType: () => webmMimeType,
    wrapWorkers: () => wrapWorkers,
    wsRecordHeader: () => wsRecordHeader
  });

  // src/codec.ts
  var VERSION = 1;
  var MAX_DATA = 1 << 20;
  var MAX_FRAME = MAX_DATA + 64 * 1024;
  var INITIAL_UPLOAD_WINDOW = 256 * 1024;
  var SESSION_STREAM = 0;
  var ErrorCode = {
    Malformed: 1,
    UnsupportedVersion: 2,
    FrameTooLarge: 3,
    UnknownStream: 4,
    StreamIdInUse: 5,
    Protocol: 6,
    FlowControl: 7,
    InvalidHead: 8,
    TooManyStreams: 9,
    BodyFailed: 10,
    Shutdown: 11,
    Internal: 12
  };
  var CODE_NAMES = new Map(
    Object.keys(ErrorCode).map((name) => [ErrorCode[name], name])
  );
  function errorCodeName(code) {
    return CODE_NAMES.get(code) ?? `Unknown(${code})`;
  }
  var FRAME_TYPES = [
    "RequestHead",
    "RequestData",
    "RequestEnd",
    "ResponseHead",
    "ResponseData",
    "ResponseEnd",
    "Cancel",
    "Credit",
    "Error",
    "Response"
  ];
  var DecodeError = class extends Error {
    constructor(code, message) {
      super(message);
      this.name = "DecodeError";
      this.code = code;
    }
  };
  var utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  var utf8Encoder = new TextEncoder();
  var MIN_HEADER_BYTES = 16;
  var Reader = class {
    // Integers are read byte by byte: a DataView would need the input's `buffer`, which makes
    // the engine give a small typed array a separate ArrayBuffer (WebKit's
    // slowDownAndWasteMemory), for every frame.
    constructor(buf) {
      this.buf = buf;
      this.pos = 1;
      // after the version byte
      /** Largest data payload seen; checked after the whole frame parsed, as in Rust. */
      this.largestData = 0;
    }
    get remaining() {
      return this.buf.byteLength - this.pos;
    }
    need(n, what) {
      if (n > this.remaining) {
        throw malformed(`truncated: ${what} needs ${n} bytes at offset ${this.pos}, ${this.remaining} left`);
      }
    }
    u16(what) {
      this.need(2, what);
      const b = this.buf;
      const v = b[this.pos] | b[this.pos + 1] << 8;
      this.pos += 2;
      return v;
    }
    u32(what) {
      this.need(4, what);
      const v = this.at32(this.pos);
      this.pos += 4;
      return v;
    }
    at32(at) {
      const b = this.buf;
      return (b[at] | b[at + 1] << 8 | b[at + 2] << 16 | b[at + 3] << 24) >>> 0;
    }
    bool(what) {
      this.need(1, what);
      const v = this.buf[this.pos];
      if (v > 1) throw malformed(`${what}: ${v} is not a bool (0 or 1)`);
      this.pos += 1;
      return v === 1;
    }
    /**
     * A u64 length or count, checked against the bytes left (`unit` bytes per element) before
     * anything is read or allocated. Read as two u32 halves: any high half is already far
     * past the end of a frame of at most MAX_FRAME bytes, so no BigInt is needed.
     */
    len(what, unit) {
      this.need(8, `${what} length`);
      const lo = this.at32(this.pos);
      const hi = this.at32(this.pos + 4);
      this.pos += 8;
      if (hi !== 0 || lo * unit > this.remaining) {
        const n = hi === 0 ? String(lo) : `${hi} * 2^32 + ${lo}`;
        throw malformed(`${what} length ${n} is past the end (${this.remaining} bytes left)`);
      }
      return lo;
    }
    /** A view into the input, not a copy. */
    bytes(what) {
      const n = this.len(what, 1);
      const out = this.buf.subarray(this.pos, this.pos + n);
      this.pos += n;
      return out;
    }
    data() {
      const out = this.bytes("data");
      if (out.byteLength > this.largestData) this.largestData = out.byteLength;
      return out;
    }
    string(what) {
      const raw = this.bytes(what);
      try {
        return utf8Decoder.decode(raw);
      } catch {
        throw malformed(`${what} is not valid UTF-8`);
      }
    }
    headers() {
      const count = this.len("header list", MIN_HEADER_BYTES);
      const out = [];
      for (let i = 0; i < count; i++) {
        const name = this.string("header name");
        out.push([name, this.bytes("header value")]);
      }
      return out;
    }
    frame() {
      const variant = this.u32("variant index");
      const type = FRAME_TYPES[variant];
      if (type === void 0) throw malformed(`unknown frame variant ${variant}`);
      const stream = this.u32("stream");
      switch (type) {
        case "RequestHead": {
          const method = this.string("method");
          const uri = this.string("uri");
          const headers = this.headers();
          const endStream = this.bool("end_stream");
          const window = this.u32("window");
          return { type, stream, method, uri, headers, endStream, window };
        }
        case "RequestData":
        case "ResponseData":
          return { type, stream, data: this.data() };
        case "RequestEnd":
        case "ResponseEnd":
        case "Cancel":
          return { type, stream };
        case "ResponseHead": {
          const status = this.u16("status");
          return { type, stream, status, headers: this.headers() };
        }
        case "Credit":
          return { type, stream, bytes: this.u32("bytes") };
        case "Error": {
          const code = this.u16("code");
          return { type, stream, code, message: this.string("message") };
        }
        case "Response": {
          const status = this.u16("status");
          const headers = this.headers();
          return { type, stream, status, headers, data: this.data() };
        }
      }
    }
  };
  function malformed(message) {
    return new DecodeError(ErrorCode.Malformed, `malformed frame: ${message}`);
  }
  function decode(bytes) {
    if (!(bytes instanceof Uint8Array)) throw new TypeError("decode expects a Uint8Array");
    if (bytes.byteLength === 0) throw malformed("empty frame");
    if (bytes.byteLength > MAX_FRAME) {
      throw new DecodeError(ErrorCode.FrameTooLarge, `frame of ${bytes.byteLength} bytes is over the limit`);
    }
    const version = bytes[0];
    if (version !== VERSION) {
      throw new DecodeError(
        ErrorCode.UnsupportedVersion,
        `unsupported protocol version ${version} (this side speaks ${VERSION})`
      );
    }
    const reader = new Reader(bytes);
    const frame = reader.frame();
    if (reader.remaining !== 0) throw malformed(`${reader.remaining} trailing bytes after the frame`);
    if (reader.largestData > MAX_DATA) {
      throw new DecodeError(ErrorCode.FrameTooLarge, `data of ${reader.largestData} bytes is over the limit`);
    }
    return frame;
  }
  function checkedData(data) {
    if (!(data instanceof Uint8Array)) throw new TypeError("data must be a Uint8Array");
    if (data.byteLength > MAX_DATA) {
      throw new RangeError(`data of ${data.byteLength} bytes is over MAX_DATA (${MAX_DATA})`);
    }
    return data;
  }
  function encode(frame) {
    const variant = FRAME_TYPES.indexOf(frame.type);
    if (variant < 0) throw new TypeError(`unknown frame type ${String(frame.type)}`);
    const measure = new Measure();
    fields(frame, variant, measure);
    if (measure.size > MAX_FRAME) {
      throw new RangeError(`frame of ${measure.size} bytes is over MAX_FRAME (${MAX_FRAME})`);
    }
    const w = new Writer(measure.size);
    fields(frame, variant, w);
    if (!w.filled()) throw new TypeError("the frame changed while it was encoded");
    return w.out;
  }
  function fields(frame, variant, w) {
    w.u8(VERSION);
    w.u32(variant, "variant");
    w.u32(frame.stream, "stream");
    switch (frame.type) {
      case "RequestHead":
        w.string(frame.method, "method");
        w.string(frame.uri, "uri");
        w.headers(frame.headers);
        w.bool(frame.endStream, "endStream");
        w.u32(frame.window, "window");
        break;
      case "RequestData":
      case "ResponseData":
        w.data(frame.data);
        break;
      case "RequestEnd":
      case "ResponseEnd":
      case "Cancel":
        break;
      case "ResponseHead":
        w.u16(frame.status, "status");
        w.headers(frame.headers);
        break;
      case "Credit":
        w.u32(frame.bytes, "bytes");
        break;
      case "Error":
        w.u16(frame.code, "code");
        w.string(frame.message, "message");
        break;
      case "Response":
        w.u16(frame.status, "status");
        w.headers(frame.headers);
        w.data(frame.data);
        break;
    }
  }
  var Measure = class {
    constructor() {
      this.size = 0;
    }
    u8() {
      this.size += 1;
    }
    u16(value, what) {
      checkInt(value, 65535, what);
      this.size += 2;
    }
    u32(value, what) {
      checkInt(value, 4294967295, what);
      this.size += 4;
    }
    bool(value, what) {
      if (typeof value !== "boolean") throw new TypeError(`${what} must be a boolean`);
      this.size += 1;
    }
    /** The UTF-8 length, from the UTF-16 code units, refusing lone surrogates. */
    string(value, what) {
      if (typeof value !== "string") throw new TypeError(`${what} must be a string`);
      let n = value.length;
      for (let i = 0; i < value.length; i++) {
        const c = value.charCodeAt(i);
        if (c < 128) continue;
        if (c < 2048) {
          n += 1;
        } else if (c >= 55296 && c <= 56319) {
          const next = value.charCodeAt(i + 1);
          if (!(next >= 56320 && next <= 57343)) throw loneSurrogate(what);
          n += 2;
          i++;
        } else if (c >= 56320 && c <= 57343) {
          throw loneSurrogate(what);
        } else {
          n += 2;
        }
      }
      this.size += 8 + n;
    }
    headers(headers) {
      if (!Array.isArray(headers)) throw new TypeError("headers must be an array of [name, value] pairs");
      this.size += 8;
      for (let i = 0; i < headers.length; i++) {
        const header = headers[i];
        if (!Array.isArray(header) || header.length !== 2) throw new TypeError("a header must be a [name, value] pair");
        const name = header[0];
        const value = header[1];
        this.string(name, "header name");
        if (!(value instanceof Uint8Array)) throw new TypeError(`value of header ${name} must be a Uint8Array`);
        this.size += 8 + value.byteLength;
      }
    }
    data(data) {
      this.size += 8 + checkedData(data).byteLength;
    }
  };
  function loneSurrogate(what) {
    return new TypeError(`${what} contains a lone surrogate (not UTF-8 encodable)`);
  }
  var Writer = class {
    constructor(size) {
      this.pos = 0;
      this.out = new Uint8Array(size);
    }
    /** Every byte written, none past the end. */
    filled() {
      return this.pos === this.out.byteLength;
    }
    u8(value) {
      this.out[this.pos++] = value;
    }
    u16(value) {
      const out = this.out;
      out[this.pos] = value & 255;
      out[this.pos + 1] = value >>> 8;
      this.pos += 2;
    }
    u32(value) {
      const out = this.out;
      out[this.pos] = value & 255;
      out[this.pos + 1] = value >>> 8 & 255;
      out[this.pos + 2] = value >>> 16 & 255;
      out[this.pos + 3] = value >>> 24;
      this.pos += 4;
    }
    bool(value) {
      this.u8(value ? 1 : 0);
    }
    /** A u64 length: lengths here are below MAX_FRAME, so its high half is always 0 (the buffer's zeros). */
    len(value) {
      this.u32(value);
      this.pos += 4;
    }
    data(value) {
      this.len(value.byteLength);
      this.out.set(value, this.pos);
      this.pos += value.byteLength;
    }
    /** ASCII byte by byte, the rest by TextEncoder. */
    string(value) {
      const out = this.out;
      const at = this.pos + 8;
      let i = 0;
      for (; i < value.length; i++) {
        const c = value.charCodeAt(i);
        if (c >= 128) break;
        out[at + i] = c;
      }
      let n = i;
      if (i < value.length) {
        n += utf8Encoder.encodeInto(value.slice(i), out.subarray(at + i)).written;
      }
      this.len(n);
      this.pos += n;
    }
    headers(headers) {
      this.len(headers.length);
      for (let i = 0; i < headers.length; i++) {
        const header = headers[i];
        this.string(header[0]);
        this.data(header[1]);
      }
    }
  };
  Object.setPrototypeOf(Reader.prototype, null);
  Object.setPrototypeOf(Measure.prototype, null);
  Object.setPrototypeOf(Writer.prototype, null);
  function checkInt(value, max, what) {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
      throw new RangeError(`${what} must be an integer from 0 to ${max}, got ${String(value)}`);
    }
    return value;
  }

  // src/intrinsics.ts
  var { apply } = Reflect;
  var setPrototypeOf = Object.setPrototypeOf;
  var promiseThen = Promise.prototype.then;
  var noop = () => {
  };
  var originalSetTimeout = globalThis.setTimeout;
  var originalClearTimeout = globalThis.clearTimeout;
  var performanceObject = typeof performance !== "undefined" ? performance : void 0;
  var performanceNow = performanceObject?.now;
  var dateNow = Date.now;
  var originalQueueMicrotask = globalThis.queueMicrotask;
  function enqueueMicrotask(f) {
    apply(originalQueueMicrotask, globalThis, [f]);
  }
  function microtaskTurns() {
    return new NativePromise((resolve) => {
      apply(originalQueueMicrotask, globalThis, [
        () => apply(originalQueueMicrotask, globalThis, [() => apply(originalQueueMicrotask, globalThis, [resolve])])
      ]);
    });
  }
  function idlLength(f, length) {
    Object.defineProperty(f, "length", { value: length, configurable: true });
  }
  function idlShape(ctor, constants) {
    const proto = ctor.prototype;
    const names = Object.getOwnPropertyNames(proto);
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      if (name === "constructor") continue;
      const d = Object.getOwnPropertyDescriptor(proto, name);
      if (d === void 0 || d.enumerable === true || d.configurable !== true) continue;
      d.enumerable = true;
      Object.defineProperty(proto, name, d);
    }
    for (let i = 0; i < constants.length; i++) {
      const name = constants[i];
      const value = ctor[name];
      Object.defineProperty(ctor, name, { value, writable: false, enumerable: true, configurable: false });
    }
  }
  function startTimer(callback, ms) {
    return apply(originalSetTimeout, globalThis, [callback, ms]);
  }
  function stopTimer(timer) {
    apply(originalClearTimeout, globalThis, [timer]);
  }
  function monotonicNow() {
    return performanceObject !== void 0 && typeof performanceNow === "function" ? apply(performanceNow, performanceObject, []) : wallClockNow();
  }
  function wallClockNow() {
    return apply(dateNow, Date, []);
  }
  function then(p, onFulfilled, onRejected) {
    return apply(promiseThen, p, [onFulfilled, onRejected]);
  }
  function ignore(p) {
    apply(promiseThen, p, [void 0, noop]);
  }
  function bare(o) {
    setPrototypeOf(o, null);
    return o;
  }
  var RS = typeof ReadableStream === "function" ? ReadableStream : void 0;
  var getReaderFn = RS?.prototype.getReader;
  var readerProto = RS ? Object.getPrototypeOf(apply(getReaderFn, new RS(), [])) : void 0;
  var readFn = readerProto?.read;
  var cancelReaderFn = readerProto?.cancel;
  var releaseLockFn = readerProto?.releaseLock;
  var cancelStreamFn = RS?.prototype.cancel;
  function getReader(stream) {
    return apply(getReaderFn, stream, []);
  }
  function read(reader) {
    return apply(readFn, reader, []);
  }
  function cancelReader(reader, reason) {
    try {
      ignore(apply(cancelReaderFn, reader, [reason]));
    } catch {
    }
  }
  function cancelStream(stream, reason) {
    try {
      ignore(apply(cancelStreamFn, stream, [reason]));
    } catch {
    }
  }
  var NativePromise = Promise;
  function chain(p, f) {
    return new NativePromise((resolve, reject) => {
      then(
        p,
        (value) => {
          let r;
          try {
            r = f(value);
          } catch (e) {
            reject(e);
            return;
          }
          if (r instanceof NativePromise) then(r, resolve, reject);
          else resolve(r);
        },
        reject
      );
    });
  }
  function rejected(e) {
    return NativePromise.reject(e);
  }

  // src/client.ts
  var ProtocolError = class extends Error {
    constructor(message, stream, code = null) {
      super(message);
      this.name = "ProtocolError";
      this.stream = stream;
      this.code = code;
    }
  };
  var DEFAULT_WINDOW = 1024 * 1024;
  var DEFAULT_MAX_STREAMS = 256;
  var PAGE_RESERVED_STREAMS = 16;
  var UPLOAD_CHUNK = 64 * 1024;
  var CARRY_OVER = UPLOAD_CHUNK;
  var MAX_U32 = 4294967295;
  var Stream = class {
    constructor(id, window, resolve, reject) {
      this.id = id;
      this.window = window;
      this.resolve = resolve;
      this.reject = reject;
      this.phase = "head";
      this.received = 0;
      /** ResponseEnd arrived. */
      this.ended = false;
      this.controller = null;
      /** Between the head and the response's publication (a microtask later): data so far. */
      this.early = null;
      /** Set when the stream ended (`true`) or failed (the reason) before its publication. */
      this.earlyEnd = null;
      this.status = 0;
      this.headers = [];
      /** Upload credit the bus has granted and we have not used yet. */
      this.uploadCredit = INITIAL_UPLOAD_WINDOW;
      /** Wakes the upload pump waiting for credit (or for the stream to close). */
      this.wake = null;
      this.detachAbort = () => {
      };
      /** Cancels a ReadableStream upload source, which may be waiting for its next chunk. */
      /** Cancels the request body's source (with the abort's reason, when there is one). */
      this.cancelSource = null;
      /** Upload progress hook (StreamInit.onupload) and body bytes sent so far. */
      this.onupload = null;
      /** StreamInit.lendBody. */
      this.lendBody = null;
      this.sent = 0;
      this.granted = window;
    }
  };
  Object.setPrototypeOf(Stream.prototype, null);
  var Relayed = class {
    constructor(peer, peerId) {
      this.peer = peer;
      this.peerId = peerId;
      /** The id in the page's session; 0 while waiting for a slot. */
      this.pageId = 0;
      /** Frames from the peer while waiting for a slot (the head first), in order. */
      this.queued = null;
    }
  };
  Object.setPrototypeOf(Relayed.prototype, null);
  var Peer = class {
    constructor(transport) {
      this.transport = transport;
      this.streams = /* @__PURE__ */ new Map();
      this.closed = false;
    }
  };
  Object.setPrototypeOf(Peer.prototype, null);
  var BusClient = class {
    constructor(transport, options = {}) {
      this.transport = transport;
      this.streams = /* @__PURE__ */ new Map();
      /** Lent bodies the carrier has not given back yet, by stream id (see `StreamInit.lendBody`). */
      this.lent = /* @__PURE__ */ new Map();
      /** Peers' streams open in the session, by their id in the session. */
      this.relayed = /* @__PURE__ */ new Map();
      this.peers = /* @__PURE__ */ new Set();
      /** Requests (ours and peers') waiting for a stream slot (beyond `maxStreams`), oldest first. */
      this.waiting = [];
      this.nextId = 1;
      this.isClosed = false;
      this.closeReason = void 0;
      /** Inbound messages handled so far (a request's timer can tell whether frames were pending). */
      this.messages = 0;
      this.onprotocolerror = options.onprotocolerror ?? null;
      const max = options.maxStreams ?? DEFAULT_MAX_STREAMS;
      if (!Number.isInteger(max) || max < 1) throw new RangeError("maxStreams must be a positive integer");
      this.maxStreams = max;
      this.peerSlots = max - Math.min(PAGE_RESERVED_STREAMS, Math.floor(max / 4));
      transport.onmessage = (bytes) => this.receive(bytes);
      transport.onreset = (reason) => this.reset(reason);
      transport.oncarryreturn = (id, body) => {
        const back = this.lent.get(id);
        if (back === void 0) {
          if (body !== null && typeof body === "object" && !ArrayBuffer.isView(body)) body.release();
          return;
        }
        this.lent.delete(id);
        back(body);
      };
      transport.oncarryerror = (id, reason) => {
        const s = this.streams.get(id);
        if (!s || s.phase === "closed") return;
        this.trySendFrame(s, { type: "Cancel", stream: id });
        this.fail(s, new TypeError(`request body could not be carried to the bus: ${reason}`));
      };
    }
    /** Inbound messages handled so far: it grows whenever the bus delivered anything. */
    get delivered() {
      return this.messages;
    }
    /** Requests waiting for one of the session's `maxStreams` streams to end. */
    get queuedStreams() {
      return this.waiting.length;
    }
    /**
     * Fails every open stream with `reason` (default: a TypeError saying the session was
     * reset) and keeps the client usable: the bus side has a new session and knows none of
     * them. Each gets a `Cancel` all the same (a new session ignores a cancel of a stream it
     * does not know): a reset the page's script made up, where the session lives on, must not
     * leave the bus's streams open, taking the session's stream slots.
     */
    reset(reason) {
      if (this.isClosed) return;
      const why = reason ?? new TypeError("the bus session was reset: open requests were dropped");
      for (const s of [...this.streams.values()]) {
        this.trySendFrame(s, { type: "Cancel", stream: s.id });
        this.fail(s, why);
      }
      this.endPeerStreams(messageOf(why), true);
    }
    /** Streams open now (waiting for or receiving their response). */
    get openStreams() {
      return this.streams.size;
    }
    /**
     * Sends a request and resolves with the response head once it arrives. Rejects with a
     * TypeError when the bus fails the stream (the message names the error code), or with
     * the signal's reason (an AbortError DOMException by default) when aborted; an abort
     * after the head errors the body the same way.
     */
    openStream(init) {
      try {
        return this.open(init);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    /**
     * Fails every open stream with `reason` (default: a TypeError) and refuses new ones.
     * Sends nothing: this is for when the transport is gone (page unload, bridge lost).
     */
    close(reason) {
      if (this.isClosed) return;
      this.isClosed = true;
      this.closeReason = reason ?? new TypeError("the bus connection is closed");
      this.endPeerStreams(messageOf(this.closeReason), false);
      for (const w of this.waiting.splice(0, this.waiting.length)) {
        w.detachAbort();
        w.reject(this.closeReason);
      }
      for (const s of [...this.streams.values()]) this.fail(s, this.closeReason);
      for (const back of this.lent.values()) back(null);
      this.lent.clear();
      for (const p of this.peers) {
        p.closed = true;
        p.transport.onmessage = null;
      }
      this.peers.clear();
    }
    /**
     * Relays another client's streams (a worker's, over a `MessagePort`) through this
     * client's session: the peer's frames go to the bus with their stream ids remapped into
     * this session's id space, and the bus's frames for them go back with the peer's ids.
     * Everything else passes unchanged, so bodies, credit, cancellation and server push work
     * as for the page's own requests, and the bus sees them as this session's (the caller
     * identity of the page, never more). The peer's streams count against `maxStreams`:
     * beyond it they wait, in order with the page's own. Frames the peer must not send
     * (bus-to-page types, stream 0, a bad version) are answered with an `Error` frame to the
     * peer and never reach the bus. The client takes over `transport.onmessage`.
     */
    attachPeer(transport) {
      if (this.isClosed) throw new TypeError("attachPeer: the bus connection is closed");
      const peer = new Peer(transport);
      this.peers.add(peer);
      transport.onmessage = (bytes) => this.fromPeer(peer, bytes);
      return bare({
        get openStreams() {
          let n = 0;
          for (const r of peer.streams.values()) if (r.pageId !== 0) n++;
          return n;
        },
        close: () => this.closePeer(peer)
      });
    }
    /** Peers' streams open in the session now (not those waiting for a slot). */
    get relayedStreams() {
      return this.relayed.size;
    }
    /** Handles one inbound message; installed as the transport's `onmessage`. */
    receive(bytes) {
      if (this.isClosed) return;
      this.messages++;
      if (this.relayed.size > 0 && this.toPeer(bytes)) return;
      let frame;
      try {
        frame = decode(bytes);
      } catch (e) {
        this.report(e instanceof DecodeError ? e : new ProtocolError(`cannot decode a frame: ${String(e)}`, 0));
        return;
      }
      try {
        this.dispatch(frame);
      } catch (e) {
        const s = this.streams.get(frame.stream);
        if (s) {
          this.trySendFrame(s, { type: "Cancel", stream: s.id });
          this.fail(s, internalError(e));
        }
      }
    }
    // -------------------------------------------------------------------------------------
    open(init) {
      if (this.isClosed) return Promise.reject(this.closeReason);
      const { method, uri, signal } = init;
      if (typeof method !== "string") throw new TypeError("method must be a string");
      if (typeof uri !== "string") throw new TypeError("uri must be a string");
      const window = init.window ?? DEFAULT_WINDOW;
      if (!Number.isInteger(window) || window < 1 || window > MAX_U32) {
        throw new RangeError(`window must be an integer from 1 to ${MAX_U32}`);
      }
      const headers = normalizeHeaders(init.headers);
      const body = init.body ?? null;
      if (body !== null && !(body instanceof Uint8Array) && !isReadableStream(body) && !isAsyncIterable(body)) {
        throw new TypeError("body must be a Uint8Array, a ReadableStream or an async iterable of Uint8Array");
      }
      const endStream = body === null || body instanceof Uint8Array && body.byteLength === 0;
      if (signal?.aborted) return Promise.reject(abortReason(signal));
      const stop = init.stop ?? null;
      if (stop?.aborted) return Promise.reject(abortReason(stop));
      const start = {
        method,
        uri,
        headers,
        body,
        endStream,
        window,
        signal: signal ?? null,
        stop,
        onupload: init.onupload ?? null,
        lendBody: init.lendBody ?? null
      };
      if (this.hasSlot() && !this.waiting.some((w) => w.relay === null || this.canStart(w))) {
        return this.start(start);
      }
      return new Promise((resolve, reject) => {
        const w = { start, relay: null, resolve, reject, detachAbort: () => {
        } };
        w.detachAbort = onAborts(signal ?? null, stop, (reason) => {
          const at = this.waiting.indexOf(w);
          if (at >= 0) this.waiting.splice(at, 1);
          cancelBody(start.body, reason);
          reject(reason);
        });
        this.waiting.push(w);
      });
    }
    /** Opens a stream now (a slot is free). */
    start(init) {
      const { method, uri, headers, body, endStream, window, signal } = init;
      const id = this.allocateId();
      let head;
      try {
        head = encode({ type: "RequestHead", stream: id, method, uri, headers, endStream, window });
      } catch (e) {
        const tooLarge = headTooLarge(e, uri, headers);
        if (tooLarge) return Promise.resolve(tooLarge);
        throw e;
      }
      let s;
      const response = new Promise((resolve, reject) => {
        s = new Stream(id, window, resolve, reject);
      });
      this.streams.set(id, s);
      if (!this.trySend(s, head)) return response;
      s.detachAbort = onAborts(signal, init.stop, (reason) => this.abort(s, reason));
      if (init.onupload) s.onupload = init.onupload;
      if (init.lendBody) s.lendBody = init.lendBody;
      if (!endStream && body !== null) void this.upload(s, body);
      return response;
    }
    /** Starts waiting requests while slots are free (called when a stream ends). */
    pump() {
      for (let i = 0; i < this.waiting.length && this.hasSlot() && !this.isClosed; ) {
        const w = this.waiting[i];
        if (!this.canStart(w)) {
          i++;
          continue;
        }
        this.waiting.splice(i, 1);
        w.detachAbort();
        if (w.relay !== null) {
          this.startRelay(w.relay);
          continue;
        }
        const start = w.start;
        const aborted = start.signal?.aborted ? start.signal : start.stop?.aborted ? start.stop : null;
        if (aborted) {
          const reason = abortReason(aborted);
          cancelBody(start.body, reason);
          w.reject(reason);
          continue;
        }
        let p;
        try {
          p = this.start(w.start);
        } catch (e) {
          w.reject(e);
          continue;
        }
        then(p, w.resolve, w.reject);
      }
    }
    allocateId() {
      for (; ; ) {
        const id = this.nextId;
        this.nextId = id >= MAX_U32 ? 1 : id + 1;
        if (!this.streams.has(id) && !this.relayed.has(id) && !this.lent.has(id)) return id;
      }
    }
    hasSlot() {
      return this.streams.size + this.relayed.size < this.maxStreams;
    }
    /** A slot is free and the peers hold fewer than theirs. */
    hasPeerSlot() {
      return this.hasSlot() && this.relayed.size < this.peerSlots;
    }
    /** Whether a waiting request (the page's or a peer's) could start now. */
    canStart(w) {
      return w.relay === null ? this.hasSlot() : this.hasPeerSlot();
    }
    // --- relaying a peer's streams (attachPeer) ------------------------------------------
    /** A frame from a peer: checked just enough to route it, remapped, sent to the bus. */
    fromPeer(peer, bytes) {
      if (this.isClosed || peer.closed) return;
      if (!(bytes instanceof Uint8Array) || bytes.byteLength < 9) {
        this.errorToPeer(peer, SESSION_STREAM, ErrorCode.Malformed, "malformed frame: shorter than a stream frame");
        return;
      }
      if (bytes.byteLength > MAX_FRAME) {
        this.errorToPeer(peer, SESSION_STREAM, ErrorCode.FrameTooLarge, `frame of ${bytes.byteLength} bytes is over the limit`);
        return;
      }
      if (bytes[0] !== VERSION) {
        this.errorToPeer(peer, SESSION_STREAM, ErrorCode.UnsupportedVersion, `unsupported protocol version ${bytes[0]}`);
        return;
      }
      const type = readU32(bytes, 1);
      const id = readU32(bytes, 5);
      if (id === SESSION_STREAM) {
        this.errorToPeer(peer, SESSION_STREAM, ErrorCode.Protocol, "stream 0 is reserved for the session");
        return;
      }
      const r = peer.streams.get(id);
      switch (type) {
        case 0: {
          if (r) {
            this.endRelay(r, true);
            this.errorToPeer(peer, id, ErrorCode.StreamIdInUse, `stream ${id} is already open`);
            return;
          }
          const fresh = new Relayed(peer, id);
          peer.streams.set(id, fresh);
          fresh.queued = [bytes];
          if (this.hasPeerSlot() && this.waiting.length === 0) this.startRelay(fresh);
          else this.waiting.push({ start: null, relay: fresh, resolve: () => {
          }, reject: () => {
          }, detachAbort: () => {
          } });
          return;
        }
        case 1:
        // RequestData
        case 2:
        // RequestEnd
        case 7:
          if (!r) return;
          if (r.queued !== null) r.queued.push(bytes);
          else this.forward(r, bytes);
          return;
        case 6:
          if (!r) return;
          this.endRelay(r, true);
          return;
        default: {
          const name = FRAME_TYPES[type];
          if (name === void 0) {
            this.errorToPeer(peer, SESSION_STREAM, ErrorCode.Malformed, `malformed frame: unknown frame type ${type}`);
          } else {
            this.errorToPeer(peer, id, ErrorCode.Protocol, `${name} frames go from the bus to the page, not back`);
          }
        }
      }
    }
    /** Gives a waiting peer stream its id in the session and sends what it has queued. */
    startRelay(r) {
      const queued = r.queued;
      if (queued === null || r.peer.closed || r.peer.streams.get(r.peerId) !== r) return;
      r.queued = null;
      r.pageId = this.allocateId();
      this.relayed.set(r.pageId, r);
      for (let i = 0; i < queued.length && r.pageId !== 0; i++) this.forward(r, queued[i]);
    }
    /** Sends a peer's frame to the bus under the stream's id in the session. */
    forward(r, bytes) {
      writeU32(bytes, 5, r.pageId);
      try {
        this.transport.send(bytes);
      } catch (e) {
        this.endRelay(r, false);
        this.errorToPeer(r.peer, r.peerId, ErrorCode.Internal, `the bus transport failed: ${String(e)}`);
      }
    }
    /**
     * A bus frame for a peer's stream goes back to the peer under its own id; true when the
     * frame was one (it is then not the client's to decode).
     */
    toPeer(bytes) {
      if (bytes.byteLength < 9 || bytes[0] !== VERSION) return false;
      const r = this.relayed.get(readU32(bytes, 5));
      if (!r) return false;
      const type = readU32(bytes, 1);
      if (type !== 3 && type !== 4 && type !== 5 && type !== 7 && type !== 8 && type !== 9) return false;
      writeU32(bytes, 5, r.peerId);
      if (type === 5 || type === 8 || type === 9) this.endRelay(r, false);
      this.sendToPeer(r.peer, bytes);
      return true;
    }
    /** Forgets a peer's stream (freeing its slot); `cancel` tells the bus to drop it too. */
    endRelay(r, cancel) {
      if (r.peer.streams.get(r.peerId) === r) r.peer.streams.delete(r.peerId);
      if (r.queued !== null) {
        r.queued = null;
        const at = this.waiting.findIndex((w) => w.relay === r);
        if (at >= 0) this.waiting.splice(at, 1);
        return;
      }
      if (r.pageId === 0 || this.relayed.get(r.pageId) !== r) return;
      const pageId = r.pageId;
      this.relayed.delete(pageId);
      r.pageId = 0;
      if (cancel) {
        try {
          this.transport.send(encode({ type: "Cancel", stream: pageId }));
        } catch {
        }
      }
      if (this.waiting.length > 0) enqueueMicrotask(() => this.pump());
    }
    closePeer(peer) {
      if (peer.closed) return;
      peer.closed = true;
      peer.transport.onmessage = null;
      this.peers.delete(peer);
      for (const r of [...peer.streams.values()]) this.endRelay(r, !this.isClosed);
    }
    /** Fails every peer stream (the session is gone): an Error frame to each peer for each. */
    /** Ends every peer's stream with `message`; `cancel`: a Cancel for each goes to the bus. */
    endPeerStreams(message, cancel) {
      for (const peer of this.peers) {
        for (const r of [...peer.streams.values()]) {
          this.endRelay(r, cancel);
          this.errorToPeer(peer, r.peerId, ErrorCode.Shutdown, message);
        }
      }
    }
    errorToPeer(peer, stream, code, message) {
      this.sendToPeer(peer, encode({ type: "Error", stream, code, message }));
    }
    sendToPeer(peer, bytes) {
      if (peer.closed) return;
      try {
        peer.transport.send(bytes);
      } catch {
        this.closePeer(peer);
      }
    }
    dispatch(frame) {
      if (frame.type === "Error" && frame.stream === SESSION_STREAM) {
        this.report(
          new ProtocolError(
            `bus session error ${errorCodeName(frame.code)} (${frame.code}): ${frame.message}`,
            SESSION_STREAM,
            frame.code
          )
        );
        return;
      }
      const s = this.streams.get(frame.stream);
      switch (frame.type) {
        case "ResponseHead":
          if (!s) return;
          if (s.phase !== "head") return this.violation(s, "a second ResponseHead");
          this.onHead(s, frame.status, frame.headers);
          return;
        case "ResponseData":
          if (!s) return;
          if (s.phase !== "body") return this.violation(s, "ResponseData before ResponseHead");
          this.onData(s, frame.data);
          return;
        case "ResponseEnd":
          if (!s) return;
          if (s.phase !== "body") return this.violation(s, "ResponseEnd before ResponseHead");
          this.onEnd(s);
          return;
        case "Response":
          if (!s) return;
          if (s.phase !== "head") return this.violation(s, "a Response after ResponseHead");
          this.onHead(s, frame.status, frame.headers);
          this.onData(s, frame.data);
          if (s.phase === "body") this.onEnd(s);
          return;
        case "Credit":
          if (!s) return;
          s.uploadCredit = Math.min(s.uploadCredit + frame.bytes, Number.MAX_SAFE_INTEGER);
          s.wake?.();
          return;
        case "Error":
          if (!s) return;
          this.trySendFrame(s, { type: "Cancel", stream: s.id });
          this.fail(s, new TypeError(`bus stream ${s.id} failed: ${errorCodeName(frame.code)} (${frame.code}): ${frame.message}`));
          return;
        default:
          this.report(new ProtocolError(`${frame.type} frames go from the page to the bus, not back`, frame.stream));
          return;
      }
    }
    /**
     * The response is published a microtask after its head: a transport delivers a batch of
     * frames synchronously, so a small response's data and end are in by then and its body
     * can be handed over whole, without a stream.
     */
    onHead(s, status, headers) {
      s.phase = "body";
      s.status = status;
      s.headers = headers;
      s.early = [];
      enqueueMicrotask(() => this.publish(s));
    }
    publish(s) {
      try {
        this.publishNow(s);
      } catch (e) {
        if (s.phase !== "closed") {
          this.trySendFrame(s, { type: "Cancel", stream: s.id });
          this.finish(s);
        }
        s.reject(internalError(e));
      }
    }
    publishNow(s) {
      if (s.early === null) return;
      const early = s.early;
      const end = s.earlyEnd;
      s.early = null;
      s.earlyEnd = null;
      if (end === true) {
        const complete = concat(early);
        let body2 = null;
        s.resolve(
          bare({
            status: s.status,
            headers: s.headers,
            complete,
            get body() {
              body2 ?? (body2 = bytesStream(complete));
              return body2;
            }
          })
        );
        return;
      }
      const body = new ReadableStream(
        bare({
          start: (controller) => {
            s.controller = controller;
            for (let i = 0; i < early.length; i++) controller.enqueue(early[i]);
            if (end) controller.error(end.error);
          },
          // Called whenever the queue has room (after the consumer reads, or a chunk arrives).
          pull: () => this.grant(s),
          cancel: () => {
            if (s.phase === "closed") return;
            this.finish(s);
            this.trySendFrame(s, { type: "Cancel", stream: s.id });
          }
        }),
        // The queue is the window: it holds at most what we granted and the consumer has not read.
        bare({ highWaterMark: s.window, size: (chunk) => chunk.byteLength })
      );
      const progress = () => bare({ received: s.received, ended: s.ended });
      s.resolve(bare({ status: s.status, headers: s.headers, body, complete: null, progress }));
    }
    onEnd(s) {
      s.ended = true;
      this.finish(s);
      if (s.early) s.earlyEnd = true;
      else s.controller?.close();
    }
    onData(s, data) {
      s.received += data.byteLength;
      if (s.received > s.granted) {
        this.violation(s, `ResponseData beyond credit (${s.received} bytes received, ${s.granted} granted)`);
        return;
      }
      if (data.byteLength === 0) return;
      if (s.early) s.early.push(data);
      else s.controller?.enqueue(data);
    }
    /**
     * Grants the bus credit for the queue room the consumer has freed, so that granted but
     * unreceived bytes plus queued bytes never exceed the window. Grants in steps of at least
     * a quarter window to avoid a Credit frame per small read; this cannot stall: below that
     * step, the bus still holds over three quarters of a window of credit.
     */
    grant(s) {
      if (s.phase !== "body" || !s.controller) return;
      const room = s.controller.desiredSize ?? 0;
      const inFlight = s.granted - s.received;
      const bytes = room - inFlight;
      if (bytes < Math.max(1, Math.ceil(s.window / 4))) return;
      s.granted += bytes;
      this.trySendFrame(s, { type: "Credit", stream: s.id, bytes });
    }
    /** Sends the request body within the upload credit, then RequestEnd. */
    async upload(s, body) {
      const carry = this.transport.sendBody;
      const lend = s.lendBody;
      const length = body instanceof Uint8Array ? body.byteLength : 0;
      if (body instanceof Uint8Array && length > CARRY_OVER && carry && carry(s.id, body, lend !== null)) {
        if (lend !== null && body.byteLength === 0) lend(new Promise((resolve) => this.lent.set(s.id, resolve)));
        s.sent = length;
        this.progress(s, true);
        return;
      }
      try {
        for await (const chunk of chunksOf(body, s)) {
          if (!(chunk instanceof Uint8Array)) throw new TypeError("request body chunks must be Uint8Array");
          let offset = 0;
          while (offset < chunk.byteLength) {
            if (!await this.uploadCredit(s)) return;
            const n = Math.min(chunk.byteLength - offset, s.uploadCredit, UPLOAD_CHUNK);
            const data = chunk.subarray(offset, offset + n);
            if (!this.trySendFrame(s, { type: "RequestData", stream: s.id, data })) return;
            s.uploadCredit -= n;
            offset += n;
            s.sent += n;
            this.progress(s, false);
          }
        }
        if (s.phase !== "closed" && this.trySendFrame(s, { type: "RequestEnd", stream: s.id })) this.progress(s, true);
      } catch (e) {
        if (s.phase === "closed") return;
        this.trySendFrame(s, { type: "Cancel", stream: s.id });
        const aborted = e instanceof DOMException && e.name === "AbortError";
        this.fail(s, aborted ? e : new TypeError(`request body failed: ${String(e)}`, { cause: e }));
      }
    }
    progress(s, done) {
      const hook = s.onupload;
      if (!hook) return;
      try {
        hook(s.sent, done);
      } catch (e) {
        enqueueMicrotask(() => {
          throw e;
        });
      }
    }
    /** Resolves true once there is upload credit, false if the stream closes first. */
    async uploadCredit(s) {
      while (s.phase !== "closed" && s.uploadCredit <= 0) {
        await new Promise((resolve) => {
          s.wake = resolve;
        });
        s.wake = null;
      }
      return s.phase !== "closed";
    }
    abort(s, reason) {
      if (s.phase === "closed") return;
      this.trySendFrame(s, { type: "Cancel", stream: s.id });
      if (s.early !== null) {
        s.early = null;
        s.earlyEnd = null;
        this.finish(s, reason);
        s.reject(reason);
        return;
      }
      this.fail(s, reason);
    }
    /** The bus broke the protocol on this stream: report it, cancel and fail the stream. */
    violation(s, what) {
      const message = `bus protocol violation on stream ${s.id}: ${what}`;
      this.report(new ProtocolError(message, s.id));
      this.abort(s, new TypeError(message));
    }
    /** Closes the stream locally and delivers `reason` to whoever waits on it. */
    fail(s, reason) {
      const phase = s.phase;
      if (phase === "closed") return;
      this.finish(s, reason);
      if (phase === "head") s.reject(reason);
      else if (s.early) s.earlyEnd = { error: reason };
      else s.controller?.error(reason);
    }
    /**
     * Marks the stream closed: forgets it (its id may be reused) and stops its upload, whose
     * source is cancelled with `reason` (an abort's, a failure's) when there is one.
     */
    finish(s, reason) {
      s.phase = "closed";
      this.streams.delete(s.id);
      s.detachAbort();
      s.wake?.();
      s.cancelSource?.(reason);
      if (this.waiting.length > 0) enqueueMicrotask(() => this.pump());
    }
    trySendFrame(s, frame) {
      let bytes;
      try {
        bytes = encode(frame);
      } catch (e) {
        this.fail(s, new TypeError(`cannot encode ${frame.type}: ${String(e)}`, { cause: e }));
        return false;
      }
      return this.trySend(s, bytes);
    }
    /** Sends, failing the stream (locally: the transport is what broke) if the transport throws. */
    trySend(s, bytes) {
      try {
        this.transport.send(bytes);
        return true;
      } catch (e) {
        this.fail(s, new TypeError(`the bus transport failed: ${String(e)}`, { cause: e }));
        return false;
      }
    }
    report(error) {
      const hook = this.onprotocolerror;
      if (!hook) return;
      try {
        hook(error);
      } catch (e) {
        enqueueMicrotask(() => {
          throw e;
        });
      }
    }
  };
  function normalizeHeaders(headers) {
    const out = [];
    if (headers == null) return out;
    const add = (pair) => {
      const name = pair[0];
      const value = pair[1];
      if (typeof name !== "string") throw new TypeError("header names must be strings");
      const bytes = typeof value === "string" ? byteString(value, name) : value;
      checkHeaderValue(name, bytes);
      out.push([asciiLowerCase(name), bytes]);
    };
    if (Array.isArray(headers)) for (let i = 0; i < headers.length; i++) add(headers[i]);
    else for (const pair of headers) add(pair);
    return out;
  }
  function checkHeaderValue(name, value) {
    for (let i = 0; i < value.length; i++) {
      const b = value[i];
      if (b < 32 && b !== 9 || b === 127) {
        throw new TypeError(
          `the value of header ${JSON.stringify(name)} has the control character U+${b.toString(16).toUpperCase().padStart(4, "0")}, which the bus cannot carry (http::HeaderValue refuses it)`
        );
      }
    }
  }
  function localAnswer(status, message) {
    const bytes = new TextEncoder().encode(`${message}
`);
    let body = null;
    return bare({
      status,
      headers: [
        ["content-type", new TextEncoder().encode("text/plain; charset=utf-8")],
        ["content-length", new TextEncoder().encode(String(bytes.byteLength))]
      ],
      complete: bytes,
      get body() {
        body ?? (body = bytesStream(bytes));
        return body;
      }
    });
  }
  function headTooLarge(e, uri, headers) {
    if (!(e instanceof RangeError) || !/over MAX_FRAME/.test(e.message)) return null;
    let size = 0;
    for (let i = 0; i < headers.length; i++) size += headers[i][0].length + headers[i][1].byteLength;
    if (uri.length >= size) {
      return localAnswer(414, `URI of ${uri.length} characters is too long for the bus (a request head is at most ${MAX_FRAME} bytes)`);
    }
    return localAnswer(431, `request headers of ${size} bytes are too large for the bus (a request head is at most ${MAX_FRAME} bytes)`);
  }
  function bytesStream(bytes) {
    return new ReadableStream(
      bare({
        start: (controller) => {
          if (bytes.byteLength > 0) controller.enqueue(bytes);
          controller.close();
        }
      })
    );
  }
  function internalError(e) {
    return new TypeError(`the bus request failed inside the shim: ${String(e)}`, bare({ cause: e }));
  }
  function onAborts(a, b, abort) {
    if (a === null && b === null) return () => {
    };
    const onA = () => abort(abortReason(a));
    const onB = () => abort(abortReason(b));
    a?.addEventListener("abort", onA, ONCE);
    b?.addEventListener("abort", onB, ONCE);
    return () => {
      a?.removeEventListener("abort", onA);
      b?.removeEventListener("abort", onB);
    };
  }
  var ONCE = bare({ once: true });
  function asciiLowerCase(s) {
    return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
  }
  function byteString(value, name) {
    const out = new Uint8Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c > 255) throw new TypeError(`value of header ${name} has a character above U+00FF`);
      out[i] = c;
    }
    return out;
  }
  function cancelBody(body, reason) {
    if (isReadableStream(body)) cancelStream(body, reason);
  }
  function abortReason(signal) {
    const reason = signal.reason;
    return reason !== void 0 ? reason : new DOMException("The operation was aborted.", "AbortError");
  }
  function isReadableStream(x) {
    return typeof ReadableStream !== "undefined" && x instanceof ReadableStream;
  }
  function isAsyncIterable(x) {
    return typeof x === "object" && x !== null && typeof x[Symbol.asyncIterator] === "function";
  }
  async function* chunksOf(body, s) {
    if (body instanceof Uint8Array) {
      yield body;
    } else if (isReadableStream(body)) {
      const reader = getReader(body);
      let done = false;
      s.cancelSource = (reason) => cancelReader(reader, reason);
      try {
        for (; ; ) {
          const next = await read(reader);
          if (next.done) {
            done = true;
            return;
          }
          yield next.value;
        }
      } finally {
        s.cancelSource = null;
        if (!done) cancelReader(reader);
      }
    } else {
      yield* body;
    }
  }
  function messageOf(reason) {
    return reason instanceof Error ? reason.message : String(reason);
  }
  function readU32(bytes, at) {
    return (bytes[at] | bytes[at + 1] << 8 | bytes[at + 2] << 16 | bytes[at + 3] << 24) >>> 0;
  }
  function writeU32(bytes, at, value) {
    bytes[at] = value & 255;
    bytes[at + 1] = value >>> 8 & 255;
    bytes[at + 2] = value >>> 16 & 255;
    bytes[at + 3] = value >>> 24 & 255;
  }
  function concat(chunks) {
    if (chunks.length === 1) return chunks[0];
    let n = 0;
    for (const c of chunks) n += c.byteLength;
    const out = new Uint8Array(n);
    let offset = 0;
    for (const c of chunks) {
      out.set(c, offset);
      offset += c.byteLength;
    }
    return out;
  }

  // src/base64.ts
  var ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  var ENCODE = new Uint8Array(64);
  var DECODE = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) {
    ENCODE[i] = ALPHABET.charCodeAt(i);
    DECODE[ALPHABET.charCodeAt(i)] = i;
  }
  var WHITESPACE = /[\t\n\f\r ]/;
  var WHITESPACE_ALL = /[\t\n\f\r ]+/g;
  function toBase64(bytes) {
    const native = bytes.toBase64;
    return typeof native === "function" ? native.call(bytes) : fallbackToBase64(bytes);
  }
  function fromBase64(s) {
    const native = Uint8Array.fromBase64;
    return typeof native === "function" ? native(s) : fallbackFromBase64(s);
  }
  function fallbackToBase64(bytes) {
    const n = bytes.length;
    const out = new Uint8Array(Math.ceil(n / 3) * 4);
    let o = 0;
    let i = 0;
    for (; i + 2 < n; i += 3) {
      const v = bytes[i] << 16 | bytes[i + 1] << 8 | bytes[i + 2];
      out[o++] = ENCODE[v >>> 18];
      out[o++] = ENCODE[v >>> 12 & 63];
      out[o++] = ENCODE[v >>> 6 & 63];
      out[o++] = ENCODE[v & 63];
    }
    if (i < n) {
      const two = i + 1 < n;
      const v = bytes[i] << 16 | (two ? bytes[i + 1] << 8 : 0);
      out[o++] = ENCODE[v >>> 18];
      out[o++] = ENCODE[v >>> 12 & 63];
      out[o++] = two ? ENCODE[v >>> 6 & 63] : 61;
      out[o++] = 61;
    }
    return asciiDecoder().decode(out);
  }
  function fallbackFromBase64(input) {
    const s = WHITESPACE.test(input) ? input.replace(WHITESPACE_ALL, "") : input;
    let len = s.length;
    if (len > 0 && s.charCodeAt(len - 1) === 61) {
      if (len % 4 !== 0) throw new SyntaxError("invalid base64: incomplete padding");
      len--;
      if (s.charCodeAt(len - 1) === 61) len--;
    }
    const rest = len % 4;
    if (rest === 1) throw new SyntaxError("invalid base64: a lone trailing character");
    const out = new Uint8Array((len >> 2) * 3 + (rest === 0 ? 0 : rest - 1));
    let o = 0;
    let i = 0;
    const sextet = (at) => {
      const c = s.charCodeAt(at);
      const v = c < 128 ? DECODE[c] : -1;
      if (v < 0) throw new SyntaxError(`invalid base64: unexpected character at ${at}`);
      return v;
    };
    for (const whole = len - rest; i < whole; i += 4) {
      const v = sextet(i) << 18 | sextet(i + 1) << 12 | sextet(i + 2) << 6 | sextet(i + 3);
      out[o++] = v >>> 16;
      out[o++] = v >>> 8 & 255;
      out[o++] = v & 255;
    }
    if (rest > 0) {
      const v = sextet(i) << 18 | sextet(i + 1) << 12 | (rest === 3 ? sextet(i + 2) << 6 : 0);
      out[o++] = v >>> 16;
      if (rest === 3) out[o++] = v >>> 8 & 255;
    }
    return out;
  }
  var decoder = null;
  function asciiDecoder() {
    return decoder ?? (decoder = new TextDecoder());
  }

  // src/http.ts
  var TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  var BAD_VALUE = /[\0\r\n]|[^\0-\u00ff]/;
  var HTTP_WS_EDGES = /^[\t\n\r ]+|[\t\n\r ]+$/g;
  function isToken(s) {
    return TOKEN.test(s);
  }
  function normalizeHeaderValue(value) {
    return value.replace(HTTP_WS_EDGES, "");
  }
  function isHeaderValue(value) {
    return !BAD_VALUE.test(value);
  }
  function lower(s) {
    return s.replace(/[A-Z]+/g, (c) => c.toLowerCase());
  }
  var FORBIDDEN_HEADERS = /* @__PURE__ */ new Set([
    "accept-charset",
    "accept-encoding",
    "access-control-request-headers",
    "access-control-request-method",
    "connection",
    "content-length",
    "cookie",
    "cookie2",
    "date",
    "dnt",
    "expect",
    "host",
    "keep-alive",
    "origin",
    "referer",
    "set-cookie",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via"
  ]);
  var METHOD_OVERRIDE = /* @__PURE__ */ new Set(["x-http-method", "x-http-method-override", "x-method-override"]);
  function isForbiddenRequestHeader(name, value) {
    const n = lower(name);
    if (FORBIDDEN_HEADERS.has(n) || n.startsWith("proxy-") || n.startsWith("sec-")) return true;
    if (METHOD_OVERRIDE.has(n)) {
      return value.split(",").some((m) => isForbiddenMethod(normalizeHeaderValue(m)));
    }
    return false;
  }
  function isForbiddenMethod(method) {
    const m = method.toUpperCase();
    return m === "CONNECT" || m === "TRACE" || m === "TRACK";
  }
  var NORMALIZED_METHODS = /* @__PURE__ */ new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);
  function normalizeMethod(method) {
    const upper = method.toUpperCase();
    return NORMALIZED_METHODS.has(upper) ? upper : method;
  }
  var REQUEST_BODY_HEADERS = ["content-encoding", "content-language", "content-location", "content-type"];
  var NULL_BODY_STATUSES = /* @__PURE__ */ new Set([101, 103, 204, 205, 304]);
  var REDIRECT_STATUSES = /* @__PURE__ */ new Set([301, 302, 303, 307, 308]);
  var REASONS = {
    100: "Continue",
    101: "Switching Protocols",
    102: "Processing",
    103: "Early Hints",
    200: "OK",
    201: "Created",
    202: "Accepted",
    203: "Non Authoritative Information",
    204: "No Content",
    205: "Reset Content",
    206: "Partial Content",
    207: "Multi-Status",
    208: "Already Reported",
    226: "IM Used",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    305: "Use Proxy",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    409: "Conflict",
    410: "Gone",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Payload Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    416: "Range Not Satisfiable",
    417: "Expectation Failed",
    418: "I'm a teapot",
    421: "Misdirected Request",
    422: "Unprocessable Entity",
    423: "Locked",
    424: "Failed Dependency",
    426: "Upgrade Required",
    428: "Precondition Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    451: "Unavailable For Legal Reasons",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates",
    507: "Insufficient Storage",
    508: "Loop Detected",
    510: "Not Extended",
    511: "Network Authentication Required"
  };
  function statusText(status) {
    return REASONS[status] ?? "";
  }
  function getHeader(headers, name) {
    const n = lower(name);
    let out = null;
    for (let i = 0; i < headers.length; i++) {
      const pair = headers[i];
      if (lower(pair[0]) !== n) continue;
      out = out === null ? pair[1] : `${out}, ${pair[1]}`;
    }
    return out;
  }
  function hasHeader(headers, name) {
    const n = lower(name);
    for (let i = 0; i < headers.length; i++) if (lower(headers[i][0]) === n) return true;
    return false;
  }
  function removeHeaders(headers, names) {
    const drop = /* @__PURE__ */ new Set();
    for (let i = 0; i < names.length; i++) drop.add(lower(names[i]));
    return headers.filter((pair) => !drop.has(lower(pair[0])));
  }
  function extractLength(headers) {
    const v = getHeader(headers, "content-length");
    if (v === null) return null;
    let candidate = null;
    for (const part of v.split(",")) {
      const p = normalizeHeaderValue(part);
      if (candidate !== null && candidate !== p) return null;
      candidate = p;
    }
    return candidate !== null && /^[0-9]+$/.test(candidate) ? Number(candidate) : null;
  }
  function parseMimeType(input) {
    const s = normalizeHeaderValue(input);
    const slash = s.indexOf("/");
    if (slash < 0) return null;
    const type = s.slice(0, slash);
    let semi = s.indexOf(";", slash);
    if (semi < 0) semi = s.length;
    const subtype = s.slice(slash + 1, semi).replace(/[\t\n\r ]+$/, "");
    if (!isToken(type) || !isToken(subtype)) return null;
    const parameters = /* @__PURE__ */ new Map();
    let i = semi;
    while (i < s.length) {
      i++;
      while (i < s.length && /[\t\n\r ]/.test(s[i])) i++;
      let end = i;
      while (end < s.length && s[end] !== ";" && s[end] !== "=") end++;
      const name = lower(s.slice(i, end));
      i = end;
      if (i >= s.length) break;
      if (s[i] === ";") continue;
      i++;
      let value;
      if (s[i] === '"') {
        value = "";
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === "\\" && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        while (i < s.length && s[i] !== ";") i++;
      } else {
        end = s.indexOf(";", i);
        if (end < 0) end = s.length;
        value = s.slice(i, end).replace(/[\t\n\r ]+$/, "");
        i = end;
        if (value === "") continue;
      }
      if (name !== "" && isToken(name) && /^[\t\u0020-\u007E\u0080-\u00FF]*$/.test(value) && !parameters.has(name)) parameters.set(name, value);
    }
    return { type: lower(type), subtype: lower(subtype), essence: `${lower(type)}/${lower(subtype)}`, parameters };
  }
  function serializeMimeType(m) {
    let out = m.essence;
    m.parameters.forEach((v, k) => {
      out += `;${k}=${isToken(v) && v !== "" ? v : `"${v.replace(/(["\\])/g, "\\$1")}"`}`;
    });
    return out;
  }
  function extractMimeType(headers) {
    const v = getHeader(headers, "content-type");
    if (v === null) return null;
    let charset = null;
    let essence = null;
    let mime = null;
    for (const part of splitHeaderList(v)) {
      const m = parseMimeType(part);
      if (!m || m.essence === "*/*") continue;
      mime = m;
      if (m.essence !== essence) {
        charset = m.parameters.get("charset") ?? null;
        essence = m.essence;
      } else if (!m.parameters.has("charset") && charset !== null) {
        m.parameters.set("charset", charset);
      }
    }
    return mime;
  }
  function splitHeaderList(v) {
    const out = [];
    let cur = "";
    let quoted = false;
    for (let i = 0; i < v.length; i++) {
      const c = v[i];
      if (quoted) {
        if (c === "\\" && i + 1 < v.length) {
          cur += c + v[++i];
          continue;
        }
        if (c === '"') quoted = false;
      } else if (c === '"') {
        quoted = true;
      } else if (c === ",") {
        out.push(normalizeHeaderValue(cur));
        cur = "";
        continue;
      }
      cur += c;
    }
    out.push(normalizeHeaderValue(cur));
    return out;
  }
  function isXmlMime(m) {
    return m.subtype.endsWith("+xml") || m.essence === "text/xml" || m.essence === "application/xml";
  }
  function isHtmlMime(m) {
    return m.essence === "text/html";
  }
  function latin1(bytes) {
    let out = "";
    for (let i = 0; i < bytes.length; i += 32768) {
      out += String.fromCharCode.apply(null, bytes.subarray(i, i + 32768));
    }
    return out;
  }
  function originOf(url) {
    return `${url.protocol}//${lower(url.host)}`;
  }
  function wireUrl(url) {
    return `${url.protocol}//${url.host}${url.pathname}${url.search}`;
  }
  function withoutFragment(url) {
    const u = new URL(url.href);
    u.hash = "";
    return u.href;
  }
  function abortReason2(signal) {
    const reason = signal.reason;
    return reason !== void 0 ? reason : new DOMException("The operation was aborted.", "AbortError");
  }
  function isReadableStream2(x) {
    return typeof ReadableStream !== "undefined" && x instanceof ReadableStream;
  }
  function isBlob(x) {
    return typeof Blob !== "undefined" && x instanceof Blob;
  }
  function isFormData(x) {
    return typeof FormData !== "undefined" && x instanceof FormData;
  }
  function isUrlSearchParams(x) {
    return typeof URLSearchParams !== "undefined" && x instanceof URLSearchParams;
  }
  function isBufferSource(x) {
    return ArrayBuffer.isView(x) || arrayBufferSize(x) !== null || isSharedArrayBuffer(x);
  }
  function isSharedArrayBuffer(x) {
    if (sharedByteLength === void 0) return false;
    try {
      Reflect.apply(sharedByteLength, x, []);
      return true;
    } catch (_) {
      return false;
    }
  }
  var getterOf = (o, name) => o === void 0 ? void 0 : Object.getOwnPropertyDescriptor(o, name)?.get;
  var arrayBufferByteLength = getterOf(ArrayBuffer.prototype, "byteLength");
  var arrayBufferResizable = getterOf(ArrayBuffer.prototype, "resizable");
  var arrayBufferDetached = getterOf(ArrayBuffer.prototype, "detached");
  var sharedByteLength = typeof SharedArrayBuffer !== "undefined" ? getterOf(SharedArrayBuffer.prototype, "byteLength") : void 0;
  var typedArrayBuffer = getterOf(Object.getPrototypeOf(Uint8Array.prototype), "buffer");
  var dataViewBuffer = getterOf(DataView.prototype, "buffer");
  var typedArraySlice = Object.getPrototypeOf(Uint8Array.prototype).slice;
  function arrayBufferSize(x) {
    try {
      return Reflect.apply(arrayBufferByteLength, x, []);
    } catch (_) {
      return null;
    }
  }
  function arrayBufferFlags(buffer) {
    return {
      resizable: arrayBufferResizable !== void 0 && Reflect.apply(arrayBufferResizable, buffer, []) === true,
      detached: arrayBufferDetached !== void 0 && Reflect.apply(arrayBufferDetached, buffer, []) === true
    };
  }
  function viewBuffer(view) {
    try {
      return Reflect.apply(typedArrayBuffer, view, []);
    } catch (_) {
      try {
        return Reflect.apply(dataViewBuffer, view, []);
      } catch (_2) {
        return null;
      }
    }
  }
  function copyView(bytes) {
    return Reflect.apply(typedArraySlice, bytes, []);
  }
  var encoder = new TextEncoder();
  function utf8(s) {
    return encoder.encode(s);
  }

  // src/transports.ts
  var { apply: apply2 } = Reflect;
  var isView = ArrayBuffer.isView;
  var typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get;
  var stringSplit = String.prototype.split;
  var portPost = typeof MessagePort === "function" ? MessagePort.prototype.postMessage : void 0;
  var portsOf = typeof MessageEvent === "function" ? Object.getOwnPropertyDescriptor(MessageEvent.prototype, "ports")?.get : void 0;
  function domEventTransport(options = {}) {
    const outEvent = options.outEvent ?? "inproc-bus-out";
    const inEvent = options.inEvent ?? "inproc-bus-in";
    const resetEvent = options.resetEvent ?? "inproc-bus-reset";
    const target = options.target ?? globalThis.document;
    if (!target) throw new TypeError("domEventTransport: no target (and no document)");
    const report = reporter(options.onerror);
    const transport = {
      onmessage: null,
      onreset: null,
      send(bytes) {
        target.dispatchEvent(new CustomEvent(outEvent, { detail: toBase64(bytes) }));
      },
      close() {
        target.removeEventListener(inEvent, listener);
        target.removeEventListener(resetEvent, onReset);
      }
    };
    const listener = (event) => {
      const detail = event.detail;
      if (typeof detail === "string") {
        const frames = apply2(stringSplit, detail, [" "]);
        for (let i = 0; i < frames.length; i++) deliver(transport, frames[i], report);
      } else if (isView(detail) && apply2(typedArrayTag, detail, []) === "Uint8Array") {
        transport.onmessage?.(detail);
      } else {
        deliver(transport, detail, report);
      }
    };
    const onReset = () => {
      transport.onreset?.(new TypeError("the bus session was reset (the page was restored from the back/forward cache): open requests were dropped"));
    };
    target.addEventListener(inEvent, listener);
    target.addEventListener(resetEvent, onReset);
    const portEvent = options.portEvent ?? "inproc-bus-port";
    const helloEvent = options.helloEvent ?? "inproc-bus-hello";
    let carrier = null;
    const asked = /* @__PURE__ */ new Map();
    const keptBody = (port, id) => {
      let done = false;
      return {
        again() {
          if (done) return Promise.resolve(null);
          done = true;
          return new Promise((resolve) => {
            asked.set(id, resolve);
            apply2(portPost, port, [{ again: id }]);
          });
        },
        release() {
          if (done) return;
          done = true;
          apply2(portPost, port, [{ release: id }]);
        }
      };
    };
    const onPort = (event) => {
      if (carrier !== null || portPost === void 0 || portsOf === void 0) return;
      const ports = apply2(portsOf, event, []);
      if (!ports || ports.length !== 1) return;
      const port = ports[0];
      carrier = port;
      port.onmessage = (e) => {
        const d = e.data;
        if (d === null || typeof d !== "object") return;
        const bytes = () => d.returned instanceof ArrayBuffer ? new Uint8Array(d.returned) : null;
        if (typeof d.again === "number") {
          const wake2 = asked.get(d.again);
          asked.delete(d.again);
          wake2?.(bytes());
          return;
        }
        if (typeof d.stream !== "number") return;
        if (typeof d.error === "string") transport.oncarryerror?.(d.stream, d.error);
        else if (typeof d.kept === "number") transport.oncarryreturn?.(d.stream, keptBody(port, d.kept));
        else if ("returned" in d) transport.oncarryreturn?.(d.stream, bytes());
      };
    };
    target.addEventListener(portEvent, onPort);
    transport.sendBody = (stream, body, lend) => {
      if (carrier === null) return false;
      const whole = lend === true && body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
      const sent = whole ? body : copyView(body);
      apply2(portPost, carrier, [{ stream, body: sent.buffer }, [sent.buffer]]);
      return true;
    };
    const close = transport.close;
    transport.close = () => {
      close();
      target.removeEventListener(portEvent, onPort);
      carrier?.close();
      carrier = null;
      asked.forEach((wake2) => wake2(null));
      asked.clear();
    };
    target.dispatchEvent(new CustomEvent(helloEvent));
    return transport;
  }
  var BINDING = /* @__PURE__ */ Symbol.for("inproc-bus.binding-transport");
  function bindingTransport(options) {
    const name = options.deliverGlobal ?? "__inprocBusDeliver";
    const target = options.target ?? globalThis;
    if (typeof options.send !== "function") throw new TypeError("bindingTransport: send must be a function");
    const existing = Object.getOwnPropertyDescriptor(target, name)?.value;
    if (existing !== void 0) {
      const t = typeof existing === "function" ? existing[BINDING] : void 0;
      if (t) return t;
      throw new TypeError(`bindingTransport: ${name} is already defined`);
    }
    const send = options.send;
    const report = reporter(options.onerror);
    let open = true;
    const transport = {
      onmessage: null,
      onreset: null,
      send(bytes) {
        send(toBase64(bytes));
      },
      close() {
        open = false;
        stopResets();
      }
    };
    const stopResets = resetWhenRestored(transport);
    const deliverFn = function(...frames) {
      if (!open) return;
      for (let i = 0; i < frames.length; i++) deliver(transport, frames[i], report);
    };
    Object.defineProperty(deliverFn, BINDING, { value: transport });
    Object.defineProperty(target, name, { value: deliverFn, enumerable: false, writable: false, configurable: false });
    return transport;
  }
  function messagePortTransport(port, options = {}) {
    const report = reporter(options.onerror);
    const binary = options.binary === true;
    const transport = {
      onmessage: null,
      onreset: null,
      send(bytes) {
        if (binary) {
          const copy = bytes.slice();
          port.postMessage(copy.buffer, [copy.buffer]);
        } else {
          port.postMessage(toBase64(bytes));
        }
      },
      close() {
        port.removeEventListener("message", listener);
        stopResets();
      }
    };
    const stopResets = resetWhenRestored(transport);
    const listener = (event) => {
      const data = event.data;
      if (data instanceof ArrayBuffer) return transport.onmessage?.(new Uint8Array(data));
      if (ArrayBuffer.isView(data)) {
        return transport.onmessage?.(new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice());
      }
      deliver(transport, data, report);
    };
    port.addEventListener("message", listener);
    port.start?.();
    return transport;
  }
  function queuedTransport() {
    let target = null;
    let queue = [];
    let closed = false;
    const transport = {
      onmessage: null,
      onreset: null,
      send(bytes) {
        if (closed) throw new TypeError("the bus transport is closed");
        if (target) target.send(bytes);
        else queue.push(bytes.slice());
      },
      connect(real) {
        if (target) throw new TypeError("queuedTransport: already connected");
        target = real;
        real.onmessage = (bytes) => transport.onmessage?.(bytes);
        real.onreset = (reason) => transport.onreset?.(reason);
        const pending = queue;
        queue = null;
        for (let i = 0; i < pending.length; i++) real.send(pending[i]);
      },
      close() {
        closed = true;
        queue = [];
        stopResets();
        target?.close?.();
      }
    };
    const stopResets = resetWhenRestored(transport);
    return transport;
  }
  var restoresHandled = /* @__PURE__ */ new WeakSet();
  function resetWhenRestored(transport) {
    const target = globalThis;
    if (typeof target.addEventListener !== "function" || typeof target.removeEventListener !== "function") return () => {
    };
    const listener = (event) => {
      if (!event.isTrusted || !event.persisted || restoresHandled.has(event)) return;
      if (!transport.onreset) return;
      restoresHandled.add(event);
      transport.onreset(new TypeError("the bus session was reset (the page was restored from the back/forward cache): open requests were dropped"));
    };
    target.addEventListener("pageshow", listener);
    const remove = target.removeEventListener;
    return () => apply2(remove, target, ["pageshow", listener]);
  }
  function deliver(transport, message, report) {
    const sink = transport.onmessage;
    if (!sink) return;
    if (typeof message !== "string") {
      report(new TypeError(`bus transport: expected a base64 string, got ${typeof message}`));
      return;
    }
    let bytes;
    try {
      bytes = fromBase64(message);
    } catch (e) {
      report(e);
      return;
    }
    sink(bytes);
  }
  function reporter(onerror) {
    return onerror ?? ((e) => enqueueMicrotask(() => {
      throw e;
    }));
  }

  // src/forms.ts
  function interceptForms(doc, ctx, mode) {
    const win = doc.defaultView;
    const onSubmit = (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement) || !event.isTrusted || event.defaultPrevented) return;
      const submitter = event.submitter ?? null;
      const planned = () => {
        const method = (submitter?.getAttribute("formmethod") ?? formProperty(form, "method") ?? "get").toLowerCase();
        if (method !== "post") return null;
        const actionText = submitter !== null && submitter.hasAttribute("formaction") ? submitter.formAction : formProperty(form, "action");
        const action = new URL(actionText ?? doc.URL, doc.baseURI);
        if (!ctx.isBus(action)) return null;
        if (!targetsThisDocument(doc, form, submitter)) return null;
        const enctype = (submitter?.getAttribute("formenctype") ?? formProperty(form, "enctype") ?? "").toLowerCase();
        const controls = formControls(form);
        let hasFiles = false;
        for (let i = 0; i < controls.length; i++) {
          const el = controls[i];
          if (el instanceof HTMLInputElement && el.type === "file" && !el.disabled) hasFiles = true;
        }
        if (mode === "files" && !(enctype === "multipart/form-data" && hasFiles)) return null;
        return { action, enctype };
      };
      const send = (plan) => {
        const { action, enctype } = plan;
        void submit(doc, ctx, form, submitter, action, enctype).catch((e) => {
          console.error(`bus form: submitting to ${action.href} failed: ${e instanceof Error ? e.message : String(e)}`);
          showText(doc, action.href, `The form could not be sent: ${e instanceof Error ? e.message : String(e)}`);
        });
      };
      let decided = false;
      const last = (e) => {
        if (e !== event || decided) return;
        decided = true;
        unhook();
        if (event.defaultPrevented) return;
        const plan = planned();
        if (plan === null) return;
        event.preventDefault();
        send(plan);
      };
      const stopped = () => {
        if (decided) return;
        decided = true;
        unhook();
        if (event.defaultPrevented) return;
        const plan = planned();
        if (plan === null) return;
        let pageCancelled = false;
        apply3(preventDefaultOf, event, []);
        defineProperty(event, "defaultPrevented", { configurable: true, get: () => pageCancelled });
        defineProperty(event, "preventDefault", {
          configurable: true,
          writable: true,
          value: function preventDefault() {
            pageCancelled = true;
          }
        });
        startTimer(() => {
          if (!pageCancelled) send(plan);
        }, 0);
      };
      const wrap = (name, original) => {
        defineProperty(event, name, {
          configurable: true,
          writable: true,
          value: function() {
            apply3(original, event, []);
            stopped();
          }
        });
      };
      const unhook = () => {
        win?.removeEventListener("submit", last);
      };
      wrap("stopPropagation", stopPropagationOf);
      wrap("stopImmediatePropagation", stopImmediatePropagationOf);
      defineProperty(event, "cancelBubble", {
        configurable: true,
        get: () => cancelBubbleOf ? apply3(cancelBubbleOf, event, []) : false,
        set: (value) => {
          if (value) apply3(stopPropagationOf, event, []);
          if (value) stopped();
        }
      });
      if (win) {
        win.addEventListener("submit", last);
        startTimer(unhook, 0);
      } else {
        last(event);
      }
    };
    doc.addEventListener("submit", onSubmit, true);
    return () => doc.removeEventListener("submit", onSubmit, true);
  }
  var { apply: apply3 } = Reflect;
  var { defineProperty } = Object;
  var EventProto = typeof Event === "function" ? Event.prototype : {};
  var preventDefaultOf = EventProto.preventDefault;
  var stopPropagationOf = EventProto.stopPropagation;
  var stopImmediatePropagationOf = EventProto.stopImmediatePropagation;
  var cancelBubbleOf = Object.getOwnPropertyDescriptor(EventProto, "cancelBubble")?.get;
  var FormProto = typeof HTMLFormElement === "function" ? HTMLFormElement.prototype : null;
  var formGetters = {
    action: FormProto ? Object.getOwnPropertyDescriptor(FormProto, "action")?.get : void 0,
    method: FormProto ? Object.getOwnPropertyDescriptor(FormProto, "method")?.get : void 0,
    enctype: FormProto ? Object.getOwnPropertyDescriptor(FormProto, "enctype")?.get : void 0
  };
  var formElementsOf = FormProto ? Object.getOwnPropertyDescriptor(FormProto, "elements")?.get : void 0;
  var ElementProto = typeof Element === "function" ? Element.prototype : null;
  var hasAttributeOf = ElementProto?.hasAttribute;
  var getAttributeOf = ElementProto?.getAttribute;
  var querySelectorOf = typeof Document === "function" ? Document.prototype.querySelector : void 0;
  function attribute(el, name) {
    if (!hasAttributeOf || !getAttributeOf || !apply3(hasAttributeOf, el, [name])) return null;
    const value = apply3(getAttributeOf, el, [name]);
    return typeof value === "string" ? value : null;
  }
  function targetsThisDocument(doc, form, submitter) {
    let target = submitter !== null ? attribute(submitter, "formtarget") : null;
    if (target === null) target = attribute(form, "target");
    if (target === null) {
      const base = querySelectorOf ? apply3(querySelectorOf, doc, ["base[target]"]) : null;
      target = base !== null ? attribute(base, "target") : null;
    }
    if (target === null || target === "") return true;
    const keyword = target.toLowerCase();
    if (keyword === "_self") return true;
    const win = doc.defaultView;
    if (win === null) return false;
    const topLevel = win === win.parent;
    if (keyword === "_top" || keyword === "_parent") return topLevel;
    if (keyword === "_blank") return false;
    return target === win.name;
  }
  function formProperty(form, name) {
    const getter = formGetters[name];
    const value = getter ? apply3(getter, form, []) : null;
    return typeof value === "string" ? value : null;
  }
  function formControls(form) {
    return formElementsOf ? apply3(formElementsOf, form, []) : [];
  }
  async function submit(doc, ctx, form, submitter, action, enctype) {
    const data = new FormData(form, submitter ?? void 0);
    let body;
    if (enctype === "multipart/form-data") {
      body = data;
    } else if (enctype === "text/plain") {
      body = Array.from(data, ([k, v]) => `${k}=${typeof v === "string" ? v : v.name}\r
`).join("");
    } else {
      const params = new URLSearchParams();
      for (const [k, v] of data) params.append(k, typeof v === "string" ? v : v.name);
      body = params;
    }
    const response = await ctx.fetch(action.href, { method: "POST", body, redirect: "follow", headers: { accept: "text/html,*/*;q=0.8" } });
    if (response.redirected) {
      doc.defaultView?.location.assign(response.url);
      return;
    }
    const kind = response.headers.get("content-type") ?? "";
    const text = await response.text();
    if (/^text\/html|^application\/xhtml\+xml/i.test(kind)) {
      doc.defaultView?.history.pushState(null, "", response.url || action.href);
      doc.open();
      doc.write(text);
      doc.close();
    } else {
      showText(doc, response.url || action.href, text);
    }
  }
  function showText(doc, url, text) {
    doc.defaultView?.history.pushState(null, "", url);
    doc.open();
    doc.write('<!doctype html><meta charset="utf-8"><pre></pre>');
    doc.close();
    const pre = doc.querySelector("pre");
    if (pre) pre.textContent = text;
  }

  // src/cookies.ts
  var { apply: apply4 } = Reflect;
  var splice = Array.prototype.splice;
  var parseJson = JSON.parse;
  var NativePromise2 = Promise;
  var COOKIE_PATH = "/.well-known/inproc-bus/cookie";
  var MIRROR_HEADER = "x-inproc-bus-cookies";
  function pathMatches(cookiePath, requestPath) {
    if (cookiePath === requestPath) return true;
    if (!requestPath.startsWith(cookiePath)) return false;
    return cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/";
  }
  function defaultPath(path) {
    if (!path.startsWith("/")) return "/";
    const last = path.lastIndexOf("/");
    return last <= 0 ? "/" : path.slice(0, last);
  }
  function documentCookie(mirror, path, now) {
    const visible = mirror.filter((c) => !c.h && pathMatches(c.p, path) && (c.e == null || c.e > now));
    visible.sort((a, b) => b.p.length - a.p.length);
    return visible.map((c) => c.n === "" ? c.v ?? "" : `${c.n}=${c.v ?? ""}`).join("; ");
  }
  function applyWrite(mirror, text, path, now) {
    const [pair = "", ...attrs] = text.split(";");
    const eq = pair.indexOf("=");
    const name = (eq < 0 ? "" : pair.slice(0, eq)).trim();
    const value = (eq < 0 ? pair : pair.slice(eq + 1)).trim();
    let cookiePath = defaultPath(path);
    let expires = null;
    let maxAge = null;
    for (const attr of attrs) {
      const i = attr.indexOf("=");
      const key = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
      const val = i < 0 ? "" : attr.slice(i + 1).trim();
      if (key === "httponly") return mirror;
      if (key === "path" && val.startsWith("/")) cookiePath = val;
      if (key === "expires") {
        const t = Date.parse(val);
        if (!Number.isNaN(t)) expires = t;
      }
      if (key === "max-age" && /^-?\d+$/.test(val)) maxAge = Number(val);
    }
    if (maxAge !== null) expires = maxAge <= 0 ? 0 : now + maxAge * 1e3;
    const at = mirror.findIndex((c) => c.n === name && c.p === cookiePath);
    if (at >= 0 && mirror[at].h) return mirror;
    const next = mirror.slice();
    if (expires !== null && expires <= now) {
      if (at >= 0) next.splice(at, 1);
      return next;
    }
    const entry = { n: name, v: value, p: cookiePath, e: expires };
    if (at >= 0) next[at] = entry;
    else next.push(entry);
    return next;
  }
  var NO_DOCUMENT_COOKIE = {
    ready: Promise.resolve(),
    stop: () => {
    },
    read: () => "",
    write: () => {
    }
  };
  function readMirrorNow(NativeXHR, path) {
    if (typeof NativeXHR !== "function") return null;
    try {
      const xhr = new NativeXHR();
      xhr.open("GET", `${COOKIE_PATH}?path=${encodeURIComponent(path)}`, false);
      xhr.send();
      if (xhr.status !== 200) return null;
      const text = xhr.getResponseHeader(MIRROR_HEADER);
      if (text === null) return null;
      const parsed = parseJson(text);
      return Array.isArray(parsed) ? parsed : null;
    } catch {
      return null;
    }
  }
  function installDocumentCookie(global, client, options = {}) {
    const g = global;
    const doc = g.document;
    if (typeof Document === "undefined" || !(doc instanceof Document)) return NO_DOCUMENT_COOKIE;
    const path = () => g.location?.pathname ?? "/";
    const atStart = options.readAtStart ? readMirrorNow(options.NativeXHR, path()) : null;
    let mirror = atStart ?? [];
    const decoder2 = new TextDecoder();
    const adopt = (res) => {
      const headers = res.headers;
      for (let i = 0; i < headers.length; i++) {
        const header = headers[i];
        if (header[0] !== MIRROR_HEADER) continue;
        try {
          const parsed = parseJson(decoder2.decode(header[1]));
          if (Array.isArray(parsed)) mirror = parsed;
        } catch {
        }
        apply4(splice, headers, [i, 1]);
        break;
      }
      return res;
    };
    const open = client.openStream;
    let writes = null;
    const wrapped = function(init) {
      const self = this;
      const send = () => chain(apply4(open, self, [init]), adopt);
      return writes === null ? send() : chain(writes, send);
    };
    client.openStream = wrapped;
    const ask = (body, at = path()) => {
      const uri = `${COOKIE_PATH}?path=${encodeURIComponent(at)}`;
      const init = body === null ? { method: "GET", uri } : { method: "POST", uri, headers: [["content-type", "text/plain;charset=UTF-8"]], body: new TextEncoder().encode(body) };
      const send = () => chain(apply4(open, client, [init]), adopt);
      const answered = writes === null ? send() : chain(writes, send);
      const sent = new NativePromise2((resolve) => {
        then(
          answered,
          (res) => {
            if (res.complete === null) cancelStream(res.body);
            resolve();
          },
          () => resolve()
        );
      });
      if (body !== null) {
        const done = chain(sent, () => {
          if (writes === done) writes = null;
        });
        writes = done;
      }
      return sent;
    };
    const read2 = (at) => documentCookie(mirror, at, wallClockNow());
    const write = (text, at) => {
      mirror = applyWrite(mirror, text, at, wallClockNow());
      ask(text, at);
    };
    const descriptor = {
      configurable: true,
      enumerable: true,
      get: () => read2(path()),
      set: (value) => write(String(value), path())
    };
    Object.defineProperty(doc, "cookie", descriptor);
    const ready = atStart !== null ? NativePromise2.resolve() : new NativePromise2((resolve) => {
      startTimer(() => then(ask(null), () => resolve(), () => resolve()), 0);
    });
    const stop = () => {
      if (client.openStream === wrapped) client.openStream = open;
      const own = Object.getOwnPropertyDescriptor(doc, "cookie");
      if (own && own.get === descriptor.get) delete doc.cookie;
    };
    return { ready, stop, read: read2, write };
  }

  // src/events.ts
  var slots = /* @__PURE__ */ new WeakMap();
  var addListener = EventTarget.prototype.addEventListener;
  var removeListener = EventTarget.prototype.removeEventListener;
  function defineEventHandlers(proto, types) {
    for (const type of types) {
      Object.defineProperty(proto, `on${type}`, {
        configurable: true,
        enumerable: true,
        get() {
          return slots.get(this)?.get(type)?.value ?? null;
        },
        set(value) {
          let map = slots.get(this);
          const slot = map?.get(type);
          const v = typeof value === "function" || typeof value === "object" && value !== null ? value : null;
          if (v === null) {
            if (slot) {
              removeListener.call(this, type, slot.listener);
              map.delete(type);
            }
            return;
          }
          if (slot) {
            slot.value = v;
            return;
          }
          if (!map) slots.set(this, map = /* @__PURE__ */ new Map());
          const target = this;
          const created = {
            value: v,
            listener(event) {
              const h = created.value;
              if (typeof h !== "function") return;
              const result = h.call(target, event);
              if (result === false) event.preventDefault();
            }
          };
          map.set(type, created);
          addListener.call(this, type, created.listener);
        }
      });
    }
  }
  function hasEventHandler(target) {
    const map = slots.get(target);
    return map !== void 0 && map.size > 0;
  }
  var FallbackProgressEvent = class extends Event {
    constructor(type, init = {}) {
      super(type, init);
      this.lengthComputable = init.lengthComputable ?? false;
      this.loaded = init.loaded ?? 0;
      this.total = init.total ?? 0;
    }
  };
  function progressEventCtor() {
    const native = globalThis.ProgressEvent;
    return typeof native === "function" ? native : FallbackProgressEvent;
  }
  function fireProgress(target, type, loaded, total) {
    const Ctor = progressEventCtor();
    target.dispatchEvent(new Ctor(type, { lengthComputable: total !== 0, loaded, total }));
  }
  function fireEvent(target, type) {
    target.dispatchEvent(new Event(type));
  }

  // src/pool.ts
  var POOL_FROM = 1 << 20;
  var POOL_BYTES = 64 << 20;
  var POOL_IDLE_MS = 1e4;
  var typedArraySet = Object.getPrototypeOf(Uint8Array.prototype).set;
  var free = [];
  var freeBytes = 0;
  var idle = null;
  function touch() {
    if (idle !== null) stopTimer(idle);
    idle = null;
    if (free.length === 0) return;
    idle = startTimer(() => {
      idle = null;
      free = [];
      freeBytes = 0;
    }, POOL_IDLE_MS);
    idle.unref?.();
  }
  function copyForRequest(bytes) {
    const n = bytes.byteLength;
    if (n >= POOL_FROM) {
      for (let i = 0; i < free.length; i++) {
        const { buffer, size } = free[i];
        const now = arrayBufferSize(buffer);
        if (now === size && size !== n) continue;
        free.splice(i, 1);
        freeBytes -= size;
        i--;
        if (now !== size) continue;
        touch();
        const out = new Uint8Array(buffer);
        Reflect.apply(typedArraySet, out, [bytes]);
        return out;
      }
    }
    return copyView(bytes);
  }
  function recycle(bytes) {
    const buffer = bytes.buffer;
    const n = bytes.byteLength;
    if (!(buffer instanceof ArrayBuffer) || n < POOL_FROM || n > POOL_BYTES) return;
    if (bytes.byteOffset !== 0 || arrayBufferSize(buffer) !== n) return;
    free.push({ buffer, size: n });
    freeBytes += n;
    while (freeBytes > POOL_BYTES) freeBytes -= free.shift().size;
    touch();
  }

  // src/body.ts
  function extractBody(object) {
    if (isBlob(object)) {
      return { source: object, stream: null, type: object.type === "" ? null : object.type, length: object.size };
    }
    if (isBufferSource(object)) {
      const bytes2 = copyForRequest(ArrayBuffer.isView(object) ? new Uint8Array(object.buffer, object.byteOffset, object.byteLength) : new Uint8Array(object));
      return { source: bytes2, stream: null, type: null, length: bytes2.byteLength, owned: true };
    }
    if (isFormData(object)) {
      const blob = multipartBlob(object);
      return { source: blob, stream: null, type: blob.type, length: blob.size };
    }
    if (isUrlSearchParams(object)) {
      const bytes2 = utf8(object.toString());
      return { source: bytes2, stream: null, type: "application/x-www-form-urlencoded;charset=UTF-8", length: bytes2.byteLength, owned: true };
    }
    if (isReadableStream2(object)) {
      if (object.locked) throw new TypeError("the body stream is locked");
      return { source: null, stream: object, type: null, length: null };
    }
    const bytes = utf8(String(object));
    return { source: bytes, stream: null, type: "text/plain;charset=UTF-8", length: bytes.byteLength, owned: true };
  }
  function bodyForClient(body) {
    const src = body.source;
    if (src === null) return body.stream;
    if (src instanceof Uint8Array) return src;
    return src.size === 0 ? new Uint8Array(0) : src.stream();
  }
  function multipartBlob(form, boundary = randomBoundary()) {
    const parts = [];
    for (const entry of form) {
      const rawName = entry[0];
      const value = entry[1];
      const name = escapeName(normalizeLineBreaks(rawName));
      if (typeof value === "string") {
        parts.push(`--${boundary}\r
Content-Disposition: form-data; name="${name}"\r
\r
`);
        parts.push(utf8(normalizeLineBreaks(value)));
        parts.push("\r\n");
      } else {
        const file = value;
        const filename = escapeName(typeof file.name === "string" ? file.name : "blob");
        const type = file.type === "" ? "application/octet-stream" : file.type;
        parts.push(
          `--${boundary}\r
Content-Disposition: form-data; name="${name}"; filename="${filename}"\r
Content-Type: ${type}\r
\r
`
        );
        parts.push(file);
        parts.push("\r\n");
      }
    }
    parts.push(`--${boundary}--\r
`);
    return new Blob(parts, { type: `multipart/form-data; boundary=${boundary}` });
  }
  function normalizeLineBreaks(s) {
    return s.replace(/\r\n|\r|\n/g, "\r\n");
  }
  function escapeName(s) {
    return s.replace(/\n/g, "%0A").replace(/\r/g, "%0D").replace(/"/g, "%22");
  }
  var BOUNDARY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789";
  function randomBoundary() {
    const random = new Uint8Array(24);
    const c = globalThis.crypto;
    if (c && typeof c.getRandomValues === "function") c.getRandomValues(random);
    else for (let i = 0; i < random.length; i++) random[i] = Math.floor(Math.random() * 256);
    let out = "----inprocbusformboundary";
    for (const b of random) out += BOUNDARY_CHARS[b % BOUNDARY_CHARS.length];
    return out;
  }

  // src/request.ts
  var MAX_REDIRECTS = 20;
  async function busRequest(ctx, init) {
    try {
      return await follow(ctx, init);
    } finally {
      if (init.keepBody !== true) letGoBody(init.body);
    }
  }
  function letGoBody(body) {
    const returned = body?.returned;
    if (returned === void 0) return;
    body.returned = void 0;
    then(returned, (back) => {
      if (isCarryBack(back)) back.release();
      else if (back !== null) recycle(back);
    });
  }
  var isView2 = ArrayBuffer.isView;
  function isCarryBack(back) {
    return back !== null && !isView2(back);
  }
  async function follow(ctx, init) {
    let { method, url, headers, body } = init;
    let redirects = 0;
    for (; ; ) {
      const res = ctx.isBus(url) ? await openOne(ctx, method, url, headers, body, init.signal, init.onupload, init.stop ?? null) : await nativeHop(ctx, method, url, headers, body, init.signal, init.redirect, init.offBus);
      res.redirected = redirects > 0;
      if (res.native || !REDIRECT_STATUSES.has(res.status) || init.redirect === "manual") return res;
      if (init.redirect === "error") {
        cancelStream(res.body);
        throw new TypeError(`redirect (${res.status}) with redirect mode "error"`);
      }
      const location = getHeader(res.headers, "location");
      if (location === null) return res;
      cancelStream(res.body);
      let next;
      try {
        next = new URL(location, url);
      } catch {
        throw new TypeError(`redirect to an invalid Location: ${location}`);
      }
      if (redirects >= MAX_REDIRECTS) throw new TypeError("too many redirects");
      if (!ctx.isBus(next) && next.protocol !== "http:" && next.protocol !== "https:") {
        throw new TypeError(`redirect to a URL that is neither HTTP(S) nor the bus: ${next.href}`);
      }
      redirects++;
      if (res.status !== 303 && body !== null && body.source === null) {
        throw new TypeError("cannot follow a redirect with a streamed request body");
      }
      if ((res.status === 301 || res.status === 302) && method === "POST" || res.status === 303 && method !== "GET" && method !== "HEAD") {
        method = "GET";
        body = null;
        headers = removeHeaders(headers, REQUEST_BODY_HEADERS);
      }
      if (originOf(next) !== originOf(url)) headers = removeHeaders(headers, ["authorization"]);
      if (next.hash === "" && url.hash !== "") next.hash = url.hash;
      url = next;
    }
  }
  async function openOne(ctx, method, url, headers, body, signal, onupload, stop) {
    if (body?.returned !== void 0) await reclaim(body, signal, stop);
    const wire = headers.slice();
    if (!hasHeader(wire, "accept")) wire.push(["accept", "*/*"]);
    if (body !== null && body.length !== null) wire.push(["content-length", String(body.length)]);
    else if (body === null && (method === "POST" || method === "PUT")) wire.push(["content-length", "0"]);
    const res = await ctx.client.openStream({
      method,
      uri: wireUrl(url),
      headers: wire,
      body: body === null ? null : bodyForClient(body),
      signal,
      stop,
      window: ctx.window,
      onupload,
      // Bytes only this request holds: a carrier may take them rather than copy them, and
      // gives them back for a redirect or a retry (`reclaim`).
      lendBody: body !== null && body.owned === true && body.source instanceof Uint8Array ? (back) => {
        body.returned = back;
      } : void 0
    });
    const raw = res.headers;
    const out = [];
    for (let i = 0; i < raw.length; i++) out.push([raw[i][0], normalizeHeaderValue(latin1(raw[i][1]))]);
    return bare({
      status: res.status,
      headers: out,
      // A getter: a complete response's stream is only made if someone reads it.
      get body() {
        return res.body;
      },
      complete: res.complete,
      progress: res.progress,
      url,
      redirected: false,
      native: null
    });
  }
  async function reclaim(body, signal, stop) {
    if (body === null || body.returned === void 0) return;
    const returned = body.returned;
    let back = await new Promise((resolve, reject) => {
      const onAbort = (event) => {
        detach();
        reject(abortReason2(event.target));
      };
      const detach = () => {
        signal?.removeEventListener("abort", onAbort);
        stop?.removeEventListener("abort", onAbort);
      };
      if (signal?.aborted) return reject(abortReason2(signal));
      if (stop?.aborted) return reject(abortReason2(stop));
      signal?.addEventListener("abort", onAbort);
      stop?.addEventListener("abort", onAbort);
      then(returned, (bytes) => {
        detach();
        resolve(bytes);
      });
    });
    body.returned = void 0;
    if (isCarryBack(back)) back = await back.again();
    if (back === null) throw new TypeError("the request body cannot be sent again: the bridge that carried it did not give it back");
    body.source = back;
  }
  async function nativeHop(ctx, method, url, headers, body, signal, redirect, offBus) {
    if (!ctx.nativeFetch) throw new TypeError(`redirect to ${url.href}: no browser fetch to follow it with`);
    if (offBus?.mode === "same-origin") throw new TypeError(`redirect to ${url.href}, another origin, with mode "same-origin"`);
    if (body?.returned !== void 0) await reclaim(body, signal, null);
    const init = bare({ method, headers, redirect });
    if (offBus) {
      init.mode = offBus.mode;
      init.credentials = offBus.credentials;
      init.cache = offBus.cache;
      init.referrer = offBus.referrer;
      init.referrerPolicy = offBus.referrerPolicy;
      if (offBus.integrity !== "") init.integrity = offBus.integrity;
      if (offBus.keepalive) init.keepalive = true;
    }
    if (signal) init.signal = signal;
    if (body !== null) init.body = body.source ?? body.stream;
    if (body !== null && body.source === null) init.duplex = "half";
    const response = await ctx.nativeFetch.call(globalThis, url.href, init);
    const out = [];
    response.headers.forEach((v, n) => out.push([n, v]));
    return bare({
      status: response.status,
      headers: out,
      body: response.body ?? new ReadableStream(bare({ start: (c) => c.close() })),
      complete: null,
      url: new URL(response.url || url.href),
      redirected: true,
      native: response
    });
  }

  // src/eventsource.ts
  var CONNECTING = 0;
  var OPEN = 1;
  var CLOSED = 2;
  var MAX_DELAY = 2147483647;
  var EventStreamParser = class {
    constructor(sink) {
      this.sink = sink;
      /** The "last event ID string": set from the buffer at every dispatch, data or not. */
      this.lastEventId = "";
      this.idBuffer = "";
      this.pending = "";
      this.afterCR = false;
      this.data = "";
      this.type = "";
      this.dataSeen = false;
    }
    push(text) {
      let start = 0;
      if (this.afterCR && text.charCodeAt(0) === 10) start = 1;
      this.afterCR = false;
      for (let i = start; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c !== 10 && c !== 13) continue;
        const line = this.pending + text.slice(start, i);
        this.pending = "";
        if (c === 13) {
          if (i + 1 === text.length) this.afterCR = true;
          else if (text.charCodeAt(i + 1) === 10) i++;
        }
        start = i + 1;
        this.line(line);
      }
      this.pending += text.slice(start);
    }
    /** The stream ended: an unterminated line or event is discarded, as the standard says. */
    reset() {
      this.pending = "";
      this.afterCR = false;
      this.data = "";
      this.type = "";
      this.dataSeen = false;
    }
    line(line) {
      if (line === "") return this.dispatch();
      if (line.charCodeAt(0) === 58) return;
      const colon = line.indexOf(":");
      let field = line;
      let value = "";
      if (colon >= 0) {
        field = line.slice(0, colon);
        value = line.slice(colon + 1);
        if (value.charCodeAt(0) === 32) value = value.slice(1);
      }
      switch (field) {
        case "event":
          this.type = value;
          break;
        case "data":
          this.data += `${value}
`;
          this.dataSeen = true;
          break;
        case "id":
          if (!value.includes("\0")) this.idBuffer = value;
          break;
        case "retry":
          if (/^[0-9]+$/.test(value)) this.sink.retry(Math.min(Number(value), MAX_DELAY));
          break;
        default:
          break;
      }
    }
    dispatch() {
      const id = this.lastEventId = this.idBuffer;
      if (!this.dataSeen) {
        this.type = "";
        return;
      }
      const data = this.data.slice(0, -1);
      const type = this.type === "" ? "message" : this.type;
      this.data = "";
      this.type = "";
      this.dataSeen = false;
      this.sink.event(type, data, id);
    }
  };
  var states = /* @__PURE__ */ new WeakMap();
  function st(x) {
    const s = states.get(x);
    if (!s) throw new TypeError("Illegal invocation");
    return s;
  }
  function createEventSource(ctx, Original, retry) {
    const _EventSource = class _EventSource extends EventTarget {
      static [Symbol.hasInstance](x) {
        if (Function.prototype[Symbol.hasInstance].call(this, x)) return true;
        return this === _EventSource && Original !== void 0 && x instanceof Original;
      }
      constructor(...args) {
        if (args.length < 1) throw new TypeError("Failed to construct 'EventSource': 1 argument required, but only 0 present.");
        let parsed;
        try {
          parsed = new URL(String(args[0]), ctx.baseURL());
        } catch {
          parsed = null;
        }
        if (parsed === null || !ctx.isBus(parsed)) {
          if (Original) return new Original(...args);
          if (parsed === null) throw new DOMException(`'${String(args[0])}' is not a valid URL`, "SyntaxError");
          throw new DOMException("EventSource: no browser EventSource for non-bus URLs", "NotSupportedError");
        }
        super();
        const init = args[1];
        const s = {
          target: this,
          url: parsed,
          withCredentials: Boolean(init?.withCredentials),
          readyState: CONNECTING,
          reconnectionTime: retry,
          origin: originOf(parsed),
          connection: null,
          unstop: () => {
          },
          timer: null,
          parsed: [],
          parser: new EventStreamParser({
            // Dispatched by the reading loop, one at a time (see `dispatchParsed`).
            event: (type, data, lastEventId) => {
              s.parsed.push([type, data, lastEventId]);
            },
            retry: (ms) => {
              s.reconnectionTime = ms;
            }
          })
        };
        states.set(this, s);
        connect(s);
      }
      get url() {
        return st(this).url.href;
      }
      get withCredentials() {
        return st(this).withCredentials;
      }
      get readyState() {
        return st(this).readyState;
      }
      close() {
        const s = st(this);
        s.readyState = CLOSED;
        if (s.timer !== null) stopTimer(s.timer);
        s.timer = null;
        const c = s.connection;
        s.connection = null;
        s.unstop();
        c?.abort();
      }
    };
    _EventSource.CONNECTING = CONNECTING;
    _EventSource.OPEN = OPEN;
    _EventSource.CLOSED = CLOSED;
    let EventSource = _EventSource;
    defineEventHandlers(EventSource.prototype, ["open", "message", "error"]);
    if (Original) Object.setPrototypeOf(EventSource.prototype, Original.prototype);
    for (const [name, value] of [["CONNECTING", CONNECTING], ["OPEN", OPEN], ["CLOSED", CLOSED]]) {
      Object.defineProperty(EventSource.prototype, name, { value, enumerable: true });
    }
    Object.defineProperty(EventSource.prototype, Symbol.toStringTag, { value: "EventSource", configurable: true });
    function connect(s) {
      const connection = new AbortController();
      s.connection = connection;
      s.unstop();
      s.unstop = ctx.onStop(() => {
        if (s.connection !== connection) return;
        s.connection = null;
        connection.abort();
        startTimer(() => failConnection(s), 0);
      });
      const headers = [
        ["accept", "text/event-stream"],
        ["cache-control", "no-cache"]
      ];
      const id = s.parser.lastEventId;
      if (id !== "" && !/[\x01-\x08\x0a-\x1f\x7f]/.test(id)) headers.push(["last-event-id", latin1(utf8(id))]);
      then(
        busRequest(ctx, { method: "GET", url: s.url, headers, body: null, signal: connection.signal, redirect: "follow" }),
        (res) => {
          then(handle(res), void 0, () => {
            if (s.connection === connection) reestablish(s);
          });
        },
        () => {
          if (s.connection !== connection) return;
          reestablish(s);
        }
      );
      async function handle(res) {
        if (s.connection !== connection) {
          cancelStream(res.body);
          return;
        }
        const mime = extractMimeType(res.headers);
        if (res.status !== 200 || mime === null || mime.essence !== "text/event-stream") {
          cancelStream(res.body);
          failConnection(s);
          return;
        }
        s.origin = originOf(res.url);
        s.readyState = OPEN;
        fireEvent(s.target, "open");
        if (s.connection !== connection) {
          cancelStream(res.body);
          return;
        }
        const reader = getReader(res.body);
        const decoder2 = new TextDecoder("utf-8");
        try {
          for (; ; ) {
            const next = await read(reader);
            if (s.connection !== connection) return;
            if (next.done) {
              s.parser.push(decoder2.decode());
              await dispatchParsed(s, connection);
              if (s.connection !== connection) return;
              break;
            }
            s.parser.push(decoder2.decode(next.value, { stream: true }));
            await dispatchParsed(s, connection);
            if (s.connection !== connection) {
              cancelReader(reader);
              return;
            }
          }
        } catch {
          if (s.connection !== connection) return;
        }
        s.parser.reset();
        reestablish(s);
      }
    }
    async function dispatchParsed(s, connection) {
      const parsed = s.parsed;
      if (parsed.length === 0) return;
      s.parsed = [];
      for (let i = 0; i < parsed.length; i++) {
        if (i > 0) await microtaskTurns();
        if (s.readyState === CLOSED || s.connection !== connection) return;
        const event = parsed[i];
        s.target.dispatchEvent(new MessageEvent(event[0], { data: event[1], origin: s.origin, lastEventId: event[2] }));
      }
    }
    function reestablish(s) {
      if (s.readyState === CLOSED) return;
      s.connection = null;
      s.unstop();
      s.readyState = CONNECTING;
      fireEvent(s.target, "error");
      if (s.readyState !== CONNECTING) return;
      s.timer = startTimer(() => {
        s.timer = null;
        if (s.readyState !== CONNECTING) return;
        connect(s);
      }, s.reconnectionTime);
    }
    function failConnection(s) {
      s.connection = null;
      s.unstop();
      if (s.readyState === CLOSED) return;
      s.readyState = CLOSED;
      fireEvent(s.target, "error");
    }
    idlShape(EventSource, ["CONNECTING", "OPEN", "CLOSED"]);
    idlLength(EventSource, 1);
    return EventSource;
  }

  // src/fetch.ts
  function createFetch(ctx, routeFor2, original) {
    const shim = function fetch(...args) {
      const input = args[0];
      const init = args[1];
      if (args.length === 0 || typeof input === "symbol") {
        if (original) return original.apply(globalThis, args);
        return rejected(new TypeError("fetch: a request input is required"));
      }
      let url;
      try {
        url = requestUrl(input, ctx);
      } catch {
        url = null;
      }
      if (url === null || !ctx.isBus(url)) {
        if (!original) return rejected(new TypeError("fetch: no browser fetch for non-bus URLs"));
        return original.apply(globalThis, args);
      }
      try {
        const dict = readInit(init);
        const route = routeFor2({ method: requestMethod(input, dict), url, hasBody: requestHasBody(input, dict) });
        return route === "native" ? nativeRouteFetch(ctx, original, input, dict, url) : framesFetch(ctx, input, dict, url);
      } catch (e) {
        return rejected(e);
      }
    };
    Object.defineProperty(shim, "length", { value: 1 });
    return shim;
  }
  function isRequest(x) {
    return typeof Request !== "undefined" && x instanceof Request || typeof x === "object" && x !== null && Object.prototype.toString.call(x) === "[object Request]";
  }
  function requestUrl(input, ctx) {
    return isRequest(input) ? new URL(input.url) : new URL(String(input), ctx.baseURL());
  }
  var REQUEST_INIT_MEMBERS = ["body", "cache", "credentials", "duplex", "headers", "integrity", "keepalive", "method", "mode", "priority", "redirect", "referrer", "referrerPolicy", "signal", "window"];
  function readInit(init) {
    if (init === void 0 || init === null) return void 0;
    if (typeof init !== "object" && typeof init !== "function") throw new TypeError("fetch: the init argument is not an object");
    const dict = {};
    for (let i = 0; i < REQUEST_INIT_MEMBERS.length; i++) {
      const name = REQUEST_INIT_MEMBERS[i];
      const value = init[name];
      if (value !== void 0) dict[name] = value;
    }
    return dict;
  }
  function requestMethod(input, init) {
    const m = init?.method ?? (isRequest(input) ? input.method : "GET");
    return normalizeMethod(String(m));
  }
  function requestHasBody(input, init) {
    if (init?.body != null) return true;
    if (!isRequest(input) || init?.body === null) return false;
    return input.method !== "GET" && input.method !== "HEAD" && input.body !== null;
  }
  function withMembers(init, members) {
    const out = Object.create(init ?? null);
    for (const key of Object.keys(members)) {
      Object.defineProperty(out, key, { value: members[key], enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  var STAND_IN_FROM = 64 << 10;
  function isLargePlainBytes(x) {
    const buffer = ArrayBuffer.isView(x) ? viewBuffer(x) : x;
    const size = arrayBufferSize(buffer);
    if (size === null) return false;
    const flags = arrayBufferFlags(buffer);
    return !flags.resizable && !flags.detached && size >= STAND_IN_FROM;
  }
  var ONCE2 = bare({ once: true });
  async function framesFetch(ctx, input, init, url) {
    const stop = ctx.stopSignal();
    if (init === void 0 && !isRequest(input) && url.username === "" && url.password === "") {
      const res2 = await busRequest(ctx, { method: "GET", url, headers: [], body: null, signal: null, stop, redirect: "follow" });
      return toResponse(res2, "GET", false, null, res2.complete ? null : stop);
    }
    const initBody = init?.body;
    const formBlob = isFormData(initBody) ? multipartBlob(initBody) : null;
    const stand = formBlob ?? (isLargePlainBytes(initBody) ? new Uint8Array(0) : null);
    const request = new Request(isRequest(input) ? input : url.href, stand !== null ? withMembers(init, { body: stand }) : init);
    const signal = request.signal;
    if (signal.aborted) {
      const reason = abortReason2(signal);
      const stream = request.body ?? (isReadableStream2(initBody) ? initBody : null);
      if (stream !== null) cancelStream(stream, reason);
      throw reason;
    }
    const headers = [];
    request.headers.forEach((value, name) => {
      if (!isForbiddenRequestHeader(name, value)) headers.push([name, value]);
    });
    checkBusHeaders(headers);
    let body = null;
    if (initBody != null) {
      if (formBlob) body = extractBody(formBlob);
      else if (isReadableStream2(initBody)) body = { source: null, stream: request.body ?? initBody, type: null, length: null };
      else body = extractBody(initBody);
    } else if (isRequest(input) && request.method !== "GET" && request.method !== "HEAD") {
      const bytes = await readRequestBody(request, signal);
      body = { source: bytes, stream: null, type: null, length: bytes.byteLength, owned: true };
    }
    const abortable = init?.signal != null || isRequest(input);
    const res = await busRequest(ctx, {
      method: request.method,
      // The constructor's parse of the same string, unless the input was a Request.
      url: request.url === url.href ? url : new URL(request.url),
      headers,
      body,
      signal: abortable ? signal : null,
      stop,
      redirect: request.redirect,
      offBus: offBusOf(request)
    });
    return toResponse(res, request.method, abortable, abortable ? signal : null, res.complete ? null : stop);
  }
  function offBusOf(request) {
    return bare({
      mode: request.mode,
      credentials: request.credentials,
      cache: request.cache,
      referrer: request.referrer,
      referrerPolicy: request.referrerPolicy,
      integrity: request.integrity,
      keepalive: request.keepalive
    });
  }
  function readRequestBody(request, signal) {
    return new Promise((resolve, reject) => {
      const stream = request.body;
      let reader = null;
      let done = false;
      const settle = (f) => {
        if (done) return;
        done = true;
        signal.removeEventListener("abort", onAbort);
        f();
      };
      const onAbort = () => settle(() => {
        const reason = abortReason2(signal);
        if (reader !== null) cancelReader(reader, reason);
        reject(reason);
      });
      signal.addEventListener("abort", onAbort);
      if (signal.aborted) return onAbort();
      if (stream === void 0) return void then(request.arrayBuffer(), (b) => settle(() => resolve(new Uint8Array(b))), (e) => settle(() => reject(e)));
      if (stream === null) return settle(() => resolve(new Uint8Array(0)));
      try {
        reader = getReader(stream);
      } catch (e) {
        return settle(() => reject(new TypeError("the request body was already used or is locked", { cause: e })));
      }
      then(
        // A copy: the body is lent to a carrier as bytes of ours (`owned`), and a chunk the
        // page enqueued must not be detached.
        readAll(reader, true),
        (bytes) => settle(() => resolve(bytes)),
        (e) => settle(() => reject(e))
      );
    });
  }
  function toResponse(res, method, abortable, signal, stop) {
    if (res.native) {
      return decorate(res.native, res.native.url, true, res.native.type, null);
    }
    if (res.status < 200 || res.status > 599) {
      cancelStream(res.body);
      throw new TypeError(`fetch: the bus answered status ${res.status}, which a Response cannot represent`);
    }
    const nullBody = method === "HEAD" || NULL_BODY_STATUSES.has(res.status);
    let body;
    let wrapped = null;
    if (nullBody) {
      if (!res.complete) cancelStream(res.body);
      body = null;
    } else if (res.complete && res.complete.byteLength > 0 && !abortable) {
      body = res.complete;
    } else {
      wrapped = { aborted: null, bytes: res.complete };
      body = abortableBody(res.complete ?? res.body, signal, stop, wrapped, res.progress);
    }
    const response = new Response(body, bare({ status: res.status, statusText: statusText(res.status) }));
    const headers = response.headers;
    for (let i = 0; i < res.headers.length; i++) {
      const name = res.headers[i][0];
      if (name === "set-cookie" || name === "set-cookie2") continue;
      try {
        headers.append(name, res.headers[i][1]);
      } catch {
      }
    }
    return decorate(response, withoutFragment(res.url), res.redirected, "basic", wrapped);
  }
  function abortableBody(source, signal, stop, state, progress) {
    let bytes = source instanceof Uint8Array ? source : null;
    const stream = bytes === null ? source : null;
    let reader = null;
    let controller;
    let finished = false;
    let delivered = 0;
    const drained = () => {
      if (!progress) return false;
      const p = progress();
      return p.ended && p.received === delivered;
    };
    const finish = () => {
      if (finished) return;
      finished = true;
      signal?.removeEventListener("abort", onAbort);
      stop?.removeEventListener("abort", onStop);
    };
    const stopSource = (reason) => {
      if (reader) cancelReader(reader, reason);
      else if (stream) cancelStream(stream, reason);
    };
    const onAbort = () => abortWith(abortReason2(signal));
    const onStop = () => abortWith(abortReason2(stop));
    const abortWith = (reason) => {
      if (finished) return;
      if (drained()) {
        controller.close();
        finish();
        stopSource(void 0);
        return;
      }
      state.aborted = { reason };
      controller.error(reason);
      finish();
      stopSource(reason);
    };
    const out = new ReadableStream(
      bare({
        start: (c) => {
          controller = c;
          if (bytes !== null && bytes.byteLength === 0) {
            c.close();
            finish();
          }
        },
        pull: async (c) => {
          if (finished) return;
          if (stream === null) {
            if (bytes !== null && bytes.byteLength > 0) c.enqueue(bytes);
            bytes = null;
            c.close();
            finish();
            return;
          }
          reader ?? (reader = getReader(stream));
          for (; ; ) {
            let next;
            try {
              next = await read(reader);
            } catch (e) {
              if (finished) return;
              c.error(e);
              finish();
              return;
            }
            if (finished) return;
            if (next.done) {
              c.close();
              finish();
              return;
            }
            if (next.value.byteLength > 0) {
              c.enqueue(next.value);
              delivered += next.value.byteLength;
              if (drained()) {
                c.close();
                finish();
              }
              return;
            }
          }
        },
        cancel: (reason) => {
          if (finished) return;
          finish();
          stopSource(reason);
        }
      }),
      // Nothing is pulled before the page reads: the bus stream's queue is the window.
      bare({ highWaterMark: 0 })
    );
    if (!finished) {
      signal?.addEventListener("abort", onAbort, ONCE2);
      stop?.addEventListener("abort", onStop, ONCE2);
      if (signal?.aborted) onAbort();
      else if (stop?.aborted) onStop();
    }
    return out;
  }
  function checkBusHeaders(headers) {
    for (let i = 0; i < headers.length; i++) {
      const value = headers[i][1];
      for (let j = 0; j < value.length; j++) {
        const c = value.charCodeAt(j);
        if (c < 32 && c !== 9 || c === 127) {
          throw new TypeError(
            `fetch: the value of header ${JSON.stringify(headers[i][0])} has the control character U+${c.toString(16).toUpperCase().padStart(4, "0")}, which the bus cannot carry (http::HeaderValue refuses it)`
          );
        }
      }
    }
  }
  function decorate(response, url, redirected, type, consumers) {
    defineProperty2(response, "url", { value: url, writable: false, enumerable: false, configurable: true });
    defineProperty2(response, "redirected", { value: redirected, writable: false, enumerable: false, configurable: true });
    defineProperty2(response, "type", { value: type, writable: false, enumerable: false, configurable: true });
    defineProperty2(response, "clone", {
      value: function clone() {
        return decorate(apply5(responseClone, this, []), url, redirected, type, consumers);
      },
      writable: true,
      enumerable: false,
      configurable: true
    });
    if (consumers) {
      for (let i = 0; i < CONSUMERS.length; i++) {
        const name = CONSUMERS[i];
        defineProperty2(response, name, { value: consumer(name, consumers), writable: true, enumerable: false, configurable: true });
      }
    }
    return response;
  }
  var { apply: apply5 } = Reflect;
  var { defineProperty: defineProperty2 } = Object;
  var ResponseProto = typeof Response === "function" ? Response.prototype : {};
  var responseClone = ResponseProto.clone;
  var bodyGetter = Object.getOwnPropertyDescriptor(ResponseProto, "body")?.get;
  var bodyUsedGetter = Object.getOwnPropertyDescriptor(ResponseProto, "bodyUsed")?.get;
  var CONSUMERS = ["arrayBuffer", "blob", "bytes", "formData", "json", "text"].filter((n) => typeof ResponseProto[n] === "function");
  function consumer(name, state) {
    const native = ResponseProto[name];
    return function() {
      const body = bodyGetter ? apply5(bodyGetter, this, []) : this.body;
      const used = bodyUsedGetter ? apply5(bodyUsedGetter, this, []) : this.bodyUsed;
      if (body === null || used || body.locked) return apply5(native, this, []);
      if (state.aborted) return rejected(state.aborted.reason);
      const type = this.headers.get("content-type");
      const consume = (bytes) => {
        const copy = new Response(bytes, bare({ headers: bare(type === null ? {} : { "content-type": type }) }));
        return apply5(native, copy, []);
      };
      if (state.bytes !== null) {
        const bytes = state.bytes;
        state.bytes = null;
        cancelReader(getReader(body));
        return consume(bytes);
      }
      return chain(readAll(getReader(body)), consume);
    };
  }
  async function readAll(reader, own = false) {
    const chunks = [];
    let size = 0;
    for (; ; ) {
      const next = await read(reader);
      if (next.done) break;
      chunks.push(next.value);
      size += next.value.byteLength;
    }
    if (chunks.length === 1) return own ? copyView(chunks[0]) : chunks[0];
    const out = new Uint8Array(size);
    let at = 0;
    for (let i = 0; i < chunks.length; i++) {
      out.set(chunks[i], at);
      at += chunks[i].byteLength;
    }
    return out;
  }
  async function nativeRouteFetch(ctx, original, input, init, url) {
    if (!original) throw new TypeError("fetch: no browser fetch for the native route");
    let given = null;
    try {
      given = new Headers(init?.headers ?? (isRequest(input) ? input.headers : void 0));
    } catch {
    }
    if (given) {
      const pairs = [];
      given.forEach((value, name) => pairs.push([name, value]));
      checkBusHeaders(pairs);
    }
    const initBody = init?.body;
    const marker = ctx.bodyMarker;
    if (initBody != null) {
      let body = initBody;
      let headers;
      if (isReadableStream2(initBody)) {
        headers = new Headers(init.headers ?? (isRequest(input) ? input.headers : void 0));
      } else {
        const flat = isBlob(initBody) ? initBody : isFormData(initBody) ? multipartBlob(initBody) : null;
        headers = new Headers(new Request(isRequest(input) ? input : url.href, withMembers(init, { body: flat ?? initBody })).headers);
        if (flat) body = await flat.arrayBuffer();
      }
      if (marker) headers.set(marker, "1");
      return original.call(globalThis, input, withMembers(init, { body, headers }));
    }
    if (initBody === void 0 && isRequest(input) && requestHasBody(input, init)) {
      const bytes = await input.clone().arrayBuffer();
      const headers = new Headers(init?.headers ?? input.headers);
      if (marker) headers.set(marker, "1");
      return original.call(globalThis, input, withMembers(init, { body: bytes, headers }));
    }
    return init === void 0 ? original.call(globalThis, input) : original.call(globalThis, input, init);
  }

  // src/xhr.ts
  var UNSENT = 0;
  var OPENED = 1;
  var HEADERS_RECEIVED = 2;
  var LOADING = 3;
  var DONE = 4;
  var XHR_EVENTS = ["readystatechange", "loadstart", "progress", "abort", "error", "load", "timeout", "loadend"];
  var UPLOAD_EVENTS = ["loadstart", "progress", "abort", "error", "load", "timeout", "loadend"];
  var RESPONSE_TYPES = /* @__PURE__ */ new Set(["", "arraybuffer", "blob", "document", "json", "text"]);
  var PROGRESS_INTERVAL = 50;
  var states2 = /* @__PURE__ */ new WeakMap();
  function st2(x) {
    const s = states2.get(x);
    if (!s) throw new TypeError("Illegal invocation");
    return s;
  }
  function domError(message, name) {
    return new DOMException(message, name);
  }
  var uploadListeners = /* @__PURE__ */ new WeakMap();
  var etAdd = EventTarget.prototype.addEventListener;
  var etRemove = EventTarget.prototype.removeEventListener;
  function captureOf(options) {
    return typeof options === "boolean" ? options : Boolean(options?.capture);
  }
  function hasUploadListeners(upload2) {
    if (hasEventHandler(upload2)) return true;
    const map = uploadListeners.get(upload2);
    return map !== void 0 && map.size > 0;
  }
  function createXMLHttpRequest(ctx, routeFor2, Original) {
    const NativeUpload = globalThis.XMLHttpRequestUpload;
    class XMLHttpRequestUpload extends EventTarget {
      addEventListener(type, callback, options) {
        etAdd.call(this, type, callback, options);
        if (callback === null || callback === void 0) return;
        let map = uploadListeners.get(this);
        if (!map) uploadListeners.set(this, map = /* @__PURE__ */ new Map());
        let keys = map.get(callback);
        if (!keys) map.set(callback, keys = /* @__PURE__ */ new Set());
        keys.add(`${captureOf(options)}:${type}`);
      }
      removeEventListener(type, callback, options) {
        etRemove.call(this, type, callback, options);
        const map = uploadListeners.get(this);
        const keys = map?.get(callback);
        if (!keys) return;
        keys.delete(`${captureOf(options)}:${type}`);
        if (keys.size === 0) map.delete(callback);
      }
    }
    defineEventHandlers(XMLHttpRequestUpload.prototype, UPLOAD_EVENTS);
    if (NativeUpload) Object.setPrototypeOf(XMLHttpRequestUpload.prototype, NativeUpload.prototype);
    Object.defineProperty(XMLHttpRequestUpload.prototype, Symbol.toStringTag, { value: "XMLHttpRequestUpload", configurable: true });
    const _XMLHttpRequest = class _XMLHttpRequest extends EventTarget {
      /** Native XHR objects (created before install, or by our delegation) are XMLHttpRequests too. */
      static [Symbol.hasInstance](x) {
        if (Function.prototype[Symbol.hasInstance].call(this, x)) return true;
        return this === _XMLHttpRequest && Original !== void 0 && x instanceof Original;
      }
      constructor() {
        super();
        const upload2 = new XMLHttpRequestUpload();
        states2.set(this, {
          target: this,
          upload: upload2,
          mode: "none",
          native: null,
          nativeRoute: false,
          nativeMethod: "GET",
          nativeSync: false,
          nativeUploadForwarded: false,
          nativeHeaderNames: /* @__PURE__ */ new Set(),
          pending: null,
          stateOverride: null,
          readyState: UNSENT,
          responseType: "",
          timeout: 0,
          withCredentials: false,
          sendFlag: false,
          sync: false,
          method: "GET",
          url: null,
          headers: [],
          overrideMime: null,
          overrideRaw: null,
          uploadComplete: false,
          uploadListener: false,
          timedOut: false,
          stopped: false,
          credentials: null,
          response: null,
          chunks: [],
          received: 0,
          bytesCache: null,
          textCache: null,
          responseObject: null,
          active: null
        });
      }
      get readyState() {
        const s = st2(this);
        if (s.stateOverride !== null) return s.stateOverride;
        return s.mode === "native" ? s.native.readyState : s.readyState;
      }
      get upload() {
        return st2(this).upload;
      }
      get timeout() {
        const s = st2(this);
        return s.mode === "native" ? s.native.timeout : s.timeout;
      }
      set timeout(value) {
        const s = st2(this);
        if (s.mode === "native") {
          s.native.timeout = value;
          return;
        }
        if (s.mode === "bus" && s.sync) throw domError("timeout cannot be set on a synchronous request", "InvalidAccessError");
        s.timeout = toUint32(value);
        if (s.active) scheduleTimeout(s, s.active);
      }
      get withCredentials() {
        const s = st2(this);
        return s.mode === "native" ? s.native.withCredentials : s.withCredentials;
      }
      set withCredentials(value) {
        const s = st2(this);
        if (s.mode === "native") {
          s.native.withCredentials = value;
          return;
        }
        if (s.readyState !== UNSENT && s.readyState !== OPENED || s.sendFlag) {
          throw domError("withCredentials cannot be set now", "InvalidStateError");
        }
        s.withCredentials = Boolean(value);
      }
      get responseType() {
        const s = st2(this);
        return s.mode === "native" ? s.native.responseType : s.responseType;
      }
      set responseType(value) {
        const s = st2(this);
        if (s.mode === "native") {
          s.native.responseType = value;
          return;
        }
        const v = String(value);
        if (!RESPONSE_TYPES.has(v)) return;
        if (s.readyState === LOADING || s.readyState === DONE) throw domError("responseType cannot be set now", "InvalidStateError");
        if (s.mode === "bus" && s.sync) throw domError("responseType cannot be set on a synchronous request", "InvalidAccessError");
        s.responseType = v;
      }
      get status() {
        const s = st2(this);
        if (s.mode === "native") return s.stateOverride !== null ? 0 : s.native.status;
        return s.response?.status ?? 0;
      }
      get statusText() {
        const s = st2(this);
        if (s.mode === "native") return s.stateOverride !== null ? "" : s.native.statusText;
        return s.response ? statusText(s.response.status) : "";
      }
      get responseURL() {
        const s = st2(this);
        if (s.mode === "native") return s.native.responseURL;
        return s.response ? withoutFragment(s.response.url) : "";
      }
      get response() {
        const s = st2(this);
        if (s.mode === "native") return s.native.response;
        if (s.responseType === "" || s.responseType === "text") {
          if (s.readyState !== LOADING && s.readyState !== DONE) return "";
          return textResponse(s);
        }
        if (s.readyState !== DONE || s.response === null) return null;
        if (s.responseObject) return s.responseObject.value;
        const value = responseObject(s);
        s.responseObject = { value };
        return value;
      }
      get responseText() {
        const s = st2(this);
        if (s.mode === "native") return s.native.responseText;
        if (s.responseType !== "" && s.responseType !== "text") {
          throw domError('responseText is only available when responseType is "" or "text"', "InvalidStateError");
        }
        if (s.readyState !== LOADING && s.readyState !== DONE) return "";
        return textResponse(s);
      }
      get responseXML() {
        const s = st2(this);
        if (s.mode === "native") return s.native.responseXML;
        if (s.responseType !== "" && s.responseType !== "document") {
          throw domError('responseXML is only available when responseType is "" or "document"', "InvalidStateError");
        }
        if (s.readyState !== DONE || s.response === null) return null;
        if (s.responseObject) return s.responseObject.value;
        const value = documentResponse(s);
        s.responseObject = { value };
        return value;
      }
      open(...raw) {
        const s = st2(this);
        if (raw.length < 2) throw new TypeError(`Failed to execute 'open': 2 arguments required, but only ${raw.length} present.`);
        const method = byteString2(raw[0], "method");
        const urlString = String(raw[1]);
        const args = [method, urlString];
        if (raw.length > 2) args.push(Boolean(raw[2]));
        if (raw.length > 3) args.push(raw[3] == null ? null : String(raw[3]));
        if (raw.length > 4) args.push(raw[4] == null ? null : String(raw[4]));
        let parsed;
        try {
          parsed = new URL(urlString, ctx.baseURL());
        } catch {
          parsed = null;
        }
        const bus = parsed !== null && ctx.isBus(parsed);
        const upper = normalizeMethod(method);
        if (!bus || routeFor2({ method: upper, url: parsed, hasBody: upper !== "GET" && upper !== "HEAD" }) === "native") {
          openNative(s, args, bus, upper);
          return;
        }
        const async = args.length < 3 ? true : args[2];
        openBus(s, method, parsed, async, args.length > 3 ? args[3] : null, args.length > 4 ? args[4] : null);
      }
      setRequestHeader(...args) {
        const s = st2(this);
        if (args.length < 2) throw new TypeError(`Failed to execute 'setRequestHeader': 2 arguments required, but only ${args.length} present.`);
        const n = byteString2(args[0], "name");
        const raw = byteString2(args[1], "value");
        if (s.mode === "native") {
          if (s.pending || s.stateOverride !== null) throw domError("setRequestHeader after send()", "InvalidStateError");
          s.native.setRequestHeader(n, raw);
          if (s.nativeRoute) checkBusHeaderValue(n, normalizeHeaderValue(raw));
          s.nativeHeaderNames.add(lower(n));
          return;
        }
        if (s.readyState !== OPENED) throw domError("the object state must be OPENED", "InvalidStateError");
        if (s.sendFlag) throw domError("setRequestHeader after send()", "InvalidStateError");
        const v = normalizeHeaderValue(raw);
        if (!isToken(n)) throw domError(`'${n}' is not a valid HTTP header field name`, "SyntaxError");
        if (!isHeaderValue(v)) throw domError(`'${v}' is not a valid HTTP header field value`, "SyntaxError");
        if (isForbiddenRequestHeader(n, v)) return;
        checkBusHeaderValue(n, v);
        const key = lower(n);
        const existing = s.headers.find(([k]) => lower(k) === key);
        if (existing) existing[1] = `${existing[1]}, ${v}`;
        else s.headers.push([n, v]);
      }
      send(...args) {
        const s = st2(this);
        const body = convertBody(args.length > 0 ? args[0] : null);
        if (s.mode === "native") {
          nativeSend(s, body);
          return;
        }
        if (s.readyState !== OPENED || s.sendFlag) throw domError("the object state must be OPENED and not sent", "InvalidStateError");
        if (s.sync) {
          throw domError("synchronous XMLHttpRequest is not supported for bus URLs", "InvalidAccessError");
        }
        busSend(s, body);
      }
      abort() {
        const s = st2(this);
        if (s.mode === "native") {
          nativeAbort(s);
          return;
        }
        const f = s.active;
        if (f) {
          f.ac.abort();
          clearTimer(f);
        }
        if (s.readyState === OPENED && s.sendFlag || s.readyState === HEADERS_RECEIVED || s.readyState === LOADING) {
          requestError(s, "abort");
        }
        if (s.readyState === DONE) {
          s.readyState = UNSENT;
          s.response = null;
          resetResponse(s);
        }
      }
      getResponseHeader(...args) {
        const s = st2(this);
        if (args.length < 1) throw new TypeError("Failed to execute 'getResponseHeader': 1 argument required, but only 0 present.");
        const name = byteString2(args[0], "name");
        if (s.mode === "native") return s.stateOverride !== null ? null : s.native.getResponseHeader(name);
        if (!s.response) return null;
        const n = lower(name);
        if (n === "set-cookie" || n === "set-cookie2") return null;
        return getHeader(s.response.headers, n);
      }
      getAllResponseHeaders() {
        const s = st2(this);
        if (s.mode === "native") return s.stateOverride !== null ? "" : s.native.getAllResponseHeaders();
        if (!s.response) return "";
        const headers = s.response.headers;
        const seen = /* @__PURE__ */ new Set();
        const names = [];
        for (let i = 0; i < headers.length; i++) {
          const n = lower(headers[i][0]);
          if (n === "set-cookie" || n === "set-cookie2" || seen.has(n)) continue;
          seen.add(n);
          names.push(n);
        }
        names.sort((a, b) => {
          const x = a.toUpperCase();
          const y = b.toUpperCase();
          return x < y ? -1 : x > y ? 1 : 0;
        });
        let out = "";
        for (let i = 0; i < names.length; i++) out += `${names[i]}: ${getHeader(headers, names[i])}\r
`;
        return out;
      }
      overrideMimeType(...args) {
        const s = st2(this);
        if (args.length < 1) throw new TypeError("Failed to execute 'overrideMimeType': 1 argument required, but only 0 present.");
        const mime = String(args[0]);
        if (s.mode === "native") {
          s.native.overrideMimeType(mime);
        } else if (s.readyState === LOADING || s.readyState === DONE) {
          throw domError("overrideMimeType after the response began", "InvalidStateError");
        }
        s.overrideRaw = mime;
        s.overrideMime = parseMimeType(mime) ?? parseMimeType("application/octet-stream");
      }
    };
    _XMLHttpRequest.UNSENT = UNSENT;
    _XMLHttpRequest.OPENED = OPENED;
    _XMLHttpRequest.HEADERS_RECEIVED = HEADERS_RECEIVED;
    _XMLHttpRequest.LOADING = LOADING;
    _XMLHttpRequest.DONE = DONE;
    let XMLHttpRequest = _XMLHttpRequest;
    defineEventHandlers(XMLHttpRequest.prototype, XHR_EVENTS);
    if (Original) Object.setPrototypeOf(XMLHttpRequest.prototype, Original.prototype);
    for (const [name, value] of [["UNSENT", UNSENT], ["OPENED", OPENED], ["HEADERS_RECEIVED", HEADERS_RECEIVED], ["LOADING", LOADING], ["DONE", DONE]]) {
      Object.defineProperty(XMLHttpRequest.prototype, name, { value, enumerable: true });
    }
    Object.defineProperty(XMLHttpRequest.prototype, Symbol.toStringTag, { value: "XMLHttpRequest", configurable: true });
    function openNative(s, args, bus, method) {
      if (!Original) throw new TypeError("XMLHttpRequest: no browser XMLHttpRequest for non-bus URLs");
      if (s.mode === "bus") {
        terminate(s);
        s.native = null;
      }
      let n = s.native;
      if (!n) {
        n = new Original();
        if (s.timeout !== 0) n.timeout = s.timeout;
        if (s.withCredentials) n.withCredentials = true;
        if (s.responseType !== "") n.responseType = s.responseType;
        if (s.overrideRaw !== null) n.overrideMimeType(s.overrideRaw);
        forwardEvents(s, n, n, s.target, XHR_EVENTS);
        s.native = n;
        s.nativeUploadForwarded = false;
      }
      s.mode = "native";
      s.nativeRoute = bus;
      s.nativeMethod = method;
      s.nativeSync = args.length >= 3 && !args[2];
      s.stateOverride = null;
      s.nativeHeaderNames = /* @__PURE__ */ new Set();
      if (s.pending) s.pending.cancelled = true;
      s.pending = null;
      n.open.apply(n, args);
    }
    function forwardEvents(s, n, source, target, types) {
      for (const type of types) {
        source.addEventListener(type, (e) => {
          if (s.native !== n || s.mode !== "native") return;
          if ("loaded" in e) {
            const p = e;
            fireProgress(target, type, p.loaded, p.lengthComputable ? p.total : 0);
          } else {
            fireEvent(target, type);
          }
        });
      }
    }
    function nativeSend(s, body) {
      const n = s.native;
      if (s.pending || s.stateOverride !== null) throw domError("send() already called", "InvalidStateError");
      if (hasUploadListeners(s.upload) && !s.nativeUploadForwarded) {
        s.nativeUploadForwarded = true;
        forwardEvents(s, n, n.upload, s.upload, UPLOAD_EVENTS);
      }
      const withBody = s.nativeRoute && body != null && s.nativeMethod !== "GET" && s.nativeMethod !== "HEAD";
      if (!withBody) {
        n.send(body);
        return;
      }
      if (n.readyState !== OPENED) {
        n.send(body);
        return;
      }
      const flatten = isBlob(body) || isFormData(body);
      if (flatten && s.nativeSync) {
        throw domError("a synchronous XMLHttpRequest cannot send a Blob or FormData to a bus URL", "InvalidAccessError");
      }
      if (ctx.bodyMarker) n.setRequestHeader(ctx.bodyMarker, "1");
      if (!flatten) {
        n.send(body);
        return;
      }
      const blob = isBlob(body) ? body : multipartBlob(body);
      if (blob.type !== "" && !s.nativeHeaderNames.has("content-type")) n.setRequestHeader("Content-Type", blob.type);
      const pending = { cancelled: false };
      s.pending = pending;
      then(
        blob.arrayBuffer(),
        (bytes) => {
          if (pending.cancelled || s.native !== n) return;
          s.pending = null;
          n.send(bytes);
        },
        () => {
          if (pending.cancelled || s.native !== n) return;
          s.pending = null;
          syntheticRequestError(s, "error");
        }
      );
    }
    function nativeAbort(s) {
      if (s.pending) {
        s.pending.cancelled = true;
        s.pending = null;
        syntheticRequestError(s, "abort");
        s.stateOverride = UNSENT;
        return;
      }
      s.native.abort();
    }
    function syntheticRequestError(s, event) {
      s.stateOverride = DONE;
      fireEvent(s.target, "readystatechange");
      if (hasUploadListeners(s.upload)) {
        fireProgress(s.upload, event, 0, 0);
        fireProgress(s.upload, "loadend", 0, 0);
      }
      fireProgress(s.target, event, 0, 0);
      fireProgress(s.target, "loadend", 0, 0);
    }
    function openBus(s, method, url, async, username, password) {
      if (!isToken(method)) throw domError(`'${method}' is not a valid HTTP method`, "SyntaxError");
      if (isForbiddenMethod(method)) throw domError(`'${method}' HTTP method is unsupported`, "SecurityError");
      const timeout = s.mode === "native" ? s.native.timeout : s.timeout;
      const responseType = s.mode === "native" ? s.native.responseType : s.responseType;
      if (!async && (timeout !== 0 || responseType !== "")) {
        throw domError("synchronous requests cannot have a timeout or a responseType", "InvalidAccessError");
      }
      if (s.mode === "native") {
        const n = s.native;
        s.readyState = s.stateOverride ?? n.readyState;
        s.timeout = n.timeout;
        s.withCredentials = n.withCredentials;
        s.responseType = n.responseType;
        s.mode = "bus";
        if (s.pending) s.pending.cancelled = true;
        s.pending = null;
        s.stateOverride = null;
        n.abort();
      }
      s.mode = "bus";
      terminate(s);
      s.sendFlag = false;
      s.uploadListener = false;
      s.method = normalizeMethod(method);
      const u = new URL(url.href);
      if (username !== null) u.username = username;
      if (password !== null) u.password = password;
      s.credentials = u.username !== "" || u.password !== "" ? { username: percentDecode(u.username), password: percentDecode(u.password) } : null;
      u.username = "";
      u.password = "";
      s.url = u;
      s.sync = !async;
      s.headers = [];
      s.response = null;
      resetResponse(s);
      if (s.readyState !== OPENED) {
        s.readyState = OPENED;
        fireEvent(s.target, "readystatechange");
      }
    }
    function busSend(s, input) {
      let body = null;
      if (s.method !== "GET" && s.method !== "HEAD" && input !== null) {
        const document2 = isDocument(input);
        body = document2 ? serializeDocument(input) : extractBody(input);
        const authorType = getHeader(s.headers, "content-type");
        if (authorType !== null) {
          if (document2 || typeof input === "string") setCharsetUtf8(s, authorType);
        } else if (body.type !== null) {
          s.headers.push(["Content-Type", body.type]);
        }
      }
      s.uploadListener = hasUploadListeners(s.upload);
      s.uploadComplete = body === null;
      s.timedOut = false;
      s.stopped = false;
      s.sendFlag = true;
      const f = {
        ac: new AbortController(),
        unstop: () => {
        },
        timer: null,
        start: monotonicNow(),
        length: 0,
        progressAt: null,
        progressPending: false,
        uploadLength: body?.length ?? 0,
        uploadSent: 0,
        uploadProgressAt: null,
        uploadProgressPending: false
      };
      s.active = f;
      fireProgress(s.target, "loadstart", 0, 0);
      if (!s.uploadComplete && s.uploadListener) fireProgress(s.upload, "loadstart", 0, f.uploadLength);
      if (s.readyState !== OPENED || !s.sendFlag || s.active !== f) return;
      scheduleTimeout(s, f);
      f.unstop = ctx.onStop(() => {
        if (s.active !== f) return;
        s.stopped = true;
        f.ac.abort();
      });
      const request = {
        method: s.method,
        url: s.url,
        headers: s.headers,
        body,
        signal: f.ac.signal,
        redirect: "follow",
        onupload: (sent, done) => uploadProgress(s, f, sent, done)
      };
      then(
        authenticated(s, request),
        (res) => {
          then(processResponse(s, f, res), void 0, () => processError(s, f));
        },
        () => processError(s, f)
      );
      if (body !== null && body.length === 0) enqueueMicrotask(() => uploadProgress(s, f, 0, true));
    }
    function uploadProgress(s, f, sent, done) {
      if (s.active !== f) return;
      f.uploadSent = sent;
      if (!done) {
        if (f.uploadProgressAt !== null && monotonicNow() - f.uploadProgressAt < PROGRESS_INTERVAL) {
          f.uploadProgressPending = true;
          return;
        }
        f.uploadProgressAt = monotonicNow();
        f.uploadProgressPending = false;
        if (s.uploadListener) fireProgress(s.upload, "progress", sent, f.uploadLength);
        return;
      }
      if (s.uploadComplete) return;
      s.uploadComplete = true;
      if (!s.uploadListener) return;
      if (f.uploadProgressPending || f.uploadProgressAt === null) fireProgress(s.upload, "progress", sent, f.uploadLength);
      if (s.active !== f) return;
      fireProgress(s.upload, "load", sent, f.uploadLength);
      if (s.active !== f) return;
      fireProgress(s.upload, "loadend", sent, f.uploadLength);
    }
    async function authenticated(s, request) {
      let res;
      try {
        res = await busRequest(ctx, { ...request, keepBody: true });
      } catch (e) {
        letGoBody(request.body);
        throw e;
      }
      const once = () => {
        letGoBody(request.body);
        return res;
      };
      const creds = s.credentials;
      if (res.status !== 401 || creds === null || getHeader(request.headers, "authorization") !== null) return once();
      const challenge = getHeader(res.headers, "www-authenticate");
      if (challenge === null || !/(^|,)\s*basic(\s|$|,)/i.test(challenge)) return once();
      if (request.body !== null && request.body.source === null) return once();
      cancelStream(res.body);
      const token = toBase64(new TextEncoder().encode(`${creds.username}:${creds.password}`));
      return busRequest(ctx, { ...request, headers: [...request.headers, ["Authorization", `Basic ${token}`]] });
    }
    async function processResponse(s, f, res) {
      if (s.active !== f) {
        cancelStream(res.body);
        return;
      }
      s.response = { status: res.status, headers: res.headers, url: res.url };
      s.readyState = HEADERS_RECEIVED;
      fireEvent(s.target, "readystatechange");
      if (s.readyState !== HEADERS_RECEIVED || s.active !== f) {
        cancelStream(res.body);
        return;
      }
      f.length = extractLength(res.headers) ?? 0;
      if (s.method === "HEAD" || res.status === 204 || res.status === 205 || res.status === 304) {
        cancelStream(res.body);
        endOfBody(s, f);
        return;
      }
      const reader = getReader(res.body);
      f.ac.signal.addEventListener("abort", () => cancelReader(reader), ONCE3);
      for (; ; ) {
        let next;
        try {
          next = await read(reader);
        } catch {
          processError(s, f);
          return;
        }
        if (s.active !== f) return;
        if (next.done) {
          endOfBody(s, f);
          return;
        }
        bodyChunk(s, f, next.value);
      }
    }
    function bodyChunk(s, f, bytes) {
      if (bytes.byteLength === 0) return;
      s.chunks.push(bytes);
      s.received += bytes.byteLength;
      s.bytesCache = null;
      if (f.progressAt !== null && monotonicNow() - f.progressAt < PROGRESS_INTERVAL) {
        f.progressPending = true;
        return;
      }
      f.progressAt = monotonicNow();
      f.progressPending = false;
      if (s.readyState === HEADERS_RECEIVED) s.readyState = LOADING;
      fireEvent(s.target, "readystatechange");
      if (s.active !== f) return;
      fireProgress(s.target, "progress", s.received, f.length);
    }
    function endOfBody(s, f) {
      const transmitted = s.received;
      if (f.progressPending || f.progressAt === null) fireProgress(s.target, "progress", transmitted, f.length);
      if (s.active !== f) return;
      clearTimer(f);
      f.unstop();
      s.active = null;
      s.readyState = DONE;
      s.sendFlag = false;
      fireEvent(s.target, "readystatechange");
      fireProgress(s.target, "load", transmitted, f.length);
      fireProgress(s.target, "loadend", transmitted, f.length);
    }
    function processError(s, f) {
      if (s.active !== f || !s.sendFlag) return;
      requestError(s, s.timedOut ? "timeout" : s.stopped ? "abort" : "error");
    }
    function requestError(s, event) {
      const f = s.active;
      if (f) {
        clearTimer(f);
        f.unstop();
        f.ac.abort();
      }
      s.active = null;
      s.readyState = DONE;
      s.sendFlag = false;
      s.response = null;
      resetResponse(s);
      fireEvent(s.target, "readystatechange");
      if (!s.uploadComplete) {
        s.uploadComplete = true;
        if (s.uploadListener) {
          fireProgress(s.upload, event, 0, 0);
          fireProgress(s.upload, "loadend", 0, 0);
        }
      }
      fireProgress(s.target, event, 0, 0);
      fireProgress(s.target, "loadend", 0, 0);
    }
    function scheduleTimeout(s, f) {
      clearTimer(f);
      if (s.timeout === 0) return;
      const deadline = f.start + s.timeout;
      f.timer = startTimer(() => expire(s, f, deadline, 0), Math.max(0, deadline - monotonicNow()));
    }
    function expire(s, f, deadline, waited) {
      f.timer = null;
      if (s.active !== f) return;
      const late = monotonicNow() - deadline - waited;
      if (late > TIMER_SLACK && waited <= late) {
        const before = ctx.client.delivered;
        const start = monotonicNow();
        f.timer = startTimer(() => {
          if (ctx.client.delivered !== before || waited === 0) expire(s, f, deadline, waited + (monotonicNow() - start));
          else timeOut(s, f);
        }, 0);
        return;
      }
      timeOut(s, f);
    }
    function timeOut(s, f) {
      f.timer = null;
      if (s.active !== f) return;
      s.timedOut = true;
      f.ac.abort();
      requestError(s, "timeout");
    }
    function terminate(s) {
      const f = s.active;
      if (!f) return;
      s.active = null;
      clearTimer(f);
      f.unstop();
      f.ac.abort();
    }
    const proto = XMLHttpRequest.prototype;
    idlShape(XMLHttpRequest, ["UNSENT", "OPENED", "HEADERS_RECEIVED", "LOADING", "DONE"]);
    idlShape(XMLHttpRequestUpload, []);
    idlLength(proto.open, 2);
    idlLength(proto.setRequestHeader, 2);
    idlLength(proto.getResponseHeader, 1);
    idlLength(proto.overrideMimeType, 1);
    return XMLHttpRequest;
  }
  function clearTimer(f) {
    if (f.timer !== null) stopTimer(f.timer);
    f.timer = null;
  }
  function resetResponse(s) {
    s.chunks = [];
    s.received = 0;
    s.bytesCache = null;
    s.textCache = null;
    s.responseObject = null;
  }
  function toUint32(v) {
    const n = Number(v);
    return Number.isFinite(n) ? Math.trunc(n) >>> 0 : 0;
  }
  function byteString2(v, what) {
    const s = String(v);
    if (/[^\0-\u00ff]/.test(s)) throw new TypeError(`${what === "method" ? "the method" : `header ${what}`} is not a ByteString`);
    return s;
  }
  function checkBusHeaderValue(name, value) {
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c < 32 && c !== 9 || c === 127) {
        throw new TypeError(
          `setRequestHeader: the value of header ${JSON.stringify(name)} has the control character U+${c.toString(16).toUpperCase().padStart(4, "0")}, which the bus cannot carry (http::HeaderValue refuses it)`
        );
      }
    }
  }
  function convertBody(x) {
    if (x === null || x === void 0) return null;
    if (isDocument(x) || isBlob(x) || isFormData(x) || isUrlSearchParams(x) || isBufferSource(x)) return x;
    return toUsv(String(x));
  }
  function toUsv(s) {
    return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\uFFFD");
  }
  function percentDecode(s) {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  }
  var ONCE3 = bare({ once: true });
  var TIMER_SLACK = 20;
  function isDocument(x) {
    return typeof Document !== "undefined" && x instanceof Document;
  }
  function serializeDocument(doc) {
    const html = doc.contentType === "text/html";
    let text;
    if (html) {
      const dt = doc.doctype;
      text = (dt ? `<!DOCTYPE ${dt.name}>` : "") + (doc.documentElement?.outerHTML ?? "");
    } else {
      text = new XMLSerializer().serializeToString(doc);
    }
    const bytes = new TextEncoder().encode(text);
    return { source: bytes, stream: null, type: html ? "text/html;charset=UTF-8" : "application/xml;charset=UTF-8", length: bytes.byteLength, owned: true };
  }
  function setCharsetUtf8(s, authorType) {
    const m = parseMimeType(authorType);
    const charset = m?.parameters.get("charset");
    if (!m || charset === void 0 || lower(charset) === "utf-8") return;
    m.parameters.set("charset", "UTF-8");
    const value = serializeMimeType(m);
    s.headers = s.headers.map(([k, v]) => lower(k) === "content-type" ? [k, value] : [k, v]);
  }
  function bytesOf(s) {
    if (s.bytesCache && s.bytesCache.byteLength === s.received) return s.bytesCache;
    const out = new Uint8Array(s.received);
    let at = 0;
    for (const c of s.chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    s.chunks = out.byteLength > 0 ? [out] : [];
    s.bytesCache = out;
    return out;
  }
  function finalMime(s) {
    return s.overrideMime ?? responseMime(s);
  }
  function responseMime(s) {
    return (s.response && extractMimeType(s.response.headers)) ?? parseMimeType("text/xml");
  }
  function finalCharset(s) {
    return s.overrideMime?.parameters.get("charset") ?? responseMime(s).parameters.get("charset") ?? null;
  }
  var REPLACEMENT_LABELS = /* @__PURE__ */ new Set(["csiso2022kr", "hz-gb-2312", "iso-2022-cn", "iso-2022-cn-ext", "iso-2022-kr", "replacement"]);
  function decode2(bytes, label) {
    let encoding = label ?? "utf-8";
    if (bytes[0] === 239 && bytes[1] === 187 && bytes[2] === 191) encoding = "utf-8";
    else if (bytes[0] === 254 && bytes[1] === 255) encoding = "utf-16be";
    else if (bytes[0] === 255 && bytes[1] === 254) encoding = "utf-16le";
    let decoder2;
    try {
      decoder2 = new TextDecoder(encoding);
    } catch {
      if (REPLACEMENT_LABELS.has(lower(encoding.trim()))) return bytes.byteLength === 0 ? "" : "\uFFFD";
      decoder2 = new TextDecoder("utf-8");
    }
    return decoder2.decode(bytes);
  }
  function xmlDeclaredEncoding(bytes) {
    if (bytes.length < 6 || latin1Prefix(bytes, 5) !== "<?xml") return null;
    const head = latin1Prefix(bytes, 1024);
    const end = head.indexOf("?>");
    if (end < 0) return null;
    const m = /^<\?xml\s[^]*?\bencoding\s*=\s*(["'])([A-Za-z][A-Za-z0-9._-]*)\1/.exec(head.slice(0, end));
    return m ? m[2] : null;
  }
  function htmlPrescan(bytes) {
    const head = latin1Prefix(bytes, 1024).replace(/<!--[^]*?-->/g, "");
    const metas = /<meta[\s/]([^>]*)>?/gi;
    for (let m = metas.exec(head); m !== null; m = metas.exec(head)) {
      const attrs = /* @__PURE__ */ new Map();
      const attr = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
      for (let a = attr.exec(m[1]); a !== null; a = attr.exec(m[1])) {
        const name = a[1].toLowerCase();
        if (!attrs.has(name)) attrs.set(name, a[2] ?? a[3] ?? a[4] ?? "");
      }
      let label = null;
      if (attrs.has("charset")) label = attrs.get("charset").trim();
      else if (attrs.get("http-equiv")?.toLowerCase() === "content-type" && attrs.has("content")) {
        const c = /charset\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s;"']+))/i.exec(attrs.get("content"));
        label = c ? c[1] ?? c[2] ?? c[3] ?? null : null;
      }
      if (label === null || label === "") continue;
      const l = label.toLowerCase();
      if (/^(utf-16|utf-16le|utf-16be|unicode|ucs-2|csunicode|iso-10646-ucs-2|unicodefeff|unicodefffe)$/.test(l)) return "utf-8";
      if (l === "x-user-defined") return "windows-1252";
      return label;
    }
    return null;
  }
  function latin1Prefix(bytes, n) {
    let out = "";
    const end = Math.min(n, bytes.length);
    for (let i = 0; i < end; i++) out += String.fromCharCode(bytes[i]);
    return out;
  }
  function textResponse(s) {
    if (!s.response) return "";
    if (s.textCache && s.textCache.received === s.received) return s.textCache.text;
    const bytes = bytesOf(s);
    let charset = finalCharset(s);
    if (charset === null && s.responseType === "" && isXmlMime(finalMime(s))) charset = xmlDeclaredEncoding(bytes);
    const text = decode2(bytes, charset);
    s.textCache = { received: s.received, text };
    return text;
  }
  function responseObject(s) {
    switch (s.responseType) {
      case "arraybuffer":
        try {
          const bytes = bytesOf(s);
          return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
        } catch {
          return null;
        }
      case "blob":
        return new Blob([bytesOf(s)], { type: serializeMimeType(finalMime(s)) });
      case "document":
        return documentResponse(s);
      case "json":
        try {
          return JSON.parse(new TextDecoder("utf-8").decode(bytesOf(s)));
        } catch {
          return null;
        }
      default:
        return null;
    }
  }
  var DOM_PARSER_XML_TYPES = /* @__PURE__ */ new Set(["text/xml", "application/xml", "application/xhtml+xml", "image/svg+xml"]);
  function documentResponse(s) {
    if (!s.response) return null;
    const mime = finalMime(s);
    const html = isHtmlMime(mime);
    if (!html && !isXmlMime(mime)) return null;
    if (html && s.responseType === "") return null;
    const Parser = globalThis.DOMParser;
    if (!Parser) return null;
    const bytes = bytesOf(s);
    const charset = finalCharset(s) ?? (html ? htmlPrescan(bytes) : xmlDeclaredEncoding(bytes));
    const text = decode2(bytes, charset);
    const type = html ? "text/html" : DOM_PARSER_XML_TYPES.has(mime.essence) ? mime.essence : "application/xml";
    const doc = new Parser().parseFromString(text, type);
    if (!html && typeof doc.getElementsByTagName === "function" && doc.getElementsByTagName("parsererror").length > 0) return null;
    return doc;
  }

  // src/stop.ts
  function hookStop(global) {
    const g = global;
    const original = g.stop;
    const aborts = /* @__PURE__ */ new Set();
    let controller = null;
    let stop = null;
    const stopper = {
      onStop(abort) {
        aborts.add(abort);
        return () => {
          aborts.delete(abort);
        };
      },
      signal() {
        controller ?? (controller = new AbortController());
        return controller.signal;
      },
      unhook() {
        if (stop !== null && g.stop === stop) g.stop = original;
      }
    };
    if (typeof original !== "function") return stopper;
    stop = function stop2(...args) {
      const now = Array.from(aborts);
      aborts.clear();
      const c = controller;
      controller = null;
      c?.abort(new TypeError("the document stopped loading (window.stop())"));
      for (let i = 0; i < now.length; i++) {
        try {
          now[i]();
        } catch (e) {
          enqueueMicrotask(() => {
            throw e;
          });
        }
      }
      return Reflect.apply(original, this, args);
    };
    Object.defineProperty(stop, "length", { value: 0 });
    g.stop = stop;
    return stopper;
  }

  // src/websocket.ts
  var CONNECTING2 = 0;
  var OPEN2 = 1;
  var CLOSING = 2;
  var CLOSED2 = 3;
  var TEXT = 0;
  var BINARY = 1;
  var CLOSE = 2;
  var MAX_CLOSE_REASON = 123;
  var WS_WINDOW = 4 << 20;
  var BATCH = 64 * 1024;
  var WsRecordError = class extends Error {
    constructor(message, code) {
      super(message);
      this.code = code;
      this.name = "WsRecordError";
    }
  };
  function wsRecordHeader(message) {
    if (message.type === "Close") {
      const reason = utf82(message.reason);
      const out2 = new Uint8Array(14);
      const view2 = new DataView(out2.buffer);
      view2.setUint32(0, CLOSE, true);
      view2.setUint16(4, message.code, true);
      view2.setUint32(6, reason.byteLength, true);
      return out2;
    }
    const out = new Uint8Array(12);
    const view = new DataView(out.buffer);
    view.setUint32(0, message.type === "Text" ? TEXT : BINARY, true);
    const n = message.data.byteLength;
    view.setUint32(4, n % 4294967296, true);
    view.setUint32(8, Math.floor(n / 4294967296), true);
    return out;
  }
  function encodeWsMessage(message) {
    const header = wsRecordHeader(message);
    const payload = message.type === "Close" ? utf82(message.reason) : message.data;
    const out = new Uint8Array(header.byteLength + payload.byteLength);
    out.set(header);
    out.set(payload, header.byteLength);
    return out;
  }
  var WsRecordDecoder = class {
    constructor(maxMessage = Number.MAX_SAFE_INTEGER) {
      this.maxMessage = maxMessage;
      this.chunks = [];
      this.buffered = 0;
    }
    push(bytes) {
      if (bytes.byteLength === 0) return;
      this.chunks.push(bytes);
      this.buffered += bytes.byteLength;
    }
    /** Whether bytes of an incomplete record are waiting. */
    get hasPartial() {
      return this.buffered > 0;
    }
    /** The next complete record, or null; throws WsRecordError for a malformed one. */
    next() {
      if (this.buffered < 4) return null;
      const head = this.peek(Math.min(this.buffered, 14));
      const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
      const kind = view.getUint32(0, true);
      let header;
      let at;
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
      const high = view.getUint32(at + 4, true);
      const len = high >= 2097152 ? Number.POSITIVE_INFINITY : high * 4294967296 + view.getUint32(at, true);
      const shown = high >= 2097152 ? view.getBigUint64(at, true).toString() : String(len);
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
      const payload = this.take(len);
      if (kind === CLOSE) {
        let reason;
        try {
          reason = strictUtf8.decode(payload);
        } catch {
          throw new WsRecordError("malformed WebSocket message record: a close reason that is not UTF-8", 1002);
        }
        return { type: "Close", code, reason };
      }
      if (kind === TEXT) {
        try {
          strictUtf8.decode(payload);
        } catch {
          throw new WsRecordError("malformed WebSocket message record: text that is not UTF-8", 1002);
        }
      }
      return { type: kind === TEXT ? "Text" : "Binary", data: payload };
    }
    /** The first `n` buffered bytes (a view when they sit in one chunk), not consumed. */
    peek(n) {
      const first = this.chunks[0];
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
    take(n) {
      if (n === 0) return new Uint8Array(0);
      this.buffered -= n;
      const first = this.chunks[0];
      if (first.byteLength >= n) {
        if (first.byteLength === n) this.chunks.shift();
        else this.chunks[0] = first.subarray(n);
        return first.subarray(0, n);
      }
      const out = new Uint8Array(n);
      gathered.add(out.buffer);
      let at = 0;
      while (at < n) {
        const c = this.chunks[0];
        const k = Math.min(c.byteLength, n - at);
        out.set(c.subarray(0, k), at);
        at += k;
        if (k === c.byteLength) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
      return out;
    }
  };
  var gathered = /* @__PURE__ */ new WeakSet();
  function ownBuffer(data) {
    const buffer = data.buffer;
    if (gathered.has(buffer) && data.byteOffset === 0 && data.byteLength === buffer.byteLength) {
      gathered.delete(buffer);
      return buffer;
    }
    return data.slice().buffer;
  }
  function decodeWsMessage(bytes, maxMessage = Number.MAX_SAFE_INTEGER) {
    const decoder2 = new WsRecordDecoder(maxMessage);
    decoder2.push(bytes);
    const message = decoder2.next();
    if (message === null) throw new WsRecordError("malformed WebSocket message record: a truncated record", 1002);
    if (decoder2.hasPartial) throw new WsRecordError("malformed WebSocket message record: trailing bytes after the record", 1002);
    return message;
  }
  var states3 = /* @__PURE__ */ new WeakMap();
  function st3(x) {
    const s = states3.get(x);
    if (!s) throw new TypeError("Illegal invocation");
    return s;
  }
  var FallbackCloseEvent = class extends Event {
    constructor(type, init = {}) {
      super(type, init);
      this.wasClean = init.wasClean ?? false;
      this.code = init.code ?? 0;
      this.reason = init.reason ?? "";
    }
  };
  function closeEvent(init) {
    const native = globalThis.CloseEvent;
    return new (typeof native === "function" ? native : FallbackCloseEvent)("close", init);
  }
  function busOriginForWebSocket(url, origins, isBus) {
    const p = url.protocol;
    if (p === "ws:" || p === "wss:" || p === "http:" || p === "https:") {
      for (const origin of origins) {
        if (new URL(origin).host === url.host) return origin;
      }
      return null;
    }
    return isBus(url) ? originOf(url) : null;
  }
  function createWebSocket(ctx, Original) {
    const _WebSocket = class _WebSocket extends EventTarget {
      static [Symbol.hasInstance](x) {
        if (Function.prototype[Symbol.hasInstance].call(this, x)) return true;
        return this === _WebSocket && Original !== void 0 && x instanceof Original;
      }
      constructor(...args) {
        if (args.length < 1) throw new TypeError("Failed to construct 'WebSocket': 1 argument required, but only 0 present.");
        const urlText = idlString(args[0]);
        let parsed;
        try {
          parsed = new URL(urlText, ctx.baseURL());
        } catch {
          parsed = null;
        }
        const busOrigin = parsed === null ? null : busOriginForWebSocket(parsed, ctx.origins, (u) => ctx.isBus(u));
        if (parsed === null || busOrigin === null) {
          if (Original) return new Original(...args);
          if (parsed === null) throw new DOMException(`The URL '${urlText}' is invalid.`, "SyntaxError");
          throw new DOMException("WebSocket: no browser WebSocket for URLs outside the app", "NotSupportedError");
        }
        if (parsed.hash !== "" || urlText.includes("#")) {
          throw new DOMException(`The URL contains a fragment identifier ('${parsed.hash}'). Fragment identifiers are not allowed in WebSocket URLs.`, "SyntaxError");
        }
        const raw = args.length > 1 && args[1] !== void 0 ? args[1] : [];
        const protocols = typeof raw === "string" ? [raw] : isIterable(raw) ? [...raw].map(String) : [String(raw)];
        const seen = /* @__PURE__ */ new Set();
        for (const p of protocols) {
          if (!isToken(p)) throw new DOMException(`The subprotocol '${p}' is invalid.`, "SyntaxError");
          const key = p.toLowerCase();
          if (seen.has(key)) throw new DOMException(`The subprotocol '${p}' is duplicated.`, "SyntaxError");
          seen.add(key);
        }
        super();
        const shown = new URL(parsed.href);
        if (shown.protocol === "http:" || shown.protocol === "https:") {
          shown.protocol = shown.protocol === "https:" ? "wss:" : "ws:";
        } else if (shown.protocol !== "ws:" && shown.protocol !== "wss:") {
          const secure = ctx.baseURL().startsWith("https:");
          const auth = shown.username !== "" || shown.password !== "" ? `${shown.username}${shown.password !== "" ? `:${shown.password}` : ""}@` : "";
          const text = `${secure ? "wss" : "ws"}://${auth}${shown.host}${shown.pathname}${shown.search}`;
          shown.href = new URL(text).href;
        }
        const s = {
          target: this,
          url: shown,
          messageOrigin: `${shown.protocol}//${shown.host}`,
          protocols,
          readyState: CONNECTING2,
          protocol: "",
          binaryType: "blob",
          buffered: 0,
          queue: new Queue(),
          inflight: new Queue(),
          offset: 0,
          sent: 0,
          wakeUpload: null,
          uploadDone: false,
          closeReceived: null,
          connection: new AbortController(),
          finished: false
        };
        states3.set(this, s);
        connect(s, `${busOrigin}${parsed.pathname}${parsed.search}`);
      }
      get url() {
        return st3(this).url.href;
      }
      get readyState() {
        return st3(this).readyState;
      }
      get bufferedAmount() {
        const s = st3(this);
        let partly = 0;
        const head = s.inflight.first;
        if (head) partly = Math.max(0, Math.min(s.sent, head.end) - head.start);
        return s.buffered - partly;
      }
      get extensions() {
        st3(this);
        return "";
      }
      get protocol() {
        return st3(this).protocol;
      }
      get binaryType() {
        return st3(this).binaryType;
      }
      set binaryType(value) {
        const s = st3(this);
        const v = idlString(value);
        if (v === "blob" || v === "arraybuffer") s.binaryType = v;
      }
      send(...args) {
        const s = st3(this);
        if (args.length < 1) throw new TypeError("Failed to execute 'send' on 'WebSocket': 1 argument required, but only 0 present.");
        const data = args[0];
        if (isShared(data)) throw new TypeError("Failed to execute 'send' on 'WebSocket': the data must not be a SharedArrayBuffer or a view on one.");
        let item;
        if (typeof Blob !== "undefined" && data instanceof Blob) {
          item = outgoing(BINARY, null, data.size, data);
        } else if (data instanceof ArrayBuffer) {
          item = outgoing(BINARY, new Uint8Array(data.slice(0)), data.byteLength);
        } else if (ArrayBuffer.isView(data)) {
          const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
          item = outgoing(BINARY, bytes, bytes.byteLength);
        } else {
          const bytes = utf82(idlString(data));
          item = outgoing(TEXT, bytes, bytes.byteLength);
        }
        if (s.readyState === CONNECTING2) throw new DOMException("Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.", "InvalidStateError");
        s.buffered += item.size;
        if (s.readyState !== OPEN2 || s.uploadDone) return;
        s.queue.push(item);
        wake(s);
      }
      close(...args) {
        const s = st3(this);
        const code = args[0];
        const reason = args[1];
        const c = code === void 0 ? null : clampCode(code);
        const reasonText = reason === void 0 ? "" : idlString(reason);
        if (c !== null) {
          if (c !== 1e3 && (c < 3e3 || c > 4999)) {
            throw new DOMException(
              `Failed to execute 'close' on 'WebSocket': The close code must be either 1000, or between 3000 and 4999. ${c} is neither.`,
              "InvalidAccessError"
            );
          }
        }
        const reasonBytes = utf82(reasonText);
        if (reasonBytes.byteLength > MAX_CLOSE_REASON) {
          throw new DOMException(`Failed to execute 'close' on 'WebSocket': The close reason must not be greater than ${MAX_CLOSE_REASON} UTF-8 bytes.`, "SyntaxError");
        }
        if (s.readyState === CLOSING || s.readyState === CLOSED2) return;
        if (s.readyState === CONNECTING2) {
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
    };
    _WebSocket.CONNECTING = CONNECTING2;
    _WebSocket.OPEN = OPEN2;
    _WebSocket.CLOSING = CLOSING;
    _WebSocket.CLOSED = CLOSED2;
    let WebSocket = _WebSocket;
    defineEventHandlers(WebSocket.prototype, ["open", "message", "error", "close"]);
    if (Original) Object.setPrototypeOf(WebSocket.prototype, Original.prototype);
    for (const [name, value] of [
      ["CONNECTING", CONNECTING2],
      ["OPEN", OPEN2],
      ["CLOSING", CLOSING],
      ["CLOSED", CLOSED2]
    ]) {
      Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
    }
    Object.defineProperty(WebSocket.prototype, Symbol.toStringTag, { value: "WebSocket", configurable: true });
    function connect(s, uri) {
      const headers = [
        ["upgrade", "websocket"],
        ["connection", "upgrade"],
        ["sec-websocket-version", "13"]
      ];
      if (s.protocols.length > 0) headers.push(["sec-websocket-protocol", s.protocols.join(", ")]);
      ctx.client.openStream({
        method: "GET",
        uri,
        headers,
        body: upload(s),
        signal: s.connection.signal,
        window: ctx.window ?? WS_WINDOW,
        onupload: (sent) => uploaded(s, sent)
      }).then(
        async (res) => {
          if (s.readyState !== CONNECTING2) {
            void res.body.cancel().catch(() => {
            });
            return;
          }
          const chosen = res.headers.find(([n]) => n === "sec-websocket-protocol");
          const protocol = chosen ? latin1(chosen[1]) : "";
          if (res.status !== 101 || protocol !== "" && !s.protocols.includes(protocol)) {
            void res.body.cancel().catch(() => {
            });
            s.connection.abort();
            finish(s, null, true);
            return;
          }
          s.protocol = protocol;
          s.readyState = OPEN2;
          s.target.dispatchEvent(new Event("open"));
          await receive(s, res.body);
        },
        () => finish(s, null, true)
      );
    }
    async function receive(s, body) {
      const reader = body.getReader();
      const decoder2 = new WsRecordDecoder();
      const text = new TextDecoder("utf-8", { ignoreBOM: true });
      try {
        for (; ; ) {
          const next = await reader.read();
          if (next.done) break;
          decoder2.push(next.value);
          let dispatched = false;
          for (let m = decoder2.next(); m !== null; m = decoder2.next()) {
            if (m.type === "Close") {
              if (s.closeReceived === null) s.closeReceived = { code: m.code, reason: m.reason };
              if (s.readyState === OPEN2) s.readyState = CLOSING;
              s.uploadDone = true;
              wake(s);
              continue;
            }
            if (s.readyState !== OPEN2) continue;
            if (dispatched) {
              await microtaskTurns();
              if (s.readyState !== OPEN2) continue;
            }
            dispatched = true;
            let data;
            if (m.type === "Text") data = text.decode(m.data);
            else if (s.binaryType === "arraybuffer") data = ownBuffer(m.data);
            else data = new Blob([m.data]);
            s.target.dispatchEvent(new MessageEvent("message", { data, origin: s.messageOrigin }));
          }
        }
      } catch {
        reader.cancel().catch(() => {
        });
        s.connection.abort();
        finish(s, null, true);
        return;
      }
      finish(s, s.closeReceived, s.closeReceived === null);
    }
    function finish(s, close, failed) {
      if (s.finished) return;
      s.finished = true;
      s.uploadDone = true;
      s.queue.clear();
      wake(s);
      startTimer(() => {
        s.readyState = CLOSED2;
        if (failed) s.target.dispatchEvent(new Event("error"));
        const clean = close !== null;
        s.target.dispatchEvent(closeEvent({ wasClean: clean, code: clean ? close.code : 1006, reason: clean ? close.reason : "" }));
      }, 0);
    }
    idlShape(WebSocket, ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]);
    idlLength(WebSocket, 1);
    idlLength(WebSocket.prototype.send, 1);
    return WebSocket;
  }
  var Queue = class {
    constructor() {
      this.items = [];
      this.head = 0;
    }
    get size() {
      return this.items.length - this.head;
    }
    get first() {
      return this.items[this.head];
    }
    push(item) {
      this.items.push(item);
    }
    shift() {
      if (this.head >= this.items.length) return void 0;
      const item = this.items[this.head];
      this.items[this.head++] = void 0;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      return item;
    }
    clear() {
      this.items = [];
      this.head = 0;
    }
  };
  function outgoing(kind, bytes, size, blob = null) {
    return { kind, bytes, blob, code: 0, size, start: 0, end: 0 };
  }
  function wake(s) {
    const w = s.wakeUpload;
    s.wakeUpload = null;
    w?.();
  }
  function uploaded(s, sent) {
    s.sent = sent;
    for (let done = s.inflight.first; done && done.end <= sent; done = s.inflight.first) {
      s.inflight.shift();
      s.buffered -= done.size;
    }
  }
  async function* upload(s) {
    for (; ; ) {
      while (s.queue.size === 0) {
        if (s.uploadDone || s.readyState === CLOSED2) return;
        await new Promise((resolve) => {
          s.wakeUpload = resolve;
        });
      }
      if (s.readyState === CLOSED2) return;
      const pieces = [];
      let size = 0;
      let last = false;
      for (let item = s.queue.first; item; item = s.queue.first) {
        if (pieces.length > 0 && size + 14 + (item.bytes?.byteLength ?? item.size) > BATCH) break;
        if (item.bytes === null) {
          if (pieces.length > 0) break;
          try {
            item.bytes = new Uint8Array(await item.blob.arrayBuffer());
          } catch {
            item.bytes = new Uint8Array(0);
          }
          if (s.readyState === CLOSED2) return;
        }
        s.queue.shift();
        const message = item.kind === CLOSE ? { type: "Close", code: item.code, reason: strictUtf8.decode(item.bytes) } : { type: item.kind === TEXT ? "Text" : "Binary", data: item.bytes };
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
  var encoder2 = new TextEncoder();
  var strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  function utf82(s) {
    return encoder2.encode(s);
  }
  function idlString(value) {
    if (typeof value === "symbol") throw new TypeError("Cannot convert a Symbol value to a string");
    return String(value);
  }
  function isShared(value) {
    if (typeof SharedArrayBuffer === "undefined") return false;
    if (value instanceof SharedArrayBuffer) return true;
    return ArrayBuffer.isView(value) && value.buffer instanceof SharedArrayBuffer;
  }
  function clampCode(value) {
    const n = Number(value);
    if (Number.isNaN(n)) return 0;
    const clamped = Math.min(Math.max(n, 0), 65535);
    const floor = Math.floor(clamped);
    const diff = clamped - floor;
    if (diff > 0.5) return floor + 1;
    if (diff < 0.5) return floor;
    return floor % 2 === 0 ? floor : floor + 1;
  }
  function isIterable(x) {
    return typeof x === "object" && x !== null && typeof x[Symbol.iterator] === "function";
  }

  // src/workers.ts
  var PORT_KEY = "inprocBusPort";
  var READY = "inproc-bus:ready";
  var CLOSING2 = "inproc-bus:closing";
  var fnToString = Function.prototype.toString;
  var { apply: apply6, construct } = Reflect;
  function bundleSource() {
    try {
      return typeof __inprocBusBundle === "function" ? apply6(fnToString, __inprocBusBundle, []) : null;
    } catch {
      return null;
    }
  }
  function wrapWorkers(global, ctx) {
    const g = global;
    const Original = g.Worker;
    const source = bundleSource();
    const own = ownOrigin(g);
    if (typeof Original !== "function" || source === null || own === null || !ctx.origins.includes(own)) return () => {
    };
    const Channel = g.MessageChannel;
    const BlobCtor = g.Blob;
    const URLCtor = g.URL;
    const createObjectURL = URLCtor.createObjectURL;
    const revokeObjectURL = URLCtor.revokeObjectURL;
    const proto = Original.prototype;
    const postMessage = proto.postMessage;
    const nativeTerminate = proto.terminate;
    const getRandomValues = g.crypto?.getRandomValues;
    const cryptoObj = g.crypto;
    if (typeof Channel !== "function" || typeof BlobCtor !== "function" || typeof createObjectURL !== "function" || !getRandomValues) {
      return () => {
      };
    }
    const links = /* @__PURE__ */ new WeakMap();
    const Worker = function Worker2(...args) {
      if (new.target === void 0) throw new TypeError("Failed to construct 'Worker': Please use the 'new' operator.");
      const script = args[0];
      const options = args[1];
      let url = null;
      try {
        url = new URLCtor(String(script), ctx.baseURL());
      } catch {
      }
      if (url === null || scriptOrigin(url) !== own) return construct(Original, args, new.target);
      const module = options != null && options.type === "module";
      const nonce = hex(apply6(getRandomValues, cryptoObj, [new Uint8Array(16)]));
      const config = {
        origins: [...ctx.origins],
        url: url.href,
        nonce,
        window: ctx.window,
        maxStreams: ctx.maxStreams,
        eventSourceRetry: ctx.eventSourceRetry
      };
      const shim = `var InprocBusBridge = (${source})();
InprocBusBridge.installInWorker(${JSON.stringify(config)});
`;
      const blobs = [];
      const blobURL = (text) => {
        const u = createObjectURL(new BlobCtor([text], { type: "text/javascript" }));
        blobs.push(u);
        return u;
      };
      let entry;
      if (module) {
        entry = blobURL(`import ${JSON.stringify(blobURL(shim))};
import ${JSON.stringify(url.href)};
`);
      } else {
        entry = blobURL(`${shim}InprocBusBridge.runWorkerScript(${JSON.stringify(url.href)});
`);
      }
      const rest = [entry];
      for (let i = 1; i < args.length; i++) rest.push(args[i]);
      const worker = construct(Original, rest, new.target);
      const channel = new Channel();
      const port = channel.port1;
      let link = null;
      const revoke = () => {
        for (let i = 0; i < blobs.length; i++) revokeObjectURL(blobs[i]);
        blobs.length = 0;
      };
      const transport = portTransport(port, (control) => {
        if (control === READY) revoke();
        else if (control === CLOSING2) {
          revoke();
          link?.close();
        }
      });
      link = ctx.client.attachPeer(transport);
      links.set(worker, link);
      apply6(postMessage, worker, [{ [PORT_KEY]: nonce }, [channel.port2]]);
      return worker;
    };
    Object.defineProperty(Worker, "length", { value: 1 });
    Object.defineProperty(Worker, "name", { value: "Worker" });
    Object.defineProperty(Worker, "prototype", { value: proto });
    const ourTerminate = function terminate() {
      const link = links.get(this);
      if (link) {
        links.delete(this);
        link.close();
      }
      return apply6(nativeTerminate, this, []);
    };
    proto.terminate = ourTerminate;
    const nativeConstructor = proto.constructor;
    proto.constructor = Worker;
    g.Worker = Worker;
    return () => {
      if (g.Worker === Worker) g.Worker = Original;
      if (proto.terminate === ourTerminate) proto.terminate = nativeTerminate;
      if (proto.constructor === Worker) proto.constructor = nativeConstructor;
    };
  }
  function installInWorker(config) {
    const g = globalThis;
    if (typeof g.importScripts !== "function" && typeof g.WorkerGlobalScope !== "function") {
      throw new TypeError("installInWorker: not in a worker");
    }
    const queued = queuedTransport();
    let port = null;
    const addListener2 = g.addEventListener;
    const removeListener2 = g.removeEventListener;
    const onPort = (event) => {
      const data = event.data;
      if (port !== null || data === null || typeof data !== "object" || data[PORT_KEY] !== config.nonce) return;
      const ports = event.ports;
      if (!ports || ports.length !== 1) return;
      event.stopImmediatePropagation();
      apply6(removeListener2, g, ["message", onPort]);
      port = ports[0];
      queued.connect(portTransport(port, () => {
      }));
      port.postMessage(READY);
    };
    apply6(addListener2, g, ["message", onPort]);
    const installation2 = install({
      origins: config.origins,
      transport: queued,
      pageOrigins: false,
      cookies: false,
      forms: false,
      baseURL: config.url,
      window: config.window,
      maxStreams: config.maxStreams,
      eventSourceRetry: config.eventSourceRetry
    });
    const nativeImportScripts = g.importScripts;
    workerNatives = { importScripts: nativeImportScripts, XHR: installation2?.originals.XMLHttpRequest };
    if (typeof nativeImportScripts === "function") {
      const URLCtor = URL;
      g.importScripts = function importScripts(...urls) {
        const absolute = [];
        for (let i = 0; i < urls.length; i++) {
          let u;
          try {
            u = new URLCtor(String(urls[i]), config.url).href;
          } catch {
            u = String(urls[i]);
          }
          absolute.push(u);
        }
        return apply6(nativeImportScripts, g, absolute);
      };
    }
    const shown = workerLocation(config.url);
    if (shown) Object.defineProperty(g, "location", { get: () => shown, configurable: true, enumerable: true });
    const nativeClose = g.close;
    if (typeof nativeClose === "function") {
      g.close = function close() {
        port?.postMessage(CLOSING2);
        return apply6(nativeClose, g, []);
      };
    }
    return installation2;
  }
  var workerNatives = null;
  function runWorkerScript(url) {
    const g = globalThis;
    const natives = workerNatives;
    const importScripts = natives?.importScripts ?? g.importScripts;
    if (typeof importScripts !== "function") throw new TypeError("runWorkerScript: not in a classic worker");
    const XHR = natives?.XHR;
    if (url.startsWith("blob:") && typeof XHR === "function") {
      let text = null;
      try {
        const x = new XHR();
        x.open("GET", url, false);
        x.send();
        if (x.status === 200 || x.status === 0) text = x.responseText;
      } catch {
      }
      if (text !== null) {
        const typed = URL.createObjectURL(new Blob([text], { type: "text/javascript" }));
        try {
          apply6(importScripts, g, [typed]);
        } finally {
          URL.revokeObjectURL(typed);
        }
        return;
      }
    }
    apply6(importScripts, g, [url]);
  }
  function portTransport(port, oncontrol) {
    const transport = {
      onmessage: null,
      send(bytes) {
        const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
        const buffer = whole ? bytes.buffer : bytes.slice().buffer;
        port.postMessage(buffer, [buffer]);
      }
    };
    port.onmessage = (event) => {
      const data = event.data;
      if (data instanceof ArrayBuffer) transport.onmessage?.(new Uint8Array(data));
      else if (typeof data === "string") oncontrol(data);
    };
    return transport;
  }
  function ownOrigin(g) {
    const origin = g.origin;
    if (typeof origin === "string" && origin !== "null") {
      try {
        return originOf(new URL(origin));
      } catch {
        return null;
      }
    }
    return null;
  }
  function scriptOrigin(url) {
    try {
      if (url.protocol === "blob:") return originOf(new URL(url.href.slice("blob:".length)));
      if (url.protocol === "data:") return null;
      return originOf(url);
    } catch {
      return null;
    }
  }
  function workerLocation(href) {
    let u;
    try {
      u = new URL(href);
    } catch {
      return null;
    }
    const origin = u.protocol === "blob:" ? scriptOrigin(u) ?? "null" : originOf(u);
    const loc = {
      href: u.href,
      origin,
      protocol: u.protocol,
      host: u.host,
      hostname: u.hostname,
      port: u.port,
      pathname: u.pathname,
      search: u.search,
      hash: u.hash,
      toString: () => u.href
    };
    return Object.freeze(loc);
  }
  function hex(bytes) {
    let out = "";
    for (let i = 0; i < bytes.length; i++) out += bytes[i].toString(16).padStart(2, "0");
    return out;
  }

  // src/shim.ts
  var INSTALLATION = /* @__PURE__ */ Symbol.for("inproc-bus.installation");
  function install(options) {
    const g = options.global ?? globalThis;
    const existing = g[INSTALLATION];
    if (existing) return existing;
    if (!options || !Array.isArray(options.origins) || options.origins.length === 0) {
      throw new TypeError("install: origins must list at least one bus origin");
    }
    const origins = options.origins.map(canonicalOrigin);
    const originSet = new Set(origins);
    const pageOrigins = options.pageOrigins === false ? null : new Set((options.pageOrigins ?? origins).map(canonicalOrigin));
    const href = g.location?.href;
    if (pageOrigins && typeof href === "string") {
      let page = null;
      try {
        page = originOf(new URL(href));
      } catch {
      }
      if (page === null || !pageOrigins.has(page)) return null;
    }
    const window = options.window;
    if (window !== void 0 && (!Number.isInteger(window) || window < 1)) throw new RangeError("install: window must be a positive integer");
    let client = options.client;
    if (!client) {
      if (!options.transport) throw new TypeError("install: a transport (or a client) is required");
      client = new BusClient(options.transport, { onprotocolerror: options.onprotocolerror, maxStreams: options.maxStreams });
    }
    const fixedBase = options.baseURL;
    const originals = { fetch: g.fetch, XMLHttpRequest: g.XMLHttpRequest, EventSource: g.EventSource, WebSocket: g.WebSocket };
    const stopper = hookStop(g);
    const ctx = {
      client,
      onStop: stopper.onStop,
      stopSignal: stopper.signal,
      isBus: (url) => originSet.has(originOf(url)),
      baseURL: fixedBase !== void 0 ? () => fixedBase : () => g.document?.baseURI ?? g.location?.href ?? "about:blank",
      nativeFetch: originals.fetch,
      window,
      bodyMarker: options.nativeBodyMarker === false ? null : options.nativeBodyMarker ?? "x-inproc-bus-body"
    };
    const fetchShim = createFetch(ctx, routeFor(options.routes?.fetch), originals.fetch);
    const XHR = createXMLHttpRequest(ctx, routeFor(options.routes?.xhr), originals.XMLHttpRequest);
    const ES = createEventSource(ctx, originals.EventSource, options.eventSourceRetry ?? 3e3);
    const WS = createWebSocket({ ...ctx, origins }, originals.WebSocket);
    const formMode = options.forms ?? "files";
    const doc = g.document;
    const stopForms = formMode && doc && typeof HTMLFormElement !== "undefined" ? interceptForms(doc, { isBus: ctx.isBus, fetch: fetchShim }, formMode) : () => {
    };
    const cookies = options.cookies === false ? null : installDocumentCookie(g, client, {
      readAtStart: typeof options.cookies === "object" && options.cookies.readAtStart === true,
      NativeXHR: originals.XMLHttpRequest
    });
    const unwrapWorkers = options.workers === false ? () => {
    } : wrapWorkers(g, {
      client,
      origins,
      baseURL: ctx.baseURL,
      window,
      maxStreams: options.maxStreams,
      eventSourceRetry: options.eventSourceRetry
    });
    const installation2 = {
      origins,
      client,
      originals,
      fetch: fetchShim,
      XMLHttpRequest: XHR,
      EventSource: ES,
      WebSocket: WS,
      cookiesReady: cookies ? cookies.ready : Promise.resolve(),
      cookies: cookies ? { read: cookies.read, write: cookies.write } : null,
      isBusUrl(url) {
        try {
          return ctx.isBus(url instanceof URL ? url : new URL(String(url), ctx.baseURL()));
        } catch {
          return false;
        }
      },
      uninstall() {
        if (g[INSTALLATION] !== installation2) return;
        stopForms();
        cookies?.stop();
        unwrapWorkers();
        stopper.unhook();
        restore("fetch", fetchShim, originals.fetch);
        restore("XMLHttpRequest", XHR, originals.XMLHttpRequest);
        restore("EventSource", ES, originals.EventSource);
        restore("WebSocket", WS, originals.WebSocket);
        delete g[INSTALLATION];
      }
    };
    const restore = (name, ours, original) => {
      if (g[name] !== ours) return;
      const slots2 = g;
      if (original === void 0) delete slots2[name];
      else slots2[name] = original;
    };
    g.fetch = fetchShim;
    g.XMLHttpRequest = XHR;
    g.EventSource = ES;
    g.WebSocket = WS;
    Object.defineProperty(g, INSTALLATION, { value: installation2, configurable: true, enumerable: false, writable: false });
    return installation2;
  }
  function installation(global = globalThis) {
    return global[INSTALLATION] ?? null;
  }
  function canonicalOrigin(origin) {
    let url;
    try {
      url = new URL(String(origin));
    } catch {
      throw new TypeError(`install: not an origin: ${origin}`);
    }
    if (url.host === "") throw new TypeError(`install: an origin needs a host: ${origin}`);
    if (url.pathname !== "/" && url.pathname !== "" || url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
      throw new TypeError(`install: an origin has no path, query, fragment or credentials: ${origin}`);
    }
    return originOf(url);
  }
  function routeFor(choice) {
    if (choice === void 0) return () => "frames";
    if (typeof choice === "function") return choice;
    if (choice !== "frames" && choice !== "native") throw new TypeError(`install: unknown route ${String(choice)}`);
    return () => choice;
  }

  // src/media.ts
  var CLUSTER_ID = [31, 67, 182, 117];
  var UPGRADED = /* @__PURE__ */ Symbol.for("inproc-bus.media");
  var fetchRange = async (url, start, end) => {
    const response = await globalThis.fetch(url, { headers: { Range: `bytes=${start}-${end}` } });
    if (response.status !== 206 && response.status !== 200) {
      throw new TypeError(`Range request for ${url} failed with status ${response.status}`);
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    const range = response.headers.get("content-range");
    const total = range ? Number(range.split("/")[1]) : bytes.length;
    return { bytes: response.status === 200 ? bytes.subarray(start, end + 1) : bytes, total, contentType: response.headers.get("content-type") ?? "" };
  };
  function upgradeMedia(options) {
    const origins = new Set(options.origins.map((o) => o.toLowerCase().replace(/\/$/, "")));
    const isBus = (src) => {
      try {
        const u = new URL(src, document.baseURI);
        return origins.has(`${u.protocol}//${u.host}`.toLowerCase());
      } catch {
        return false;
      }
    };
    const consider = (el) => {
      if (!(el instanceof HTMLMediaElement)) return;
      const src = el.getAttribute("src") ?? el.querySelector("source")?.getAttribute("src");
      if (!src || !isBus(src)) return;
      const url = new URL(src, document.baseURI).href;
      const marked = el[UPGRADED];
      if (marked === url) return;
      el[UPGRADED] = url;
      new MsePlayer(el, url, options).start().catch((e) => {
        console.error(`bus media: cannot play ${url}: ${e instanceof Error ? e.message : String(e)}`);
        el.dispatchEvent(new Event("error"));
      });
    };
    const scan = (root) => root.querySelectorAll("video, audio").forEach(consider);
    const observer = new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === "attributes" && r.target instanceof Element) consider(r.target);
        r.addedNodes.forEach((n) => {
          if (n instanceof Element) {
            consider(n);
            scan(n);
          }
        });
      }
    });
    const begin = () => {
      scan(document);
      observer.observe(document.documentElement, { subtree: true, childList: true, attributes: true, attributeFilter: ["src"] });
    };
    if (document.documentElement) begin();
    else document.addEventListener("DOMContentLoaded", begin, { once: true });
    return () => observer.disconnect();
  }
  function webmMimeType(head) {
    const text = String.fromCharCode(...head.subarray(0, Math.min(head.length, 64 * 1024)));
    if (!text.includes("webm")) return null;
    const codecs = [];
    if (text.includes("V_VP9")) codecs.push("vp9");
    else if (text.includes("V_VP8")) codecs.push("vp8");
    if (text.includes("A_OPUS")) codecs.push("opus");
    else if (text.includes("A_VORBIS")) codecs.push("vorbis");
    if (codecs.length === 0) return null;
    const kind = codecs[0] === "vp8" || codecs[0] === "vp9" ? "video" : "audio";
    return `${kind}/webm; codecs="${codecs.join(", ")}"`;
  }
  function findCluster(bytes, from = 0) {
    for (let i = from; i + 4 <= bytes.length; i++) {
      if (bytes[i] === CLUSTER_ID[0] && bytes[i + 1] === CLUSTER_ID[1] && bytes[i + 2] === CLUSTER_ID[2] && bytes[i + 3] === CLUSTER_ID[3]) return i;
    }
    return -1;
  }
  function vint(bytes, at) {
    const first = bytes[at];
    if (first === void 0 || first === 0) return null;
    let length = 1;
    while (!(first & 128 >> length - 1)) length++;
    if (at + length > bytes.length) return null;
    let value = first & 255 >> length;
    for (let i = 1; i < length; i++) value = value * 256 + bytes[at + i];
    return [value, length];
  }
  function clusterTimecode(bytes, at) {
    const size = vint(bytes, at + 4);
    if (!size) return null;
    let p = at + 4 + size[1];
    for (let guard = 0; guard < 4 && p < bytes.length; guard++) {
      const id = bytes[p];
      const len = vint(bytes, p + 1);
      if (!len) return null;
      if (id === 231) {
        let v = 0;
        for (let i = 0; i < len[0]; i++) {
          const b = bytes[p + 1 + len[1] + i];
          if (b === void 0) return null;
          v = v * 256 + b;
        }
        return v;
      }
      p += 1 + len[1] + len[0];
    }
    return null;
  }
  var MsePlayer = class {
    constructor(el, url, options) {
      this.el = el;
      this.url = url;
      this.total = 0;
      this.init = new Uint8Array(0);
      this.next = 0;
      this.generation = 0;
      /** The generation whose fill loop is running, or -1. */
      this.filling = -1;
      this.queue = Promise.resolve();
      this.piece = options.piece ?? 512 * 1024;
      this.ahead = options.ahead ?? 8;
      this.fetchRange = options.fetchRange ?? fetchRange;
    }
    async start() {
      if (typeof MediaSource === "undefined") throw new Error("this engine has no MediaSource");
      const head = await this.fetchRange(this.url, 0, this.piece - 1);
      this.total = head.total;
      const mime = webmMimeType(head.bytes);
      if (!mime) {
        throw new Error(
          `only WebM (VP8/VP9 with Vorbis/Opus) can be streamed from the bus on this engine; ${head.contentType || "this file"} is not (its media player cannot load custom-scheme URLs, WebKit bug 146351)`
        );
      }
      if (!MediaSource.isTypeSupported(mime)) throw new Error(`${mime} is not supported by this engine`);
      const first = findCluster(head.bytes);
      if (first < 0) throw new Error("no WebM cluster in the first piece: the header is too large or the file is not WebM");
      this.init = head.bytes.slice(0, first);
      this.source = new MediaSource();
      const opened = new Promise((resolve) => this.source.addEventListener("sourceopen", () => resolve(), { once: true }));
      const autoplay = this.el.autoplay;
      this.el.removeAttribute("src");
      this.el.querySelectorAll("source").forEach((s) => s.remove());
      this.el.src = URL.createObjectURL(this.source);
      await opened;
      this.buffer = this.source.addSourceBuffer(mime);
      await this.append(head.bytes);
      this.next = head.bytes.length;
      const report = (what) => (e) => console.error(`bus media: ${what} ${this.url} failed: ${e instanceof Error ? e.message : String(e)}`);
      this.el.addEventListener("timeupdate", () => void this.fill().catch(report("buffering")));
      this.el.addEventListener("seeking", () => void this.seek().catch(report("seeking in")));
      if (autoplay) this.el.play().catch(() => {
      });
      void this.fill().catch(report("buffering"));
    }
    /** Runs `f` after every SourceBuffer operation queued before it: appends never overlap. */
    exclusive(f) {
      const run = this.queue.then(f, f);
      this.queue = run.catch(() => {
      });
      return run;
    }
    append(bytes) {
      return new Promise((resolve, reject) => {
        const settle = (ok) => () => {
          this.buffer.removeEventListener("updateend", done);
          this.buffer.removeEventListener("error", failed);
          if (ok) resolve();
          else reject(new Error("the SourceBuffer refused a piece"));
        };
        const done = settle(true);
        const failed = settle(false);
        this.buffer.addEventListener("updateend", done);
        this.buffer.addEventListener("error", failed);
        this.buffer.appendBuffer(bytes);
      });
    }
    bufferedAhead() {
      const t = this.el.currentTime;
      const b = this.buffer.buffered;
      for (let i = 0; i < b.length; i++) if (b.start(i) <= t + 0.1 && t < b.end(i)) return b.end(i) - t;
      return 0;
    }
    /** Appends pieces until `ahead` seconds are buffered or the file ends. */
    async fill() {
      const generation = this.generation;
      if (this.filling === generation) return;
      this.filling = generation;
      try {
        while (generation === this.generation && this.next < this.total && this.bufferedAhead() < this.ahead) {
          const start = this.next;
          const end = Math.min(start + this.piece, this.total) - 1;
          const piece = await this.fetchRange(this.url, start, end);
          await this.exclusive(async () => {
            if (generation !== this.generation || this.next !== start) return;
            await this.append(piece.bytes);
            this.next = end + 1;
          });
        }
        await this.exclusive(async () => {
          if (generation === this.generation && this.next >= this.total && this.source.readyState === "open" && !this.buffer.updating) {
            this.source.endOfStream();
          }
        });
      } finally {
        if (this.filling === generation) this.filling = -1;
      }
    }
    /** Restarts the feed from the cluster at or before the new playhead if it is not buffered. */
    async seek() {
      const target = this.el.currentTime;
      const b = this.buffer.buffered;
      for (let i = 0; i < b.length; i++) if (b.start(i) <= target && target < b.end(i) - 0.5) return;
      const generation = ++this.generation;
      const duration = Number.isFinite(this.el.duration) && this.el.duration > 0 ? this.el.duration : target + 1;
      let guess = Math.floor(this.init.length + target / duration * (this.total - this.init.length));
      for (let attempt = 0; attempt < 16; attempt++) {
        const start = Math.max(this.init.length, guess - this.piece);
        const end = Math.min(start + 2 * this.piece, this.total) - 1;
        const piece = await this.fetchRange(this.url, start, end);
        if (generation !== this.generation) return;
        let best = -1;
        for (let at = findCluster(piece.bytes); at >= 0; at = findCluster(piece.bytes, at + 4)) {
          const tc = clusterTimecode(piece.bytes, at);
          if (tc === null) continue;
          if (tc / 1e3 <= target) best = at;
          else break;
        }
        if (best >= 0 || start === this.init.length) {
          const offset = start + Math.max(best, findCluster(piece.bytes));
          await this.exclusive(async () => {
            if (generation !== this.generation) return;
            if (this.source.readyState === "open") this.buffer.abort();
            await this.append(this.init);
            this.next = offset;
          });
          await this.fill();
          return;
        }
        guess = start;
      }
      throw new Error(`cannot find a cluster before ${target}s`);
    }
  };
  return __toCommonJS(index_exports);
})();
return InprocBusBridge;
})();
