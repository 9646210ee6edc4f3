// Codec conformance: the golden vectors of protocol/vectors/ (shared with the Rust
// implementation), plus property tests with a seeded PRNG. Runs against the built ESM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  decode,
  encode,
  DecodeError,
  ErrorCode,
  errorCodeName,
  FRAME_TYPES,
  MAX_DATA,
  MAX_FRAME,
  VERSION,
  INITIAL_UPLOAD_WINDOW,
} from '../dist/bus-bridge.mjs';

const vectorsDir = new URL('../../protocol/vectors/', import.meta.url);
const index = JSON.parse(readFileSync(new URL('index.json', vectorsDir), 'utf8'));

const hex = (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
const unhex = (s) => new Uint8Array(Buffer.from(s, 'hex'));

/** A vector's `frame` (snake_case, hex bytes) as the codec's Frame. */
function fromVector(v) {
  const { type, stream } = v;
  switch (type) {
    case 'RequestHead':
      return {
        type, stream, method: v.method, uri: v.uri,
        headers: v.headers.map(([n, h]) => [n, unhex(h)]),
        endStream: v.end_stream, window: v.window,
      };
    case 'ResponseHead':
      return { type, stream, status: v.status, headers: v.headers.map(([n, h]) => [n, unhex(h)]) };
    case 'Response':
      return { type, stream, status: v.status, headers: v.headers.map(([n, h]) => [n, unhex(h)]), data: unhex(v.data) };
    case 'RequestData':
    case 'ResponseData':
      return { type, stream, data: unhex(v.data) };
    case 'Credit':
      return { type, stream, bytes: v.bytes };
    case 'Error':
      return { type, stream, code: v.code, message: v.message };
    default:
      return { type, stream };
  }
}

/** Deep equality where Uint8Array views compare by content. */
function assertFrameEqual(actual, expected) {
  const norm = (f) => JSON.parse(JSON.stringify(f, (_k, x) => (x instanceof Uint8Array ? `hex:${hex(x)}` : x)));
  assert.deepEqual(norm(actual), norm(expected));
}

function readVector(file) {
  return new Uint8Array(readFileSync(new URL(file, vectorsDir)));
}

test('the vectors are version 1 and cover every frame type', () => {
  assert.equal(index.version, VERSION);
  const types = new Set(index.vectors.filter((v) => v.frame).map((v) => v.frame.type));
  assert.deepEqual([...types].sort(), [...FRAME_TYPES].sort());
});

for (const vector of index.vectors) {
  test(`vector ${vector.file}: ${vector.description}`, () => {
    const bytes = readVector(vector.file);
    if (vector.frame) {
      const frame = decode(bytes);
      assertFrameEqual(frame, fromVector(vector.frame));
      assert.equal(hex(encode(frame)), hex(bytes), 're-encoding is byte-identical');
      assert.equal(hex(encode(fromVector(vector.frame))), hex(bytes), 'encoding the described frame');
    } else {
      assert.throws(
        () => decode(bytes),
        (e) => e instanceof DecodeError && e.code === vector.error,
        `must be refused with code ${vector.error}`,
      );
    }
  });
}

test('constants match PROTOCOL.md', () => {
  assert.equal(VERSION, 1);
  assert.equal(MAX_DATA, 1_048_576);
  assert.equal(MAX_FRAME, 1_114_112);
  assert.equal(INITIAL_UPLOAD_WINDOW, 262_144);
  assert.deepEqual(
    Object.entries(ErrorCode).map(([name, code]) => `${code}:${name}`),
    ['1:Malformed', '2:UnsupportedVersion', '3:FrameTooLarge', '4:UnknownStream', '5:StreamIdInUse',
      '6:Protocol', '7:FlowControl', '8:InvalidHead', '9:TooManyStreams', '10:BodyFailed',
      '11:Shutdown', '12:Internal'],
  );
  assert.equal(errorCodeName(7), 'FlowControl');
  assert.equal(errorCodeName(999), 'Unknown(999)');
});

test('the documented Credit layout', () => {
  const bytes = encode({ type: 'Credit', stream: 0x01020304, bytes: 16 });
  assert.equal(hex(bytes), '01' + '07000000' + '04030201' + '10000000');
});

test('data and header values are views into the input, not copies', () => {
  const bytes = encode({ type: 'ResponseData', stream: 1, data: new Uint8Array(4096).fill(9) });
  const frame = decode(bytes);
  assert.equal(frame.data.buffer, bytes.buffer);
  assert.equal(frame.data.byteOffset, bytes.byteLength - 4096);
  const head = decode(encode({ type: 'ResponseHead', stream: 1, status: 200, headers: [['a', unhex('6263')]] }));
  assert.equal(head.headers[0][1].byteLength, 2);
});

test('decoding works on a view with a non-zero offset', () => {
  const frame = encode({ type: 'Credit', stream: 3, bytes: 5 });
  const big = new Uint8Array(frame.byteLength + 7);
  big.set(frame, 3);
  assert.deepEqual(decode(big.subarray(3, 3 + frame.byteLength)), { type: 'Credit', stream: 3, bytes: 5 });
});

test('a leading BOM in a string survives the round trip', () => {
  const frame = { type: 'Error', stream: 1, code: 12, message: '\uFEFFbom' };
  assert.deepEqual(decode(encode(frame)), frame);
});

const codeOf = (fn) => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof DecodeError, `expected DecodeError, got ${e}`);
    return e.code;
  }
  assert.fail('did not throw');
};

function le64(n) {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return [...b];
}

test('hostile lengths are refused before anything is read', () => {
  // RequestData claiming 2^63 bytes with 3 present.
  assert.equal(codeOf(() => decode(new Uint8Array([1, 1, 0, 0, 0, 1, 0, 0, 0, ...le64(2n ** 63n), 97, 98, 99]))), 1);
  // RequestData claiming 2^53 bytes (beyond exact doubles).
  assert.equal(codeOf(() => decode(new Uint8Array([1, 1, 0, 0, 0, 1, 0, 0, 0, ...le64(2n ** 53n)]))), 1);
  // A head claiming 2^40 headers.
  const head = [1, 0, 0, 0, 0, 1, 0, 0, 0, ...le64(3), 71, 69, 84, ...le64(1), 47, ...le64(2n ** 40n)];
  assert.equal(codeOf(() => decode(new Uint8Array(head))), 1);
  // ... and 1000 headers with room for fewer.
  const few = [1, 0, 0, 0, 0, 1, 0, 0, 0, ...le64(3), 71, 69, 84, ...le64(1), 47, ...le64(1000), ...new Array(100).fill(0)];
  assert.equal(codeOf(() => decode(new Uint8Array(few))), 1);
});

test('envelope errors are checked in the order the Rust decoder checks them', () => {
  assert.equal(codeOf(() => decode(new Uint8Array(0))), 1);
  assert.equal(codeOf(() => decode(new Uint8Array([2, 7, 0, 0, 0]))), 2);
  assert.equal(codeOf(() => decode(new Uint8Array([0]))), 2);
  assert.equal(codeOf(() => decode(new Uint8Array([1]))), 1);
  assert.equal(codeOf(() => decode(new Uint8Array([1, 99, 0, 0, 0]))), 1);
  // Over MAX_FRAME wins over a bad version.
  assert.equal(codeOf(() => decode(new Uint8Array(MAX_FRAME + 1).fill(2))), 3);
  // Data over MAX_DATA, but with a trailing byte: malformed first.
  const over = encodeRawData(MAX_DATA + 1);
  assert.equal(codeOf(() => decode(over)), 3);
  const overTrailing = new Uint8Array(over.byteLength + 1);
  overTrailing.set(over);
  assert.equal(codeOf(() => decode(overTrailing)), 1);
  // Exactly MAX_DATA is fine.
  assert.equal(decode(encodeRawData(MAX_DATA)).data.byteLength, MAX_DATA);
});

test('a frame of exactly MAX_FRAME bytes passes the size check', () => {
  const frame = encodeRawData(MAX_FRAME - 17); // 1 + 4 + 4 + 8 = 17 bytes of envelope
  assert.equal(frame.byteLength, MAX_FRAME);
  assert.equal(codeOf(() => decode(frame)), 3); // its data is over MAX_DATA, the frame is not
});

/** ResponseData with `n` zero bytes, built by hand (encode refuses n > MAX_DATA). */
function encodeRawData(n) {
  const out = new Uint8Array(17 + n);
  out.set([1, 4, 0, 0, 0, 1, 0, 0, 0, ...le64(n)]);
  return out;
}

test('bools other than 0 and 1 are malformed; both valid values decode', () => {
  const base = encode({ type: 'RequestHead', stream: 1, method: 'GET', uri: '/', headers: [], endStream: true, window: 1 });
  const at = base.byteLength - 5;
  assert.equal(base[at], 1);
  for (const [byte, ok] of [[0, false], [1, true], [2, null], [0xff, null]]) {
    const b = base.slice();
    b[at] = byte;
    if (ok === null) assert.equal(codeOf(() => decode(b)), 1);
    else assert.equal(decode(b).endStream, ok);
  }
});

test('invalid UTF-8 is malformed (overlong, surrogate, truncated sequence)', () => {
  for (const bad of [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xff]]) {
    const bytes = new Uint8Array([1, 8, 0, 0, 0, 1, 0, 0, 0, 1, 0, ...le64(bad.length), ...bad]);
    assert.equal(codeOf(() => decode(bytes)), 1, `bytes ${bad}`);
  }
});

test('encode refuses what it cannot represent or the peer must refuse', () => {
  assert.throws(() => encode({ type: 'Credit', stream: -1, bytes: 0 }), RangeError);
  assert.throws(() => encode({ type: 'Credit', stream: 2 ** 32, bytes: 0 }), RangeError);
  assert.throws(() => encode({ type: 'Credit', stream: 1, bytes: 1.5 }), RangeError);
  assert.throws(() => encode({ type: 'ResponseHead', stream: 1, status: 65536, headers: [] }), RangeError);
  assert.throws(() => encode({ type: 'Error', stream: 1, code: 1, message: 'lone \uD800' }), TypeError);
  assert.throws(() => encode({ type: 'Error', stream: 1, code: 1, message: 'lone \uDC00 low' }), TypeError);
  assert.throws(() => encode({ type: 'Error', stream: 1, code: 1, message: 'ends high \uD83D' }), TypeError);
  assert.throws(() => encode({ type: 'Error', stream: 1, code: 1, message: 'pair reversed \uDE00\uD83D' }), TypeError);
  assert.throws(() => encode({ type: 'ResponseData', stream: 1, data: new Uint8Array(MAX_DATA + 1) }), RangeError);
  assert.throws(() => encode({ type: 'ResponseData', stream: 1, data: 'text' }), TypeError);
  assert.throws(() => encode({ type: 'Nope', stream: 1 }), TypeError);
  const hugeHeader = [['x', new Uint8Array(MAX_FRAME)]];
  assert.throws(() => encode({ type: 'ResponseHead', stream: 1, status: 200, headers: hugeHeader }), RangeError);
});

test('encode writes UTF-8 as TextEncoder does, and fails on a frame that changes while encoded', () => {
  const message = 'a\u00e9\u20ac\u{1F600}z';
  const bytes = encode({ type: 'Error', stream: 1, code: 1, message });
  const utf8 = new TextEncoder().encode(message);
  assert.deepEqual(bytes.subarray(bytes.byteLength - utf8.byteLength), utf8);
  assert.equal(decode(bytes).message, message);
  // A page's own object whose getter answers longer the second time: refused, not a frame
  // whose lengths disagree with its bytes.
  let reads = 0;
  const shifty = { type: 'Error', stream: 1, code: 1, get message() { return reads++ === 0 ? 'short' : 'much longer'; } };
  assert.throws(() => encode(shifty), (e) => e instanceof TypeError || e instanceof RangeError);
});

// ---------------------------------------------------------------------------------------
// Property tests

/** mulberry32: small, fast, good enough to drive tests reproducibly. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generators(rand) {
  const int = (max) => Math.floor(rand() * (max + 1));
  const u32 = () => (rand() < 0.2 ? [0, 1, 0xffffffff, 0x80000000][int(3)] : int(0xffffffff));
  const u16 = () => (rand() < 0.2 ? [0, 0xffff][int(1)] : int(0xffff));
  const bytes = (max) => {
    const n = rand() < 0.1 ? 0 : int(max);
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = int(255);
    return b;
  };
  const alphabet = ['a', 'Z', '/', '%', ' ', '\0', 'é', '€', '\u{1F600}', '\uFEFF', '\uFFFF', '\u007f'];
  const string = (max) => {
    let s = '';
    for (let n = int(max); n > 0; n--) s += alphabet[int(alphabet.length - 1)];
    return s;
  };
  const headers = () => Array.from({ length: int(4) }, () => [string(8), bytes(12)]);
  const frame = () => {
    const type = FRAME_TYPES[int(FRAME_TYPES.length - 1)];
    const stream = u32();
    switch (type) {
      case 'RequestHead':
        return { type, stream, method: string(6), uri: string(20), headers: headers(), endStream: rand() < 0.5, window: u32() };
      case 'ResponseHead':
        return { type, stream, status: u16(), headers: headers() };
      case 'Response':
        return { type, stream, status: u16(), headers: headers(), data: bytes(rand() < 0.02 ? 70000 : 64) };
      case 'RequestData':
      case 'ResponseData':
        return { type, stream, data: bytes(rand() < 0.02 ? 70000 : 64) };
      case 'Credit':
        return { type, stream, bytes: u32() };
      case 'Error':
        return { type, stream, code: u16(), message: string(30) };
      default:
        return { type, stream };
    }
  };
  return { int, bytes, frame };
}

test('property: random frames round-trip (3000 frames, seed 0xB05)', () => {
  const rand = prng(0xb05);
  const { frame } = generators(rand);
  for (let i = 0; i < 3000; i++) {
    const f = frame();
    const bytes = encode(f);
    const back = decode(bytes);
    assertFrameEqual(back, f);
    assert.equal(hex(encode(back)), hex(bytes));
  }
});

test('property: garbage and mutated frames only ever throw DecodeError (6000 inputs, seed 7)', () => {
  const rand = prng(7);
  const { int, bytes, frame } = generators(rand);
  let decoded = 0;
  for (let i = 0; i < 6000; i++) {
    let input;
    const kind = i % 3;
    if (kind === 0) {
      // Pure noise, usually with a valid version byte so the body parser is exercised.
      input = bytes(64);
      if (input.length > 0 && rand() < 0.8) input[0] = 1;
    } else {
      // A valid frame, then corrupted: byte flips, truncation or extension.
      const valid = encode(frame());
      if (kind === 1) {
        input = valid.slice();
        for (let n = 1 + int(3); n > 0; n--) input[int(input.length - 1)] = int(255);
      } else if (rand() < 0.5) {
        input = valid.slice(0, int(valid.length));
      } else {
        input = new Uint8Array(valid.length + 1 + int(8));
        input.set(valid);
      }
    }
    let f;
    try {
      f = decode(input);
    } catch (e) {
      assert.ok(e instanceof DecodeError, `input ${hex(input)} threw ${e}`);
      assert.ok([1, 2, 3].includes(e.code));
      continue;
    }
    // The encoding is canonical: anything that decodes re-encodes to the same bytes.
    decoded++;
    assert.equal(hex(encode(f)), hex(input));
  }
  assert.ok(decoded > 100, `some mutated inputs should still decode (${decoded})`);
});
