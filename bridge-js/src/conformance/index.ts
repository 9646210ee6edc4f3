// Conformance cases for the real engines, run in a page by the WebKitGTK and Chromium hosts:
// the same cases once through the shim against the bus origin, and once through the
// browser's own fetch/XHR/EventSource against a localhost server serving the same /conf
// routes. `compare` lists where the two runs observed different things.
//
// Built as its own bundle (dist/conformance.js, global `InprocBusConformance`); it does not
// include the shim, it finds the page's installation through its Symbol.for marker.

import { sha256Hex } from './sha256.js';

export { sha256Hex } from './sha256.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface ConformanceOptions {
  /** Origin serving /conf: the bus origin (`app://localhost`) or a localhost server's. */
  base: string;
  /**
   * true: use the page's globals, which must be the installed shim's (for the bus origin).
   * false: use the browser's own fetch/XHR/EventSource (the originals the shim kept, if it
   * is installed).
   */
  useShim: boolean;
  /** Per-case time limit in ms; default 15000. */
  timeoutMs?: number | undefined;
  /** Run only these cases (names as in `caseNames`). */
  only?: readonly string[] | undefined;
  /** Default: globalThis. */
  global?: object | undefined;
}

export interface CaseResult {
  /** What is compared between runs. */
  observed?: Json;
  /** Reported, not compared (counts and timings that legitimately vary). */
  info?: Json;
  /** The case itself failed (threw, or ran out of time). */
  failure?: string;
  ms: number;
}

export interface Observations {
  base: string;
  useShim: boolean;
  userAgent: string;
  cases: Record<string, CaseResult>;
}

export interface Difference {
  case: string;
  /** JSON path inside the case's result, e.g. `observed.events[3]`. */
  path: string;
  a: Json | undefined;
  b: Json | undefined;
  /** Set when this is a documented deviation of the shim (README, Caveats). */
  known?: string;
}

/**
 * Deviations we know and document (bridge-js README, Caveats), keyed by the exact field:
 * `case path` (a path as `Difference.path` gives it). Only that field of that case is
 * excused: a new difference elsewhere in the same case is reported as unknown.
 */
export const KNOWN_DEVIATIONS: Record<string, string> = {};

const HEAD_BODY =
  'Chromium and WebKit give a HEAD response an empty body stream; the Fetch standard (and the shim) gives it a null body';
const NO_CONTENT_BODY =
  'Chromium and WebKit give a 204 response an empty body stream; the Fetch standard (and the shim, which cannot construct a 204 with a body) gives it a null body';
const MANUAL_REDIRECT =
  'an opaque-redirect Response cannot be constructed: the shim resolves with the 3xx response (type "basic") instead of type "opaqueredirect", status 0';
const SYNC_XHR = 'synchronous XHR to bus URLs throws InvalidAccessError at send(): frames arrive asynchronously';
const STREAM_UPLOAD =
  'engines refuse streamed (ReadableStream) uploads to a localhost HTTP/1.1 server (Chromium: TypeError) or altogether (WebKit: NotSupportedError); the bus accepts them';
const CONTROL_CHARACTERS =
  "Fetch and XHR allow U+0001-U+0008, U+000B, U+000C, U+000E-U+001F and U+007F in header values; the bus's http::HeaderValue refuses them, so fetch() rejects and setRequestHeader() throws a TypeError naming the header (the comparison server may refuse them too)";
const ABORT_REASON =
  "WebKit rejects a body read after an abort with a new AbortError, not the signal's reason; the shim (like Chromium) gives the reason, as the Fetch standard says";
const DOCUMENT_CHARSET =
  "an XHR document response is made by DOMParser from decoded text: its characterSet is always UTF-8 (the text is decoded with the <meta> charset as the engine's is)";
const LONG_URL =
  "the bus answers a URI of more than 65,534 bytes (http::Uri's limit) with 414, which the page reads; the comparison server's own limit decides the other run (Node and hyper close the connection: a network error)";

for (const [key, why] of [
  ['fetch.head observed.bodyNull', HEAD_BODY],
  ['fetch.status.204 observed.bodyNull', NO_CONTENT_BODY],
  [
    'xhr.abort observed.events',
    'Chromium fires upload abort/loadend for an aborted request without a body when upload listeners exist; the XHR standard (and the shim) does not (its upload is complete at send())',
  ],
  ['fetch.redirect.manual observed.type', MANUAL_REDIRECT],
  ['fetch.redirect.manual observed.status', MANUAL_REDIRECT],
  ['xhr.sync observed.error', SYNC_XHR],
  ['xhr.sync observed.status', SYNC_XHR],
  ['xhr.sync observed.responseText', SYNC_XHR],
  ['fetch.echo.stream observed.error', STREAM_UPLOAD],
  ['fetch.echo.stream observed.status', STREAM_UPLOAD],
  ['fetch.echo.stream observed.text', STREAM_UPLOAD],
  ...['1', '8', 'b', '1f', '7f'].map((c) => [`fetch.control-characters observed.${c}`, CONTROL_CHARACTERS]),
  ...['1', '1f', '7f'].map((c) => [`xhr.control-characters observed.${c}`, CONTROL_CHARACTERS]),
  ['fetch.abort.after-complete observed.customReason', ABORT_REASON],
  ['fetch.abort.body-text observed.customReason', ABORT_REASON],
  ...['events', 'state'].map((f) => [
    `eventsource.window-stop observed.${f}`,
    'window.stop() aborts the fetch of a connecting EventSource, which then fails for good (HTML; Chromium, and the shim); WebKit leaves it connecting',
  ]),
  [
    'fetch.abort.after-complete observed.emptyRead',
    "an empty body's stream is closed by the time fetch() resolves in the shim and in WebKit, so an abort right then finds nothing to error; Chromium closes it a task later (an abort in between errors it)",
  ],
  ['xhr.decode.html-meta-charset observed.charset', DOCUMENT_CHARSET],
  ['xhr.decode.html-meta-http-equiv observed.charset', DOCUMENT_CHARSET],
  ...['fetched', 'xhr'].map((f) => [
    `fetch.large-headers observed.${f}`,
    "the bus answers a request head over its max_header_bytes (64 KiB by default) with 431, which the page reads; the comparison server's own limit decides the other run",
  ]),
  ['fetch.long-url observed.fetched', LONG_URL],
  ['fetch.long-url observed.xhr.status', LONG_URL],
  ['fetch.long-url observed.xhr.events', LONG_URL],
] as Array<[string, string]>) {
  KNOWN_DEVIATIONS[key] = why;
}

const INSTALLATION = Symbol.for('inproc-bus.installation');

interface Apis {
  fetch: typeof fetch;
  XMLHttpRequest: typeof XMLHttpRequest;
  EventSource: typeof EventSource | undefined;
}

interface Env {
  base: string;
  origin: string;
  u(path: string): string;
  api: Apis;
  global: object;
}

type Case = (env: Env) => Promise<{ observed: Json; info?: Json }>;

// ---------------------------------------------------------------------------------------

export async function runConformance(options: ConformanceOptions): Promise<Observations> {
  const global = (options.global ?? globalThis) as Record<string | symbol, unknown>;
  const base = options.base.replace(/\/+$/, '');
  const api = apis(global, options.useShim);
  const env: Env = {
    base,
    origin: originOf(new URL(base)),
    u: (path) => base + path,
    api,
    global,
  };
  const timeoutMs = options.timeoutMs ?? 15000;
  const cases: Record<string, CaseResult> = {};
  for (const [name, run] of CASES) {
    if (options.only && !options.only.includes(name)) continue;
    const start = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const result = await Promise.race([
        run(env),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      cases[name] = { ...result, ms: Date.now() - start };
    } catch (e) {
      cases[name] = { failure: describe(e), ms: Date.now() - start };
    } finally {
      clearTimeout(timer);
    }
  }
  const nav = (global as { navigator?: { userAgent?: string } }).navigator;
  return { base, useShim: options.useShim, userAgent: nav?.userAgent ?? '', cases };
}

/** Differences between two runs' observations (and failures), `info` and timings excluded. */
export function compare(a: Observations, b: Observations): Difference[] {
  const out: Difference[] = [];
  const names = [...new Set([...Object.keys(a.cases), ...Object.keys(b.cases)])].sort();
  for (const name of names) {
    const ca = a.cases[name];
    const cb = b.cases[name];
    const push = (path: string, x: Json | undefined, y: Json | undefined): void => {
      const d: Difference = { case: name, path, a: x, b: y };
      const known = KNOWN_DEVIATIONS[`${name} ${path}`];
      if (known !== undefined) d.known = known;
      out.push(d);
    };
    if (!ca || !cb) {
      push('', ca ? 'ran' : 'missing', cb ? 'ran' : 'missing');
      continue;
    }
    if (ca.failure !== undefined || cb.failure !== undefined) {
      if (ca.failure !== cb.failure) push('failure', ca.failure ?? null, cb.failure ?? null);
      continue;
    }
    diff(ca.observed ?? null, cb.observed ?? null, 'observed', push);
  }
  return out;
}

export const caseNames = (): string[] => CASES.map(([name]) => name);

function diff(x: Json, y: Json, path: string, push: (path: string, x: Json | undefined, y: Json | undefined) => void): void {
  if (x === y) return;
  if (Array.isArray(x) && Array.isArray(y)) {
    if (x.every((v) => typeof v !== 'object' || v === null) && y.every((v) => typeof v !== 'object' || v === null)) {
      // Lists of plain values (event sequences): one difference for the whole list.
      if (x.length !== y.length || x.some((v, i) => v !== y[i])) push(path, x, y);
      return;
    }
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
      if (i >= x.length || i >= y.length) push(`${path}[${i}]`, x[i], y[i]);
      else diff(x[i]!, y[i]!, `${path}[${i}]`, push);
    }
    return;
  }
  if (isObject(x) && isObject(y)) {
    for (const k of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) {
      if (!(k in x) || !(k in y)) push(`${path}.${k}`, x[k], y[k]);
      else diff(x[k]!, y[k]!, `${path}.${k}`, push);
    }
    return;
  }
  push(path, x, y);
}

function isObject(x: Json): x is { [key: string]: Json } {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function apis(global: Record<string | symbol, unknown>, useShim: boolean): Apis {
  const inst = global[INSTALLATION] as { originals: Partial<Apis> } | undefined;
  const own: Apis = {
    fetch: global.fetch as typeof fetch,
    XMLHttpRequest: global.XMLHttpRequest as typeof XMLHttpRequest,
    EventSource: global.EventSource as typeof EventSource | undefined,
  };
  if (useShim) {
    if (!inst) throw new Error('runConformance: useShim is set but the shim is not installed in this page');
    return own;
  }
  if (!inst) return own;
  return {
    fetch: inst.originals.fetch ?? own.fetch,
    XMLHttpRequest: inst.originals.XMLHttpRequest ?? own.XMLHttpRequest,
    EventSource: inst.originals.EventSource,
  };
}

// ---------------------------------------------------------------------------------------
// Helpers.

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/** The error's name, which is what engines agree on (messages differ). */
function errorName(e: unknown): string {
  if (e && typeof e === 'object' && 'name' in e) return String((e as { name: unknown }).name);
  return typeof e;
}

function originOf(url: URL): string {
  return `${url.protocol}//${url.host.toLowerCase()}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function bytesOf(body: Blob | Response | ArrayBuffer): Promise<Uint8Array> {
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  return new Uint8Array(await body.arrayBuffer());
}

const text = new TextDecoder();

function fetchWith(env: Env, input: string | Request, init?: RequestInit): Promise<Response> {
  return init === undefined ? env.api.fetch.call(env.global, input) : env.api.fetch.call(env.global, input, init);
}

/** Response.url relative to the base (origins differ between the runs). */
function pathOf(env: Env, url: string): string {
  return url.startsWith(env.base) ? url.slice(env.base.length) : url;
}

/** Content-Type with the multipart boundary replaced, so engines' boundaries compare equal. */
function boundaryless(contentType: string | null): { type: string | null; boundary: string | null } {
  if (contentType === null) return { type: null, boundary: null };
  const m = /boundary=("?)([^";]+)\1/i.exec(contentType);
  return { type: m ? contentType.replace(m[2]!, 'BOUNDARY') : contentType, boundary: m ? m[2]! : null };
}

async function fetchObserve(env: Env, res: Response, body: 'text' | 'json' | 'hash' | 'none' = 'text'): Promise<{ [k: string]: Json }> {
  const out: { [k: string]: Json } = {
    status: res.status,
    statusText: res.statusText,
    ok: res.ok,
    // The localhost server is cross-origin for the page (CORS) where the bus is same-origin.
    type: res.type === 'cors' ? 'basic' : res.type,
    redirected: res.redirected,
    url: pathOf(env, res.url),
    contentType: res.headers.get('content-type'),
    bodyNull: res.body === null,
  };
  if (body === 'text') out.text = await res.text();
  else if (body === 'json') out.json = (await res.json()) as Json;
  else if (body === 'hash') {
    const bytes = await bytesOf(res);
    out.length = bytes.length;
    out.sha256 = sha256Hex(bytes);
  }
  return out;
}

async function rejection(p: Promise<unknown>): Promise<Json> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return errorName(e);
  }
}

interface XhrRun {
  xhr: XMLHttpRequest;
  events: string[];
  progress: number;
  upload: { count: number; lastLoaded: number; lastTotal: number; lengthComputable: boolean };
}

interface XhrOptions {
  method?: string;
  path: string;
  body?: XMLHttpRequestBodyInit | null;
  responseType?: XMLHttpRequestResponseType;
  timeout?: number;
  headers?: Array<[string, string]>;
  uploadListeners?: boolean;
  abortAfterMs?: number;
}

/** Runs one XHR, recording every event in order, until loadend. */
function xhrRun(env: Env, o: XhrOptions): Promise<XhrRun> {
  return new Promise((resolve, reject) => {
    const xhr = new env.api.XMLHttpRequest();
    const run: XhrRun = { xhr, events: [], progress: 0, upload: { count: 0, lastLoaded: 0, lastTotal: 0, lengthComputable: false } };
    xhr.onreadystatechange = () => run.events.push(`readystatechange:${xhr.readyState}`);
    for (const type of ['loadstart', 'progress', 'abort', 'error', 'load', 'timeout', 'loadend']) {
      xhr.addEventListener(type, () => {
        run.events.push(type);
        if (type === 'progress') run.progress++;
        if (type === 'loadend') setTimeout(() => resolve(run), 0); // after abort() returns
      });
      if (o.uploadListeners) {
        xhr.upload.addEventListener(type, (e) => {
          run.events.push(`upload.${type}`);
          if (type === 'progress') {
            const p = e as ProgressEvent;
            run.upload = { count: run.upload.count + 1, lastLoaded: p.loaded, lastTotal: p.total, lengthComputable: p.lengthComputable };
          }
        });
      }
    }
    try {
      xhr.open(o.method ?? 'GET', env.u(o.path));
      if (o.responseType) xhr.responseType = o.responseType;
      if (o.timeout) xhr.timeout = o.timeout;
      for (const [n, v] of o.headers ?? []) xhr.setRequestHeader(n, v);
      xhr.send(o.body ?? null);
      // 0: abort() right after send(), in the same task (deterministic on every engine).
      if (o.abortAfterMs === 0) xhr.abort();
      else if (o.abortAfterMs !== undefined) setTimeout(() => xhr.abort(), o.abortAfterMs);
    } catch (e) {
      reject(e);
    }
  });
}

/**
 * Event sequences with the repeats that depend on timing folded: a run of readystatechange(3)
 * and progress events keeps each distinct event once, in order (same for upload.progress).
 */
export function foldEvents(events: readonly string[]): string[] {
  const out: string[] = [];
  const repeatable = (e: string): boolean => e === 'readystatechange:3' || e === 'progress' || e === 'upload.progress';
  let run = new Set<string>();
  for (const e of events) {
    if (!repeatable(e)) {
      run = new Set();
      out.push(e);
      continue;
    }
    if (run.has(e)) continue;
    run.add(e);
    out.push(e);
  }
  return out;
}

/** Polls /conf/cancelled until it exceeds `before` (the server dropped a /conf/hang handler). */
async function handlerDropped(env: Env, before: number): Promise<boolean> {
  for (let i = 0; i < 40; i++) {
    const n = Number(await (await fetchWith(env, env.u('/conf/cancelled'))).text());
    if (n > before) return true;
    await sleep(50);
  }
  return false;
}

async function cancelledCount(env: Env): Promise<number> {
  return Number(await (await fetchWith(env, env.u('/conf/cancelled'))).text());
}

function patternOk(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== i % 251) return false;
  return true;
}

function sampleBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + 3) & 255;
  return out;
}


/** Lower-case hex of a string's chars taken as bytes (all below U+0100). */
function hexOf(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += s.charCodeAt(i).toString(16).padStart(2, '0');
  return out;
}

// ---------------------------------------------------------------------------------------
// The cases. Names are stable: hosts may refer to them.

const echoBodies: Array<[string, () => BodyInit]> = [
  ['string', () => 'h\u00e9llo \u2713\r\nline'],
  ['urlsearchparams', () => new URLSearchParams([['a', '1'], ['b', 'x y&z'], ['\u00e9', '\u2713']])],
  ['blob-typed', () => new Blob(['blob body'], { type: 'application/x-test' })],
  ['blob-untyped', () => new Blob([sampleBytes(1000) as BlobPart])],
  ['arraybuffer', () => sampleBytes(70000).buffer as ArrayBuffer],
  ['uint8array-view', () => sampleBytes(100).subarray(10, 60) as unknown as BodyInit],
  ['dataview', () => new DataView(sampleBytes(64).buffer as ArrayBuffer, 8, 16)],
  ['formdata-strings', () => {
    const f = new FormData();
    f.append('a', '1');
    f.append('b', 'two\nlines');
    return f;
  }],
  ['large', () => sampleBytes(3 * 1024 * 1024 + 17) as BodyInit],
];

const CASES: Array<[string, Case]> = [
  ['fetch.text', async (env) => ({ observed: await fetchObserve(env, await fetchWith(env, env.u('/conf/text'))) })],
  ['fetch.json', async (env) => ({ observed: await fetchObserve(env, await fetchWith(env, env.u('/conf/json')), 'json') })],
  // fetch(url) alone takes the shim's short way (no Request made): a URL object and a URL
  // with credentials must still behave as the engine's (the latter a TypeError).
  ['fetch.url-object', async (env) => ({ observed: await fetchObserve(env, await env.api.fetch.call(env.global, new URL(env.u('/conf/text')))) })],
  [
    'fetch.url-credentials',
    async (env) => {
      const url = new URL(env.u('/conf/text'));
      url.username = 'user';
      url.password = 'pw';
      return { observed: await rejection(fetchWith(env, url.href)) };
    },
  ],
  [
    'fetch.bytes',
    async (env) => {
      const res = await fetchWith(env, env.u('/conf/bytes?n=300001'));
      const bytes = await bytesOf(res);
      return {
        observed: { status: res.status, contentLength: res.headers.get('content-length'), length: bytes.length, pattern: patternOk(bytes), sha256: sha256Hex(bytes) },
      };
    },
  ],
  [
    'fetch.stream',
    async (env) => {
      const res = await fetchWith(env, env.u('/conf/stream?chunks=5&ms=150'));
      const reader = res.body!.getReader();
      const start = Date.now();
      let first = -1;
      let chunks = 0;
      let all = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (first < 0) first = Date.now() - start;
        chunks++;
        all += text.decode(value, { stream: true });
      }
      const total = Date.now() - start;
      // Chunk by chunk: the first arrives well before the last (4 x 150 ms later).
      return { observed: { status: res.status, text: all, incremental: total - first >= 300, severalChunks: chunks >= 3 }, info: { chunks, first, total } };
    },
  ],
  [
    'fetch.head',
    async (env) => ({ observed: await fetchObserve(env, await fetchWith(env, env.u('/conf/text'), { method: 'HEAD' })) }),
  ],
  ...[201, 204, 404, 500, 503].map(
    (code): [string, Case] => [
      `fetch.status.${code}`,
      async (env) => ({ observed: await fetchObserve(env, await fetchWith(env, env.u(`/conf/status/${code}`))) }),
    ],
  ),
  ...echoBodies.map(
    ([name, make]): [string, Case] => [
      `fetch.echo.${name}`,
      async (env) => {
        const res = await fetchWith(env, env.u('/conf/echo'), { method: 'POST', body: make() });
        const bytes = await bytesOf(res);
        const { type, boundary } = boundaryless(res.headers.get('x-echo-content-type'));
        const body = boundary ? text.decode(bytes).split(boundary).join('BOUNDARY') : null;
        return {
          observed: {
            status: res.status,
            method: res.headers.get('x-echo-method'),
            contentType: type,
            echoedContentType: boundaryless(res.headers.get('content-type')).type,
            // Engines' multipart boundaries differ in length: compare the text instead.
            length: body === null ? Number(res.headers.get('x-echo-length')) : null,
            received: body === null ? bytes.length : null,
            sha256: body === null ? sha256Hex(bytes) : null,
            multipart: body,
          },
        };
      },
    ],
  ),
  [
    'fetch.echo.put',
    async (env) => {
      const res = await fetchWith(env, env.u('/conf/echo'), { method: 'PUT', body: 'put body', headers: { 'content-type': 'text/x-put' } });
      return { observed: { status: res.status, method: res.headers.get('x-echo-method'), contentType: res.headers.get('x-echo-content-type'), text: await res.text() } };
    },
  ],
  [
    'fetch.echo.stream',
    async (env) => {
      const chunks = ['one ', 'two ', 'three'];
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          const next = chunks.shift();
          if (next === undefined) c.close();
          else c.enqueue(new TextEncoder().encode(next));
        },
      });
      try {
        const res = await fetchWith(env, env.u('/conf/echo'), { method: 'POST', body, duplex: 'half' } as RequestInit);
        return { observed: { status: res.status, text: await res.text() } };
      } catch (e) {
        return { observed: { error: errorName(e) } };
      }
    },
  ],
  [
    'fetch.multipart',
    async (env) => {
      const form = new FormData();
      form.append('field', 'value');
      form.append('q"uote', 'multi\nline');
      form.append('file', new File(['file content \u2713'], 'hello.txt', { type: 'text/plain' }));
      form.append('bin', new Blob([sampleBytes(5000) as BlobPart]), 'data.bin');
      const res = await fetchWith(env, env.u('/conf/multipart'), { method: 'POST', body: form });
      return { observed: { status: res.status, json: (await res.json()) as Json } };
    },
  ],
  [
    'fetch.headers',
    async (env) => {
      const headers = new Headers();
      headers.append('X-Custom', 'v1');
      headers.append('x-dup', 'a');
      headers.append('X-Dup', 'b');
      for (const [n, v] of [['Cookie', 'c=1'], ['Sec-Foo', '1'], ['Proxy-Foo', '1'], ['X-HTTP-Method-Override', 'TRACE'], ['Accept-Charset', 'utf-8'], ['Via', 'x']]) {
        try {
          headers.append(n!, v!);
        } catch {
          /* some engines refuse here already */
        }
      }
      const res = await fetchWith(env, env.u('/conf/headers'), { headers });
      const got = (await res.json()) as Record<string, string>;
      const forbidden = ['cookie', 'sec-foo', 'proxy-foo', 'x-http-method-override', 'accept-charset', 'via'].filter((n) => n in got);
      return { observed: { status: res.status, custom: got['x-custom'] ?? null, dup: got['x-dup'] ?? null, accept: got['accept'] ?? null, forbiddenSent: forbidden } };
    },
  ],
  ['fetch.invalid-header-name', async (env) => ({ observed: await rejection(fetchWith(env, env.u('/conf/text'), { headers: { 'a b': 'x' } })) })],
  ['fetch.invalid-header-value', async (env) => ({ observed: await rejection(fetchWith(env, env.u('/conf/text'), { headers: { a: 'x\ny' } })) })],
  ['fetch.get-with-body', async (env) => ({ observed: await rejection(fetchWith(env, env.u('/conf/text'), { method: 'GET', body: 'x' })) })],
  ['fetch.forbidden-method', async (env) => ({ observed: await rejection(fetchWith(env, env.u('/conf/text'), { method: 'TRACE' })) })],
  [
    'fetch.request-object',
    async (env) => {
      const req = new Request(env.u('/conf/echo'), { method: 'POST', body: 'from a Request', headers: { 'x-a': '1', 'content-type': 'text/x-req' } });
      const res = await fetchWith(env, req);
      return { observed: { status: res.status, contentType: res.headers.get('x-echo-content-type'), text: await res.text(), bodyUsed: req.bodyUsed } };
    },
  ],
  ...[301, 302, 303, 307, 308].map(
    (code): [string, Case] => [
      `fetch.redirect.${code}`,
      async (env) => ({ observed: await fetchObserve(env, await fetchWith(env, env.u(`/conf/redirect/${code}?to=/conf/text`))) }),
    ],
  ),
  // A body over one frame (WebKitGTK: the relay's carrier, which takes the shim's copy of
  // it and gives it back) sent again after a 307/308.
  ...[307, 308].map(
    (code): [string, Case] => [
      `fetch.redirect.${code}.large-body`,
      async (env) => {
        const body = new Uint8Array(300_000);
        for (let i = 0; i < body.length; i++) body[i] = (i * 7 + 3) & 255;
        const sent = sha256Hex(body);
        const res = await fetchWith(env, env.u(`/conf/redirect/${code}?to=/conf/echo`), { method: 'POST', body });
        const bytes = await bytesOf(res);
        return {
          observed: {
            status: res.status,
            redirected: res.redirected,
            method: res.headers.get('x-echo-method'),
            length: bytes.length,
            sameBytes: sha256Hex(bytes) === sent,
            callersBufferKept: body.byteLength === 300_000 && sha256Hex(body) === sent,
          },
        };
      },
    ],
  ),
  ['fetch.redirect.error', async (env) => ({ observed: await rejection(fetchWith(env, env.u('/conf/redirect/302?to=/conf/text'), { redirect: 'error' })) })],
  [
    'fetch.redirect.manual',
    async (env) => {
      const res = await fetchWith(env, env.u('/conf/redirect/302?to=/conf/text'), { redirect: 'manual' });
      return { observed: { type: res.type, status: res.status, redirected: res.redirected } };
    },
  ],
  [
    'fetch.abort.before',
    async (env) => {
      const c = new AbortController();
      c.abort();
      const reason = new Error('my reason');
      const c2 = new AbortController();
      c2.abort(reason);
      let same = false;
      try {
        await fetchWith(env, env.u('/conf/text'), { signal: c2.signal });
      } catch (e) {
        same = e === reason;
      }
      return { observed: { error: await rejection(fetchWith(env, env.u('/conf/text'), { signal: c.signal })), customReason: same } };
    },
  ],
  [
    'fetch.abort.pending',
    async (env) => {
      const before = await cancelledCount(env);
      const c = new AbortController();
      const p = fetchWith(env, env.u('/conf/hang'), { signal: c.signal });
      setTimeout(() => c.abort(), 100);
      const error = await rejection(p);
      return { observed: { error, handlerDropped: await handlerDropped(env, before) } };
    },
  ],
  [
    'fetch.abort.body',
    async (env) => {
      const c = new AbortController();
      const res = await fetchWith(env, env.u('/conf/stream?chunks=10&ms=100'), { signal: c.signal });
      const reader = res.body!.getReader();
      const first = text.decode((await reader.read()).value);
      c.abort();
      let error: Json = 'none';
      try {
        for (;;) if ((await reader.read()).done) break;
      } catch (e) {
        error = errorName(e);
      }
      return { observed: { first, error } };
    },
  ],
  [
    'fetch.multi-header',
    async (env) => {
      const res = await fetchWith(env, env.u('/conf/multi-header'));
      return { observed: { multi: res.headers.get('x-multi'), contentType: res.headers.get('content-type'), text: await res.text() } };
    },
  ],

  // XHR -------------------------------------------------------------------------------
  [
    'xhr.text',
    async (env) => {
      const r = await xhrRun(env, { path: '/conf/text' });
      return {
        observed: {
          events: foldEvents(r.events),
          status: r.xhr.status,
          statusText: r.xhr.statusText,
          responseText: r.xhr.responseText,
          responseURL: pathOf(env, r.xhr.responseURL),
          contentType: r.xhr.getResponseHeader('Content-Type'),
        },
        info: { events: r.events },
      };
    },
  ],
  [
    'xhr.upload-listeners',
    async (env) => {
      const body = sampleBytes(600 * 1024);
      const r = await xhrRun(env, { method: 'POST', path: '/conf/echo', body: body.buffer as ArrayBuffer, uploadListeners: true });
      return {
        observed: {
          events: foldEvents(r.events),
          status: r.xhr.status,
          echoed: Number(r.xhr.getResponseHeader('x-echo-length')),
          uploadProgressSeen: r.upload.count > 0,
          lastUploadLoaded: r.upload.lastLoaded,
          lastUploadTotal: r.upload.lastTotal,
          uploadLengthComputable: r.upload.lengthComputable,
        },
        info: { uploadProgressEvents: r.upload.count, progressEvents: r.progress, events: r.events },
      };
    },
  ],
  [
    'xhr.no-upload-listeners',
    async (env) => {
      const r = await xhrRun(env, { method: 'POST', path: '/conf/echo', body: 'small body' });
      return { observed: { events: foldEvents(r.events), status: r.xhr.status, responseText: r.xhr.responseText }, info: { events: r.events } };
    },
  ],
  [
    'xhr.abort',
    async (env) => {
      const before = await cancelledCount(env);
      const r = await xhrRun(env, { path: '/conf/hang', uploadListeners: true, abortAfterMs: 100 });
      return {
        observed: { events: foldEvents(r.events), readyState: r.xhr.readyState, status: r.xhr.status, responseText: r.xhr.responseText, handlerDropped: await handlerDropped(env, before) },
      };
    },
  ],
  [
    'xhr.abort-upload',
    async (env) => {
      const r = await xhrRun(env, { method: 'POST', path: '/conf/echo', body: 'x', uploadListeners: true, abortAfterMs: 0 });
      return { observed: { events: foldEvents(r.events), readyState: r.xhr.readyState, status: r.xhr.status } };
    },
  ],
  [
    'xhr.timeout',
    async (env) => {
      const r = await xhrRun(env, { path: '/conf/slow?ms=3000', timeout: 200 });
      return { observed: { events: foldEvents(r.events), readyState: r.xhr.readyState, status: r.xhr.status } };
    },
  ],
  [
    'xhr.status.404',
    async (env) => {
      const r = await xhrRun(env, { path: '/conf/status/404' });
      return { observed: { events: foldEvents(r.events), status: r.xhr.status, statusText: r.xhr.statusText, responseText: r.xhr.responseText } };
    },
  ],
  [
    'xhr.headers',
    async (env) => {
      const r = await xhrRun(env, { path: '/conf/multi-header' });
      const all = r.xhr
        .getAllResponseHeaders()
        .split('\r\n')
        .filter((l) => l.startsWith('x-multi') || l.startsWith('content-type'));
      return {
        observed: {
          selected: all,
          endsWithCrlf: r.xhr.getAllResponseHeaders().endsWith('\r\n'),
          multi: r.xhr.getResponseHeader('X-MULTI'),
          setCookie: r.xhr.getResponseHeader('set-cookie'),
          responseText: r.xhr.responseText,
        },
      };
    },
  ],
  [
    'xhr.set-request-header',
    async (env) => {
      const xhr = new env.api.XMLHttpRequest();
      let beforeOpen: Json = 'none';
      try {
        xhr.setRequestHeader('x-a', '1');
      } catch (e) {
        beforeOpen = errorName(e);
      }
      let badName: Json = 'none';
      const r = await new Promise<XMLHttpRequest>((resolve) => {
        xhr.onloadend = () => resolve(xhr);
        xhr.open('GET', env.u('/conf/headers'));
        xhr.setRequestHeader('X-A', '1');
        xhr.setRequestHeader('x-a', ' 2 ');
        xhr.setRequestHeader('Cookie', 'c=1');
        xhr.setRequestHeader('Sec-Foo', '1');
        try {
          xhr.setRequestHeader('a b', 'x');
        } catch (e) {
          badName = errorName(e);
        }
        xhr.send();
      });
      let afterSend: Json = 'none';
      try {
        r.setRequestHeader('x-b', '1');
      } catch (e) {
        afterSend = errorName(e);
      }
      const got = JSON.parse(r.responseText) as Record<string, string>;
      return { observed: { beforeOpen, badName, afterSend, xa: got['x-a'] ?? null, cookie: 'cookie' in got, secFoo: 'sec-foo' in got, accept: got['accept'] ?? null } };
    },
  ],
  ...(['json', 'arraybuffer', 'blob', 'document', 'text'] as const).map(
    (type): [string, Case] => [
      `xhr.response-type.${type}`,
      async (env) => {
        const path = type === 'json' ? '/conf/json' : type === 'arraybuffer' || type === 'blob' ? '/conf/bytes?n=1000' : '/conf/text';
        const r = await xhrRun(env, { path, responseType: type });
        const response = r.xhr.response as unknown;
        let value: Json;
        if (type === 'arraybuffer') value = { byteLength: (response as ArrayBuffer).byteLength, pattern: patternOk(new Uint8Array(response as ArrayBuffer)) };
        else if (type === 'blob') value = { size: (response as Blob).size, type: (response as Blob).type };
        else if (type === 'document') value = response === null ? null : 'document';
        else value = response as Json;
        let responseText: Json = 'readable';
        try {
          void r.xhr.responseText;
        } catch (e) {
          responseText = errorName(e);
        }
        return { observed: { status: r.xhr.status, responseType: r.xhr.responseType, value, responseText } };
      },
    ],
  ),
  [
    'xhr.redirect',
    async (env) => {
      const r = await xhrRun(env, { path: '/conf/redirect/302?to=/conf/json', responseType: 'json' });
      return { observed: { status: r.xhr.status, responseURL: pathOf(env, r.xhr.responseURL), response: r.xhr.response as Json } };
    },
  ],
  [
    'xhr.multipart',
    async (env) => {
      const form = new FormData();
      form.append('field', 'value');
      form.append('file', new File(['xhr file'], 'x.txt', { type: 'text/plain' }));
      const r = await xhrRun(env, { method: 'POST', path: '/conf/multipart', body: form, responseType: 'json' });
      return { observed: { status: r.xhr.status, response: r.xhr.response as Json } };
    },
  ],
  [
    'xhr.blob-body',
    async (env) => {
      const r = await xhrRun(env, { method: 'POST', path: '/conf/echo', body: new Blob(['blob via xhr'], { type: 'text/x-blob' }) });
      return { observed: { status: r.xhr.status, contentType: r.xhr.getResponseHeader('x-echo-content-type'), responseText: r.xhr.responseText } };
    },
  ],
  [
    'xhr.sync',
    async (env) => {
      const xhr = new env.api.XMLHttpRequest();
      try {
        xhr.open('GET', env.u('/conf/text'), false);
        xhr.send();
        return { observed: { status: xhr.status, responseText: xhr.responseText } };
      } catch (e) {
        return { observed: { error: errorName(e) } };
      }
    },
  ],
  [
    'xhr.instanceof',
    async (env) => {
      const xhr = new env.api.XMLHttpRequest();
      const G = (env.global as { XMLHttpRequest: typeof XMLHttpRequest }).XMLHttpRequest;
      return { observed: { instance: xhr instanceof G, eventTarget: xhr instanceof EventTarget, uploadIsEventTarget: xhr.upload instanceof EventTarget, tag: Object.prototype.toString.call(xhr) } };
    },
  ],

  [
    'fetch.blob-type',
    async (env) => {
      // Body's blob() types its Blob with the response's MIME type, and clone() keeps it. (A
      // review expected the engines to record it when a Response is built, before the shim
      // adds its headers: WebKitGTK 2.50 and Chromium read it when the body is consumed.)
      const res = await fetchWith(env, env.u('/conf/raw?ct=image%2Fsvg%2Bxml&hex=3c7376672f3e'));
      const clone = res.clone();
      const blob = await res.blob();
      const cloned = await clone.blob();
      const res2 = await fetchWith(env, env.u('/conf/raw?ct=application%2Fx-www-form-urlencoded&hex=613d31'));
      let form: Json;
      try {
        form = (await res2.formData()).get('a') as string;
      } catch (e) {
        form = errorName(e);
      }
      return { observed: { type: blob.type, cloneType: cloned.type, size: blob.size, form } };
    },
  ],

  // Spec details: the corners a large conformance suite found ---------------------------
  [
    'fetch.abort.after-complete',
    async (env) => {
      // The whole (small) body has arrived when fetch() resolves; abort before reading it.
      const c = new AbortController();
      const res = await fetchWith(env, env.u('/conf/text'), { signal: c.signal });
      await sleep(50);
      c.abort();
      const usedBefore = res.bodyUsed;
      const text = await rejection(res.text());
      const again = await rejection(res.text());
      const usedAfter = res.bodyUsed;
      const c2 = new AbortController();
      const res2 = await fetchWith(env, env.u('/conf/text'), { signal: c2.signal });
      await sleep(50);
      const reason = new Error('my reason');
      c2.abort(reason);
      let same: Json = 'resolved';
      try {
        await res2.body!.getReader().read();
      } catch (e) {
        same = e === reason;
      }
      // An empty body is closed with an empty queue before the abort: it ends, it does not error.
      const emptyRead: Json[] = [];
      for (const wait of [0, 100]) {
        const c4 = new AbortController();
        const res4 = await fetchWith(env, env.u('/conf/raw?ct=text/plain&hex='), { signal: c4.signal });
        if (wait) await sleep(wait);
        const reader4 = res4.body!.getReader();
        c4.abort();
        try {
          emptyRead.push((await reader4.read()).done ? 'done' : 'chunk');
        } catch (e) {
          emptyRead.push(errorName(e));
        }
      }
      // Aborting after the body was read has no effect.
      const c3 = new AbortController();
      const res3 = await fetchWith(env, env.u('/conf/text'), { signal: c3.signal });
      const read = await res3.text();
      c3.abort();
      return { observed: { text, again, usedBefore, usedAfter, customReason: same, readBefore: read, bodyUsed: res3.bodyUsed, emptyRead } };
    },
  ],
  [
    'fetch.abort.after-end',
    async (env) => {
      // A streamed body that ended (every chunk arrived) but was not read yet.
      const c = new AbortController();
      const res = await fetchWith(env, env.u('/conf/stream?chunks=3&ms=20'), { signal: c.signal });
      await sleep(400);
      c.abort();
      const reader = res.body!.getReader();
      return { observed: { read: await rejection(reader.read()) } };
    },
  ],
  [
    'fetch.abort.body-text',
    async (env) => {
      const c = new AbortController();
      const res = await fetchWith(env, env.u('/conf/stream?chunks=10&ms=100'), { signal: c.signal });
      const p = res.text();
      setTimeout(() => c.abort(), 150);
      const error = await rejection(p);
      const c2 = new AbortController();
      const res2 = await fetchWith(env, env.u('/conf/stream?chunks=10&ms=100'), { signal: c2.signal });
      const reason = new Error('my reason');
      const p2 = res2.arrayBuffer();
      setTimeout(() => c2.abort(reason), 150);
      let same: Json = 'resolved';
      try {
        await p2;
      } catch (e) {
        same = e === reason;
      }
      return { observed: { error, customReason: same } };
    },
  ],
  [
    'fetch.empty-body',
    async (env) => {
      const out: { [k: string]: Json } = {};
      for (const [name, path, init] of [
        ['get', '/conf/raw?ct=text/plain&hex=', undefined],
        ['post', '/conf/echo', { method: 'POST', body: '' }],
      ] as Array<[string, string, RequestInit | undefined]>) {
        const res = await fetchWith(env, env.u(path), init);
        const reader = res.body!.getReader();
        const first = await reader.read();
        out[name] = { status: res.status, firstDone: first.done, firstLength: first.value ? first.value.byteLength : null };
      }
      return { observed: out };
    },
  ],
  ...(['throw', 'invalid'] as const).map(
    (how): [string, Case] => [
      `fetch.safe-creation.${how}`,
      async (env) => {
        // A page's own Object.prototype accessors must not reach the streams behind fetch.
        const names = ['start', 'type', 'size', 'highWaterMark', 'pull', 'cancel', 'signal', 'then'];
        const proto = Object.prototype as Record<string, unknown>;
        const touched: string[] = [];
        const outcome: { [k: string]: Json } = {};
        for (const name of names) {
          Object.defineProperty(proto, name, {
            configurable: true,
            get() {
              touched.push(name);
              if (how === 'throw') throw new Error(`Object.prototype.${name} was read`);
              return -1;
            },
          });
        }
        try {
          const settle = <T>(p: Promise<T>): Promise<T> =>
            Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('never settled')), 3000))]);
          try {
            const res = await settle(fetchWith(env, env.u('/conf/text')));
            outcome.status = res.status;
            outcome.text = await settle(res.text());
          } catch (e) {
            outcome.error = describe(e);
          }
        } finally {
          for (const name of names) delete proto[name];
        }
        return { observed: outcome, info: { touched: [...new Set(touched)] } };
      },
    ],
  ),
  [
    'fetch.then-untouched',
    async (env) => {
      // The page's Promise.prototype.then is its own business: fetch does not call it.
      const proto = Promise.prototype as { then: Promise<unknown>['then'] };
      const then = proto.then;
      let calls = 0;
      proto.then = function patched(this: Promise<unknown>, ...args: Parameters<Promise<unknown>['then']>) {
        calls++;
        return then.apply(this, args);
      } as Promise<unknown>['then'];
      let text: Json;
      let xhrText: Json;
      try {
        const res = await fetchWith(env, env.u('/conf/text'));
        text = await res.text();
        xhrText = await new Promise<Json>((resolve) => {
          const xhr = new env.api.XMLHttpRequest();
          xhr.open('GET', env.u('/conf/text'));
          xhr.onloadend = () => resolve(xhr.responseText);
          xhr.send();
        });
      } finally {
        proto.then = then;
      }
      return { observed: { text, xhrText, thenCalls: calls } };
    },
  ],
  [
    'fetch.array-untouched',
    async (env) => {
      // Nor does it iterate arrays with the page's Array.prototype[Symbol.iterator].
      const proto = Array.prototype as unknown as Record<symbol, unknown>;
      const iterator = proto[Symbol.iterator];
      let calls = 0;
      proto[Symbol.iterator] = function patched(this: unknown[]) {
        calls++;
        return (iterator as () => Iterator<unknown>).call(this);
      };
      let out: Json;
      try {
        const res = await fetchWith(env, env.u('/conf/echo'), { method: 'POST', body: 'x', headers: { 'x-a': '1' } });
        out = { status: res.status, text: await res.text(), echoed: res.headers.get('x-echo-content-type') };
      } finally {
        proto[Symbol.iterator] = iterator;
      }
      return { observed: { out, iteratorCalls: calls } };
    },
  ],
  [
    'xhr.headers-sorted',
    async (env) => {
      const r = await xhrRun(env, { path: '/conf/sort-headers' });
      const lines = r.xhr
        .getAllResponseHeaders()
        .split('\r\n')
        .filter((l) => l.startsWith('x-s-'));
      return { observed: { lines } };
    },
  ],
  [
    'fetch.headers-combined',
    async (env) => {
      const res = await fetchWith(env, env.u('/conf/combine'));
      const out: { [k: string]: Json } = {};
      for (const n of ['x-empty', 'x-some', 'x-pad', 'x-list']) out[n] = res.headers.get(n);
      return { observed: out };
    },
  ],
  [
    'xhr.headers-combined',
    async (env) => {
      const r = await xhrRun(env, { path: '/conf/combine' });
      const out: { [k: string]: Json } = {};
      for (const n of ['x-empty', 'x-some', 'x-pad', 'x-list']) out[n] = r.xhr.getResponseHeader(n);
      out.all = r.xhr
        .getAllResponseHeaders()
        .split('\r\n')
        .filter((l) => /^x-(empty|some|pad|list):/.test(l));
      return { observed: out };
    },
  ],
  [
    'xhr.window-stop',
    async (env) => {
      const stop = (env.global as { stop?: () => void }).stop;
      if (typeof stop !== 'function') return { observed: 'no window.stop' };
      const before = await cancelledCount(env);
      const xhr = new env.api.XMLHttpRequest();
      const events: string[] = [];
      let sync = true;
      for (const type of ['readystatechange', 'abort', 'error', 'load', 'loadend']) {
        xhr.addEventListener(type, () => events.push(`${type}${type === 'readystatechange' ? `:${xhr.readyState}` : ''}${sync ? '' : ' (later)'}`));
      }
      xhr.open('GET', env.u('/conf/hang'));
      xhr.send();
      await sleep(100);
      events.length = 0;
      stop.call(env.global);
      sync = false;
      await sleep(200);
      // window.stop() in the same task as send().
      const x2 = new env.api.XMLHttpRequest();
      const early: string[] = [];
      let sync2 = true;
      for (const type of ['readystatechange', 'abort', 'error', 'load', 'loadend']) {
        x2.addEventListener(type, () => early.push(`${type}${type === 'readystatechange' ? `:${x2.readyState}` : ''}${sync2 ? '' : ' (later)'}`));
      }
      x2.open('GET', env.u('/conf/slow?ms=1000'));
      x2.send();
      early.length = 0;
      stop.call(env.global);
      sync2 = false;
      await sleep(300);
      return {
        observed: { events, readyState: xhr.readyState, status: xhr.status, handlerDropped: await handlerDropped(env, before), early, earlyStatus: x2.status },
      };
    },
  ],
  [
    'fetch.window-stop',
    async (env) => {
      const stop = (env.global as { stop?: () => void }).stop;
      if (typeof stop !== 'function') return { observed: 'no window.stop' };
      const p = fetchWith(env, env.u('/conf/hang'));
      await sleep(100);
      stop.call(env.global);
      const error = await Promise.race([rejection(p), sleep(1000).then(() => 'pending')]);
      // A fetch whose response head came: its body.
      const res = await fetchWith(env, env.u('/conf/stream?chunks=10&ms=100'));
      const reader = res.body!.getReader();
      await reader.read();
      stop.call(env.global);
      let body: Json = 'pending';
      const read = (async (): Promise<Json> => {
        try {
          for (;;) if ((await reader.read()).done) return 'done';
        } catch (e) {
          return errorName(e);
        }
      })();
      body = await Promise.race([read, sleep(2000).then(() => 'pending')]);
      if (body === 'pending') void reader.cancel().catch(() => {});
      return { observed: { error, body } };
    },
  ],
  [
    'xhr.open-credentials',
    async (env) => {
      // open()'s arguments are converted (ToString) in order, before anything else.
      const log: string[] = [];
      const arg = (name: string, value: string): unknown => ({
        toString() {
          log.push(name);
          return value;
        },
      });
      const xhr = new env.api.XMLHttpRequest();
      const open = xhr.open as (...a: unknown[]) => void;
      open.call(xhr, arg('method', 'GET'), arg('url', env.u('/conf/text')), true, arg('username', 'user'), arg('password', 'pw'));
      const status = await new Promise<number>((resolve) => {
        xhr.onloadend = () => resolve(xhr.status);
        xhr.send();
      });
      // A bad method still converts every argument first.
      const log2: string[] = [];
      let error: Json = 'none';
      try {
        const x2 = new env.api.XMLHttpRequest();
        (x2.open as (...a: unknown[]) => void).call(
          x2,
          'G E T',
          env.u('/conf/text'),
          true,
          { toString: () => (log2.push('username'), 'u') },
          { toString: () => (log2.push('password'), 'p') },
        );
      } catch (e) {
        error = errorName(e);
      }
      return { observed: { log, status, log2, error, text: xhr.responseText } };
    },
  ],
  [
    'xhr.required-arguments',
    async (env) => {
      const xhr = new env.api.XMLHttpRequest();
      xhr.open('GET', env.u('/conf/headers'));
      const call = (f: () => unknown): Json => {
        try {
          f();
          return 'ok';
        } catch (e) {
          return errorName(e);
        }
      };
      const any = xhr as unknown as Record<string, (...a: unknown[]) => unknown>;
      const setOne = call(() => any.setRequestHeader!.call(xhr, 'x-a'));
      const setNone = call(() => any.setRequestHeader!.call(xhr));
      const getNone = call(() => any.getResponseHeader!.call(xhr));
      const overrideNone = call(() => any.overrideMimeType!.call(xhr));
      const got = await new Promise<Record<string, string>>((resolve) => {
        xhr.onloadend = () => resolve(JSON.parse(xhr.responseText) as Record<string, string>);
        xhr.send();
      });
      return { observed: { setOne, setNone, getNone, overrideNone, sentA: 'x-a' in got, sentUndefined: 'undefined' in got } };
    },
  ],
  [
    'xhr.send-conversion-order',
    async (env) => {
      const log: string[] = [];
      const body = {
        toString() {
          log.push('toString');
          return 'body';
        },
      };
      const xhr = new env.api.XMLHttpRequest();
      let unsent: Json = 'none';
      try {
        (xhr.send as (b: unknown) => void).call(xhr, body);
      } catch (e) {
        unsent = errorName(e);
      }
      const afterUnsent = [...log];
      xhr.open('POST', env.u('/conf/echo'));
      const text = await new Promise<string>((resolve) => {
        xhr.onloadend = () => resolve(xhr.responseText);
        (xhr.send as (b: unknown) => void).call(xhr, body);
      });
      let sent: Json = 'none';
      try {
        (xhr.send as (b: unknown) => void).call(xhr, body);
      } catch (e) {
        sent = errorName(e);
      }
      return { observed: { unsent, afterUnsent, text, sent, log } };
    },
  ],
  ...(
    [
      // [case, content type (none: omitted), body bytes as hex, overrideMimeType or null]
      ['xml-declaration', 'application/xml', hexOf('<?xml version="1.0" encoding="windows-1252"?><r>\xe9</r>'), null],
      ['xml-declaration-single-quotes', 'text/xml', hexOf("<?xml version='1.0' encoding='iso-8859-2'?><r>\xb1</r>"), null],
      ['xml-charset-wins', 'application/xml;charset=utf-8', hexOf('<?xml version="1.0" encoding="windows-1252"?><r>\xe9</r>'), null],
      ['xml-bom-wins', 'application/xml', 'efbbbf' + hexOf('<?xml version="1.0" encoding="windows-1252"?><r>') + 'c3a9' + hexOf('</r>'), null],
      ['text-no-declaration-sniffing', 'text/plain', hexOf('<?xml version="1.0" encoding="windows-1252"?><r>\xe9</r>'), null],
      ['utf16-label-is-utf8', 'text/plain;charset=utf-16le', '68c3a96c6c6f', null],
      ['utf16-bom', 'text/plain', 'fffe68006900', null],
      ['latin1', 'text/plain;charset=windows-1252', '68e96c6c6f', null],
      ['override-without-charset', 'text/plain;charset=windows-1252', '68e96c6c6f', 'text/plain'],
      ['override-charset', 'text/plain;charset=utf-8', '68e96c6c6f', 'text/plain;charset=windows-1252'],
      ['override-xml', 'text/plain', hexOf('<?xml version="1.0" encoding="windows-1252"?><r>\xe9</r>'), 'application/xml'],
      ['unknown-label', 'text/plain;charset=no-such-encoding', '68c3a96c6c6f', null],
    ] as const
  ).map(
    ([name, type, hex, override]): [string, Case] => [
      `xhr.decode.${name}`,
      async (env) => {
        const xhr = new env.api.XMLHttpRequest();
        xhr.open('GET', env.u(`/conf/raw?ct=${encodeURIComponent(type)}&hex=${hex}`));
        if (override !== null) xhr.overrideMimeType(override);
        await new Promise<void>((resolve) => {
          xhr.onloadend = () => resolve();
          xhr.send();
        });
        const doc = xhr.responseXML;
        return {
          observed: {
            status: xhr.status,
            text: xhr.responseText,
            codes: [...xhr.responseText].map((c) => c.codePointAt(0)!.toString(16)).join(' '),
            xml: doc ? (doc.documentElement?.textContent ?? null) : null,
          },
        };
      },
    ],
  ),
  ...(
    [
      ['html-meta-charset', 'text/html', hexOf('<!doctype html><meta charset="windows-1252"><p>\xe9</p>')],
      ['html-meta-http-equiv', 'text/html', hexOf('<!doctype html><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-2"><p>\xb1</p>')],
      ['html-no-meta', 'text/html', hexOf('<!doctype html><p>') + 'c3a9' + hexOf('</p>')],
    ] as const
  ).map(
    ([name, type, hex]): [string, Case] => [
      `xhr.decode.${name}`,
      async (env) => {
        const r = await xhrRun(env, { path: `/conf/raw?ct=${encodeURIComponent(type)}&hex=${hex}`, responseType: 'document' });
        const doc = r.xhr.response as Document | null;
        return { observed: { status: r.xhr.status, p: doc?.querySelector('p')?.textContent ?? null, charset: doc?.characterSet ?? null } };
      },
    ],
  ),
  [
    'xhr.timeout-busy',
    async (env) => {
      // The response is there long before the timeout; the page is busy until after it.
      const xhr = new env.api.XMLHttpRequest();
      const events: string[] = [];
      const done = new Promise<void>((resolve) => {
        for (const type of ['load', 'timeout', 'error', 'abort']) xhr.addEventListener(type, () => events.push(type));
        xhr.onloadend = () => resolve();
      });
      xhr.open('GET', env.u('/conf/text'));
      xhr.timeout = 300;
      xhr.send();
      const until = Date.now() + 900;
      while (Date.now() < until) {
        /* a long task */
      }
      await done;
      return { observed: { events, status: xhr.status, text: xhr.responseText } };
    },
  ],
  [
    'xhr.timeout-still-fires',
    async (env) => {
      // ... but a response that is really late still times out, also after a long task.
      const r = new Promise<XhrRun>((resolve) => {
        void xhrRun(env, { path: '/conf/slow?ms=3000', timeout: 200 }).then(resolve);
      });
      const until = Date.now() + 400;
      while (Date.now() < until) {
        /* a long task */
      }
      const run = await r;
      return { observed: { events: foldEvents(run.events), status: run.xhr.status } };
    },
  ],
  [
    'fetch.control-characters',
    async (env) => {
      // Fetch allows these in header values; the bus's http::HeaderValue does not.
      const out: { [k: string]: Json } = {};
      for (const code of [0x01, 0x08, 0x0b, 0x1f, 0x7f]) {
        const value = `a${String.fromCharCode(code)}b`;
        try {
          const res = await fetchWith(env, env.u('/conf/headers'), { headers: { 'x-ctl': value } });
          const got = (await res.json()) as Record<string, string>;
          out[code.toString(16)] = got['x-ctl'] === value ? 'sent' : `sent as ${JSON.stringify(got['x-ctl'] ?? null)}`;
        } catch (e) {
          out[code.toString(16)] = errorName(e);
        }
      }
      return { observed: out };
    },
  ],
  [
    'xhr.control-characters',
    async (env) => {
      const out: { [k: string]: Json } = {};
      for (const code of [0x01, 0x1f, 0x7f]) {
        const value = `a${String.fromCharCode(code)}b`;
        const xhr = new env.api.XMLHttpRequest();
        xhr.open('GET', env.u('/conf/headers'));
        try {
          xhr.setRequestHeader('x-ctl', value);
        } catch (e) {
          out[code.toString(16)] = errorName(e);
          continue;
        }
        out[code.toString(16)] = await new Promise<Json>((resolve) => {
          xhr.onloadend = () => {
            if (xhr.status !== 200) return resolve(`status ${xhr.status}`);
            const got = (JSON.parse(xhr.responseText) as Record<string, string>)['x-ctl'];
            resolve(got === value ? 'sent' : `sent as ${JSON.stringify(got ?? null)}`);
          };
          xhr.send();
        });
      }
      return { observed: out };
    },
  ],
  [
    'fetch.concurrent-300',
    async (env) => {
      // More requests at once than a session has streams (256): they wait, as connections do.
      const all = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          fetchWith(env, env.u(`/conf/slow?ms=30&i=${i}`)).then(
            async (r) => `${r.status} ${await r.text()}`,
            (e: unknown) => errorName(e),
          ),
        ),
      );
      const counts: { [k: string]: Json } = {};
      for (const r of all) counts[r] = ((counts[r] as number | undefined) ?? 0) + 1;
      return { observed: counts };
    },
  ],
  [
    'fetch.concurrent-300-post',
    async (env) => {
      // The same with bodies: on Android these go as frames (bodiless GETs are intercepted).
      const all = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          fetchWith(env, env.u(`/conf/slow?ms=50&i=${i}`), { method: 'POST', body: 'x' }).then(
            async (r) => `${r.status} ${await r.text()}`,
            (e: unknown) => errorName(e),
          ),
        ),
      );
      const counts: { [k: string]: Json } = {};
      for (const r of all) counts[r] = ((counts[r] as number | undefined) ?? 0) + 1;
      return { observed: counts };
    },
  ],
  [
    'fetch.large-headers',
    async (env) => {
      // 70 KB of request headers: an HTTP answer (the bus says 431), never a network error.
      const big = 'y'.repeat(70 * 1024);
      let fetched: Json;
      try {
        const res = await fetchWith(env, env.u('/conf/text'), { headers: { 'x-big': big } });
        fetched = res.status;
      } catch (e) {
        fetched = errorName(e);
      }
      const xhr = await xhrRun(env, { path: '/conf/text', headers: [['x-big', big]] });
      return { observed: { fetched, xhr: xhr.xhr.status } };
    },
  ],
  [
    'fetch.long-url',
    async (env) => {
      // 70 KB of query: an HTTP answer (the bus says 414), never a network error.
      const pad = 'x'.repeat(70 * 1024);
      let fetched: Json;
      try {
        const res = await fetchWith(env, env.u(`/conf/text?pad=${pad}`));
        fetched = { status: res.status, type: 'response' };
      } catch (e) {
        fetched = errorName(e);
      }
      const xhr = await xhrRun(env, { path: `/conf/text?pad=${pad}` });
      return { observed: { fetched, xhr: { status: xhr.xhr.status, events: foldEvents(xhr.events) } } };
    },
  ],

  [
    'eventsource.window-stop',
    async (env) => {
      const stop = (env.global as { stop?: () => void }).stop;
      if (!env.api.EventSource || typeof stop !== 'function') return { observed: 'no EventSource or window.stop' };
      const es = new env.api.EventSource(env.u('/conf/hang'));
      const events: string[] = [];
      es.onerror = () => events.push(`error:${es.readyState}`);
      es.onopen = () => events.push('open');
      await sleep(300);
      stop.call(env.global);
      await sleep(300);
      const state = es.readyState;
      es.close();
      return { observed: { events, state } };
    },
  ],
  // EventSource -------------------------------------------------------------------------
  [
    'eventsource.stream',
    async (env) => {
      if (!env.api.EventSource) return { observed: 'no EventSource' };
      const ES = env.api.EventSource;
      const events: string[] = [];
      const ids: string[] = [];
      let originOk = true;
      await new Promise<void>((resolve) => {
        const es = new ES(env.u('/conf/sse?n=3'));
        let opens = 0;
        const record = (e: MessageEvent): void => {
          events.push(`${e.type}:${String(e.data)}`);
          ids.push(e.lastEventId);
          if (e.origin !== env.origin) originOk = false;
        };
        es.onmessage = record;
        es.addEventListener('tick', record as EventListener);
        es.onopen = () => {
          events.push(`open:${es.readyState}`);
          if (++opens === 2) {
            es.close();
            resolve();
          }
        };
        es.onerror = () => events.push(`error:${es.readyState}`);
      });
      return { observed: { events, ids, originOk } };
    },
  ],
  [
    'eventsource.last-event-id',
    async (env) => {
      if (!env.api.EventSource) return { observed: 'no EventSource' };
      const ES = env.api.EventSource;
      // The server ends the stream after event 4; the reconnection sends Last-Event-ID: 4 and
      // gets nothing more. Without the header the events would come again.
      const data: string[] = [];
      await new Promise<void>((resolve) => {
        const es = new ES(env.u('/conf/sse?n=4'));
        es.onmessage = (e) => data.push(`${e.lastEventId}:${String(e.data)}`);
        es.addEventListener('tick', (e) => {
          const m = e as MessageEvent;
          data.push(`${m.lastEventId}:${String(m.data)}`);
        });
        let errors = 0;
        es.onerror = () => {
          if (++errors === 2) {
            es.close();
            resolve();
          }
        };
      });
      return { observed: { data } };
    },
  ],
  ...(
    [
      ['eventsource.not-found', '/conf/status/404'],
      ['eventsource.wrong-type', '/conf/text'],
    ] as const
  ).map(
    ([name, path]): [string, Case] => [
      name,
      async (env) => {
        if (!env.api.EventSource) return { observed: 'no EventSource' };
        const es = new env.api.EventSource(env.u(path));
        const events: string[] = [];
        es.onopen = () => events.push('open');
        await new Promise<void>((resolve) => {
          es.onerror = () => {
            events.push(`error:${es.readyState}`);
            resolve();
          };
        });
        await sleep(100); // no reconnection may follow
        es.close();
        return { observed: { events } };
      },
    ],
  ),
];
