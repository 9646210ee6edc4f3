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
  private readonly view: DataView;
  /** Largest data payload seen; checked after the whole frame parsed, as in Rust. */
  largestData = 0;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

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
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  bool(what: string): boolean {
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
  len(what: string, unit: number): number {
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

/**
 * Encodes one frame into a new buffer (payloads are copied once, into it).
 *
 * Refuses (TypeError/RangeError) what the peer would have to reject or what cannot be
 * represented: integers out of range, strings with lone surrogates (TextEncoder would
 * silently replace them), data over MAX_DATA, a frame over MAX_FRAME.
 */
/** A frame's data payload, refused (TypeError/RangeError) when not bytes or over MAX_DATA. */
function checkedData(data: unknown): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Uint8Array');
  if (data.byteLength > MAX_DATA) {
    throw new RangeError(`data of ${data.byteLength} bytes is over MAX_DATA (${MAX_DATA})`);
  }
  return data;
}

export function encode(frame: Frame): Uint8Array {
  const w = new Writer();
  const variant = FRAME_TYPES.indexOf(frame.type);
  if (variant < 0) throw new TypeError(`unknown frame type ${String(frame.type)}`);
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
      w.bytes(checkedData(frame.data));
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
      w.bytes(checkedData(frame.data));
      break;
  }
  return w.finish();
}

type Part =
  | { kind: 'u8'; value: number }
  | { kind: 'u16'; value: number }
  | { kind: 'u32'; value: number }
  | { kind: 'len'; value: number }
  | { kind: 'raw'; value: Uint8Array };

const PART_SIZE = { u8: 1, u16: 2, u32: 4, len: 8 } as const;

/** Collects the fields first so the output is allocated once, at its exact size. */
class Writer {
  private readonly parts: Part[] = [];
  private size = 1; // version byte

  private push(part: Part): void {
    this.parts.push(part);
    this.size += part.kind === 'raw' ? part.value.byteLength : PART_SIZE[part.kind];
  }

  u16(value: number, what: string): void {
    this.push({ kind: 'u16', value: checkInt(value, 0xffff, what) });
  }

  u32(value: number, what: string): void {
    this.push({ kind: 'u32', value: checkInt(value, 0xffffffff, what) });
  }

  bool(value: boolean, what: string): void {
    if (typeof value !== 'boolean') throw new TypeError(`${what} must be a boolean`);
    this.push({ kind: 'u8', value: value ? 1 : 0 });
  }

  bytes(value: Uint8Array): void {
    this.push({ kind: 'len', value: value.byteLength });
    this.push({ kind: 'raw', value });
  }

  string(value: string, what: string): void {
    if (typeof value !== 'string') throw new TypeError(`${what} must be a string`);
    if (!isWellFormed(value)) throw new TypeError(`${what} contains a lone surrogate (not UTF-8 encodable)`);
    this.bytes(utf8Encoder.encode(value));
  }

  headers(headers: readonly Header[]): void {
    if (!Array.isArray(headers)) throw new TypeError('headers must be an array of [name, value] pairs');
    this.push({ kind: 'len', value: headers.length });
    // Index loops, not iterators: the page may have replaced Array.prototype[Symbol.iterator].
    for (let i = 0; i < headers.length; i++) {
      const header = headers[i];
      if (!Array.isArray(header) || header.length !== 2) throw new TypeError('a header must be a [name, value] pair');
      const name = header[0];
      const value = header[1];
      this.string(name, 'header name');
      if (!(value instanceof Uint8Array)) throw new TypeError(`value of header ${name} must be a Uint8Array`);
      this.bytes(value);
    }
  }

  finish(): Uint8Array {
    if (this.size > MAX_FRAME) {
      throw new RangeError(`frame of ${this.size} bytes is over MAX_FRAME (${MAX_FRAME})`);
    }
    const out = new Uint8Array(this.size);
    const view = new DataView(out.buffer);
    out[0] = VERSION;
    let pos = 1;
    for (let i = 0; i < this.parts.length; i++) {
      const part = this.parts[i]!;
      switch (part.kind) {
        case 'u8':
          view.setUint8(pos, part.value);
          break;
        case 'u16':
          view.setUint16(pos, part.value, true);
          break;
        case 'u32':
          view.setUint32(pos, part.value, true);
          break;
        case 'len':
          // Lengths here are below MAX_FRAME, so the high half of the u64 is always 0.
          view.setUint32(pos, part.value, true);
          view.setUint32(pos + 4, 0, true);
          break;
        case 'raw':
          out.set(part.value, pos);
          pos += part.value.byteLength;
          continue;
      }
      pos += PART_SIZE[part.kind];
    }
    return out;
  }
}

// The encoder and decoder run for every frame: their fields are assigned, and a page may have
// put accessors of the same names on Object.prototype. They inherit nothing.
Object.setPrototypeOf(Reader.prototype, null);
Object.setPrototypeOf(Writer.prototype, null);

function checkInt(value: number, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what} must be an integer from 0 to ${max}, got ${String(value)}`);
  }
  return value;
}

/** String.prototype.isWellFormed where the engine has it (2023+), a scan where not. */
function isWellFormed(s: string): boolean {
  const native = (s as { isWellFormed?: () => boolean }).isWellFormed;
  if (typeof native === 'function') return native.call(s);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1); // NaN past the end
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}
