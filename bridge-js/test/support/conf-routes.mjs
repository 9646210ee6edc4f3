// The /conf routes of the conformance suite, served by the scripted bus peer (BusPeer). The
// hosts implement the same routes in Rust (axum) for the bus and a localhost server; this is
// the reference the Node tests use. No Node APIs: it also runs inside a browser page.
// `return void await send(…)`, not `return send(…)`: returning a promise from an async
// function calls its `then`, which the conformance cases that patch Promise.prototype.then
// would count against the shim.
import { sha256Hex } from '../../dist/conformance.mjs';

/** Resolves after `ms`, or as soon as the request is cancelled (no timer left behind). */
const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });

const CORS = { 'access-control-allow-origin': '*', 'access-control-expose-headers': '*' };
const enc = new TextEncoder();
const REASON = { 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 307: 'Temporary Redirect', 308: 'Permanent Redirect' };

/** `/conf/sort-headers`: names whose order differs between lower- and upper-cased sorting. */
export const SORT_HEADERS = ['x-s-a~', 'x-s-a_', 'x-s-ab', 'x-s-a^', 'x-s-aa'];
/** `/conf/combine`: repeats, empty values and values with white space at their edges. */
export const COMBINE_HEADERS = [
  ['x-empty', ''],
  ['x-empty', ''],
  ['x-some', ''],
  ['x-some', '1'],
  ['x-some', '  '],
  ['x-some', '2'],
  ['x-pad', ' a '],
  ['x-pad', '\tb\t'],
  ['x-list', 'a,b'],
  ['x-list', ' c ,  d'],
];

/** State shared by the routes (the /conf/hang handlers dropped so far). */
export function confRoutes() {
  const state = { cancelled: 0 };
  const handler = async (req, res) => {
    const path = req.url.pathname;
    const q = req.url.searchParams;
    const send = async (status, headers, body) => {
      const bytes = typeof body === 'string' ? enc.encode(body) : body;
      res.head(status, { ...CORS, 'content-length': String(bytes.byteLength), ...headers });
      if (req.method !== 'HEAD') await res.write(bytes);
      res.end();
    };
    if (req.method === 'OPTIONS') return void await send(204, { 'access-control-allow-methods': '*', 'access-control-allow-headers': '*' }, '');
    if (path === '/conf/text') return void await send(200, { 'content-type': 'text/plain;charset=utf-8' }, 'hello');
    if (path === '/conf/json') return void await send(200, { 'content-type': 'application/json' }, '{"ok":true,"n":42}');
    if (path === '/conf/bytes') {
      const n = Number(q.get('n') ?? 0);
      const bytes = Uint8Array.from({ length: n }, (_, i) => i % 251);
      return void await send(200, { 'content-type': 'application/octet-stream' }, bytes);
    }
    if (path === '/conf/echo' && (req.method === 'POST' || req.method === 'PUT')) {
      const body = await req.body();
      const type = req.headers.get('content-type') ?? '';
      const headers = { 'x-echo-method': req.method, 'x-echo-content-type': type, 'x-echo-length': String(body.byteLength) };
      if (type) headers['content-type'] = type;
      return void await send(200, headers, body);
    }
    if (path === '/conf/headers') return void await send(200, { 'content-type': 'application/json' }, JSON.stringify(Object.fromEntries(req.headers)));
    let m = /^\/conf\/status\/(\d+)$/.exec(path);
    if (m) return void await send(Number(m[1]), { 'content-type': 'text/plain' }, `status ${m[1]}`);
    m = /^\/conf\/redirect\/(\d+)$/.exec(path);
    if (m) return void await send(Number(m[1]), { location: q.get('to') ?? '/conf/text', 'content-type': 'text/plain' }, REASON[m[1]] ?? 'redirect');
    if (path === '/conf/slow') {
      await sleep(Number(q.get('ms') ?? 0), req.signal);
      if (req.signal.aborted) return;
      return void await send(200, { 'content-type': 'text/plain' }, 'slow');
    }
    if (path === '/conf/stream') {
      const chunks = Number(q.get('chunks') ?? 1);
      const ms = Number(q.get('ms') ?? 0);
      res.head(200, { ...CORS, 'content-type': 'text/plain' });
      for (let i = 0; i < chunks && !res.closed; i++) {
        if (i > 0) await sleep(ms, req.signal);
        await res.write(`chunk ${i}\n`);
      }
      return res.end();
    }
    if (path === '/conf/sse') {
      const n = Number(q.get('n') ?? 0);
      const after = Number(req.headers.get('last-event-id') ?? 0) || 0;
      res.head(200, { ...CORS, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      await res.write('retry: 50\n\n');
      for (let i = after + 1; i <= n && !res.closed; i++) {
        await res.write(`id: ${i}\n${i % 2 === 0 ? 'event: tick\n' : ''}data: event ${i}\n\n`);
      }
      return res.end();
    }
    if (path === '/conf/hang') {
      await new Promise((resolve) => req.signal.addEventListener('abort', resolve, { once: true }));
      state.cancelled++;
      return;
    }
    if (path === '/conf/cancelled') return void await send(200, { 'content-type': 'text/plain' }, String(state.cancelled));
    if (path === '/conf/multipart' && req.method === 'POST') {
      const body = await req.body();
      return void await send(200, { 'content-type': 'application/json' }, JSON.stringify(parseMultipart(body, req.headers.get('content-type') ?? '')));
    }
    if (path === '/conf/multi-header') {
      res.head(200, [
        ['access-control-allow-origin', '*'],
        ['access-control-expose-headers', '*'],
        ['x-multi', 'a'],
        ['x-multi', 'b'],
        ['content-type', 'text/plain; charset=iso-8859-1'],
        ['content-length', '5'],
      ]);
      await res.write('multi');
      return res.end();
    }
    if (path === '/conf/raw') {
      const hex = q.get('hex') ?? '';
      if (!/^([0-9a-f]{2})*$/i.test(hex)) return void await send(400, { 'content-type': 'text/plain' }, 'hex: pairs of hex digits');
      const bytes = new Uint8Array(hex.length / 2);
      for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
      const ct = q.get('ct');
      return void await send(200, ct ? { 'content-type': ct } : {}, bytes);
    }
    if (path === '/conf/sort-headers') {
      res.head(200, [...Object.entries(CORS), ...SORT_HEADERS.map((n) => [n, '1']), ['content-type', 'text/plain'], ['content-length', '0']]);
      return res.end();
    }
    if (path === '/conf/combine') {
      res.head(200, [...Object.entries(CORS), ...COMBINE_HEADERS, ['content-type', 'text/plain'], ['content-length', '0']]);
      return res.end();
    }
    if (path === '/conf/basic-echo' && req.method === 'POST') {
      // 401 (Basic) until an Authorization comes; then the body back.
      const body = await req.body();
      if (req.headers.get('authorization') === undefined) return void await send(401, { 'www-authenticate': 'Basic realm="conf"', 'content-type': 'text/plain' }, 'who are you?');
      return void await send(200, { 'content-type': 'application/octet-stream' }, body);
    }
    if (path === '/conf/auth') {
      const auth = req.headers.get('authorization');
      if (auth === undefined) return void await send(401, { 'www-authenticate': 'Basic realm="conf"', 'content-type': 'text/plain' }, 'who are you?');
      return void await send(200, { 'content-type': 'text/plain' }, auth);
    }
    return void await send(404, { 'content-type': 'text/plain' }, `no route for ${req.method} ${path}`);
  };
  return { handler, state };
}

/** A small multipart/form-data parser: {fields: {name: value}, files: [{name, filename, type, size, sha256}]}. */
export function parseMultipart(body, contentType) {
  const m = /boundary=("?)([^";]+)\1/i.exec(contentType);
  if (!m) return { error: 'no boundary' };
  const delim = enc.encode(`--${m[2]}`);
  const dec = new TextDecoder();
  const fields = {};
  const files = [];
  let at = indexOf(body, delim, 0);
  while (at >= 0) {
    let start = at + delim.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break; // closing delimiter
    start += 2; // CRLF
    const next = indexOf(body, delim, start);
    if (next < 0) break;
    const part = body.subarray(start, next - 2); // minus CRLF before the delimiter
    const split = indexOf(part, enc.encode('\r\n\r\n'), 0);
    const head = dec.decode(part.subarray(0, split));
    const content = part.subarray(split + 4);
    const name = /name="([^"]*)"/.exec(head)?.[1] ?? '';
    const filename = /filename="([^"]*)"/.exec(head)?.[1];
    const type = /content-type:\s*([^\r\n]*)/i.exec(head)?.[1] ?? null;
    if (filename === undefined) fields[name] = dec.decode(content);
    else files.push({ name, filename, type, size: content.length, sha256: sha256Hex(content) });
    at = next;
  }
  return { fields, files };
}

function indexOf(hay, needle, from) {
  outer: for (let i = from; i <= hay.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
