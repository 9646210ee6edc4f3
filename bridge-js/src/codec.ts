// The bus wire protocol, version 1: frames and their byte encoding.
//
// docs/PROTOCOL.md is normative; this is a hand-written port of bus_core::protocol
// (bincode 2, `legacy()` config: little-endian fixed-width integers, u64 lengths, u32
// variant index, bool strictly 0/1). Decoding reports exactly the error codes the Rust
// decoder reports, in the same order of checks, so both sides agree on every input
// (protocol/vectors/ is the contract).

/** The protocol version; the first byte of every frame. */
export const VERSION = 1;

/** Largest data payload a frame may carry (1 MiB). */
export const MAX_DATA = 1 << 20;

/** Largest encoded frame, version byte included (1 MiB + 64 KiB). */
export const MAX_FRAME = MAX_DATA + 64 * 1024;

/** Upload credit the bus grants every request body before any `Credit` frame. */
export const INITIAL_UPLOAD_WINDOW = 256 * 1024;

/** Stream 0 is reserved for errors about the session itself. */
export const SESSION_STREAM = 0;

/** Error codes of `Error` frames (PROTOCOL.md section 7). Codes not listed here are kept as numbers. */
export const ErrorCode = {
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
  Internal: 12,
} as const;

export type ErrorCodeName = keyof typeof ErrorCode;

const CODE_NAMES: ReadonlyMap<number, ErrorCodeName> = new Map(
  (Object.keys(ErrorCode) as ErrorCodeName[]).map((name) => [ErrorCode[name], name]),
);

/** The name of an error code, or `Unknown(n)` for a code this version does not define. */
export function errorCodeName(code: number): string {
  return CODE_NAMES.get(code) ?? `Unknown(${code})`;
}

/** A header as it crosses the wire: a lower-case name and the raw value bytes. */
export type Header = [name: string, value: Uint8Array];

/** One protocol frame. `stream`, `window` and `bytes` are u32, `status` and `code` u16. */
export type Frame =
  | {
      type: 'RequestHead';
      stream: number;
      method: string;
      uri: string;
      headers: Header[];
      /** True when no body follows (no RequestData/RequestEnd). */
      endStream: boolean;
      /** Response body bytes the page accepts before its first Credit. */
      window: number;
    }
  | { type: 'RequestData'; stream: number; data: Uint8Array }
  | { type: 'RequestEnd'; stream: number }
  | { type: 'ResponseHead'; stream: number; status: number; headers: Header[] }
  | { type: 'ResponseData'; stream: number; data: Uint8Array }
  | { type: 'ResponseEnd'; stream: number }
  | { type: 'Cancel'; stream: number }
  | { type: 'Credit'; stream: number; bytes: number }
  | { type: 'Error'; stream: number; code: number; message: string }
  /** A whole response: head, body and end in one frame (the stream is closed). */
  | { type: 'Response'; stream: number; status: number; headers: Header[]; data: Uint8Array };

export type FrameType = Frame['type'];

/** Frame types by variant index: the wire's u32 discriminant is the position here. */
export const FRAME_TYPES: readonly FrameType[] = [
  'RequestHead',
  'RequestData',
  'RequestEnd',
  'ResponseHead',
  'ResponseData',
  'ResponseEnd',
  'Cancel',
  'Credit',
  'Error',
  'Response',
];

/** Why bytes could not be decoded; `code` is the `Error` frame code that reports it (1, 2 or 3). */
export class DecodeError extends Error {
  readonly code: number;

  constructor(code: number, message: string) {
    super(message);
    this.name = 'DecodeError';
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------
// Decoding

// `ignoreBOM` matters: by default TextDecoder strips a leading U+FEFF, which would make a
// string that starts with one decode to something that re-encodes differently.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** Smallest encoding of a header: two empty length-prefixed fields. */
const MIN_HEADER_BYTES = 16;

class Reader {
  private pos = 1; // after the version byte
  /** Largest data payload seen; checked after the whole frame parsed, as in Rust. */
  largestData = 0;

  // Integers are read byte by byte: a DataView would need the input's `buffer`, which makes
  // the engine give a small typed array a separate ArrayBuffer (WebKit's
  // slowDownAndWasteMemory), for every frame.
  constructor(private readonly buf: Uint8Array) {}

  get remaining(): number {
    return this.buf.byteLength - this.pos;
  }

  private need(n: number, what: string): void {
    if (n > this.remaining) {
      throw malformed(`truncated: ${what} needs ${n} bytes at offset ${this.pos}, ${this.remaining} left`);
    }
  }

  u16(what: string): number {
    this.need(2, what);
    const b = this.buf;
    const v = b[this.pos]! | (b[this.pos + 1]! << 8);
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.at32(this.pos);
    this.pos += 4;
    return v;
  }

  private at32(at: number): number {
    const b = this.buf;
    return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
  }

  bool(what: string): boolean {
    this.need(1, what);
    const v = this.buf[this.pos]!;
    if (v > 1) throw malformed(`${what}: ${v} is not a bool (0 or 1)`);
    this.pos += 1;
    return v === 1;
  }

  /**
   * A u64 length or count, checked against the bytes left (`unit` bytes per element) before
   * anything is read or allocated. Read as two u32 halves: any high half is already far
   * past the end of a frame of at most MAX_FRAME bytes, so no BigInt is needed.
   */
  len(what: string, unit: number): number {
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
  bytes(what: string): Uint8Array {
    const n = this.len(what, 1);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  data(): Uint8Array {
    const out = this.bytes('data');
    if (out.byteLength > this.largestData) this.largestData = out.byteLength;
    return out;
  }

  string(what: string): string {
    const raw = this.bytes(what);
    try {
      return utf8Decoder.decode(raw);
    } catch {
      throw malformed(`${what} is not valid UTF-8`);
    }
  }

  headers(): Header[] {
    const count = this.len('header list', MIN_HEADER_BYTES);
    const out: Header[] = [];
    for (let i = 0; i < count; i++) {
      const name = this.string('header name');
      out.push([name, this.bytes('header value')]);
    }
    return out;
  }

  frame(): Frame {
    const variant = this.u32('variant index');
    const type = FRAME_TYPES[variant];
    if (type === undefined) throw malformed(`unknown frame variant ${variant}`);
    const stream = this.u32('stream');
    switch (type) {
      case 'RequestHead': {
        const method = this.string('method');
        const uri = this.string('uri');
        const headers = this.headers();
        const endStream = this.bool('end_stream');
        const window = this.u32('window');
        return { type, stream, method, uri, headers, endStream, window };
      }
      case 'RequestData':
      case 'ResponseData':
        return { type, stream, data: this.data() };
      case 'RequestEnd':
      case 'ResponseEnd':
      case 'Cancel':
        return { type, stream };
      case 'ResponseHead': {
        const status = this.u16('status');
        return { type, stream, status, headers: this.headers() };
      }
      case 'Credit':
        return { type, stream, bytes: this.u32('bytes') };
      case 'Error': {
        const code = this.u16('code');
        return { type, stream, code, message: this.string('message') };
      }
      case 'Response': {
        const status = this.u16('status');
        const headers = this.headers();
        return { type, stream, status, headers, data: this.data() };
      }
    }
  }
}

function malformed(message: string): DecodeError {
  return new DecodeError(ErrorCode.Malformed, `malformed frame: ${message}`);
}

/**
 * Decodes one frame. Data payloads and header values are views into `bytes` (no copy), so
 * the caller must not reuse that buffer while the frame is in use.
 *
 * @throws DecodeError for anything that is not a valid frame; nothing else, whatever the bytes.
 */
export function decode(bytes: Uint8Array): Frame {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('decode expects a Uint8Array');
  // Same order of checks as bus_core::protocol::decode: empty, size, version, body,
  // trailing bytes, then data size.
  if (bytes.byteLength === 0) throw malformed('empty frame');
  if (bytes.byteLength > MAX_FRAME) {
    throw new DecodeError(ErrorCode.FrameTooLarge, `frame of ${bytes.byteLength} bytes is over the limit`);
  }
  const version = bytes[0];
  if (version !== VERSION) {
    throw new DecodeError(
      ErrorCode.UnsupportedVersion,
      `unsupported protocol version ${version} (this side speaks ${VERSION})`,
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

// ---------------------------------------------------------------------------------------
// Encoding

/** A frame's data payload, refused (TypeError/RangeError) when not bytes or over MAX_DATA. */
function checkedData(data: unknown): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Uint8Array');
  if (data.byteLength > MAX_DATA) {
    throw new RangeError(`data of ${data.byteLength} bytes is over MAX_DATA (${MAX_DATA})`);
  }
  return data;
}

/**
 * Encodes one frame into a new buffer (payloads are copied once, into it).
 *
 * Refuses (TypeError/RangeError) what the peer would have to reject or what cannot be
 * represented: integers out of range, strings with lone surrogates (TextEncoder would
 * silently replace them), data over MAX_DATA, a frame over MAX_FRAME.
 */
export function encode(frame: Frame): Uint8Array {
  const variant = FRAME_TYPES.indexOf(frame.type);
  if (variant < 0) throw new TypeError(`unknown frame type ${String(frame.type)}`);
  // The same fields twice, with no objects in between: `Measure` checks each (in wire
  // order) and adds up the size, `Writer` writes into one buffer of exactly that size. (A
  // list of parts, the way this was first written, cost a dozen objects per request head:
  // garbage on the page's main thread for every request.)
  const measure = new Measure();
  fields(frame, variant, measure);
  if (measure.size > MAX_FRAME) {
    throw new RangeError(`frame of ${measure.size} bytes is over MAX_FRAME (${MAX_FRAME})`);
  }
  const w = new Writer(measure.size);
  fields(frame, variant, w);
  // Only accessors that answer differently on a second read (a page's own object) get here.
  if (!w.filled()) throw new TypeError('the frame changed while it was encoded');
  return w.out;
}

/** What `fields` writes to: `Measure` checks and counts, `Writer` writes. */
interface FieldSink {
  u8(value: number): void;
  u16(value: number, what: string): void;
  u32(value: number, what: string): void;
  bool(value: boolean, what: string): void;
  string(value: string, what: string): void;
  headers(headers: readonly Header[]): void;
  data(data: Uint8Array): void;
}

/** A frame's fields in wire order (docs/PROTOCOL.md). */
function fields(frame: Frame, variant: number, w: FieldSink): void {
  w.u8(VERSION);
  w.u32(variant, 'variant');
  w.u32(frame.stream, 'stream');
  switch (frame.type) {
    case 'RequestHead':
      w.string(frame.method, 'method');
      w.string(frame.uri, 'uri');
      w.headers(frame.headers);
      w.bool(frame.endStream, 'endStream');
      w.u32(frame.window, 'window');
      break;
    case 'RequestData':
    case 'ResponseData':
      w.data(frame.data);
      break;
    case 'RequestEnd':
    case 'ResponseEnd':
    case 'Cancel':
      break;
    case 'ResponseHead':
      w.u16(frame.status, 'status');
      w.headers(frame.headers);
      break;
    case 'Credit':
      w.u32(frame.bytes, 'bytes');
      break;
    case 'Error':
      w.u16(frame.code, 'code');
      w.string(frame.message, 'message');
      break;
    case 'Response':
      w.u16(frame.status, 'status');
      w.headers(frame.headers);
      w.data(frame.data);
      break;
  }
}

/** The first pass: checks every field and counts the encoded size. */
class Measure implements FieldSink {
  size = 0;

  u8(): void {
    this.size += 1;
  }

  u16(value: number, what: string): void {
    checkInt(value, 0xffff, what);
    this.size += 2;
  }

  u32(value: number, what: string): void {
    checkInt(value, 0xffffffff, what);
    this.size += 4;
  }

  bool(value: boolean, what: string): void {
    if (typeof value !== 'boolean') throw new TypeError(`${what} must be a boolean`);
    this.size += 1;
  }

  /** The UTF-8 length, from the UTF-16 code units, refusing lone surrogates. */
  string(value: string, what: string): void {
    if (typeof value !== 'string') throw new TypeError(`${what} must be a string`);
    let n = value.length;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c < 0x80) continue;
      if (c < 0x800) {
        n += 1;
      } else if (c >= 0xd800 && c <= 0xdbff) {
        const next = value.charCodeAt(i + 1); // NaN past the end
        if (!(next >= 0xdc00 && next <= 0xdfff)) throw loneSurrogate(what);
        n += 2; // two code units, four bytes
        i++;
      } else if (c >= 0xdc00 && c <= 0xdfff) {
        throw loneSurrogate(what);
      } else {
        n += 2;
      }
    }
    this.size += 8 + n;
  }

  headers(headers: readonly Header[]): void {
    if (!Array.isArray(headers)) throw new TypeError('headers must be an array of [name, value] pairs');
    this.size += 8;
    // Index loops, not iterators: the page may have replaced Array.prototype[Symbol.iterator].
    for (let i = 0; i < headers.length; i++) {
      const header = headers[i];
      if (!Array.isArray(header) || header.length !== 2) throw new TypeError('a header must be a [name, value] pair');
      const name = header[0];
      const value = header[1];
      this.string(name, 'header name');
      if (!(value instanceof Uint8Array)) throw new TypeError(`value of header ${name} must be a Uint8Array`);
      this.size += 8 + value.byteLength;
    }
  }

  data(data: Uint8Array): void {
    this.size += 8 + checkedData(data).byteLength;
  }
}

function loneSurrogate(what: string): TypeError {
  return new TypeError(`${what} contains a lone surrogate (not UTF-8 encodable)`);
}

/** The second pass: writes the fields `Measure` checked into a buffer of their size. */
class Writer implements FieldSink {
  readonly out: Uint8Array;
  private pos = 0;

  constructor(size: number) {
    this.out = new Uint8Array(size);
  }

  /** Every byte written, none past the end. */
  filled(): boolean {
    return this.pos === this.out.byteLength;
  }

  u8(value: number): void {
    this.out[this.pos++] = value;
  }

  u16(value: number): void {
    const out = this.out;
    out[this.pos] = value & 0xff;
    out[this.pos + 1] = value >>> 8;
    this.pos += 2;
  }

  u32(value: number): void {
    const out = this.out;
    out[this.pos] = value & 0xff;
    out[this.pos + 1] = (value >>> 8) & 0xff;
    out[this.pos + 2] = (value >>> 16) & 0xff;
    out[this.pos + 3] = value >>> 24;
    this.pos += 4;
  }

  bool(value: boolean): void {
    this.u8(value ? 1 : 0);
  }

  /** A u64 length: lengths here are below MAX_FRAME, so its high half is always 0 (the buffer's zeros). */
  private len(value: number): void {
    this.u32(value);
    this.pos += 4;
  }

  data(value: Uint8Array): void {
    this.len(value.byteLength);
    this.out.set(value, this.pos);
    this.pos += value.byteLength;
  }

  /** ASCII byte by byte, the rest by TextEncoder. */
  string(value: string): void {
    const out = this.out;
    const at = this.pos + 8;
    let i = 0;
    for (; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) break;
      out[at + i] = c;
    }
    let n = i;
    if (i < value.length) {
      n += utf8Encoder.encodeInto(value.slice(i), out.subarray(at + i)).written;
    }
    this.len(n);
    this.pos += n;
  }

  headers(headers: readonly Header[]): void {
    this.len(headers.length);
    for (let i = 0; i < headers.length; i++) {
      const header = headers[i]!;
      this.string(header[0]);
      this.data(header[1]);
    }
  }
}

// The encoder and decoder run for every frame: their fields are assigned, and a page may have
// put accessors of the same names on Object.prototype. They inherit nothing.
Object.setPrototypeOf(Reader.prototype, null);
Object.setPrototypeOf(Measure.prototype, null);
Object.setPrototypeOf(Writer.prototype, null);

function checkInt(value: number, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what} must be an integer from 0 to ${max}, got ${String(value)}`);
  }
  return value;
}
