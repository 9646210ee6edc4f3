// Base64 for the string-only bridges (Chromium bindings, Android's JavascriptInterface and
// WebMessagePort, DOM events relayed from an isolated world). Uses the engine's
// `Uint8Array.prototype.toBase64` / `Uint8Array.fromBase64` where they exist (Chromium 140+,
// Safari 18.2+, Firefox 133+): measured here 5-6x faster than `btoa`. Elsewhere a
// table-driven fallback that never builds strings a character at a time.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const ENCODE = new Uint8Array(64);
/** Sextet per char code; -1 for chars outside the alphabet. */
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) {
  ENCODE[i] = ALPHABET.charCodeAt(i);
  DECODE[ALPHABET.charCodeAt(i)] = i;
}
/** ASCII whitespace, which `fromBase64` skips (Android's `Base64.DEFAULT` wraps lines). */
const WHITESPACE = /[\t\n\f\r ]/;
const WHITESPACE_ALL = /[\t\n\f\r ]+/g;

type NativeTo = (this: Uint8Array) => string;
type NativeFrom = (s: string) => Uint8Array;

/** Base64 (standard alphabet, padded) of `bytes`: the engine's encoder when present. */
export function toBase64(bytes: Uint8Array): string {
  const native = (bytes as unknown as { toBase64?: NativeTo }).toBase64;
  return typeof native === 'function' ? native.call(bytes) : fallbackToBase64(bytes);
}

/** Bytes of a base64 string; throws SyntaxError on anything that is not base64. */
export function fromBase64(s: string): Uint8Array {
  const native = (Uint8Array as unknown as { fromBase64?: NativeFrom }).fromBase64;
  return typeof native === 'function' ? native(s) : fallbackFromBase64(s);
}

/** The fallback encoder: ASCII bytes into one buffer, then one decode into a string. */
export function fallbackToBase64(bytes: Uint8Array): string {
  const n = bytes.length;
  const out = new Uint8Array(Math.ceil(n / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o++] = ENCODE[v >>> 18]!;
    out[o++] = ENCODE[(v >>> 12) & 63]!;
    out[o++] = ENCODE[(v >>> 6) & 63]!;
    out[o++] = ENCODE[v & 63]!;
  }
  if (i < n) {
    const two = i + 1 < n;
    const v = (bytes[i]! << 16) | (two ? bytes[i + 1]! << 8 : 0);
    out[o++] = ENCODE[v >>> 18]!;
    out[o++] = ENCODE[(v >>> 12) & 63]!;
    out[o++] = two ? ENCODE[(v >>> 6) & 63]! : 61;
    out[o++] = 61; // '='
  }
  return asciiDecoder().decode(out);
}

/**
 * The fallback decoder, accepting what `Uint8Array.fromBase64` accepts with its defaults:
 * the standard alphabet, ASCII whitespace anywhere, padding optional but complete if present.
 */
export function fallbackFromBase64(input: string): Uint8Array {
  const s = WHITESPACE.test(input) ? input.replace(WHITESPACE_ALL, '') : input;
  let len = s.length;
  if (len > 0 && s.charCodeAt(len - 1) === 61) {
    if (len % 4 !== 0) throw new SyntaxError('invalid base64: incomplete padding');
    len--;
    if (s.charCodeAt(len - 1) === 61) len--;
  }
  const rest = len % 4;
  if (rest === 1) throw new SyntaxError('invalid base64: a lone trailing character');
  const out = new Uint8Array((len >> 2) * 3 + (rest === 0 ? 0 : rest - 1));
  let o = 0;
  let i = 0;
  const sextet = (at: number): number => {
    const c = s.charCodeAt(at);
    const v = c < 128 ? DECODE[c]! : -1;
    if (v < 0) throw new SyntaxError(`invalid base64: unexpected character at ${at}`);
    return v;
  };
  for (const whole = len - rest; i < whole; i += 4) {
    const v = (sextet(i) << 18) | (sextet(i + 1) << 12) | (sextet(i + 2) << 6) | sextet(i + 3);
    out[o++] = v >>> 16;
    out[o++] = (v >>> 8) & 255;
    out[o++] = v & 255;
  }
  if (rest > 0) {
    // Leftover bits are not checked for zero, as fromBase64's default ("loose") does not.
    const v = (sextet(i) << 18) | (sextet(i + 1) << 12) | (rest === 3 ? sextet(i + 2) << 6 : 0);
    out[o++] = v >>> 16;
    if (rest === 3) out[o++] = (v >>> 8) & 255;
  }
  return out;
}

let decoder: TextDecoder | null = null;
function asciiDecoder(): TextDecoder {
  // The output is pure ASCII, so UTF-8 decoding is a plain widening copy.
  return (decoder ??= new TextDecoder());
}
