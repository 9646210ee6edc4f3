// document.cookie for app documents, from the host's cookie jar.
//
// Engines keep no cookies for what the bus answers (WebKitGTK ignores them on a custom
// scheme; no engine stores Set-Cookie carried as frames), so the bus keeps the app's cookies
// and the shim keeps a mirror of them in the page, so that document.cookie stays
// synchronous, as the spec requires:
// - the mirror lists the jar's cookies for the app's host (name, value, path, expiry; the
//   HttpOnly ones by name and path only, so the page can never read them);
// - the bus sends it in the `x-inproc-bus-cookies` header of every frames response that set
//   a cookie, and of every answer of its reserved path; the shim takes it off the response
//   head before fetch/XHR/EventSource/WebSocket see it, so a cookie a response set is in
//   document.cookie by the time the page has the response;
// - at install, where the host's native path proves the app's documents
//   (`cookies: { readAtStart: true }`), the shim reads the reserved path with one synchronous
//   native XMLHttpRequest: document.cookie is right from the first script. Otherwise (or if
//   that read fails) it asks over frames once, and document.cookie reads "" until that
//   answer arrives (a few ms after the document starts; `installation.cookiesReady`);
// - a write is applied to the mirror at once (as a browser would store it) and sent to the
//   reserved path as frames; the host's answer (its jar, authoritative: it refuses to touch
//   HttpOnly cookies) replaces the mirror.

import type { BusClient, StreamInit, StreamResponse } from './client.js';
import { cancelStream, chain, startTimer, then, wallClockNow } from './intrinsics.js';

// The request path must not call what the page may have replaced (intrinsics.ts).
const { apply } = Reflect;
const splice = Array.prototype.splice;
const parseJson = JSON.parse;
const NativePromise = Promise;

/** The reserved path of the bus that serves document.cookie (bus-core `cookies::COOKIE_PATH`). */
export const COOKIE_PATH = '/.well-known/inproc-bus/cookie';
/** The response header carrying the mirror (bus-core `cookies::MIRROR_HEADER`). */
export const MIRROR_HEADER = 'x-inproc-bus-cookies';

/** `install`'s `cookies` option as an object. */
export interface CookieOptions {
  /**
   * Read the jar synchronously at install (one synchronous native XMLHttpRequest to the
   * reserved path), for hosts whose native path proves the app's documents. Default false.
   */
  readAtStart?: boolean | undefined;
}

/** One cookie of the mirror: `h` marks an HttpOnly cookie (no value). `e`: expiry, ms since the epoch. */
export interface MirrorEntry {
  n: string;
  v?: string;
  p: string;
  e?: number | null;
  h?: boolean;
}

/** RFC 6265 §5.1.4 path-match. */
export function pathMatches(cookiePath: string, requestPath: string): boolean {
  if (cookiePath === requestPath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

/** RFC 6265 §5.1.4 default-path of a document path. */
export function defaultPath(path: string): string {
  if (!path.startsWith('/')) return '/';
  const last = path.lastIndexOf('/');
  return last <= 0 ? '/' : path.slice(0, last);
}

/** The document.cookie string of a mirror for a document at `path`, at time `now`. */
export function documentCookie(mirror: readonly MirrorEntry[], path: string, now: number): string {
  const visible = mirror.filter((c) => !c.h && pathMatches(c.p, path) && (c.e == null || c.e > now));
  // Longer paths first; creation order (the mirror's) otherwise: sort is stable.
  visible.sort((a, b) => b.p.length - a.p.length);
  return visible.map((c) => (c.n === '' ? (c.v ?? '') : `${c.n}=${c.v ?? ''}`)).join('; ');
}

/**
 * Applies `document.cookie = text` in a document at `path` to the mirror, as a browser stores
 * it (the host does the same on its jar, and its answer replaces the mirror).
 */
export function applyWrite(mirror: MirrorEntry[], text: string, path: string, now: number): MirrorEntry[] {
  const [pair = '', ...attrs] = text.split(';');
  const eq = pair.indexOf('=');
  const name = (eq < 0 ? '' : pair.slice(0, eq)).trim();
  const value = (eq < 0 ? pair : pair.slice(eq + 1)).trim();
  let cookiePath = defaultPath(path);
  let expires: number | null = null;
  let maxAge: number | null = null;
  for (const attr of attrs) {
    const i = attr.indexOf('=');
    const key = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
    const val = i < 0 ? '' : attr.slice(i + 1).trim();
    if (key === 'httponly') return mirror; // a script cannot set one
    if (key === 'path' && val.startsWith('/')) cookiePath = val;
    if (key === 'expires') {
      const t = Date.parse(val);
      if (!Number.isNaN(t)) expires = t;
    }
    if (key === 'max-age' && /^-?\d+$/.test(val)) maxAge = Number(val);
  }
  if (maxAge !== null) expires = maxAge <= 0 ? 0 : now + maxAge * 1000;
  const at = mirror.findIndex((c) => c.n === name && c.p === cookiePath);
  if (at >= 0 && mirror[at]!.h) return mirror; // nor replace an HttpOnly one
  const next = mirror.slice();
  if (expires !== null && expires <= now) {
    if (at >= 0) next.splice(at, 1);
    return next;
  }
  const entry: MirrorEntry = { n: name, v: value, p: cookiePath, e: expires };
  if (at >= 0) next[at] = entry;
  else next.push(entry);
  return next;
}

interface CookieGlobals {
  document?: unknown;
  location?: { pathname?: string };
}

/** What `installDocumentCookie` installed. */
export interface DocumentCookie {
  /** Settles once the mirror has the host's jar. */
  ready: Promise<void>;
  /** Removes `document.cookie` and the response hook again. */
  stop: () => void;
  /** `document.cookie` as a document of this origin at `path` reads it. */
  read: (path: string) => string;
  /** `document.cookie = text` from a document of this origin at `path`. */
  write: (text: string, path: string) => void;
}

const NO_DOCUMENT_COOKIE: DocumentCookie = {
  ready: Promise.resolve(),
  stop: () => {},
  read: () => '',
  write: () => {},
};

/**
 * The jar's mirror for a document at `path`, read synchronously through the engine's own
 * loader (a synchronous `XMLHttpRequest` to the reserved path, answered by the host like
 * any native request of the document). `null` when that is unavailable or refused (a host
 * that cannot prove the request is the app's answers 403): the caller falls back to frames.
 */
function readMirrorNow(NativeXHR: typeof XMLHttpRequest | undefined, path: string): MirrorEntry[] | null {
  if (typeof NativeXHR !== 'function') return null;
  try {
    const xhr = new NativeXHR();
    xhr.open('GET', `${COOKIE_PATH}?path=${encodeURIComponent(path)}`, false);
    xhr.send();
    if (xhr.status !== 200) return null;
    const text = xhr.getResponseHeader(MIRROR_HEADER);
    if (text === null) return null;
    const parsed: unknown = parseJson(text);
    return Array.isArray(parsed) ? (parsed as MirrorEntry[]) : null;
  } catch {
    return null;
  }
}

/**
 * Defines `document.cookie` on the page's document (an own accessor over Document.prototype's)
 * backed by a mirror of the bus's jar, and keeps the mirror current from the responses of
 * `client`. Returns a function that removes both again. Does nothing where there is no DOM
 * Document.
 */
export function installDocumentCookie(
  global: object,
  client: BusClient,
  options: { readAtStart?: boolean | undefined; NativeXHR?: typeof XMLHttpRequest | undefined } = {},
): DocumentCookie {
  const g = global as CookieGlobals;
  const doc = g.document;
  if (typeof Document === 'undefined' || !(doc instanceof Document)) return NO_DOCUMENT_COOKIE;
  const path = (): string => g.location?.pathname ?? '/';
  const atStart = options.readAtStart ? readMirrorNow(options.NativeXHR, path()) : null;
  let mirror: MirrorEntry[] = atStart ?? [];
  const decoder = new TextDecoder();
  const adopt = (res: StreamResponse): StreamResponse => {
    const headers = res.headers;
    for (let i = 0; i < headers.length; i++) {
      const header = headers[i]!;
      if (header[0] !== MIRROR_HEADER) continue;
      try {
        const parsed: unknown = parseJson(decoder.decode(header[1]));
        if (Array.isArray(parsed)) mirror = parsed as MirrorEntry[];
      } catch {
        /* not a mirror: keep ours */
      }
      apply(splice, headers, [i, 1]);
      break;
    }
    return res;
  };
  const open = client.openStream;
  // Writes not yet answered: requests wait for them, so a request made after a write
  // carries the cookie, as in a browser where the write is synchronous.
  let writes: Promise<unknown> | null = null;
  const wrapped = function (this: BusClient, init: StreamInit): Promise<StreamResponse> {
    const self = this;
    const send = (): Promise<StreamResponse> => chain(apply(open, self, [init]) as Promise<StreamResponse>, adopt);
    return writes === null ? send() : chain(writes, send);
  };
  client.openStream = wrapped;
  const ask = (body: string | null, at: string = path()): Promise<void> => {
    const uri = `${COOKIE_PATH}?path=${encodeURIComponent(at)}`;
    const init: StreamInit =
      body === null
        ? { method: 'GET', uri }
        : { method: 'POST', uri, headers: [['content-type', 'text/plain;charset=UTF-8']], body: new TextEncoder().encode(body) };
    const send = (): Promise<StreamResponse> => chain(apply(open, client, [init]) as Promise<StreamResponse>, adopt);
    const answered = writes === null ? send() : chain(writes, send);
    // Settles (never rejects) once the host has answered: the body is not needed.
    const sent: Promise<void> = new NativePromise((resolve) => {
      then(
        answered,
        (res) => {
          if (res.complete === null) cancelStream(res.body);
          resolve();
        },
        () => resolve(),
      );
    });
    if (body !== null) {
      const done: Promise<void> = chain(sent, () => {
        if (writes === done) writes = null;
      });
      writes = done;
    }
    return sent;
  };
  const read = (at: string): string => documentCookie(mirror, at, wallClockNow());
  const write = (text: string, at: string): void => {
    mirror = applyWrite(mirror, text, at, wallClockNow());
    ask(text, at);
  };
  const descriptor: PropertyDescriptor = {
    configurable: true,
    enumerable: true,
    get: () => read(path()),
    set: (value: unknown) => write(String(value), path()),
  };
  Object.defineProperty(doc, 'cookie', descriptor);
  // Not at once: the shim installs at document start, when a host's relay (WebKitGTK's
  // isolated-world script, also injected at document start) may not listen yet, and a
  // frame sent then is lost — the answer never came and `cookiesReady` never settled
  // (seen on a page reached by navigation). A task later, every document-start script has
  // run and page scripts have not.
  const ready: Promise<void> =
    atStart !== null
      ? NativePromise.resolve()
      : new NativePromise((resolve) => {
          startTimer(() => then(ask(null), () => resolve(), () => resolve()), 0);
        });
  const stop = (): void => {
    if (client.openStream === wrapped) client.openStream = open;
    const own = Object.getOwnPropertyDescriptor(doc, 'cookie');
    if (own && own.get === descriptor.get) delete (doc as { cookie?: unknown }).cookie;
  };
  return { ready, stop, read, write };
}
