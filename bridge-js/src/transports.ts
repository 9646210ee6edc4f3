// Transports over string-only bridges: each frame travels as one base64 string, in order.
// Each adapter produces the client's `Transport`; which one a host uses is in README.md.

import { fromBase64, toBase64 } from './base64.js';
import type { CarryBack, Transport } from './client.js';
import { enqueueMicrotask } from './intrinsics.js';
import { copyView } from './http.js';

const { apply } = Reflect;

/** A transport that can be detached from its bridge (removes listeners; sends nothing). */
export interface BridgeTransport extends Transport {
  close(): void;
}

export interface CommonTransportOptions {
  /**
   * Told about inbound messages that are not base64 strings. They cannot be attributed to
   * a stream, so nothing fails. Default: rethrown asynchronously (the console shows it).
   */
  onerror?: ((error: unknown) => void) | undefined;
}

export interface DomEventTransportOptions extends CommonTransportOptions {
  /** Event dispatched on `target` for each outbound frame; default `inproc-bus-out`. */
  outEvent?: string | undefined;
  /**
   * Event whose `detail` is inbound frames: a base64 string (frames separated by spaces) or
   * one frame as a `Uint8Array`; default `inproc-bus-in`.
   */
  inEvent?: string | undefined;
  /**
   * Event the relay dispatches when it opened a new session for this document (a page
   * restored from the back/forward cache): open streams fail, new ones go to the new
   * session. Default `inproc-bus-reset`.
   */
  resetEvent?: string | undefined;
  /** Default: `document`. */
  target?: EventTarget | undefined;
  /**
   * `MessageEvent` whose `ports[0]` is the relay's upload carrier (bridge-desktop); default
   * `inproc-bus-port`. Until one comes, bodies go as frames.
   */
  portEvent?: string | undefined;
  /** Event that asks the relay for `portEvent` (it may have run first); default `inproc-bus-hello`. */
  helloEvent?: string | undefined;
}

// Captured when the shim installs, before page scripts run.
const isView = ArrayBuffer.isView;
const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype) as object, Symbol.toStringTag)!.get!;
const stringSplit = String.prototype.split;
const portPost = typeof MessagePort === 'function' ? MessagePort.prototype.postMessage : undefined;
const portsOf = typeof MessageEvent === 'function' ? Object.getOwnPropertyDescriptor(MessageEvent.prototype, 'ports')?.get : undefined;

/**
 * Frames as `CustomEvent`s on the document. On WebKitGTK a relay script in an isolated world
 * listens for `outEvent` and posts `detail` to a script message handler registered in that
 * world, and dispatches `inEvent` for frames from the host. Only scripts of this document
 * can dispatch events on it, which is what keeps foreign frames out. `detail` is a string
 * because only primitives cross JS worlds unchanged.
 */
export function domEventTransport(options: DomEventTransportOptions = {}): BridgeTransport {
  const outEvent = options.outEvent ?? 'inproc-bus-out';
  const inEvent = options.inEvent ?? 'inproc-bus-in';
  const resetEvent = options.resetEvent ?? 'inproc-bus-reset';
  const target = options.target ?? (globalThis as { document?: EventTarget }).document;
  if (!target) throw new TypeError('domEventTransport: no target (and no document)');
  const report = reporter(options.onerror);
  const transport: BridgeTransport = {
    onmessage: null,
    onreset: null,
    send(bytes) {
      target.dispatchEvent(new CustomEvent(outEvent, { detail: toBase64(bytes) }));
    },
    close() {
      target.removeEventListener(inEvent, listener);
      target.removeEventListener(resetEvent, onReset);
    },
  };
  const listener = (event: Event): void => {
    const detail = (event as CustomEvent<unknown>).detail;
    // A relay may send several frames as one event, separated by spaces (base64 has none):
    // the desktop relay sends each reply of the host so, one event instead of one a frame.
    if (typeof detail === 'string') {
      const frames = apply(stringSplit, detail, [' ']) as string[];
      for (let i = 0; i < frames.length; i++) deliver(transport, frames[i], report);
    } else if (isView(detail) && apply(typedArrayTag, detail, []) === 'Uint8Array') {
      // One frame as bytes: the desktop relay's, when its frames come by the web process
      // extension's socket (the engine gives this world a copy of the relay's array).
      transport.onmessage?.(detail as Uint8Array);
    } else {
      deliver(transport, detail, report);
    }
  };
  const onReset = (): void => {
    transport.onreset?.(new TypeError('the bus session was reset (the page was restored from the back/forward cache): open requests were dropped'));
  };
  target.addEventListener(inEvent, listener);
  target.addEventListener(resetEvent, onReset);
  // The upload carrier: a body's bytes go to the relay through its port, transferred (the
  // copy is ours), and the relay POSTs them to the app scheme for the stream.
  const portEvent = options.portEvent ?? 'inproc-bus-port';
  const helloEvent = options.helloEvent ?? 'inproc-bus-hello';
  let carrier: MessagePort | null = null;
  // Bodies the relay keeps until asked (see `CarryBack`): the askers, by the relay's id.
  const asked = new Map<number, (bytes: Uint8Array | null) => void>();
  const keptBody = (port: MessagePort, id: number): CarryBack => {
    let done = false;
    return {
      again() {
        if (done) return Promise.resolve(null);
        done = true;
        return new Promise<Uint8Array | null>((resolve) => {
          asked.set(id, resolve);
          apply(portPost!, port, [{ again: id }]);
        });
      },
      release() {
        if (done) return;
        done = true;
        apply(portPost!, port, [{ release: id }]);
      },
    };
  };
  const onPort = (event: Event): void => {
    if (carrier !== null || portPost === undefined || portsOf === undefined) return;
    const ports = apply(portsOf, event, []) as readonly MessagePort[] | undefined;
    if (!ports || ports.length !== 1) return;
    const port = ports[0]!;
    carrier = port;
    port.onmessage = (e: MessageEvent<unknown>) => {
      const d = e.data as { stream?: unknown; error?: unknown; returned?: unknown; kept?: unknown; again?: unknown } | null;
      if (d === null || typeof d !== 'object') return;
      const bytes = (): Uint8Array | null => (d.returned instanceof ArrayBuffer ? new Uint8Array(d.returned) : null);
      // A kept body's bytes, asked for again (below).
      if (typeof d.again === 'number') {
        const wake = asked.get(d.again);
        asked.delete(d.again);
        wake?.(bytes());
        return;
      }
      if (typeof d.stream !== 'number') return;
      if (typeof d.error === 'string') transport.oncarryerror?.(d.stream, d.error);
      else if (typeof d.kept === 'number') transport.oncarryreturn?.(d.stream, keptBody(port, d.kept));
      else if ('returned' in d) transport.oncarryreturn?.(d.stream, bytes());
    };
  };
  target.addEventListener(portEvent, onPort);
  transport.sendBody = (stream, body, lend) => {
    if (carrier === null) return false;
    // A lent body covering its whole buffer goes as it is (transferred: detached here, and
    // given back by the relay once its request is done); anything else as a copy.
    const whole = lend === true && body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
    const sent = whole ? body : copyView(body);
    apply(portPost!, carrier, [{ stream, body: sent.buffer }, [sent.buffer]]);
    return true;
  };
  const close = transport.close;
  transport.close = () => {
    close();
    target.removeEventListener(portEvent, onPort);
    carrier?.close();
    carrier = null;
    asked.forEach((wake) => wake(null));
    asked.clear();
  };
  target.dispatchEvent(new CustomEvent(helloEvent));
  return transport;
}

export interface BindingTransportOptions extends CommonTransportOptions {
  /** The string-only native function: Chromium `Runtime.addBinding`, Android `addJavascriptInterface`. */
  send: (frame: string) => void;
  /** Global the host calls with base64 frames (`window[deliverGlobal](b64, ...)`); default `__inprocBusDeliver`. */
  deliverGlobal?: string | undefined;
  /** Object that gets the global; default `globalThis`. */
  target?: object | undefined;
}

/** Marks our deliver functions, so a re-injected script finds the transport already there. */
const BINDING = Symbol.for('inproc-bus.binding-transport');

/**
 * Frames through a string-only native function (outbound) and a global the host calls with
 * `Runtime.evaluate` / `evaluateJavascript` (inbound). The host may pass several frames in
 * one call, one per argument, to save evaluations. The global is non-enumerable,
 * non-writable and non-configurable. Calling this again on the same global (the script was
 * injected twice) returns the transport already installed there, since the global cannot
 * be redefined, and `install()` returns its existing installation too.
 */
export function bindingTransport(options: BindingTransportOptions): BridgeTransport {
  const name = options.deliverGlobal ?? '__inprocBusDeliver';
  const target = (options.target ?? globalThis) as Record<string | symbol, unknown>;
  if (typeof options.send !== 'function') throw new TypeError('bindingTransport: send must be a function');
  const existing = Object.getOwnPropertyDescriptor(target, name)?.value as Record<symbol, unknown> | undefined;
  if (existing !== undefined) {
    const t = typeof existing === 'function' ? existing[BINDING] : undefined;
    if (t) return t as BridgeTransport;
    throw new TypeError(`bindingTransport: ${name} is already defined`);
  }
  const send = options.send;
  const report = reporter(options.onerror);
  let open = true;
  const transport: BridgeTransport = {
    onmessage: null,
    onreset: null,
    send(bytes) {
      send(toBase64(bytes));
    },
    close() {
      open = false;
      stopResets();
    },
  };
  const stopResets = resetWhenRestored(transport);
  const deliverFn = function (...frames: unknown[]): void {
    if (!open) return;
    // By index: the page may have replaced Array.prototype[Symbol.iterator].
    for (let i = 0; i < frames.length; i++) deliver(transport, frames[i], report);
  };
  Object.defineProperty(deliverFn, BINDING, { value: transport });
  Object.defineProperty(target, name, { value: deliverFn, enumerable: false, writable: false, configurable: false });
  return transport;
}

export interface MessagePortTransportOptions extends CommonTransportOptions {
  /** Send ArrayBuffers (transferred) instead of base64 strings; for ports that carry binary. */
  binary?: boolean | undefined;
}

/**
 * What `messagePortTransport` needs of a port: a `MessagePort`, or the object androidx.webkit's
 * `addWebMessageListener` injects (it has `postMessage` and `addEventListener`, no `start`).
 */
export interface PortLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<unknown>) => void): void;
  removeEventListener(type: 'message', listener: (event: MessageEvent<unknown>) => void): void;
  start?(): void;
}

/**
 * Frames over a `MessagePort` (Android `WebMessageChannel`, WebView2) or a port-like object
 * (androidx.webkit `addWebMessageListener`). Sends base64 strings; accepts strings,
 * ArrayBuffers and typed arrays inbound.
 */
export function messagePortTransport(port: PortLike, options: MessagePortTransportOptions = {}): BridgeTransport {
  const report = reporter(options.onerror);
  const binary = options.binary === true;
  const transport: BridgeTransport = {
    onmessage: null,
    onreset: null,
    send(bytes) {
      if (binary) {
        const copy = bytes.slice();
        port.postMessage(copy.buffer, [copy.buffer]);
      } else {
        port.postMessage(toBase64(bytes));
      }
    },
    close() {
      port.removeEventListener('message', listener);
      stopResets();
    },
  };
  const stopResets = resetWhenRestored(transport);
  const listener = (event: MessageEvent<unknown>): void => {
    const data = event.data;
    if (data instanceof ArrayBuffer) return transport.onmessage?.(new Uint8Array(data));
    if (ArrayBuffer.isView(data)) {
      // A fresh copy: the client keeps views into what it is given.
      return transport.onmessage?.(new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice());
    }
    deliver(transport, data, report);
  };
  port.addEventListener('message', listener);
  port.start?.(); // a MessagePort delivers nothing to addEventListener until started
  return transport;
}

/** A transport that queues frames until the real one is connected. */
export interface QueuedTransport extends BridgeTransport {
  /** Sends the queued frames through `transport` (in order) and relays its messages from now on. */
  connect(transport: Transport): void;
}

/**
 * For bridges that arrive after the page's first script runs (a `WebMessagePort` posted by
 * the host once the page loads): install() at once over this, `connect()` when the port
 * comes. Requests made meanwhile wait instead of escaping to the network.
 */
export function queuedTransport(): QueuedTransport {
  let target: Transport | null = null;
  let queue: Uint8Array[] | null = [];
  let closed = false;
  const transport: QueuedTransport = {
    onmessage: null,
    onreset: null,
    send(bytes) {
      if (closed) throw new TypeError('the bus transport is closed');
      if (target) target.send(bytes);
      else queue!.push(bytes.slice()); // the caller may reuse its buffer meanwhile
    },
    connect(real) {
      if (target) throw new TypeError('queuedTransport: already connected');
      target = real;
      real.onmessage = (bytes) => transport.onmessage?.(bytes);
      real.onreset = (reason) => transport.onreset?.(reason);
      const pending = queue!;
      queue = null;
      for (let i = 0; i < pending.length; i++) real.send(pending[i]!);
    },
    close() {
      closed = true;
      queue = [];
      stopResets();
      (target as BridgeTransport | null)?.close?.();
    },
  };
  const stopResets = resetWhenRestored(transport);
  return transport;
}

// ---------------------------------------------------------------------------------------

/** `pageshow` events a transport has reset its client for already (one reset per showing). */
const restoresHandled = new WeakSet<Event>();

/**
 * Resets the transport's client when the page is shown again from the back/forward cache
 * (`pageshow` with `persisted`). Every host ends a document's session when the next
 * document takes over (WebKitGTK's relay, the Android `WebViewClient`, the emulator), and
 * no script of the host runs again in a restored page: without this, what the page left
 * open (a fetch, a WebSocket that still says OPEN) would wait forever for a session that
 * is gone. The listener is added when the transport is made (at document start, before
 * any page script), so the reset comes before the page's own `pageshow` listeners, whose
 * new requests must not be failed with the old ones. Transports wrapped in one another
 * (`queuedTransport` around a port) reset once per event. `domEventTransport` does not
 * use this: its relay opens the new session and says so (`inproc-bus-reset`). Returns
 * what removes the listener.
 */
function resetWhenRestored(transport: Transport): () => void {
  const target = globalThis as { addEventListener?: typeof addEventListener; removeEventListener?: typeof removeEventListener };
  if (typeof target.addEventListener !== 'function' || typeof target.removeEventListener !== 'function') return () => {};
  const listener = (event: Event): void => {
    // A page script can dispatch a `pageshow` of its own: only the engine's counts.
    if (!event.isTrusted || !(event as PageTransitionEvent).persisted || restoresHandled.has(event)) return;
    if (!transport.onreset) return; // a transport nobody installed (or one wrapped by another)
    restoresHandled.add(event);
    transport.onreset(new TypeError('the bus session was reset (the page was restored from the back/forward cache): open requests were dropped'));
  };
  target.addEventListener('pageshow', listener);
  const remove = target.removeEventListener;
  return () => apply(remove, target, ['pageshow', listener]);
}

function deliver(transport: Transport, message: unknown, report: (e: unknown) => void): void {
  const sink = transport.onmessage;
  if (!sink) return; // no client (e.g. a second transport nobody installed): skip the decode
  if (typeof message !== 'string') {
    report(new TypeError(`bus transport: expected a base64 string, got ${typeof message}`));
    return;
  }
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(message);
  } catch (e) {
    report(e);
    return;
  }
  sink(bytes);
}

function reporter(onerror: ((e: unknown) => void) | undefined): (e: unknown) => void {
  return (
    onerror ??
    ((e) =>
      enqueueMicrotask(() => {
        throw e;
      }))
  );
}
