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
  arrayBufferFlags,
  arrayBufferSize,
  copyView,
  viewBuffer,
  isBlob,
  isForbiddenRequestHeader,
  isFormData,
  isReadableStream,
  normalizeMethod,
  statusText,
  withoutFragment,
  type HeaderPair,
} from './http.js';
import { bare, cancelStream, chain, getReader, read, cancelReader, rejected, then } from './intrinsics.js';
import { busRequest, type BusResponse, type OffBusInit, type ShimContext } from './request.js';
import type { RouteFor } from './shim.js';

export function createFetch(ctx: ShimContext, routeFor: RouteFor, original: typeof fetch | undefined): typeof fetch {
  const shim = function fetch(...args: Parameters<typeof globalThis.fetch>): Promise<Response> {
    // By index: destructuring would call the page's Array.prototype[Symbol.iterator].
    const input = args[0];
    const init = args[1];
    // WebIDL: a missing input, or one that does not convert to a string (a Symbol), is the
    // engine's own TypeError (the shim fetched "/undefined").
    if ((args.length as number) === 0 || typeof (input as unknown) === 'symbol') {
      if (original) return original.apply(globalThis, args);
      return rejected(new TypeError('fetch: a request input is required'));
    }
    let url: URL | null;
    try {
      url = requestUrl(input, ctx);
    } catch {
      url = null; // the original reports the bad URL its own way
    }
    if (url === null || !ctx.isBus(url)) {
      if (!original) return rejected(new TypeError('fetch: no browser fetch for non-bus URLs'));
      return original.apply(globalThis, args);
    }
    try {
      const dict = readInit(init);
      const route = routeFor({ method: requestMethod(input, dict), url, hasBody: requestHasBody(input, dict) });
      return route === 'native' ? nativeRouteFetch(ctx, original, input, dict, url) : framesFetch(ctx, input, dict, url);
    } catch (e) {
      return rejected(e);
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

/** RequestInit's members (Fetch), in the lexicographic order WebIDL reads them. */
const REQUEST_INIT_MEMBERS = ['body', 'cache', 'credentials', 'duplex', 'headers', 'integrity', 'keepalive', 'method', 'mode', 'priority', 'redirect', 'referrer', 'referrerPolicy', 'signal', 'window'] as const;

/**
 * `init` converted as WebIDL converts a RequestInit: each member read once with [[Get]], in
 * lexicographic order, an undefined one left out; undefined or null is no init, any other
 * non-object a TypeError. What the shim reads afterwards is this plain record (it read
 * `body`, `method` and `signal` more than once: a getter saw each read).
 */
function readInit(init: unknown): RequestInit | undefined {
  if (init === undefined || init === null) return undefined;
  if (typeof init !== 'object' && typeof init !== 'function') throw new TypeError('fetch: the init argument is not an object');
  const dict: Record<string, unknown> = {};
  for (let i = 0; i < REQUEST_INIT_MEMBERS.length; i++) {
    const name = REQUEST_INIT_MEMBERS[i]!;
    const value = (init as Record<string, unknown>)[name];
    if (value !== undefined) dict[name] = value;
  }
  return dict as RequestInit;
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

/** Byte bodies at least this large stand in for themselves in the Request constructor. */
const STAND_IN_FROM = 64 << 10;

/**
 * Bytes the Request constructor takes as they are (views of, or, a plain ArrayBuffer: not
 * shared, resizable or detached, which it rejects or reads as empty), large enough that its
 * copy costs: an empty Uint8Array can take their place there, with the same outcome (no
 * Content-Type, the same checks of the rest).
 */
function isLargePlainBytes(x: unknown): boolean {
  // By the engine's own getters (taken at load): a page's getter on a subclass or a
  // prototype is not run, and cannot make a buffer look plain when it is not.
  const buffer = ArrayBuffer.isView(x) ? viewBuffer(x) : x;
  const size = arrayBufferSize(buffer);
  if (size === null) return false;
  const flags = arrayBufferFlags(buffer as ArrayBuffer);
  return !flags.resizable && !flags.detached && size >= STAND_IN_FROM;
}

const ONCE: AddEventListenerOptions = bare({ once: true });

async function framesFetch(ctx: ShimContext, input: RequestInfo | URL, init: RequestInit | undefined, url: URL): Promise<Response> {
  // window.stop() aborts what is in flight: the request, and a body still arriving.
  const stop = ctx.stopSignal();
  if (init === undefined && !isRequest(input) && url.username === '' && url.password === '') {
    // fetch(url) and nothing else, the commonest call: a GET without headers, body or
    // signal, for which the Request constructor would only parse the URL again (done:
    // `url`; one with credentials goes the long way, for the constructor's TypeError).
    // Nothing but window.stop() can abort it. (issue 16: the constructor, its Headers and
    // its AbortSignal were a tenth of the page's work for a small request.)
    const res = await busRequest(ctx, { method: 'GET', url, headers: [], body: null, signal: null, stop, redirect: 'follow' });
    return toResponse(res, 'GET', false, null, res.complete ? null : stop);
  }
  const initBody = init?.body;
  // Our own multipart Blob replaces a FormData before the engine sees it, so the engine's
  // Content-Type (the Blob's type, unless the page set one) names our boundary.
  const formBlob = isFormData(initBody) ? multipartBlob(initBody) : null;
  // A large byte body stands in as an empty view: the constructor would copy it only for the
  // copy to be dropped (the shim sends its own, `extractBody`'s). For 16 MiB that copy was
  // fresh memory, a third of the page's work for an upload (issue 16).
  const stand = formBlob ?? (isLargePlainBytes(initBody) ? new Uint8Array(0) : null);
  const request = new Request(isRequest(input) ? input : url.href, stand !== null ? withMembers(init, { body: stand }) : init);
  const signal = request.signal;
  if (signal.aborted) {
    // Fetch's "abort the fetch() call": the request's body is cancelled with the reason the
    // promise rejects with (a stream the page gave sees it in its `cancel`), at once.
    const reason = abortReason(signal);
    // (`body` is undefined where Request has no body getter (WebKit): the page's own stream then.)
    const stream = request.body ?? (isReadableStream(initBody) ? initBody : null);
    if (stream !== null) cancelStream(stream, reason);
    throw reason;
  }

  const headers: HeaderPair[] = [];
  // Engines drop forbidden headers in the Request constructor; not all do (Node), so again.
  request.headers.forEach((value, name) => {
    if (!isForbiddenRequestHeader(name, value)) headers.push([name, value]);
  });
  checkBusHeaders(headers);

  let body: ExtractedBody | null = null;
  if (initBody != null) {
    if (formBlob) body = extractBody(formBlob);
    else if (isReadableStream(initBody)) body = { source: null, stream: request.body ?? initBody, type: null, length: null };
    else body = extractBody(initBody);
  } else if (isRequest(input) && request.method !== 'GET' && request.method !== 'HEAD') {
    // The input Request's body, whatever made it: read whole, so its length is known.
    const bytes = await readRequestBody(request, signal);
    body = { source: bytes, stream: null, type: null, length: bytes.byteLength, owned: true };
  }

  // A page signal can abort the body after the response; without one (nor a Request input,
  // whose signal the page holds), nothing can abort the request's signal, so the request
  // does not listen to it.
  const abortable = init?.signal != null || isRequest(input);
  const res = await busRequest(ctx, {
    method: request.method,
    // The constructor's parse of the same string, unless the input was a Request.
    url: request.url === url.href ? url : new URL(request.url),
    headers,
    body,
    signal: abortable ? signal : null,
    stop,
    redirect: request.redirect,
    offBus: offBusOf(request),
  });
  return toResponse(res, request.method, abortable, abortable ? signal : null, res.complete ? null : stop);
}

/** What the browser's fetch needs of `request` if a redirect leaves the bus. */
function offBusOf(request: Request): OffBusInit {
  return bare({
    mode: request.mode,
    credentials: request.credentials,
    cache: request.cache,
    referrer: request.referrer,
    referrerPolicy: request.referrerPolicy,
    integrity: request.integrity,
    keepalive: request.keepalive,
  });
}

/**
 * A Request's body read whole, as the abort of the fetch() call allows: an abort meanwhile
 * rejects at once with the signal's reason and cancels the body (a stream the page gave may
 * never end by itself).
 */
function readRequestBody(request: Request, signal: AbortSignal): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const stream = request.body;
    let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
    let done = false;
    const settle = (f: () => void): void => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      f();
    };
    const onAbort = (): void =>
      settle(() => {
        const reason = abortReason(signal);
        if (reader !== null) cancelReader(reader, reason);
        reject(reason);
      });
    signal.addEventListener('abort', onAbort);
    if (signal.aborted) return onAbort();
    // No body getter (WebKit): the engine's own read, which an abort cannot cancel.
    if (stream === undefined) return void then(request.arrayBuffer(), (b) => settle(() => resolve(new Uint8Array(b))), (e) => settle(() => reject(e)));
    if (stream === null) return settle(() => resolve(new Uint8Array(0)));
    try {
      reader = getReader(stream);
    } catch (e) {
      // Locked or disturbed: what arrayBuffer() says of it (a TypeError).
      return settle(() => reject(new TypeError('the request body was already used or is locked', { cause: e })));
    }
    then(
      // A copy: the body is lent to a carrier as bytes of ours (`owned`), and a chunk the
      // page enqueued must not be detached.
      readAll(reader, true),
      (bytes) => settle(() => resolve(bytes)),
      (e) => settle(() => reject(e)),
    );
  });
}

/**
 * The bus's answer as a real Response, with `url`, `redirected` and `type` as a browser's.
 * `signal` (and `stop`, window.stop()'s, while the body is still arriving) abort the body
 * until it has been read to its end (Fetch's "abort fetch").
 */
function toResponse(res: BusResponse, method: string, abortable: boolean, signal: AbortSignal | null, stop: AbortSignal | null): Response {
  if (res.native) {
    return decorate(res.native, res.native.url, true, res.native.type, null);
  }
  if (res.status < 200 || res.status > 599) {
    // Response cannot be constructed with these (the bus never sends 1xx; 600-999 are legal HTTP).
    cancelStream(res.body);
    throw new TypeError(`fetch: the bus answered status ${res.status}, which a Response cannot represent`);
  }
  const nullBody = method === 'HEAD' || NULL_BODY_STATUSES.has(res.status);
  let body: BodyInit | null;
  let wrapped: BodyState | null = null;
  if (nullBody) {
    if (!res.complete) cancelStream(res.body);
    body = null;
  } else if (res.complete && res.complete.byteLength > 0 && !abortable) {
    // A complete body nothing can abort goes in as bytes: the engine's own buffer, no
    // stream to pump. (Not an empty one: WebKit's stream of empty bytes yields an empty
    // chunk before it ends, where Fetch's first read is done.)
    body = res.complete as Uint8Array<ArrayBuffer>;
  } else {
    wrapped = { aborted: null, bytes: res.complete };
    body = abortableBody(res.complete ?? res.body, signal, stop, wrapped, res.progress);
  }
  const response = new Response(body, bare({ status: res.status, statusText: statusText(res.status) }));
  // Headers go in after construction: the constructor would normalize the values a second
  // time, turning the combined value of two empty headers (", ") into ",".
  const headers = response.headers;
  for (let i = 0; i < res.headers.length; i++) {
    const name = res.headers[i]![0];
    // A page never sees Set-Cookie (Fetch's filtered responses); a value Headers refuses is skipped.
    if (name === 'set-cookie' || name === 'set-cookie2') continue;
    try {
      headers.append(name, res.headers[i]![1]);
    } catch {
      /* not a valid header for the page */
    }
  }
  return decorate(response, withoutFragment(res.url), res.redirected, 'basic', wrapped);
}

/**
 * The response body as the page reads it: chunks are pulled from the bus stream (or the
 * complete bytes) one read at a time, and until the last read, aborting `signal` errors it
 * with the signal's reason, also when every byte has already arrived (Fetch's "abort fetch").
 * An empty body ends at the first read, without an empty chunk.
 */
function abortableBody(
  source: Uint8Array | ReadableStream<Uint8Array>,
  signal: AbortSignal | null,
  stop: AbortSignal | null,
  state: BodyState,
  progress?: (() => { received: number; ended: boolean }) | undefined,
): ReadableStream<Uint8Array> {
  let bytes = source instanceof Uint8Array ? source : null;
  const stream = bytes === null ? (source as ReadableStream<Uint8Array>) : null;
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let finished = false;
  /** Bytes handed to the page's reads so far. */
  let delivered = 0;
  /**
   * Every byte of an ended response has been handed over: the engine's stream would be
   * closed now (an empty queue after its end), so an abort finds nothing to error.
   */
  const drained = (): boolean => {
    if (!progress) return false;
    const p = progress();
    return p.ended && p.received === delivered;
  };
  const finish = (): void => {
    if (finished) return;
    finished = true;
    signal?.removeEventListener('abort', onAbort);
    stop?.removeEventListener('abort', onStop);
  };
  const stopSource = (reason: unknown): void => {
    if (reader) cancelReader(reader, reason);
    else if (stream) cancelStream(stream, reason);
  };
  const onAbort = (): void => abortWith(abortReason(signal!));
  const onStop = (): void => abortWith(abortReason(stop!));
  const abortWith = (reason: unknown): void => {
    if (finished) return;
    if (drained()) {
      controller.close();
      finish();
      stopSource(undefined);
      return;
    }
    state.aborted = { reason };
    controller.error(reason);
    finish();
    stopSource(reason);
  };
  const out = new ReadableStream<Uint8Array>(
    bare({
      start: (c: ReadableStreamDefaultController<Uint8Array>) => {
        controller = c;
        // An empty body is closed from the start (with an empty queue, nothing to abort),
        // as the engines' own are.
        if (bytes !== null && bytes.byteLength === 0) {
          c.close();
          finish();
        }
      },
      pull: async (c: ReadableStreamDefaultController<Uint8Array>): Promise<void> => {
        if (finished) return;
        if (stream === null) {
          // The whole body in one chunk, and the end with it (nothing is left in flight).
          if (bytes !== null && bytes.byteLength > 0) c.enqueue(bytes);
          bytes = null;
          c.close();
          finish();
          return;
        }
        reader ??= getReader(stream);
        for (;;) {
          let next: ReadableStreamReadResult<Uint8Array>;
          try {
            next = await read(reader);
          } catch (e) {
            if (finished) return;
            c.error(e);
            finish();
            return;
          }
          if (finished) return; // aborted while waiting: errored already
          if (next.done) {
            c.close();
            finish();
            return;
          }
          // No empty chunks: read on.
          if (next.value.byteLength > 0) {
            c.enqueue(next.value);
            delivered += next.value.byteLength;
            if (drained()) {
              c.close();
              finish();
            }
            return;
          }
        }
      },
      cancel: (reason: unknown) => {
        if (finished) return;
        finish();
        stopSource(reason);
      },
    }),
    // Nothing is pulled before the page reads: the bus stream's queue is the window.
    bare({ highWaterMark: 0 }),
  );
  if (!finished) {
    signal?.addEventListener('abort', onAbort, ONCE);
    stop?.addEventListener('abort', onStop, ONCE);
    if (signal?.aborted) onAbort();
    else if (stop?.aborted) onStop();
  }
  return out;
}

/**
 * Headers the bus cannot carry fail here, at the call, naming the header (a TypeError, as
 * fetch's own argument errors): see `checkHeaderValue` in client.ts.
 */
function checkBusHeaders(headers: readonly HeaderPair[]): void {
  for (let i = 0; i < headers.length; i++) {
    const value = headers[i]![1];
    for (let j = 0; j < value.length; j++) {
      const c = value.charCodeAt(j);
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
        throw new TypeError(
          `fetch: the value of header ${JSON.stringify(headers[i]![0])} has the control character U+${c.toString(16).toUpperCase().padStart(4, '0')}, which the bus cannot carry (http::HeaderValue refuses it)`,
        );
      }
    }
  }
}

/**
 * Own properties shadowing the prototype getters a constructed Response cannot set, and a
 * `clone()` that keeps them.
 */
/** A body of ours: whether the fetch was aborted before it was read to its end. */
interface BodyState {
  aborted: { reason: unknown } | null;
  /** The whole body, when it had arrived with the head. */
  bytes: Uint8Array | null;
}

function decorate(response: Response, url: string, redirected: boolean, type: ResponseType, consumers: BodyState | null): Response {
  // Descriptors name all four data fields, so only `get`/`set` could come from a page's
  // Object.prototype (null-prototype descriptors would cost more on every response).
  defineProperty(response, 'url', { value: url, writable: false, enumerable: false, configurable: true });
  defineProperty(response, 'redirected', { value: redirected, writable: false, enumerable: false, configurable: true });
  defineProperty(response, 'type', { value: type, writable: false, enumerable: false, configurable: true });
  defineProperty(response, 'clone', {
    value: function clone(this: Response): Response {
      return decorate(apply(responseClone, this, []) as Response, url, redirected, type, consumers);
    },
    writable: true,
    enumerable: false,
    configurable: true,
  });
  if (consumers) {
    for (let i = 0; i < CONSUMERS.length; i++) {
      const name = CONSUMERS[i]!;
      defineProperty(response, name, { value: consumer(name, consumers), writable: true, enumerable: false, configurable: true });
    }
  }
  return response;
}

const { apply } = Reflect;
const { defineProperty } = Object;
const ResponseProto = typeof Response === 'function' ? Response.prototype : ({} as Response);
const responseClone = ResponseProto.clone;
const bodyGetter = Object.getOwnPropertyDescriptor(ResponseProto, 'body')?.get;
const bodyUsedGetter = Object.getOwnPropertyDescriptor(ResponseProto, 'bodyUsed')?.get;
type Consumer = 'arrayBuffer' | 'blob' | 'bytes' | 'formData' | 'json' | 'text';
const CONSUMERS = (['arrayBuffer', 'blob', 'bytes', 'formData', 'json', 'text'] as Consumer[]).filter((n) => typeof ResponseProto[n] === 'function');

/**
 * The body mixin's readers for a response whose body is a stream of ours: engines turn any
 * error of a script-made stream into a TypeError when they consume it, so an abort would
 * reach `text()` as a TypeError rather than the signal's reason. Here the bytes are read
 * from the stream itself (errors as they are), then handed to the engine's own method on a
 * response of those bytes, so parsing and its errors stay the engine's.
 */
function consumer(name: Consumer, state: BodyState): (this: Response) => Promise<unknown> {
  const native = ResponseProto[name] as (this: Response) => Promise<unknown>;
  return function (this: Response): Promise<unknown> {
    const body = bodyGetter ? (apply(bodyGetter, this, []) as ReadableStream<Uint8Array> | null) : this.body;
    const used = bodyUsedGetter ? (apply(bodyUsedGetter, this, []) as boolean) : this.bodyUsed;
    if (body === null || used || body.locked) return apply(native, this, []) as Promise<unknown>; // the engine's errors
    // Aborted before anyone read it: every call rejects with the reason, and the body stays
    // unused (as the engines' own aborted responses do).
    if (state.aborted) return rejected(state.aborted.reason);
    const type = this.headers.get('content-type');
    const consume = (bytes: Uint8Array): Promise<unknown> => {
      // A record, not a list of pairs: lists are read with the page's Array iterator.
      const copy = new Response(bytes as Uint8Array<ArrayBuffer>, bare({ headers: bare(type === null ? {} : { 'content-type': type }) }) as ResponseInit);
      return apply(native, copy, []) as Promise<unknown>;
    };
    if (state.bytes !== null) {
      // All here already: the body is used up (cancelling disturbs it, as reading would)
      // and the bytes go to the engine at once.
      const bytes = state.bytes;
      state.bytes = null;
      cancelReader(getReader(body));
      return consume(bytes);
    }
    return chain(readAll(getReader(body)), consume);
  };
}

/**
 * Every chunk `reader` gives, joined. A single chunk is the stream's own object (the page's,
 * for a stream it made): with `own`, a copy of it, which a carrier may then take.
 */
async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>, own = false): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const next = await read(reader);
    if (next.done) break;
    chunks.push(next.value);
    size += next.value.byteLength;
  }
  if (chunks.length === 1) return own ? copyView(chunks[0]!) : chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (let i = 0; i < chunks.length; i++) {
    out.set(chunks[i]!, at);
    at += chunks[i]!.byteLength;
  }
  return out;
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
  // The engine hands the request to the host, whose http::HeaderValue refuses control characters.
  let given: Headers | null = null;
  try {
    given = new Headers(init?.headers ?? (isRequest(input) ? input.headers : undefined));
  } catch {
    /* the engine reports bad headers its own way */
  }
  if (given) {
    const pairs: HeaderPair[] = [];
    given.forEach((value, name) => pairs.push([name, value]));
    checkBusHeaders(pairs);
  }
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
