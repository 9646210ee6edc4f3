// One logical request to the bus, redirects included: what fetch, XHR and EventSource share.
// Follows Fetch's "HTTP-redirect fetch" rules for methods, bodies and headers; a redirect
// that leaves the bus origins is handed to the browser's own fetch for the remaining hops.

import type { BusClient, CarryBack } from './client.js';
import { recycle } from './pool.js';
import { bare, cancelStream, then } from './intrinsics.js';
import { bodyForClient, type ExtractedBody } from './body.js';
import {
  REDIRECT_STATUSES,
  abortReason,
  REQUEST_BODY_HEADERS,
  getHeader,
  hasHeader,
  latin1,
  normalizeHeaderValue,
  originOf,
  removeHeaders,
  wireUrl,
  type HeaderPair,
} from './http.js';

/** What the shims share: the client, the origin test, the page's originals. */
export interface ShimContext {
  readonly client: BusClient;
  isBus(url: URL): boolean;
  /** The document's base URL now (it changes with `<base>` and navigations of the history). */
  baseURL(): string;
  /** The browser's fetch as it was before install, for hops that leave the bus. */
  readonly nativeFetch: typeof fetch | undefined;
  /** Response window per stream, or undefined for the client's default. */
  readonly window: number | undefined;
  /** Header that marks native-route bodies as already flattened by the shim, or null. */
  readonly bodyMarker: string | null;
  /**
   * Registers what to do when the document stops loading (`window.stop()`): in-flight
   * requests are aborted, as the engine aborts its own. Returns the unregistration.
   */
  onStop(abort: () => void): () => void;
  /** The signal window.stop() aborts now (see `Stopper.signal`). */
  stopSignal(): AbortSignal;
}

export interface BusRequestInit {
  method: string;
  url: URL;
  /** Author headers, already validated and stripped of forbidden ones. */
  headers: HeaderPair[];
  body: ExtractedBody | null;
  signal: AbortSignal | null;
  /** A second signal that aborts the request (window.stop()'s). */
  stop?: AbortSignal | null | undefined;
  redirect: RequestRedirect;
  /**
   * What a `fetch()` Request asked of the network beyond the bus, for a redirect that leaves
   * it: the browser's fetch takes the rest with these (and a `same-origin` request may not
   * leave at all).
   */
  offBus?: OffBusInit | undefined;
  /** Upload progress of the current hop (bytes sent, and whether the body is complete). */
  onupload?: ((sent: number, done: boolean) => void) | undefined;
  /**
   * The caller may send the body again after this request (XHR's answer to a 401): a
   * carrier's hold on it is left to the caller, who ends it with `letGoBody` once no send
   * follows (else the next send could find its bytes gone, or in another request's hands).
   */
  keepBody?: boolean | undefined;
}

/** A Request's members the browser's fetch needs when a redirect leaves the bus. */
export interface OffBusInit {
  mode: RequestMode;
  credentials: RequestCredentials;
  cache: RequestCache;
  referrer: string;
  referrerPolicy: ReferrerPolicy;
  integrity: string;
  keepalive: boolean;
}

export interface BusResponse {
  status: number;
  /** Lower-case names, ByteString values, in the order received. */
  headers: HeaderPair[];
  body: ReadableStream<Uint8Array>;
  /** The whole body when it came with the head (see `StreamResponse.complete`), else null. */
  complete: Uint8Array | null;
  /** See `StreamResponse.progress` (absent for the browser's own responses). */
  progress?: (() => { received: number; ended: boolean }) | undefined;
  /** The final URL (after redirects). */
  url: URL;
  redirected: boolean;
  /** Set when a redirect left the bus and the browser's fetch answered the last hop. */
  native: Response | null;
}

const MAX_REDIRECTS = 20;

/** Sends a request (following redirects per `redirect`); rejects with TypeError on network errors. */
export async function busRequest(ctx: ShimContext, init: BusRequestInit): Promise<BusResponse> {
  try {
    return await follow(ctx, init);
  } finally {
    if (init.keepBody !== true) letGoBody(init.body);
  }
}

/**
 * No more sends of `body`: a carrier that still holds it lets it go, and the bytes it gave
 * back (ours alone again) are kept for the next body of their size.
 */
export function letGoBody(body: ExtractedBody | null): void {
  const returned = body?.returned;
  if (returned === undefined) return;
  body!.returned = undefined;
  then(returned, (back) => {
    if (isCarryBack(back)) back.release();
    else if (back !== null) recycle(back);
  });
}

const isView = ArrayBuffer.isView;

function isCarryBack(back: Uint8Array | null | CarryBack): back is CarryBack {
  return back !== null && !isView(back);
}

async function follow(ctx: ShimContext, init: BusRequestInit): Promise<BusResponse> {
  let { method, url, headers, body } = init;
  let redirects = 0;
  for (;;) {
    const res = ctx.isBus(url)
      ? await openOne(ctx, method, url, headers, body, init.signal, init.onupload, init.stop ?? null)
      : await nativeHop(ctx, method, url, headers, body, init.signal, init.redirect, init.offBus);
    res.redirected = redirects > 0;
    if (res.native || !REDIRECT_STATUSES.has(res.status) || init.redirect === 'manual') return res;
    if (init.redirect === 'error') {
      cancelStream(res.body);
      throw new TypeError(`redirect (${res.status}) with redirect mode "error"`);
    }
    const location = getHeader(res.headers, 'location');
    if (location === null) return res;
    cancelStream(res.body);
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new TypeError(`redirect to an invalid Location: ${location}`);
    }
    if (redirects >= MAX_REDIRECTS) throw new TypeError('too many redirects');
    if (!ctx.isBus(next) && next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw new TypeError(`redirect to a URL that is neither HTTP(S) nor the bus: ${next.href}`);
    }
    redirects++;
    // A one-shot (stream) body cannot be sent again; only a 303 drops it.
    if (res.status !== 303 && body !== null && body.source === null) {
      throw new TypeError('cannot follow a redirect with a streamed request body');
    }
    if (((res.status === 301 || res.status === 302) && method === 'POST') || (res.status === 303 && method !== 'GET' && method !== 'HEAD')) {
      method = 'GET';
      body = null;
      headers = removeHeaders(headers, REQUEST_BODY_HEADERS);
    }
    if (originOf(next) !== originOf(url)) headers = removeHeaders(headers, ['authorization']);
    if (next.hash === '' && url.hash !== '') next.hash = url.hash;
    url = next;
  }
}

async function openOne(
  ctx: ShimContext,
  method: string,
  url: URL,
  headers: HeaderPair[],
  body: ExtractedBody | null,
  signal: AbortSignal | null,
  onupload: BusRequestInit['onupload'],
  stop: AbortSignal | null,
): Promise<BusResponse> {
  if (body?.returned !== undefined) await reclaim(body, signal, stop);
  const wire: HeaderPair[] = headers.slice();
  // What the browser's network layer would add. Content-Length: for bodies of known length,
  // and 0 for a POST or PUT without one (Fetch, "HTTP-network-or-cache fetch").
  if (!hasHeader(wire, 'accept')) wire.push(['accept', '*/*']);
  if (body !== null && body.length !== null) wire.push(['content-length', String(body.length)]);
  else if (body === null && (method === 'POST' || method === 'PUT')) wire.push(['content-length', '0']);
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
    lendBody:
      body !== null && body.owned === true && body.source instanceof Uint8Array
        ? (back: Promise<Uint8Array | null | CarryBack>) => {
            body.returned = back;
          }
        : undefined,
  });
  // Values as the engine's HTTP parser leaves them: without white space at their edges.
  const raw = res.headers;
  const out: HeaderPair[] = [];
  for (let i = 0; i < raw.length; i++) out.push([raw[i]![0], normalizeHeaderValue(latin1(raw[i]![1]))]);
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
    native: null,
  });
}

/**
 * Before a body is sent again (a redirect, a retry): its bytes back from the carrier that
 * took them, if one did (`StreamInit.lendBody`). An abort meanwhile ends the wait.
 */
async function reclaim(body: ExtractedBody | null, signal: AbortSignal | null, stop: AbortSignal | null): Promise<void> {
  if (body === null || body.returned === undefined) return;
  const returned = body.returned;
  // Two signals by name: no array to iterate (the page may have replaced its iterator).
  let back = await new Promise<Uint8Array | null | CarryBack>((resolve, reject) => {
    const onAbort = (event: Event): void => {
      detach();
      reject(abortReason(event.target as AbortSignal));
    };
    const detach = (): void => {
      signal?.removeEventListener('abort', onAbort);
      stop?.removeEventListener('abort', onAbort);
    };
    if (signal?.aborted) return reject(abortReason(signal));
    if (stop?.aborted) return reject(abortReason(stop));
    signal?.addEventListener('abort', onAbort);
    stop?.addEventListener('abort', onAbort);
    then(returned, (bytes) => {
      detach();
      resolve(bytes);
    });
  });
  body.returned = undefined;
  if (isCarryBack(back)) back = await back.again();
  if (back === null) throw new TypeError('the request body cannot be sent again: the bridge that carried it did not give it back');
  body.source = back;
}

/** A redirect left the bus: the browser's fetch carries the rest, with its own rules. */
async function nativeHop(
  ctx: ShimContext,
  method: string,
  url: URL,
  headers: HeaderPair[],
  body: ExtractedBody | null,
  signal: AbortSignal | null,
  redirect: RequestRedirect,
  offBus: OffBusInit | undefined,
): Promise<BusResponse> {
  if (!ctx.nativeFetch) throw new TypeError(`redirect to ${url.href}: no browser fetch to follow it with`);
  // Fetch's main fetch: a same-origin request whose URL is now of another origin (every URL
  // off the bus is, as the page's own origin is a bus origin) is a network error.
  if (offBus?.mode === 'same-origin') throw new TypeError(`redirect to ${url.href}, another origin, with mode "same-origin"`);
  if (body?.returned !== undefined) await reclaim(body, signal, null);
  const init: RequestInit = bare({ method, headers, redirect });
  if (offBus) {
    init.mode = offBus.mode;
    init.credentials = offBus.credentials;
    init.cache = offBus.cache;
    init.referrer = offBus.referrer;
    init.referrerPolicy = offBus.referrerPolicy;
    if (offBus.integrity !== '') init.integrity = offBus.integrity;
    if (offBus.keepalive) init.keepalive = true;
  }
  if (signal) init.signal = signal;
  if (body !== null) init.body = (body.source ?? body.stream) as BodyInit;
  if (body !== null && body.source === null) (init as { duplex?: string }).duplex = 'half';
  const response = await ctx.nativeFetch.call(globalThis, url.href, init);
  const out: HeaderPair[] = [];
  response.headers.forEach((v, n) => out.push([n, v]));
  return bare({
    status: response.status,
    headers: out,
    body: response.body ?? new ReadableStream(bare({ start: (c: ReadableStreamDefaultController) => c.close() })),
    complete: null,
    url: new URL(response.url || url.href),
    redirected: true,
    native: response,
  });
}
