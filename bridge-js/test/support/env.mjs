// A page for the shim tests: a fake global object with the platform pieces Node lacks
// (document, location, the browser's own fetch/XMLHttpRequest/EventSource as recording test
// doubles), a scripted bus speaking real frames, and the shim installed on it.
import { install } from '../../dist/bus-bridge.mjs';
import { BusPeer } from './bus-peer.mjs';
import { confRoutes } from './conf-routes.mjs';

export const settle = () => new Promise((resolve) => setImmediate(resolve));
export const text = (s) => new TextEncoder().encode(s);
export const decodeText = (b) => new TextDecoder().decode(b);

/** The browser's own XMLHttpRequest, as a double: records calls, answers when told to. */
export class FakeXHR extends EventTarget {
  static instances = [];
  constructor() {
    super();
    this.calls = [];
    this.readyState = 0;
    this.status = 0;
    this.statusText = '';
    this.responseText = '';
    this.response = '';
    this.responseURL = '';
    this.responseXML = null;
    this.responseType = '';
    this.timeout = 0;
    this.withCredentials = false;
    this.upload = new EventTarget();
    this.headers = [];
    FakeXHR.instances.push(this);
  }
  open(...args) {
    this.calls.push(['open', ...args]);
    this.readyState = 1;
    this.dispatchEvent(new Event('readystatechange'));
  }
  setRequestHeader(n, v) {
    this.calls.push(['setRequestHeader', n, v]);
    this.headers.push([n, v]);
  }
  send(body) {
    this.calls.push(['send', body]);
    this.sentBody = body;
    this.dispatchEvent(new Event('loadstart'));
  }
  abort() {
    this.calls.push(['abort']);
  }
  getResponseHeader(n) {
    return n.toLowerCase() === 'x-fake' ? 'yes' : null;
  }
  getAllResponseHeaders() {
    return 'x-fake: yes\r\n';
  }
  overrideMimeType(m) {
    this.calls.push(['overrideMimeType', m]);
  }
  /** Plays a successful load. */
  finish(text) {
    this.readyState = 4;
    this.status = 200;
    this.statusText = 'OK';
    this.responseText = text;
    this.response = text;
    this.dispatchEvent(new Event('readystatechange'));
    this.dispatchEvent(new ProgressEventish('load', text.length));
    this.dispatchEvent(new ProgressEventish('loadend', text.length));
  }
}

class ProgressEventish extends Event {
  constructor(type, n) {
    super(type);
    this.loaded = n;
    this.total = n;
    this.lengthComputable = true;
  }
}

/** The browser's own EventSource, as a double. */
export class FakeEventSource extends EventTarget {
  constructor(url, init) {
    super();
    this.url = String(url);
    this.init = init;
  }
}

/**
 * A page at `base` with the shim installed over a scripted bus. `handler` defaults to the
 * /conf routes. `calls.fetch` records what reached the browser's own fetch.
 */
export function page({ handler, base = 'app://localhost/index.html', options = {}, peerOptions, globals = {} } = {}) {
  const conf = confRoutes();
  const peer = new BusPeer(handler ?? conf.handler, peerOptions);
  const calls = { fetch: [] };
  const nativeFetch = async (...args) => {
    calls.fetch.push(args);
    return new Response('from the browser', { status: 200 });
  };
  const g = {
    document: { baseURI: base },
    location: { href: base },
    fetch: nativeFetch,
    XMLHttpRequest: FakeXHR,
    EventSource: FakeEventSource,
    ...globals,
  };
  const inst = install({ origins: ['app://localhost'], transport: peer.transport, global: g, eventSourceRetry: 30, ...options });
  return { g, peer, inst, calls, nativeFetch, conf };
}

/** The RequestHead frames the page sent. */
export const heads = (peer) => peer.frames('RequestHead');

export const headerMap = (head) => Object.fromEntries(head.headers.map(([n, v]) => [n, decodeText(v)]));

export async function readAll(body) {
  const reader = body.getReader();
  const chunks = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** A gate a handler waits on until the test opens it. */
export function gate() {
  let open;
  const p = new Promise((r) => (open = r));
  return { wait: () => p, open: () => open() };
}

/**
 * Runs `body` while the page's `setTimeout`, `clearTimeout`, `Date.now` and
 * `performance.now` are a fake clock nobody ticks (what zone.js or a test's fake timers put
 * there, at its most extreme); restores them after. Returns the delays the fake was asked for.
 */
export async function withFrozenPageClock(body) {
  const saved = [globalThis.setTimeout, globalThis.clearTimeout, Date.now, performance.now];
  const asked = [];
  globalThis.setTimeout = (_f, ms) => {
    asked.push(ms);
    return 0;
  };
  globalThis.clearTimeout = () => {};
  Date.now = () => 0;
  performance.now = () => 0;
  try {
    await body();
  } finally {
    [globalThis.setTimeout, globalThis.clearTimeout, Date.now, performance.now] = saved;
  }
  return asked;
}
