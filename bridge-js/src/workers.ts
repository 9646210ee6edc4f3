// Dedicated workers of the app reach the bus the way their document does.
//
// The page's shim wraps `Worker`: a worker whose script is of the page's own origin (or a
// `blob:` URL the page's origin made) starts from a `blob:` wrapper that first evaluates this
// very bundle (its source text, taken from the function the IIFE build wraps it in: nothing
// is fetched from anywhere) and runs `installInWorker()`, then the original script
// (`importScripts` for a classic worker, a static `import` after the shim's for a module
// worker). The page hands the worker one end of a `MessageChannel`; the worker's BusClient
// speaks frames over it (ArrayBuffers, transferred), and the page's client relays them into
// its own session (`BusClient.attachPeer`): the bus sees the worker's requests as the
// document's, with the document's caller identity and nothing more. Every other worker
// (a foreign or `data:` script, a `SharedWorker`) is the engine's, untouched.

import { BusClient, type PeerLink, type Transport } from './client.js';
import { originOf } from './http.js';
import { queuedTransport } from './transports.js';
import { install, type Installation } from './shim.js';

/** What the page tells the worker's shim (embedded in the wrapper as JSON). */
export interface WorkerConfig {
  /** The bus origins, as the page's installation has them. */
  origins: string[];
  /** The original script's URL: relative URLs in the worker resolve against it. */
  url: string;
  /** Marks the page's message that carries the port. */
  nonce: string;
  window?: number | undefined;
  maxStreams?: number | undefined;
  eventSourceRetry?: number | undefined;
}

/** The first message the page posts to a wrapped worker: `{ [PORT_KEY]: nonce }` and one port. */
const PORT_KEY = 'inprocBusPort';
/** Control messages on the port (frames are ArrayBuffers): the shim is running; the worker closes itself. */
const READY = 'inproc-bus:ready';
const CLOSING = 'inproc-bus:closing';

// The IIFE build (package.json `bundle:iife`) wraps the whole bundle in
// `function __inprocBusBundle() { ... }`; its source text is what a worker evaluates. The
// ESM build has no such function: there, workers are left alone.
declare const __inprocBusBundle: unknown;
const fnToString = Function.prototype.toString;
const { apply, construct } = Reflect;

/** The bundle's own source (a function expression), or null outside the IIFE build. */
export function bundleSource(): string | null {
  try {
    return typeof __inprocBusBundle === 'function' ? (apply(fnToString, __inprocBusBundle, []) as string) : null;
  } catch {
    return null;
  }
}

export interface WorkerContext {
  client: BusClient;
  origins: readonly string[];
  /** Base URL for the worker script argument: the document's (or, in a worker, the original script's). */
  baseURL(): string;
  window?: number | undefined;
  maxStreams?: number | undefined;
  eventSourceRetry?: number | undefined;
}

type WorkerCtor = new (url: string | URL, options?: WorkerOptions) => Worker;

/**
 * Replaces `global.Worker` with a wrapper that brings the shim into workers of the page's
 * origin; returns the undo. Does nothing (returns a no-op) when there is no `Worker`, no
 * bundle source, or the global's own origin is not a bus origin.
 */
export function wrapWorkers(global: object, ctx: WorkerContext): () => void {
  const g = global as Record<string, unknown>;
  const Original = g.Worker as WorkerCtor | undefined;
  const source = bundleSource();
  const own = ownOrigin(g);
  if (typeof Original !== 'function' || source === null || own === null || !ctx.origins.includes(own)) return () => {};
  // The platform objects a wrapper needs, taken now (before page scripts can replace them).
  const Channel = g.MessageChannel as typeof MessageChannel | undefined;
  const BlobCtor = g.Blob as typeof Blob | undefined;
  const URLCtor = g.URL as typeof URL;
  const createObjectURL = URLCtor.createObjectURL;
  const revokeObjectURL = URLCtor.revokeObjectURL;
  const proto = Original.prototype as Worker;
  const postMessage = proto.postMessage;
  const nativeTerminate = proto.terminate;
  const getRandomValues = (g.crypto as Crypto | undefined)?.getRandomValues;
  const cryptoObj = g.crypto as Crypto | undefined;
  if (typeof Channel !== 'function' || typeof BlobCtor !== 'function' || typeof createObjectURL !== 'function' || !getRandomValues) {
    return () => {};
  }
  const links = new WeakMap<object, PeerLink>();

  const Worker = function Worker(this: unknown, ...args: unknown[]): Worker {
    if (new.target === undefined) throw new TypeError("Failed to construct 'Worker': Please use the 'new' operator.");
    const script = args[0];
    const options = args[1] as WorkerOptions | undefined;
    let url: URL | null = null;
    try {
      url = new URLCtor(String(script), ctx.baseURL());
    } catch {
      /* the engine reports the bad URL its own way */
    }
    if (url === null || scriptOrigin(url) !== own) return construct(Original, args, new.target) as Worker;
    const module = options != null && (options as { type?: unknown }).type === 'module';

    const nonce = hex(apply(getRandomValues, cryptoObj, [new Uint8Array(16)]) as Uint8Array);
    const config: WorkerConfig = {
      origins: [...ctx.origins],
      url: url.href,
      nonce,
      window: ctx.window,
      maxStreams: ctx.maxStreams,
      eventSourceRetry: ctx.eventSourceRetry,
    };
    const shim = `var InprocBusBridge = (${source})();\nInprocBusBridge.installInWorker(${JSON.stringify(config)});\n`;
    const blobs: string[] = [];
    const blobURL = (text: string): string => {
      const u = createObjectURL(new BlobCtor([text], { type: 'text/javascript' }));
      blobs.push(u);
      return u;
    };
    let entry: string;
    if (module) {
      // Static imports run in order: the shim's module first, then the original, which
      // keeps its own URL as the base of its imports and `import.meta.url`.
      entry = blobURL(`import ${JSON.stringify(blobURL(shim))};\nimport ${JSON.stringify(url.href)};\n`);
    } else {
      entry = blobURL(`${shim}InprocBusBridge.runWorkerScript(${JSON.stringify(url.href)});\n`);
    }
    const rest: unknown[] = [entry];
    for (let i = 1; i < args.length; i++) rest.push(args[i]);
    const worker = construct(Original, rest, new.target) as Worker;

    const channel = new Channel();
    const port = channel.port1;
    let link: PeerLink | null = null;
    const revoke = (): void => {
      for (let i = 0; i < blobs.length; i++) revokeObjectURL(blobs[i]!);
      blobs.length = 0;
    };
    const transport = portTransport(port, (control) => {
      if (control === READY) revoke();
      else if (control === CLOSING) {
        revoke();
        link?.close();
      }
    });
    link = ctx.client.attachPeer(transport);
    links.set(worker, link);
    apply(postMessage, worker, [{ [PORT_KEY]: nonce }, [channel.port2]]);
    return worker;
  } as unknown as WorkerCtor;
  Object.defineProperty(Worker, 'length', { value: 1 });
  Object.defineProperty(Worker, 'name', { value: 'Worker' });
  Object.defineProperty(Worker, 'prototype', { value: proto });

  // terminate() ends the worker's streams on the bus at once (nothing would read them).
  const ourTerminate = function terminate(this: Worker): void {
    const link = links.get(this);
    if (link) {
      links.delete(this);
      link.close();
    }
    return apply(nativeTerminate, this, []) as void;
  };
  proto.terminate = ourTerminate;
  // `worker.constructor === Worker` holds, and `new worker.constructor(...)` is wrapped too.
  const nativeConstructor = proto.constructor;
  proto.constructor = Worker as unknown as typeof proto.constructor;
  g.Worker = Worker;
  return () => {
    if (g.Worker === Worker) g.Worker = Original;
    if (proto.terminate === ourTerminate) proto.terminate = nativeTerminate;
    if (proto.constructor === (Worker as unknown)) proto.constructor = nativeConstructor;
  };
}

/**
 * The worker's side, called by the wrapper before the original script: installs the shim
 * over a transport that waits for the page's port (requests made meanwhile queue), takes
 * the port out of the first message, and makes relative URLs (`fetch`, `importScripts`,
 * `self.location`) resolve against the original script's URL instead of the wrapper's.
 */
export function installInWorker(config: WorkerConfig): Installation | null {
  const g = globalThis as unknown as WorkerScope;
  if (typeof g.importScripts !== 'function' && typeof g.WorkerGlobalScope !== 'function') {
    throw new TypeError('installInWorker: not in a worker');
  }
  const queued = queuedTransport();
  let port: MessagePort | null = null;
  const addListener = g.addEventListener;
  const removeListener = g.removeEventListener;
  const onPort = (event: MessageEvent): void => {
    const data = event.data as Record<string, unknown> | null;
    if (port !== null || data === null || typeof data !== 'object' || data[PORT_KEY] !== config.nonce) return;
    const ports = event.ports;
    if (!ports || ports.length !== 1) return;
    event.stopImmediatePropagation();
    apply(removeListener, g, ['message', onPort]);
    port = ports[0]!;
    queued.connect(portTransport(port, () => {}));
    port.postMessage(READY);
  };
  // Before the original script runs: our listener is the first, and the page's message
  // is delivered only after the script has run.
  apply(addListener, g, ['message', onPort]);

  const installation = install({
    origins: config.origins,
    transport: queued,
    pageOrigins: false,
    cookies: false,
    forms: false,
    baseURL: config.url,
    window: config.window,
    maxStreams: config.maxStreams,
    eventSourceRetry: config.eventSourceRetry,
  });

  // importScripts('x.js') resolves against the wrapper (a blob: URL, which resolves nothing).
  const nativeImportScripts = g.importScripts;
  workerNatives = { importScripts: nativeImportScripts, XHR: installation?.originals.XMLHttpRequest };
  if (typeof nativeImportScripts === 'function') {
    const URLCtor = URL;
    g.importScripts = function importScripts(...urls: (string | URL)[]): void {
      const absolute: string[] = [];
      for (let i = 0; i < urls.length; i++) {
        let u: string;
        try {
          u = new URLCtor(String(urls[i]), config.url).href;
        } catch {
          u = String(urls[i]); // the engine reports it
        }
        absolute.push(u);
      }
      return apply(nativeImportScripts, g, absolute) as void;
    };
  }

  // self.location: the original script's (code uses it as a base: webpack's public path,
  // Emscripten's script directory). A plain object: `instanceof WorkerLocation` is false.
  const shown = workerLocation(config.url);
  if (shown) Object.defineProperty(g, 'location', { get: () => shown, configurable: true, enumerable: true });

  // close() from inside: the page ends the worker's streams (as terminate() does).
  const nativeClose = g.close;
  if (typeof nativeClose === 'function') {
    g.close = function close(): void {
      (port as MessagePort | null)?.postMessage(CLOSING);
      return apply(nativeClose, g, []) as void;
    };
  }
  return installation;
}

/** The worker's own importScripts and XMLHttpRequest, kept by installInWorker. */
let workerNatives: { importScripts: ((...urls: string[]) => void) | undefined; XHR: typeof XMLHttpRequest | undefined } | null = null;

/**
 * Runs a classic worker's original script (the wrapper's last line). A `blob:` script is
 * read (synchronous XHR, allowed in workers) and run from a copy typed `text/javascript`:
 * WebKit's `importScripts` refuses a blob without a JavaScript type, which the engine
 * accepts as a worker's own script.
 */
export function runWorkerScript(url: string): void {
  const g = globalThis as unknown as WorkerScope;
  const natives = workerNatives;
  const importScripts = natives?.importScripts ?? g.importScripts;
  if (typeof importScripts !== 'function') throw new TypeError('runWorkerScript: not in a classic worker');
  const XHR = natives?.XHR;
  if (url.startsWith('blob:') && typeof XHR === 'function') {
    let text: string | null = null;
    try {
      const x = new XHR();
      x.open('GET', url, false);
      x.send();
      if (x.status === 200 || x.status === 0) text = x.responseText;
    } catch {
      /* unreadable: importScripts below reports it the engine's way */
    }
    if (text !== null) {
      const typed = URL.createObjectURL(new Blob([text], { type: 'text/javascript' }));
      try {
        apply(importScripts, g, [typed]);
      } finally {
        URL.revokeObjectURL(typed);
      }
      return;
    }
  }
  apply(importScripts, g, [url]);
}

/** What the worker's shim touches of its global (the DOM typings describe windows). */
type WorkerScope = Record<string, unknown> & {
  importScripts?: ((...urls: (string | URL)[]) => void) | undefined;
  close?: (() => void) | undefined;
  WorkerGlobalScope?: unknown;
  addEventListener: typeof globalThis.addEventListener;
  removeEventListener: typeof globalThis.removeEventListener;
};

/** Frames over a port as transferred ArrayBuffers; strings are control messages. */
function portTransport(port: MessagePort, oncontrol: (message: string) => void): Transport {
  const transport: Transport = {
    onmessage: null,
    send(bytes) {
      // Transfer, not copy, when the view is its whole buffer (the client's frames are).
      const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
      const buffer = whole ? (bytes.buffer as ArrayBuffer) : (bytes.slice().buffer as ArrayBuffer);
      port.postMessage(buffer, [buffer]);
    },
  };
  port.onmessage = (event: MessageEvent<unknown>): void => {
    const data = event.data;
    if (data instanceof ArrayBuffer) transport.onmessage?.(new Uint8Array(data));
    else if (typeof data === 'string') oncontrol(data);
  };
  return transport;
}

/** The origin of the global (a document's or a worker's), or null when unknown or opaque. */
function ownOrigin(g: Record<string, unknown>): string | null {
  const origin = g.origin;
  if (typeof origin === 'string' && origin !== 'null') {
    try {
      return originOf(new URL(origin));
    } catch {
      return null;
    }
  }
  return null;
}

/** The origin a worker script of `url` runs in: a `blob:` URL's is its creator's. */
function scriptOrigin(url: URL): string | null {
  try {
    if (url.protocol === 'blob:') return originOf(new URL(url.href.slice('blob:'.length)));
    if (url.protocol === 'data:') return null; // an opaque origin
    return originOf(url);
  } catch {
    return null;
  }
}

function workerLocation(href: string): object | null {
  let u: URL;
  try {
    u = new URL(href);
  } catch {
    return null;
  }
  const origin = u.protocol === 'blob:' ? (scriptOrigin(u) ?? 'null') : originOf(u);
  const loc = {
    href: u.href,
    origin,
    protocol: u.protocol,
    host: u.host,
    hostname: u.hostname,
    port: u.port,
    pathname: u.pathname,
    search: u.search,
    hash: u.hash,
    toString: () => u.href,
  };
  return Object.freeze(loc);
}

function hex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += bytes[i]!.toString(16).padStart(2, '0');
  return out;
}
