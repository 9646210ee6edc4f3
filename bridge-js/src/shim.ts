// install(): makes a page's fetch, XMLHttpRequest, EventSource and WebSocket reach the bus for URLs of
// the bus origins, and leaves every other URL to the browser's originals untouched.

import { interceptForms, type FormMode } from './forms.js';
import { BusClient, type ClientOptions, type Transport } from './client.js';
import { installDocumentCookie } from './cookies.js';
import type { CookieOptions } from './cookies.js';
import { createEventSource } from './eventsource.js';
import { createFetch } from './fetch.js';
import { originOf } from './http.js';
import type { ShimContext } from './request.js';
import { createXMLHttpRequest } from './xhr.js';
import { hookStop } from './stop.js';
import { createWebSocket } from './websocket.js';
import { wrapWorkers } from './workers.js';

/**
 * How a request to a bus URL travels: `'frames'` through the BusClient over the transport,
 * or `'native'` through the browser's own fetch/XHR to the bus URL, carried by the engine's
 * scheme handler (Blob and FormData bodies are flattened to ArrayBuffers first, and bodies
 * get the `nativeBodyMarker` header).
 */
export type Route = 'frames' | 'native';

export interface RouteInfo {
  /** Normalized method (as far as known before the request is built). */
  method: string;
  url: URL;
  /** fetch: whether a body was given. XHR (decided at open()): method is not GET or HEAD. */
  hasBody: boolean;
}

export type RouteChoice = Route | ((info: RouteInfo) => Route);
export type RouteFor = (info: RouteInfo) => Route;

export interface InstallOptions {
  /** Bus origins, e.g. `['app://localhost']`: scheme, host and port must match exactly. */
  origins: readonly string[];
  /** The bridge to the bus; required unless `client` is given. */
  transport?: Transport | undefined;
  /** An existing client (it owns its transport); default: a new one over `transport`. */
  client?: BusClient | undefined;
  /** Per request kind; default `'frames'` for both. EventSource always uses frames. */
  routes?: { fetch?: RouteChoice | undefined; xhr?: RouteChoice | undefined } | undefined;
  /** Response bytes buffered per stream before the page reads them (the client's default: 1 MiB). */
  window?: number | undefined;
  /**
   * Header set (value `1`) on requests with a body that the native route sends, once the
   * body is plain bytes; default `x-inproc-bus-body`. The WebKitGTK host answers 400 to a
   * body on the scheme without it (it cannot tell a Blob-backed body it would crash on),
   * and removes it before the handler sees the request. `false` sets nothing.
   */
  nativeBodyMarker?: string | false | undefined;
  /**
   * Streams open at once in the page's session (default 256, the bus port's limit); more
   * requests wait for one to end. Must not exceed the port's `SessionConfig::max_streams`.
   */
  maxStreams?: number | undefined;
  /** EventSource's initial reconnection time in ms; default 3000, as browsers. */
  eventSourceRetry?: number | undefined;
  onprotocolerror?: ClientOptions['onprotocolerror'];
  /**
   * Page origins allowed to install; default `origins`. A main-frame user script also runs in
   * foreign pages the WebView navigates to, and must not bring the bus there: install()
   * returns null when `location`'s origin is not listed. Pass `false` to skip the check.
   */
  pageOrigins?: readonly string[] | false | undefined;
  /** The global object to patch; default `globalThis`. */
  global?: object | undefined;
  /**
   * POST form submissions to bus URLs the shim takes over (sends as frames, shows the
   * answer as the page): `'files'` (default) for multipart forms with file inputs, which
   * WebKitGTK's scheme handler cannot read safely; `'all'` where the engine loses every
   * POST body (Android); `false` for none.
   */
  forms?: FormMode | undefined;
  /**
   * `document.cookie` of the page read and written through the bus's cookie jar (its
   * reserved path, as frames): default true. The engine keeps no cookies for bus URLs
   * itself. `{ readAtStart: true }` also reads the jar at install, synchronously, with one
   * synchronous native `XMLHttpRequest` to the reserved path, so that `document.cookie` is
   * right from the page's first script; only for hosts whose native path proves the app's
   * documents (the desktop host when it admits only the app's documents; Android, by
   * `Referer`). Elsewhere, and if that read fails, `document.cookie` reads `""` until the
   * first answer over frames (`cookiesReady`).
   */
  cookies?: boolean | CookieOptions | undefined;
  /**
   * Dedicated workers of the page's origin (scripts of that origin, and `blob:` URLs it
   * made) get the shim too, their requests relayed through this installation's client:
   * default true. Needs the IIFE bundle (the one the hosts inject), whose source the worker
   * evaluates; elsewhere nothing is wrapped.
   */
  workers?: boolean | undefined;
  /**
   * The base URL relative request URLs resolve against; default the document's base URL
   * (a worker: its original script's URL, not the wrapper's).
   */
  baseURL?: string | undefined;
}

export interface Installation {
  /** The bus origins, canonical (`scheme://host[:port]`, host lower case). */
  readonly origins: readonly string[];
  readonly client: BusClient;
  /** The globals as they were before install. */
  readonly originals: {
    readonly fetch: typeof fetch | undefined;
    readonly XMLHttpRequest: typeof XMLHttpRequest | undefined;
    readonly EventSource: typeof EventSource | undefined;
    readonly WebSocket: typeof WebSocket | undefined;
  };
  readonly fetch: typeof fetch;
  readonly XMLHttpRequest: typeof XMLHttpRequest;
  readonly EventSource: typeof EventSource;
  /** Takes relative URLs and ws:/wss: URLs whose host is a bus origin's; others go to the original. */
  readonly WebSocket: typeof WebSocket;
  /** Whether a URL (resolved against the document's base URL) goes to the bus. */
  isBusUrl(url: string | URL): boolean;
  /**
   * Settles when `document.cookie` has the host's jar (its first answer after install);
   * until then document.cookie reads only what the page itself wrote.
   */
  readonly cookiesReady: Promise<void>;
  /**
   * `document.cookie` for the app's other same-origin documents (its iframes, which have no
   * shim of their own): what a document at `path` reads, and its writes. The hosts'
   * frame script (bus-shim `frame_cookie_script`) defines an iframe's `document.cookie`
   * over these. `null` with `cookies: false`.
   */
  readonly cookies: { read(path: string): string; write(text: string, path: string): void } | null;
  /** Puts the originals back (the client stays open: close it if you are done with it). */
  uninstall(): void;
}

/** Where an installation is kept on the global object: one per page, whoever injects twice. */
export const INSTALLATION = Symbol.for('inproc-bus.installation');

type Globals = Record<string | symbol, unknown> & {
  fetch?: typeof fetch;
  XMLHttpRequest?: typeof XMLHttpRequest;
  EventSource?: typeof EventSource;
  WebSocket?: typeof WebSocket;
  document?: { baseURI?: string };
  location?: { href?: string };
};

/**
 * Patches `fetch`, `XMLHttpRequest` and `EventSource` on the global object. Idempotent: when
 * the page already has an installation, it is returned as it is (options are not re-applied).
 * Returns null, installing nothing, when the page's origin is not allowed (`pageOrigins`).
 */
export function install(options: InstallOptions): Installation | null {
  const g = (options.global ?? globalThis) as Globals;
  const existing = g[INSTALLATION] as Installation | undefined;
  if (existing) return existing;

  if (!options || !Array.isArray(options.origins) || options.origins.length === 0) {
    throw new TypeError('install: origins must list at least one bus origin');
  }
  const origins = options.origins.map(canonicalOrigin);
  const originSet = new Set(origins);
  const pageOrigins = options.pageOrigins === false ? null : new Set((options.pageOrigins ?? origins).map(canonicalOrigin));
  const href = g.location?.href;
  if (pageOrigins && typeof href === 'string') {
    let page: string | null = null;
    try {
      page = originOf(new URL(href));
    } catch {
      /* not a URL: not one of ours */
    }
    if (page === null || !pageOrigins.has(page)) return null;
  }
  const window = options.window;
  if (window !== undefined && (!Number.isInteger(window) || window < 1)) throw new RangeError('install: window must be a positive integer');

  let client = options.client;
  if (!client) {
    if (!options.transport) throw new TypeError('install: a transport (or a client) is required');
    client = new BusClient(options.transport, { onprotocolerror: options.onprotocolerror, maxStreams: options.maxStreams });
  }

  const fixedBase = options.baseURL;
  const originals = { fetch: g.fetch, XMLHttpRequest: g.XMLHttpRequest, EventSource: g.EventSource, WebSocket: g.WebSocket };
  const stopper = hookStop(g);
  const ctx: ShimContext = {
    client,
    onStop: stopper.onStop,
    stopSignal: stopper.signal,
    isBus: (url) => originSet.has(originOf(url)),
    baseURL: fixedBase !== undefined ? () => fixedBase : () => g.document?.baseURI ?? g.location?.href ?? 'about:blank',
    nativeFetch: originals.fetch,
    window,
    bodyMarker: options.nativeBodyMarker === false ? null : (options.nativeBodyMarker ?? 'x-inproc-bus-body'),
  };
  const fetchShim = createFetch(ctx, routeFor(options.routes?.fetch), originals.fetch);
  const XHR = createXMLHttpRequest(ctx, routeFor(options.routes?.xhr), originals.XMLHttpRequest);
  const ES = createEventSource(ctx, originals.EventSource, options.eventSourceRetry ?? 3000);
  const WS = createWebSocket({ ...ctx, origins }, originals.WebSocket);

  const formMode = options.forms ?? 'files';
  const doc = (g as { document?: Document }).document;
  const stopForms =
    formMode && doc && typeof HTMLFormElement !== 'undefined'
      ? interceptForms(doc, { isBus: ctx.isBus, fetch: fetchShim }, formMode)
      : () => {};

  const cookies =
    options.cookies === false
      ? null
      : installDocumentCookie(g, client, {
          readAtStart: typeof options.cookies === 'object' && options.cookies.readAtStart === true,
          NativeXHR: originals.XMLHttpRequest,
        });
  const unwrapWorkers =
    options.workers === false
      ? () => {}
      : wrapWorkers(g, {
          client,
          origins,
          baseURL: ctx.baseURL,
          window,
          maxStreams: options.maxStreams,
          eventSourceRetry: options.eventSourceRetry,
        });

  const installation: Installation = {
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
      if (g[INSTALLATION] !== installation) return;
      stopForms();
      cookies?.stop();
      unwrapWorkers();
      stopper.unhook();
      restore('fetch', fetchShim, originals.fetch);
      restore('XMLHttpRequest', XHR, originals.XMLHttpRequest);
      restore('EventSource', ES, originals.EventSource);
      restore('WebSocket', WS, originals.WebSocket);
      delete g[INSTALLATION];
    },
  };
  const restore = (name: 'fetch' | 'XMLHttpRequest' | 'EventSource' | 'WebSocket', ours: unknown, original: unknown): void => {
    if (g[name] !== ours) return; // someone patched over us: leave theirs
    const slots = g as Record<string, unknown>;
    if (original === undefined) delete slots[name];
    else slots[name] = original;
  };

  // Plain assignment keeps the properties' attributes (writable, configurable) as they were.
  g.fetch = fetchShim;
  g.XMLHttpRequest = XHR;
  g.EventSource = ES;
  g.WebSocket = WS;
  Object.defineProperty(g, INSTALLATION, { value: installation, configurable: true, enumerable: false, writable: false });
  return installation;
}

/** The installation on a global object, if any. */
export function installation(global: object = globalThis): Installation | null {
  return ((global as Globals)[INSTALLATION] as Installation | undefined) ?? null;
}

function canonicalOrigin(origin: string): string {
  let url: URL;
  try {
    url = new URL(String(origin));
  } catch {
    throw new TypeError(`install: not an origin: ${origin}`);
  }
  if (url.host === '') throw new TypeError(`install: an origin needs a host: ${origin}`);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new TypeError(`install: an origin has no path, query, fragment or credentials: ${origin}`);
  }
  return originOf(url);
}

function routeFor(choice: RouteChoice | undefined): RouteFor {
  if (choice === undefined) return () => 'frames';
  if (typeof choice === 'function') return choice;
  if (choice !== 'frames' && choice !== 'native') throw new TypeError(`install: unknown route ${String(choice)}`);
  return () => choice;
}
