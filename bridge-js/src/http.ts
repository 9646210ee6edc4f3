// HTTP vocabulary shared by the fetch, XHR and EventSource shims, following the Fetch
// standard's definitions (header names and values, forbidden headers, methods, MIME types).

/** A header as the shims keep it: name and a ByteString value (one char per byte). */
export type HeaderPair = [name: string, value: string];

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\0\r\n]|[^\0-\u00ff]/;
const HTTP_WS_EDGES = /^[\t\n\r ]+|[\t\n\r ]+$/g;

export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

/** Fetch "normalize": strip leading and trailing HTTP whitespace. */
export function normalizeHeaderValue(value: string): string {
  return value.replace(HTTP_WS_EDGES, '');
}

/** A normalized value is a header value: no NUL, CR, LF, nothing above U+00FF (a ByteString). */
export function isHeaderValue(value: string): boolean {
  return !BAD_VALUE.test(value);
}

/** ASCII lower case (Unicode case mapping could change a string's length). */
export function lower(s: string): string {
  return s.replace(/[A-Z]+/g, (c) => c.toLowerCase());
}

const FORBIDDEN_HEADERS = new Set([
  'accept-charset',
  'accept-encoding',
  'access-control-request-headers',
  'access-control-request-method',
  'connection',
  'content-length',
  'cookie',
  'cookie2',
  'date',
  'dnt',
  'expect',
  'host',
  'keep-alive',
  'origin',
  'referer',
  'set-cookie',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'via',
]);
const METHOD_OVERRIDE = new Set(['x-http-method', 'x-http-method-override', 'x-method-override']);

/** Fetch "forbidden request-header": browsers silently drop these from page requests. */
export function isForbiddenRequestHeader(name: string, value: string): boolean {
  const n = lower(name);
  if (FORBIDDEN_HEADERS.has(n) || n.startsWith('proxy-') || n.startsWith('sec-')) return true;
  if (METHOD_OVERRIDE.has(n)) {
    return value.split(',').some((m) => isForbiddenMethod(normalizeHeaderValue(m)));
  }
  return false;
}

export function isForbiddenMethod(method: string): boolean {
  const m = method.toUpperCase();
  return m === 'CONNECT' || m === 'TRACE' || m === 'TRACK';
}

const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

/** Fetch "normalize a method": only these six are upper-cased; `patch` stays `patch`. */
export function normalizeMethod(method: string): string {
  const upper = method.toUpperCase();
  return NORMALIZED_METHODS.has(upper) ? upper : method;
}

/** Request-body headers dropped when a redirect turns a request into a GET. */
export const REQUEST_BODY_HEADERS = ['content-encoding', 'content-language', 'content-location', 'content-type'];

export const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
export const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Reason phrases. The bus sends no status text (its ResponseHead has none, like HTTP/2), so
 * we use the canonical phrase, which is what a hyper/axum server on localhost sends.
 */
const REASONS: Record<number, string> = {
  100: 'Continue', 101: 'Switching Protocols', 102: 'Processing', 103: 'Early Hints',
  200: 'OK', 201: 'Created', 202: 'Accepted', 203: 'Non Authoritative Information', 204: 'No Content',
  205: 'Reset Content', 206: 'Partial Content', 207: 'Multi-Status', 208: 'Already Reported', 226: 'IM Used',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  305: 'Use Proxy', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
  409: 'Conflict', 410: 'Gone', 411: 'Length Required', 412: 'Precondition Failed', 413: 'Payload Too Large',
  414: 'URI Too Long', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable', 417: 'Expectation Failed',
  418: "I'm a teapot", 421: 'Misdirected Request', 422: 'Unprocessable Entity', 423: 'Locked',
  424: 'Failed Dependency', 426: 'Upgrade Required', 428: 'Precondition Required', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Gateway Timeout', 505: 'HTTP Version Not Supported', 506: 'Variant Also Negotiates',
  507: 'Insufficient Storage', 508: 'Loop Detected', 510: 'Not Extended', 511: 'Network Authentication Required',
};

export function statusText(status: number): string {
  return REASONS[status] ?? '';
}

/** The value of a header (case-insensitive), values of repeats joined by ", " as Fetch's "get" does. */
export function getHeader(headers: readonly HeaderPair[], name: string): string | null {
  const n = lower(name);
  let out: string | null = null;
  for (let i = 0; i < headers.length; i++) {
    const pair = headers[i]!;
    if (lower(pair[0]) !== n) continue;
    out = out === null ? pair[1] : `${out}, ${pair[1]}`;
  }
  return out;
}

export function hasHeader(headers: readonly HeaderPair[], name: string): boolean {
  const n = lower(name);
  for (let i = 0; i < headers.length; i++) if (lower(headers[i]![0]) === n) return true;
  return false;
}

export function removeHeaders(headers: HeaderPair[], names: readonly string[]): HeaderPair[] {
  const drop = new Set<string>();
  for (let i = 0; i < names.length; i++) drop.add(lower(names[i]!));
  return headers.filter((pair) => !drop.has(lower(pair[0])));
}

/** Fetch "extract a length": the Content-Length values, which must all agree; else null. */
export function extractLength(headers: readonly HeaderPair[]): number | null {
  const v = getHeader(headers, 'content-length');
  if (v === null) return null;
  let candidate: string | null = null;
  for (const part of v.split(',')) {
    const p = normalizeHeaderValue(part);
    if (candidate !== null && candidate !== p) return null;
    candidate = p;
  }
  return candidate !== null && /^[0-9]+$/.test(candidate) ? Number(candidate) : null;
}

export interface MimeType {
  type: string;
  subtype: string;
  /** Lower-case `type/subtype`. */
  essence: string;
  /** Lower-case names, values unquoted. */
  parameters: Map<string, string>;
}

/** MIME Sniffing "parse a MIME type", enough of it for charsets and essences. */
export function parseMimeType(input: string): MimeType | null {
  const s = normalizeHeaderValue(input);
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const type = s.slice(0, slash);
  let semi = s.indexOf(';', slash);
  if (semi < 0) semi = s.length;
  const subtype = s.slice(slash + 1, semi).replace(/[\t\n\r ]+$/, '');
  if (!isToken(type) || !isToken(subtype)) return null;
  const parameters = new Map<string, string>();
  let i = semi;
  while (i < s.length) {
    i++; // past ';'
    while (i < s.length && /[\t\n\r ]/.test(s[i]!)) i++;
    let end = i;
    while (end < s.length && s[end] !== ';' && s[end] !== '=') end++;
    const name = lower(s.slice(i, end));
    i = end;
    if (i >= s.length) break;
    if (s[i] === ';') continue;
    i++; // past '='
    let value: string;
    if (s[i] === '"') {
      value = '';
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        value += s[i];
        i++;
      }
      while (i < s.length && s[i] !== ';') i++;
    } else {
      end = s.indexOf(';', i);
      if (end < 0) end = s.length;
      value = s.slice(i, end).replace(/[\t\n\r ]+$/, '');
      i = end;
      if (value === '') continue;
    }
    // Kept only when the value is all HTTP quoted-string token code points (MIME Sniffing).
    if (name !== '' && isToken(name) && /^[\t\u0020-\u007E\u0080-\u00FF]*$/.test(value) && !parameters.has(name)) parameters.set(name, value);
  }
  return { type: lower(type), subtype: lower(subtype), essence: `${lower(type)}/${lower(subtype)}`, parameters };
}

export function serializeMimeType(m: MimeType): string {
  let out = m.essence;
  m.parameters.forEach((v, k) => {
    out += `;${k}=${isToken(v) && v !== '' ? v : `"${v.replace(/(["\\])/g, '\\$1')}"`}`;
  });
  return out;
}

/**
 * Fetch "extract a MIME type" from a header list: the last valid Content-Type value wins,
 * inheriting the charset of an earlier one with the same essence.
 */
export function extractMimeType(headers: readonly HeaderPair[]): MimeType | null {
  const v = getHeader(headers, 'content-type');
  if (v === null) return null;
  let charset: string | null = null;
  let essence: string | null = null;
  let mime: MimeType | null = null;
  for (const part of splitHeaderList(v)) {
    const m = parseMimeType(part);
    if (!m || m.essence === '*/*') continue;
    mime = m;
    if (m.essence !== essence) {
      charset = m.parameters.get('charset') ?? null;
      essence = m.essence;
    } else if (!m.parameters.has('charset') && charset !== null) {
      m.parameters.set('charset', charset);
    }
  }
  return mime;
}

/** Splits a combined header value on commas outside quoted strings. */
function splitHeaderList(v: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (quoted) {
      if (c === '\\' && i + 1 < v.length) {
        cur += c + v[++i]!;
        continue;
      }
      if (c === '"') quoted = false;
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      out.push(normalizeHeaderValue(cur));
      cur = '';
      continue;
    }
    cur += c;
  }
  out.push(normalizeHeaderValue(cur));
  return out;
}

export function isXmlMime(m: MimeType): boolean {
  return m.subtype.endsWith('+xml') || m.essence === 'text/xml' || m.essence === 'application/xml';
}

export function isHtmlMime(m: MimeType): boolean {
  return m.essence === 'text/html';
}

/** Isomorphic decode: one char per byte (header values are ByteStrings). */
export function latin1(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000) as unknown as number[]);
  }
  return out;
}

/**
 * The origin of a URL as `scheme://host[:port]`, host lower-cased. Not `URL.origin`: that is
 * the string "null" for every non-special scheme such as `app:`.
 */
export function originOf(url: URL): string {
  return `${url.protocol}//${lower(url.host)}`;
}

/** The URL without fragment or credentials, as it goes into a RequestHead and Response.url. */
export function wireUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}${url.search}`;
}

/** The URL serialized without its fragment (Response.url, XHR responseURL). */
export function withoutFragment(url: URL): string {
  const u = new URL(url.href);
  u.hash = '';
  return u.href;
}

export function abortReason(signal: AbortSignal): unknown {
  // `abort(null)` gives null as the reason; only an engine without `reason` has undefined.
  const reason: unknown = signal.reason;
  return reason !== undefined ? reason : new DOMException('The operation was aborted.', 'AbortError');
}

export function isReadableStream(x: unknown): x is ReadableStream<Uint8Array> {
  return typeof ReadableStream !== 'undefined' && x instanceof ReadableStream;
}

export function isBlob(x: unknown): x is Blob {
  return typeof Blob !== 'undefined' && x instanceof Blob;
}

export function isFormData(x: unknown): x is FormData {
  return typeof FormData !== 'undefined' && x instanceof FormData;
}

export function isUrlSearchParams(x: unknown): x is URLSearchParams {
  return typeof URLSearchParams !== 'undefined' && x instanceof URLSearchParams;
}

/** A BufferSource, from any realm (an iframe's `ArrayBuffer` is one too, as WebIDL has it). */
export function isBufferSource(x: unknown): x is ArrayBuffer | ArrayBufferView {
  return ArrayBuffer.isView(x) || arrayBufferSize(x) !== null || isSharedArrayBuffer(x);
}

function isSharedArrayBuffer(x: unknown): boolean {
  if (sharedByteLength === undefined) return false;
  try {
    Reflect.apply(sharedByteLength, x, []);
    return true;
  } catch (_) {
    return false;
  }
}

// The engine's getters, taken at load: brand checks that work across realms and do not run
// what a page put on a prototype or a subclass.
const getterOf = (o: object | undefined, name: string): ((this: unknown) => unknown) | undefined =>
  o === undefined ? undefined : (Object.getOwnPropertyDescriptor(o, name)?.get as ((this: unknown) => unknown) | undefined);
const arrayBufferByteLength = getterOf(ArrayBuffer.prototype, 'byteLength')!;
const arrayBufferResizable = getterOf(ArrayBuffer.prototype, 'resizable');
const arrayBufferDetached = getterOf(ArrayBuffer.prototype, 'detached');
const sharedByteLength = typeof SharedArrayBuffer !== 'undefined' ? getterOf(SharedArrayBuffer.prototype, 'byteLength') : undefined;
const typedArrayBuffer = getterOf(Object.getPrototypeOf(Uint8Array.prototype) as object, 'buffer')!;
const dataViewBuffer = getterOf(DataView.prototype, 'buffer')!;
const typedArraySlice = (Object.getPrototypeOf(Uint8Array.prototype) as { slice: (this: Uint8Array) => Uint8Array }).slice;

/** `x`'s byte length when it is an `ArrayBuffer` of any realm (not a shared one), else null. */
export function arrayBufferSize(x: unknown): number | null {
  try {
    return Reflect.apply(arrayBufferByteLength, x, []) as number;
  } catch (_) {
    return null;
  }
}

/** Whether an `ArrayBuffer` is resizable or detached (false where the engine has no such thing). */
export function arrayBufferFlags(buffer: ArrayBuffer): { resizable: boolean; detached: boolean } {
  return {
    resizable: arrayBufferResizable !== undefined && Reflect.apply(arrayBufferResizable, buffer, []) === true,
    detached: arrayBufferDetached !== undefined && Reflect.apply(arrayBufferDetached, buffer, []) === true,
  };
}

/** The buffer of a typed array or DataView (of any realm), or null. */
export function viewBuffer(view: ArrayBufferView): unknown {
  // Each getter throws for the other kind of view (no loop: the page may have replaced the
  // array iterator).
  try {
    return Reflect.apply(typedArrayBuffer, view, []);
  } catch (_) {
    try {
      return Reflect.apply(dataViewBuffer, view, []);
    } catch (_) {
      return null;
    }
  }
}

/** A copy of `bytes`, by the engine's own `slice`. */
export function copyView(bytes: Uint8Array): Uint8Array {
  return Reflect.apply(typedArraySlice, bytes, []) as Uint8Array;
}

const encoder = new TextEncoder();
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** The original `performance.now()` (see intrinsics.ts). */
export { monotonicNow as now } from './intrinsics.js';
