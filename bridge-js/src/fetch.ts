// The fetch() replacement. Bus URLs go through the bus (frames) or to the browser's own fetch
// with bodies flattened first (native route); every other URL goes to the original untouched.
//
// The engine's own Request constructor does the Fetch spec's argument processing (merging a
// Request input with init, method and header validation, GET/HEAD with a body, `duplex`,
// the default Content-Type, following the input's signal), so errors are the engine's own.

import { extractBody, multipartBlob, type ExtractedBody } from './body.js';
import {
  NULL_BODY_STATUSES,
  abortReason,
  isBlob,
  isForbiddenRequestHeader,
  isFormData,
  isReadableStream,
  normalizeMethod,
  statusText,
  withoutFragment,
  type HeaderPair,
} from './http.js';
import { busRequest, type BusResponse, type ShimContext } from './request.js';
import type { RouteFor } from './shim.js';

export function createFetch(ctx: ShimContext, routeFor: RouteFor, original: typeof fetch | undefined): typeof fetch {
  const shim = function fetch(...args: Parameters<typeof globalThis.fetch>): Promise<Response> {
    const [input, init] = args;
    let url: URL | null;
    try {
      url = requestUrl(input, ctx);
    } catch {
      url = null; // the original reports the bad URL its own way
    }
    if (url === null || !ctx.isBus(url)) {
      if (!original) return Promise.reject(new TypeError('fetch: no browser fetch for non-bus URLs'));
      return original.apply(globalThis, args);
    }
    try {
      const route = routeFor({ method: requestMethod(input, init), url, hasBody: requestHasBody(input, init) });
      return route === 'native' ? nativeRouteFetch(ctx, original, input, init, url) : framesFetch(ctx, input, init, url);
    } catch (e) {
      return Promise.reject(e);
    }
  };
  Object.defineProperty(shim, 'length', { value: 1 });
  return shim as typeof fetch;
}

/** A Request, also one from another realm (an iframe's), where `instanceof` fails. */
export function isRequest(x: unknown): x is Request {
  return (
    (typeof Request !== 'undefined' && x instanceof Request) ||
    (typeof x === 'object' && x !== null && Object.prototype.toString.call(x) === '[object Request]')
  );
}

function requestUrl(input: RequestInfo | URL, ctx: ShimContext): URL {
  return isRequest(input) ? new URL(input.url) : new URL(String(input), ctx.baseURL());
}

function requestMethod(input: RequestInfo | URL, init: RequestInit | undefined): string {
  const m = init?.method ?? (isRequest(input) ? input.method : 'GET');
  return normalizeMethod(String(m));
}

function requestHasBody(input: RequestInfo | URL, init: RequestInit | undefined): boolean {
  if (init?.body != null) return true;
  if (!isRequest(input) || init?.body === null) return false;
  // `body` is undefined where Request has no body getter (WebKit): assume a body then.
  return input.method !== 'GET' && input.method !== 'HEAD' && input.body !== null;
}

/** An init that reads like `init` with some members replaced (dictionaries are read with [[Get]]). */
function withMembers(init: RequestInit | undefined, members: Record<string, unknown>): RequestInit {
  const out = Object.create(init ?? null) as RequestInit;
  for (const key of Object.keys(members)) {
    Object.defineProperty(out, key, { value: members[key], enumerable: true, writable: true, configurable: true });
  }
  return out;
}

async function framesFetch(ctx: ShimContext, input: RequestInfo | URL, init: RequestInit | undefined, url: URL): Promise<Response> {
  const initBody = init?.body;
  // Our own multipart Blob replaces a FormData before the engine sees it, so the engine's
  // Content-Type (the Blob's type, unless the page set one) names our boundary.
  const formBlob = isFormData(initBody) ? multipartBlob(initBody) : null;
  const request = new Request(isRequest(input) ? input : url.href, formBlob ? withMembers(init, { body: formBlob }) : init);
  const signal = request.signal;
  if (signal.aborted) throw abortReason(signal);

  const headers: HeaderPair[] = [];
  // Engines drop forbidden headers in the Request constructor; not all do (Node), so again.
  request.headers.forEach((value, name) => {
    if (!isForbiddenRequestHeader(name, value)) headers.push([name, value]);
  });

  let body: ExtractedBody | null = null;
  if (initBody != null) {
    if (formBlob) body = extractBody(formBlob);
    else if (isReadableStream(initBody)) body = { source: null, stream: request.body ?? initBody, type: null, length: null };
    else body = extractBody(initBody);
  } else if (isRequest(input) && request.method !== 'GET' && request.method !== 'HEAD') {
    // The input Request's body, whatever made it: read whole, so its length is known.
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (signal.aborted) throw abortReason(signal);
    body = { source: bytes, stream: null, type: null, length: bytes.byteLength };
  }

  const res = await busRequest(ctx, {
    method: request.method,
    url: new URL(request.url),
    headers,
    body,
    signal,
    redirect: request.redirect,
  });
  return toResponse(res, request.method);
}

/** The bus's answer as a real Response, with `url`, `redirected` and `type` as a browser's. */
function toResponse(res: BusResponse, method: string): Response {
  if (res.native) return decorate(res.native, res.native.url, true, res.native.type);
  if (res.status < 200 || res.status > 599) {
    // Response cannot be constructed with these (the bus never sends 1xx; 600-999 are legal HTTP).
    void res.body.cancel().catch(() => {});
    throw new TypeError(`fetch: the bus answered status ${res.status}, which a Response cannot represent`);
  }
  const nullBody = method === 'HEAD' || NULL_BODY_STATUSES.has(res.status);
  if (nullBody && !res.complete) void res.body.cancel().catch(() => {});
  const headers = new Headers();
  for (const [name, value] of res.headers) {
    // A page never sees Set-Cookie (Fetch's filtered responses); a value Headers refuses is skipped.
    if (name === 'set-cookie' || name === 'set-cookie2') continue;
    try {
      headers.append(name, value);
    } catch {
      /* not a valid header for the page */
    }
  }
  // A complete small body goes in as bytes: the engine's own buffer, no stream to pump.
  const response = new Response(nullBody ? null : ((res.complete as Uint8Array<ArrayBuffer> | null) ?? res.body), { status: res.status, statusText: statusText(res.status), headers });
  return decorate(response, withoutFragment(res.url), res.redirected, 'basic');
}

/**
 * Own properties shadowing the prototype getters a constructed Response cannot set, and a
 * `clone()` that keeps them.
 */
function decorate(response: Response, url: string, redirected: boolean, type: ResponseType): Response {
  Object.defineProperties(response, {
    url: { value: url, configurable: true },
    redirected: { value: redirected, configurable: true },
    type: { value: type, configurable: true },
    clone: {
      configurable: true,
      writable: true,
      value: function clone(this: Response): Response {
        return decorate(Response.prototype.clone.call(this), url, redirected, type);
      },
    },
  });
  return response;
}

/**
 * The browser's own fetch carries the bus URL (the engine's scheme handler answers it), but
 * never with a Blob-backed body: WebKitGTK crashes on those for custom schemes. Blobs and
 * FormData become an ArrayBuffer (multipart built here) before the engine sees them, and a
 * request with a body gets the marker header that tells the host the body is plain bytes.
 */
async function nativeRouteFetch(
  ctx: ShimContext,
  original: typeof fetch | undefined,
  input: RequestInfo | URL,
  init: RequestInit | undefined,
  url: URL,
): Promise<Response> {
  if (!original) throw new TypeError('fetch: no browser fetch for the native route');
  const initBody = init?.body;
  const marker = ctx.bodyMarker;
  if (initBody != null) {
    let body: BodyInit = initBody;
    let headers: Headers;
    if (isReadableStream(initBody)) {
      headers = new Headers(init!.headers ?? (isRequest(input) ? input.headers : undefined));
    } else {
      const flat = isBlob(initBody) ? initBody : isFormData(initBody) ? multipartBlob(initBody) : null;
      // A throwaway Request merges the headers as fetch would (the page's Content-Type wins
      // over the body's) and throws the engine's TypeErrors for bad arguments.
      headers = new Headers(new Request(isRequest(input) ? input : url.href, withMembers(init, { body: flat ?? initBody })).headers);
      if (flat) body = await flat.arrayBuffer();
    }
    if (marker) headers.set(marker, '1');
    return original.call(globalThis, input, withMembers(init, { body, headers }));
  }
  if (initBody === undefined && isRequest(input) && requestHasBody(input, init)) {
    // A Request's body may be Blob-backed too; a clone's bytes replace it.
    const bytes = await input.clone().arrayBuffer();
    const headers = new Headers(init?.headers ?? input.headers);
    if (marker) headers.set(marker, '1');
    return original.call(globalThis, input, withMembers(init, { body: bytes, headers }));
  }
  return init === undefined ? original.call(globalThis, input) : original.call(globalThis, input, init);
}
