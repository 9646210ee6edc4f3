// Generated from bridge-js by scripts/sync-shim.sh (npm run build); do not edit.
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
    DEFAULT_WINDOW: () => DEFAULT_WINDOW,
    DecodeError: () => DecodeError,
    ErrorCode: () => ErrorCode,
    FRAME_TYPES: () => FRAME_TYPES,
    INITIAL_UPLOAD_WINDOW: () => INITIAL_UPLOAD_WINDOW,
    MAX_DATA: () => MAX_DATA,
    MAX_FRAME: () => MAX_FRAME,
    ProtocolError: () => ProtocolError,
    SESSION_STREAM: () => SESSION_STREAM,
    UPLOAD_CHUNK: () => UPLOAD_CHUNK,
    VERSION: () => VERSION,
    decode: () => decode,
    encode: () => encode,
    errorCodeName: () => errorCodeName
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
    "Error"
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
    constructor(buf) {
      this.buf = buf;
      this.pos = 1;
      /** Largest data payload seen; checked after the whole frame parsed, as in Rust. */
      this.largestData = 0;
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
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
      const v = this.view.getUint16(this.pos, true);
      this.pos += 2;
      return v;
    }
    u32(what) {
      this.need(4, what);
      const v = this.view.getUint32(this.pos, true);
      this.pos += 4;
      return v;
    }
    bool(what) {
      this.need(1, what);
      const v = this.view.getUint8(this.pos);
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
      const lo = this.view.getUint32(this.pos, true);
      const hi = this.view.getUint32(this.pos + 4, true);
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
  function encode(frame) {
    const w = new Writer();
    const variant = FRAME_TYPES.indexOf(frame.type);
    if (variant < 0) throw new TypeError(`unknown frame type ${String(frame.type)}`);
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
        if (!(frame.data instanceof Uint8Array)) throw new TypeError("data must be a Uint8Array");
        if (frame.data.byteLength > MAX_DATA) {
          throw new RangeError(`data of ${frame.data.byteLength} bytes is over MAX_DATA (${MAX_DATA})`);
        }
        w.bytes(frame.data);
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
    }
    return w.finish();
  }
  var PART_SIZE = { u8: 1, u16: 2, u32: 4, len: 8 };
  var Writer = class {
    constructor() {
      this.parts = [];
      this.size = 1;
    }
    // version byte
    push(part) {
      this.parts.push(part);
      this.size += part.kind === "raw" ? part.value.byteLength : PART_SIZE[part.kind];
    }
    u16(value, what) {
      this.push({ kind: "u16", value: checkInt(value, 65535, what) });
    }
    u32(value, what) {
      this.push({ kind: "u32", value: checkInt(value, 4294967295, what) });
    }
    bool(value, what) {
      if (typeof value !== "boolean") throw new TypeError(`${what} must be a boolean`);
      this.push({ kind: "u8", value: value ? 1 : 0 });
    }
    bytes(value) {
      this.push({ kind: "len", value: value.byteLength });
      this.push({ kind: "raw", value });
    }
    string(value, what) {
      if (typeof value !== "string") throw new TypeError(`${what} must be a string`);
      if (!isWellFormed(value)) throw new TypeError(`${what} contains a lone surrogate (not UTF-8 encodable)`);
      this.bytes(utf8Encoder.encode(value));
    }
    headers(headers) {
      if (!Array.isArray(headers)) throw new TypeError("headers must be an array of [name, value] pairs");
      this.push({ kind: "len", value: headers.length });
      for (const header of headers) {
        if (!Array.isArray(header) || header.length !== 2) throw new TypeError("a header must be a [name, value] pair");
        const [name, value] = header;
        this.string(name, "header name");
        if (!(value instanceof Uint8Array)) throw new TypeError(`value of header ${name} must be a Uint8Array`);
        this.bytes(value);
      }
    }
    finish() {
      if (this.size > MAX_FRAME) {
        throw new RangeError(`frame of ${this.size} bytes is over MAX_FRAME (${MAX_FRAME})`);
      }
      const out = new Uint8Array(this.size);
      const view = new DataView(out.buffer);
      out[0] = VERSION;
      let pos = 1;
      for (const part of this.parts) {
        switch (part.kind) {
          case "u8":
            view.setUint8(pos, part.value);
            break;
          case "u16":
            view.setUint16(pos, part.value, true);
            break;
          case "u32":
            view.setUint32(pos, part.value, true);
            break;
          case "len":
            view.setUint32(pos, part.value, true);
            view.setUint32(pos + 4, 0, true);
            break;
          case "raw":
            out.set(part.value, pos);
            pos += part.value.byteLength;
            continue;
        }
        pos += PART_SIZE[part.kind];
      }
      return out;
    }
  };
  function checkInt(value, max, what) {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
      throw new RangeError(`${what} must be an integer from 0 to ${max}, got ${String(value)}`);
    }
    return value;
  }
  function isWellFormed(s) {
    const native = s.isWellFormed;
    if (typeof native === "function") return native.call(s);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 55296 && c <= 56319) {
        const next = s.charCodeAt(i + 1);
        if (!(next >= 56320 && next <= 57343)) return false;
        i++;
      } else if (c >= 56320 && c <= 57343) {
        return false;
      }
    }
    return true;
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
  var DEFAULT_WINDOW = 256 * 1024;
  var UPLOAD_CHUNK = 256 * 1024;
  var MAX_U32 = 4294967295;
  var Stream = class {
    constructor(id, window, resolve, reject) {
      this.id = id;
      this.window = window;
      this.resolve = resolve;
      this.reject = reject;
      this.phase = "head";
      this.received = 0;
      this.controller = null;
      /** Upload credit the bus has granted and we have not used yet. */
      this.uploadCredit = INITIAL_UPLOAD_WINDOW;
      /** Wakes the upload pump waiting for credit (or for the stream to close). */
      this.wake = null;
      this.detachAbort = () => {
      };
      /** Cancels a ReadableStream upload source, which may be waiting for its next chunk. */
      this.cancelSource = null;
      this.granted = window;
    }
  };
  var BusClient = class {
    constructor(transport, options = {}) {
      this.transport = transport;
      this.streams = /* @__PURE__ */ new Map();
      this.nextId = 1;
      this.isClosed = false;
      this.closeReason = void 0;
      this.onprotocolerror = options.onprotocolerror ?? null;
      transport.onmessage = (bytes) => this.receive(bytes);
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
      for (const s of [...this.streams.values()]) this.fail(s, this.closeReason);
    }
    /** Handles one inbound message; installed as the transport's `onmessage`. */
    receive(bytes) {
      if (this.isClosed) return;
      let frame;
      try {
        frame = decode(bytes);
      } catch (e) {
        this.report(e instanceof DecodeError ? e : new ProtocolError(`cannot decode a frame: ${String(e)}`, 0));
        return;
      }
      this.dispatch(frame);
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
      const id = this.allocateId();
      let s;
      const response = new Promise((resolve, reject) => {
        s = new Stream(id, window, resolve, reject);
      });
      const head = encode({ type: "RequestHead", stream: id, method, uri, headers, endStream, window });
      this.streams.set(id, s);
      if (!this.trySend(s, head)) return response;
      if (signal) {
        const onAbort = () => this.abort(s, abortReason(signal));
        signal.addEventListener("abort", onAbort, { once: true });
        s.detachAbort = () => signal.removeEventListener("abort", onAbort);
      }
      if (!endStream && body !== null) void this.upload(s, body);
      return response;
    }
    allocateId() {
      for (; ; ) {
        const id = this.nextId;
        this.nextId = id >= MAX_U32 ? 1 : id + 1;
        if (!this.streams.has(id)) return id;
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
          this.finish(s);
          s.controller?.close();
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
    onHead(s, status, headers) {
      s.phase = "body";
      const body = new ReadableStream(
        {
          start: (controller) => {
            s.controller = controller;
          },
          // Called whenever the queue has room (after the consumer reads, or a chunk arrives).
          pull: () => this.grant(s),
          cancel: () => {
            if (s.phase === "closed") return;
            this.finish(s);
            this.trySendFrame(s, { type: "Cancel", stream: s.id });
          }
        },
        // The queue is the window: it holds at most what we granted and the consumer has not read.
        { highWaterMark: s.window, size: (chunk) => chunk.byteLength }
      );
      s.resolve({ status, headers, body });
    }
    onData(s, data) {
      s.received += data.byteLength;
      if (s.received > s.granted) {
        this.violation(s, `ResponseData beyond credit (${s.received} bytes received, ${s.granted} granted)`);
        return;
      }
      if (data.byteLength > 0) s.controller?.enqueue(data);
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
          }
        }
        if (s.phase !== "closed") this.trySendFrame(s, { type: "RequestEnd", stream: s.id });
      } catch (e) {
        if (s.phase === "closed") return;
        this.trySendFrame(s, { type: "Cancel", stream: s.id });
        this.fail(s, new TypeError(`request body failed: ${String(e)}`, { cause: e }));
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
      this.finish(s);
      if (phase === "head") s.reject(reason);
      else s.controller?.error(reason);
    }
    /** Marks the stream closed: forgets it (its id may be reused) and stops its upload. */
    finish(s) {
      s.phase = "closed";
      this.streams.delete(s.id);
      s.detachAbort();
      s.wake?.();
      s.cancelSource?.();
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
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  };
  function normalizeHeaders(headers) {
    const out = [];
    if (headers == null) return out;
    for (const pair of headers) {
      const [name, value] = pair;
      if (typeof name !== "string") throw new TypeError("header names must be strings");
      out.push([asciiLowerCase(name), typeof value === "string" ? byteString(value, name) : value]);
    }
    return out;
  }
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
  function abortReason(signal) {
    return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
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
      const reader = body.getReader();
      let done = false;
      s.cancelSource = () => {
        reader.cancel().catch(() => {
        });
      };
      try {
        for (; ; ) {
          const next = await reader.read();
          if (next.done) {
            done = true;
            return;
          }
          yield next.value;
        }
      } finally {
        s.cancelSource = null;
        if (!done) reader.cancel().catch(() => {
        });
      }
    } else {
      yield* body;
    }
  }
  return __toCommonJS(index_exports);
})();
