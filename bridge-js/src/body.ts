// Request bodies: Fetch's "extract a body" (bytes, type, length) and the HTML multipart/form-data
// encoding, written by hand so that a FormData body is a Blob composed of strings and the
// files themselves: nothing is read into memory until it is sent, and the same bytes can be
// flattened into an ArrayBuffer for engines that must not see Blob-backed bodies (WebKitGTK).

import type { CarryBack } from './client.js';
import { copyForRequest } from './pool.js';
import { isBlob, isBufferSource, isFormData, isReadableStream, isUrlSearchParams, utf8 } from './http.js';

export interface ExtractedBody {
  /** The body's bytes when replayable (kept for redirects); null for a one-shot stream. */
  source: Uint8Array | Blob | null;
  /** The one-shot stream, when `source` is null. */
  stream: ReadableStream<Uint8Array> | null;
  /** The default Content-Type, or null. */
  type: string | null;
  /** Byte length when known (it is unless the body is a stream). */
  length: number | null;
  /**
   * `source` is bytes this shim made (a copy, an encoding) and holds nowhere else, so a
   * carrier may take its buffer instead of copying it (`StreamInit.lendBody`).
   */
  owned?: boolean | undefined;
  /** While a carrier has `source`'s buffer: its return, before the bytes are sent again. */
  returned?: Promise<Uint8Array | null | CarryBack> | undefined;
}

/** Fetch "extract a body" for a BodyInit. Throws TypeError for a stream that is locked. */
export function extractBody(object: unknown): ExtractedBody {
  if (isBlob(object)) {
    return { source: object, stream: null, type: object.type === '' ? null : object.type, length: object.size };
  }
  if (isBufferSource(object)) {
    const bytes = copyForRequest(ArrayBuffer.isView(object) ? new Uint8Array(object.buffer, object.byteOffset, object.byteLength) : new Uint8Array(object));
    return { source: bytes, stream: null, type: null, length: bytes.byteLength, owned: true };
  }
  if (isFormData(object)) {
    const blob = multipartBlob(object);
    return { source: blob, stream: null, type: blob.type, length: blob.size };
  }
  if (isUrlSearchParams(object)) {
    const bytes = utf8(object.toString());
    return { source: bytes, stream: null, type: 'application/x-www-form-urlencoded;charset=UTF-8', length: bytes.byteLength, owned: true };
  }
  if (isReadableStream(object)) {
    if (object.locked) throw new TypeError('the body stream is locked');
    return { source: null, stream: object, type: null, length: null };
  }
  // Anything else is converted to a (USV)string, as WebIDL does for the BodyInit union.
  const bytes = utf8(String(object));
  return { source: bytes, stream: null, type: 'text/plain;charset=UTF-8', length: bytes.byteLength, owned: true };
}

/** The body as the client sends it: bytes, or a stream it reads chunk by chunk. */
export function bodyForClient(body: ExtractedBody): Uint8Array | ReadableStream<Uint8Array> {
  const src = body.source;
  if (src === null) return body.stream!;
  if (src instanceof Uint8Array) return src;
  // An empty Blob goes as end_stream rather than as an empty stream.
  return src.size === 0 ? new Uint8Array(0) : (src.stream() as ReadableStream<Uint8Array>);
}

/**
 * The HTML "multipart/form-data encoding algorithm" for a FormData, as a Blob whose type is
 * the Content-Type (with the boundary). The boundary is lower case because a Blob's type is
 * lower-cased, and the type must name exactly the boundary in the bytes.
 */
export function multipartBlob(form: FormData, boundary: string = randomBoundary()): Blob {
  const parts: BlobPart[] = [];
  for (const entry of form) {
    // By index: destructuring would use the page's Array.prototype[Symbol.iterator].
    const rawName = entry[0];
    const value = entry[1];
    const name = escapeName(normalizeLineBreaks(rawName));
    if (typeof value === 'string') {
      parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n`);
      parts.push(utf8(normalizeLineBreaks(value)) as BlobPart);
      parts.push('\r\n');
    } else {
      const file = value as File;
      const filename = escapeName(typeof file.name === 'string' ? file.name : 'blob');
      const type = file.type === '' ? 'application/octet-stream' : file.type;
      parts.push(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`,
      );
      parts.push(file);
      parts.push('\r\n');
    }
  }
  parts.push(`--${boundary}--\r\n`);
  return new Blob(parts, { type: `multipart/form-data; boundary=${boundary}` });
}

/** CR not followed by LF, and LF not preceded by CR, become CRLF (HTML's entry-list normalisation). */
function normalizeLineBreaks(s: string): string {
  return s.replace(/\r\n|\r|\n/g, '\r\n');
}

/** Names and filenames in Content-Disposition: LF, CR and `"` percent-encoded, as browsers do. */
function escapeName(s: string): string {
  return s.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
}

const BOUNDARY_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** 24 random characters after a fixed prefix, like the engines' own boundaries. */
export function randomBoundary(): string {
  const random = new Uint8Array(24);
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c && typeof c.getRandomValues === 'function') c.getRandomValues(random);
  else for (let i = 0; i < random.length; i++) random[i] = Math.floor(Math.random() * 256);
  let out = '----inprocbusformboundary';
  for (const b of random) out += BOUNDARY_CHARS[b % BOUNDARY_CHARS.length];
  return out;
}
