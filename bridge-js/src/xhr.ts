// The XMLHttpRequest replacement. The URL is only known at open(): an instance opened on a
// bus URL runs the XHR standard's algorithms over the bus (frames); opened on any other URL
// (or on a bus URL routed 'native') it delegates everything to a real XMLHttpRequest of the
// browser and re-dispatches that object's events on itself, so listeners, `on*` handlers,
// `event.target` and `instanceof` behave the same either way.

import { extractBody, multipartBlob, type ExtractedBody } from './body.js';
import { defineEventHandlers, fireEvent, fireProgress, hasEventHandler } from './events.js';
import {
  extractLength,
  extractMimeType,
  getHeader,
  isBlob,
  isBufferSource,
  isForbiddenMethod,
  isForbiddenRequestHeader,
  isFormData,
  isHeaderValue,
  isHtmlMime,
  isReadableStream,
  isToken,
  isUrlSearchParams,
  isXmlMime,
  lower,
  normalizeHeaderValue,
  normalizeMethod,
  now,
  parseMimeType,
  serializeMimeType,
  statusText,
  withoutFragment,
  type HeaderPair,
  type MimeType,
} from './http.js';
import { toBase64 } from './base64.js';
import { bare, cancelReader, cancelStream, enqueueMicrotask, getReader, idlLength, idlShape, read, startTimer, stopTimer, then, type Timer } from './intrinsics.js';
import { busRequest, letGoBody, type BusResponse, type ShimContext } from './request.js';
import type { RouteFor } from './shim.js';

const UNSENT = 0;
const OPENED = 1;
const HEADERS_RECEIVED = 2;
const LOADING = 3;
const DONE = 4;

const XHR_EVENTS = ['readystatechange', 'loadstart', 'progress', 'abort', 'error', 'load', 'timeout', 'loadend'] as const;
const UPLOAD_EVENTS = ['loadstart', 'progress', 'abort', 'error', 'load', 'timeout', 'loadend'] as const;
const RESPONSE_TYPES = new Set(['', 'arraybuffer', 'blob', 'document', 'json', 'text']);
/** XHR fires `progress` at most this often while bytes arrive (the spec's "roughly 50ms"). */
const PROGRESS_INTERVAL = 50;

/** One send(): its cancellation, timer and progress bookkeeping. */
interface Fetching {
  ac: AbortController;
  /** Unregisters from window.stop(). */
  unstop: () => void;
  timer: Timer | null;
  start: number;
  length: number; // response Content-Length, 0 when unknown
  progressAt: number | null;
  progressPending: boolean;
  uploadLength: number;
  uploadSent: number;
  uploadProgressAt: number | null;
  uploadProgressPending: boolean;
}

/** A native send() waiting for its Blob body to be read into an ArrayBuffer (native route). */
interface PendingNativeSend {
  cancelled: boolean;
}

interface XhrState {
  readonly target: EventTarget;
  readonly upload: EventTarget;
  /** 'none' until open(); 'bus' runs here; 'native' delegates to `native`. */
  mode: 'none' | 'bus' | 'native';
  native: XMLHttpRequest | null;
  /** The native delegate carries a bus URL (route 'native'): bodies are flattened. */
  nativeRoute: boolean;
  /** The method given to the delegate's open(), normalized (GET and HEAD send no body). */
  nativeMethod: string;
  nativeSync: boolean;
  nativeUploadForwarded: boolean;
  nativeHeaderNames: Set<string>;
  pending: PendingNativeSend | null;
  /** readyState to report while a cancelled pending native send stands in for the delegate. */
  stateOverride: number | null;

  readyState: number;
  responseType: XMLHttpRequestResponseType;
  timeout: number;
  withCredentials: boolean;
  sendFlag: boolean;
  sync: boolean;
  method: string;
  url: URL | null;
  headers: HeaderPair[];
  overrideMime: MimeType | null;
  /** What overrideMimeType() was given, for a browser XHR that takes over. */
  overrideRaw: string | null;
  uploadComplete: boolean;
  uploadListener: boolean;
  timedOut: boolean;
  /** The document stopped loading (window.stop()) while this request was in flight. */
  stopped: boolean;
  /** From open()'s arguments or the URL: used when the bus answers 401 with a Basic challenge. */
  credentials: { username: string; password: string } | null;
  /** Null is Fetch's "network error" (also before any response). */
  response: { status: number; headers: HeaderPair[]; url: URL } | null;
  chunks: Uint8Array[];
  received: number;
  bytesCache: Uint8Array | null;
  textCache: { received: number; text: string } | null;
  responseObject: { value: unknown } | null;
  active: Fetching | null;
}

const states = new WeakMap<object, XhrState>();

function st(x: unknown): XhrState {
  const s = states.get(x as object);
  if (!s) throw new TypeError('Illegal invocation');
  return s;
}

function domError(message: string, name: string): DOMException {
  return new DOMException(message, name);
}

// ---------------------------------------------------------------------------------------
// The upload object: an EventTarget that knows whether anyone listens (the spec's "upload
// listener flag" decides whether upload events fire, and, natively, whether a CORS
// preflight is forced, so we only forward a native upload's events when someone listens).

const uploadListeners = new WeakMap<object, Map<unknown, Set<string>>>();
const etAdd = EventTarget.prototype.addEventListener;
const etRemove = EventTarget.prototype.removeEventListener;

function captureOf(options: boolean | EventListenerOptions | undefined): boolean {
  return typeof options === 'boolean' ? options : Boolean(options?.capture);
}

function hasUploadListeners(upload: object): boolean {
  if (hasEventHandler(upload)) return true;
  const map = uploadListeners.get(upload);
  return map !== undefined && map.size > 0;
}

// ---------------------------------------------------------------------------------------

export function createXMLHttpRequest(
  ctx: ShimContext,
  routeFor: RouteFor,
  Original: typeof globalThis.XMLHttpRequest | undefined,
): typeof globalThis.XMLHttpRequest {
  const NativeUpload = (globalThis as { XMLHttpRequestUpload?: { prototype: object } }).XMLHttpRequestUpload;

  class XMLHttpRequestUpload extends EventTarget {
    override addEventListener(type: string, callback: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void {
      etAdd.call(this, type, callback, options);
      if (callback === null || callback === undefined) return;
      let map = uploadListeners.get(this);
      if (!map) uploadListeners.set(this, (map = new Map()));
      let keys = map.get(callback);
      if (!keys) map.set(callback, (keys = new Set()));
      keys.add(`${captureOf(options)}:${type}`);
    }

    override removeEventListener(type: string, callback: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void {
      etRemove.call(this, type, callback, options);
      const map = uploadListeners.get(this);
      const keys = map?.get(callback);
      if (!keys) return;
      keys.delete(`${captureOf(options)}:${type}`);
      if (keys.size === 0) map!.delete(callback);
    }
  }
  defineEventHandlers(XMLHttpRequestUpload.prototype, UPLOAD_EVENTS);
  if (NativeUpload) Object.setPrototypeOf(XMLHttpRequestUpload.prototype, NativeUpload.prototype);
  Object.defineProperty(XMLHttpRequestUpload.prototype, Symbol.toStringTag, { value: 'XMLHttpRequestUpload', configurable: true });

  class XMLHttpRequest extends EventTarget {
    static readonly UNSENT = UNSENT;
    static readonly OPENED = OPENED;
    static readonly HEADERS_RECEIVED = HEADERS_RECEIVED;
    static readonly LOADING = LOADING;
    static readonly DONE = DONE;

    /** Native XHR objects (created before install, or by our delegation) are XMLHttpRequests too. */
    static override [Symbol.hasInstance](x: unknown): boolean {
      if (Function.prototype[Symbol.hasInstance].call(this, x)) return true;
      return this === XMLHttpRequest && Original !== undefined && x instanceof Original;
    }

    constructor() {
      super();
      const upload = new XMLHttpRequestUpload();
      states.set(this, {
        target: this,
        upload,
        mode: 'none',
        native: null,
        nativeRoute: false,
        nativeMethod: 'GET',
        nativeSync: false,
        nativeUploadForwarded: false,
        nativeHeaderNames: new Set(),
        pending: null,
        stateOverride: null,
        readyState: UNSENT,
        responseType: '',
        timeout: 0,
        withCredentials: false,
        sendFlag: false,
        sync: false,
        method: 'GET',
        url: null,
        headers: [],
        overrideMime: null,
        overrideRaw: null,
        uploadComplete: false,
        uploadListener: false,
        timedOut: false,
        stopped: false,
        credentials: null,
        response: null,
        chunks: [],
        received: 0,
        bytesCache: null,
        textCache: null,
        responseObject: null,
        active: null,
      });
    }

    get readyState(): number {
      const s = st(this);
      if (s.stateOverride !== null) return s.stateOverride;
      return s.mode === 'native' ? s.native!.readyState : s.readyState;
    }

    get upload(): XMLHttpRequestUpload {
      return st(this).upload as XMLHttpRequestUpload;
    }

    get timeout(): number {
      const s = st(this);
      return s.mode === 'native' ? s.native!.timeout : s.timeout;
    }

    set timeout(value: number) {
      const s = st(this);
      if (s.mode === 'native') {
        s.native!.timeout = value;
        return;
      }
      if (s.mode === 'bus' && s.sync) throw domError('timeout cannot be set on a synchronous request', 'InvalidAccessError');
      s.timeout = toUint32(value);
      if (s.active) scheduleTimeout(s, s.active);
    }

    get withCredentials(): boolean {
      const s = st(this);
      return s.mode === 'native' ? s.native!.withCredentials : s.withCredentials;
    }

    set withCredentials(value: boolean) {
      const s = st(this);
      if (s.mode === 'native') {
        s.native!.withCredentials = value;
        return;
      }
      if ((s.readyState !== UNSENT && s.readyState !== OPENED) || s.sendFlag) {
        throw domError('withCredentials cannot be set now', 'InvalidStateError');
      }
      // Accepted and kept; the bus has no cookies or HTTP authentication to send.
      s.withCredentials = Boolean(value);
    }

    get responseType(): XMLHttpRequestResponseType {
      const s = st(this);
      return s.mode === 'native' ? s.native!.responseType : s.responseType;
    }

    set responseType(value: XMLHttpRequestResponseType) {
      const s = st(this);
      if (s.mode === 'native') {
        s.native!.responseType = value;
        return;
      }
      const v = String(value);
      if (!RESPONSE_TYPES.has(v)) return; // WebIDL: an invalid enum value is ignored
      if (s.readyState === LOADING || s.readyState === DONE) throw domError('responseType cannot be set now', 'InvalidStateError');
      if (s.mode === 'bus' && s.sync) throw domError('responseType cannot be set on a synchronous request', 'InvalidAccessError');
      s.responseType = v as XMLHttpRequestResponseType;
    }

    get status(): number {
      const s = st(this);
      if (s.mode === 'native') return s.stateOverride !== null ? 0 : s.native!.status;
      return s.response?.status ?? 0;
    }

    get statusText(): string {
      const s = st(this);
      if (s.mode === 'native') return s.stateOverride !== null ? '' : s.native!.statusText;
      return s.response ? statusText(s.response.status) : '';
    }

    get responseURL(): string {
      const s = st(this);
      if (s.mode === 'native') return s.native!.responseURL;
      return s.response ? withoutFragment(s.response.url) : '';
    }

    get response(): unknown {
      const s = st(this);
      if (s.mode === 'native') return s.native!.response;
      if (s.responseType === '' || s.responseType === 'text') {
        if (s.readyState !== LOADING && s.readyState !== DONE) return '';
        return textResponse(s);
      }
      if (s.readyState !== DONE || s.response === null) return null;
      if (s.responseObject) return s.responseObject.value;
      const value = responseObject(s);
      s.responseObject = { value };
      return value;
    }

    get responseText(): string {
      const s = st(this);
      if (s.mode === 'native') return s.native!.responseText;
      if (s.responseType !== '' && s.responseType !== 'text') {
        throw domError('responseText is only available when responseType is "" or "text"', 'InvalidStateError');
      }
      if (s.readyState !== LOADING && s.readyState !== DONE) return '';
      return textResponse(s);
    }

    get responseXML(): Document | null {
      const s = st(this);
      if (s.mode === 'native') return s.native!.responseXML;
      if (s.responseType !== '' && s.responseType !== 'document') {
        throw domError('responseXML is only available when responseType is "" or "document"', 'InvalidStateError');
      }
      if (s.readyState !== DONE || s.response === null) return null;
      if (s.responseObject) return s.responseObject.value as Document | null;
      const value = documentResponse(s);
      s.responseObject = { value };
      return value;
    }

    open(method: string, url: string | URL, async?: boolean, username?: string | null, password?: string | null): void;
    open(...raw: unknown[]): void {
      const s = st(this);
      if (raw.length < 2) throw new TypeError(`Failed to execute 'open': 2 arguments required, but only ${raw.length} present.`);
      // WebIDL converts every argument, in order, before the method runs (observable through
      // toString()): ByteString, USVString, boolean, USVString?, USVString?.
      const method = byteString(raw[0], 'method');
      const urlString = String(raw[1]);
      const args: unknown[] = [method, urlString];
      if (raw.length > 2) args.push(Boolean(raw[2]));
      if (raw.length > 3) args.push(raw[3] == null ? null : String(raw[3]));
      if (raw.length > 4) args.push(raw[4] == null ? null : String(raw[4]));
      let parsed: URL | null;
      try {
        parsed = new URL(urlString, ctx.baseURL());
      } catch {
        parsed = null;
      }
      const bus = parsed !== null && ctx.isBus(parsed);
      const upper = normalizeMethod(method);
      if (!bus || routeFor({ method: upper, url: parsed!, hasBody: upper !== 'GET' && upper !== 'HEAD' }) === 'native') {
        openNative(s, args, bus, upper);
        return;
      }
      const async = args.length < 3 ? true : (args[2] as boolean);
      openBus(s, method, parsed!, async, args.length > 3 ? (args[3] as string | null) : null, args.length > 4 ? (args[4] as string | null) : null);
    }

    setRequestHeader(name: string, value: string): void;
    setRequestHeader(...args: unknown[]): void {
      const s = st(this);
      if (args.length < 2) throw new TypeError(`Failed to execute 'setRequestHeader': 2 arguments required, but only ${args.length} present.`);
      const n = byteString(args[0], 'name');
      const raw = byteString(args[1], 'value');
      if (s.mode === 'native') {
        if (s.pending || s.stateOverride !== null) throw domError('setRequestHeader after send()', 'InvalidStateError');
        s.native!.setRequestHeader(n, raw);
        // A bus URL on the native route reaches the host, whose http::HeaderValue refuses these.
        if (s.nativeRoute) checkBusHeaderValue(n, normalizeHeaderValue(raw));
        s.nativeHeaderNames.add(lower(n));
        return;
      }
      if (s.readyState !== OPENED) throw domError('the object state must be OPENED', 'InvalidStateError');
      if (s.sendFlag) throw domError('setRequestHeader after send()', 'InvalidStateError');
      const v = normalizeHeaderValue(raw);
      if (!isToken(n)) throw domError(`'${n}' is not a valid HTTP header field name`, 'SyntaxError');
      if (!isHeaderValue(v)) throw domError(`'${v}' is not a valid HTTP header field value`, 'SyntaxError');
      if (isForbiddenRequestHeader(n, v)) return; // silently, as browsers do
      checkBusHeaderValue(n, v);
      const key = lower(n);
      const existing = s.headers.find(([k]) => lower(k) === key);
      if (existing) existing[1] = `${existing[1]}, ${v}`;
      else s.headers.push([n, v]);
    }

    send(body?: Document | XMLHttpRequestBodyInit | null): void;
    send(...args: unknown[]): void {
      const s = st(this);
      // The argument is converted before any state check (WebIDL, then the XHR standard).
      const body = convertBody(args.length > 0 ? args[0] : null);
      if (s.mode === 'native') {
        nativeSend(s, body);
        return;
      }
      if (s.readyState !== OPENED || s.sendFlag) throw domError('the object state must be OPENED and not sent', 'InvalidStateError');
      if (s.sync) {
        // Frames come back asynchronously over a message bridge; there is no way to block
        // the page's thread until they do.
        throw domError('synchronous XMLHttpRequest is not supported for bus URLs', 'InvalidAccessError');
      }
      busSend(s, body);
    }

    abort(): void {
      const s = st(this);
      if (s.mode === 'native') {
        nativeAbort(s);
        return;
      }
      const f = s.active;
      if (f) {
        f.ac.abort();
        clearTimer(f);
      }
      if ((s.readyState === OPENED && s.sendFlag) || s.readyState === HEADERS_RECEIVED || s.readyState === LOADING) {
        requestError(s, 'abort');
      }
      if (s.readyState === DONE) {
        // No readystatechange for this one (XHR standard, abort() step 3).
        s.readyState = UNSENT;
        s.response = null;
        resetResponse(s);
      }
    }

    getResponseHeader(name: string): string | null;
    getResponseHeader(...args: unknown[]): string | null {
      const s = st(this);
      if (args.length < 1) throw new TypeError("Failed to execute 'getResponseHeader': 1 argument required, but only 0 present.");
      const name = byteString(args[0], 'name');
      if (s.mode === 'native') return s.stateOverride !== null ? null : s.native!.getResponseHeader(name);
      if (!s.response) return null;
      const n = lower(name);
      if (n === 'set-cookie' || n === 'set-cookie2') return null;
      return getHeader(s.response.headers, n);
    }

    getAllResponseHeaders(): string {
      const s = st(this);
      if (s.mode === 'native') return s.stateOverride !== null ? '' : s.native!.getAllResponseHeaders();
      if (!s.response) return '';
      // Fetch's "sort and combine" (repeated values joined by ", "), then the XHR standard's
      // order: by the byte-uppercased name (so "x-a_" sorts after "x-ab"); names lower case.
      const headers = s.response.headers;
      const seen = new Set<string>();
      const names: string[] = [];
      for (let i = 0; i < headers.length; i++) {
        const n = lower(headers[i]![0]);
        if (n === 'set-cookie' || n === 'set-cookie2' || seen.has(n)) continue;
        seen.add(n);
        names.push(n);
      }
      names.sort((a, b) => {
        const x = a.toUpperCase();
        const y = b.toUpperCase();
        return x < y ? -1 : x > y ? 1 : 0;
      });
      let out = '';
      for (let i = 0; i < names.length; i++) out += `${names[i]!}: ${getHeader(headers, names[i]!)}\r\n`;
      return out;
    }

    overrideMimeType(mime: string): void;
    overrideMimeType(...args: unknown[]): void {
      const s = st(this);
      if (args.length < 1) throw new TypeError("Failed to execute 'overrideMimeType': 1 argument required, but only 0 present.");
      const mime = String(args[0]);
      if (s.mode === 'native') {
        s.native!.overrideMimeType(mime);
      } else if (s.readyState === LOADING || s.readyState === DONE) {
        throw domError('overrideMimeType after the response began', 'InvalidStateError');
      }
      // Kept whatever the route: open() does not reset it (the standard's note), so it
      // carries over to the next request, the browser's or the bus's.
      s.overrideRaw = mime;
      s.overrideMime = parseMimeType(mime) ?? parseMimeType('application/octet-stream');
    }
  }

  defineEventHandlers(XMLHttpRequest.prototype, XHR_EVENTS);
  if (Original) Object.setPrototypeOf(XMLHttpRequest.prototype, Original.prototype);
  for (const [name, value] of [['UNSENT', UNSENT], ['OPENED', OPENED], ['HEADERS_RECEIVED', HEADERS_RECEIVED], ['LOADING', LOADING], ['DONE', DONE]] as const) {
    Object.defineProperty(XMLHttpRequest.prototype, name, { value, enumerable: true });
  }
  Object.defineProperty(XMLHttpRequest.prototype, Symbol.toStringTag, { value: 'XMLHttpRequest', configurable: true });

  // -------------------------------------------------------------------------------------
  // Delegation to a native XHR.

  function openNative(s: XhrState, args: unknown[], bus: boolean, method: string): void {
    if (!Original) throw new TypeError('XMLHttpRequest: no browser XMLHttpRequest for non-bus URLs');
    if (s.mode === 'bus') {
      terminate(s);
      // Settings may have changed while on the bus: a fresh delegate takes them over.
      s.native = null;
    }
    let n = s.native;
    if (!n) {
      n = new Original();
      // What was set before open() carries over (timeout/responseType also make a sync
      // open() throw InvalidAccessError, as they should).
      if (s.timeout !== 0) n.timeout = s.timeout;
      if (s.withCredentials) n.withCredentials = true;
      if (s.responseType !== '') n.responseType = s.responseType;
      if (s.overrideRaw !== null) n.overrideMimeType(s.overrideRaw);
      forwardEvents(s, n, n, s.target, XHR_EVENTS);
      s.native = n;
      s.nativeUploadForwarded = false;
    }
    s.mode = 'native';
    s.nativeRoute = bus;
    s.nativeMethod = method;
    s.nativeSync = args.length >= 3 && !args[2];
    s.stateOverride = null;
    s.nativeHeaderNames = new Set();
    if (s.pending) s.pending.cancelled = true;
    s.pending = null;
    (n.open as (...a: unknown[]) => void).apply(n, args);
  }

  function forwardEvents(s: XhrState, n: XMLHttpRequest, source: EventTarget, target: EventTarget, types: readonly string[]): void {
    for (const type of types) {
      source.addEventListener(type, (e) => {
        if (s.native !== n || s.mode !== 'native') return; // switched to the bus meanwhile
        if ('loaded' in e) {
          const p = e as ProgressEvent;
          fireProgress(target, type, p.loaded, p.lengthComputable ? p.total : 0);
        } else {
          fireEvent(target, type);
        }
      });
    }
  }

  function nativeSend(s: XhrState, body: Document | XMLHttpRequestBodyInit | null | undefined): void {
    const n = s.native!;
    if (s.pending || s.stateOverride !== null) throw domError('send() already called', 'InvalidStateError');
    if (hasUploadListeners(s.upload) && !s.nativeUploadForwarded) {
      // Registered only when someone listens: native upload listeners change the request
      // (they force a CORS preflight).
      s.nativeUploadForwarded = true;
      forwardEvents(s, n, n.upload, s.upload, UPLOAD_EVENTS);
    }
    const withBody = s.nativeRoute && body != null && s.nativeMethod !== 'GET' && s.nativeMethod !== 'HEAD';
    if (!withBody) {
      n.send(body as XMLHttpRequestBodyInit | null);
      return;
    }
    if (n.readyState !== OPENED) {
      n.send(body as XMLHttpRequestBodyInit); // throws the browser's InvalidStateError
      return;
    }
    const flatten = isBlob(body) || isFormData(body);
    if (flatten && s.nativeSync) {
      // Its bytes can only be read asynchronously; sending it as it is would crash WebKitGTK.
      throw domError('a synchronous XMLHttpRequest cannot send a Blob or FormData to a bus URL', 'InvalidAccessError');
    }
    // Tells the host the body is plain bytes (see InstallOptions.nativeBodyMarker).
    if (ctx.bodyMarker) n.setRequestHeader(ctx.bodyMarker, '1');
    if (!flatten) {
      n.send(body as XMLHttpRequestBodyInit);
      return;
    }
    // WebKitGTK sends a Blob body to a custom scheme empty (and crashes on FormData with
    // files): send the bytes instead. Reading a Blob is asynchronous, so the native send()
    // (and its loadstart) happens once they are read.
    const blob = isBlob(body) ? body : multipartBlob(body as FormData);
    if (blob.type !== '' && !s.nativeHeaderNames.has('content-type')) n.setRequestHeader('Content-Type', blob.type);
    const pending: PendingNativeSend = { cancelled: false };
    s.pending = pending;
    then(
      blob.arrayBuffer(),
      (bytes) => {
        if (pending.cancelled || s.native !== n) return;
        s.pending = null;
        n.send(bytes);
      },
      () => {
        if (pending.cancelled || s.native !== n) return;
        s.pending = null;
        syntheticRequestError(s, 'error');
      },
    );
  }

  function nativeAbort(s: XhrState): void {
    if (s.pending) {
      s.pending.cancelled = true;
      s.pending = null;
      syntheticRequestError(s, 'abort');
      s.stateOverride = UNSENT;
      return;
    }
    s.native!.abort();
  }

  /** The request error steps for a native send() that never reached the delegate. */
  function syntheticRequestError(s: XhrState, event: 'abort' | 'error'): void {
    s.stateOverride = DONE;
    fireEvent(s.target, 'readystatechange');
    if (hasUploadListeners(s.upload)) {
      fireProgress(s.upload, event, 0, 0);
      fireProgress(s.upload, 'loadend', 0, 0);
    }
    fireProgress(s.target, event, 0, 0);
    fireProgress(s.target, 'loadend', 0, 0);
  }

  // -------------------------------------------------------------------------------------
  // The XHR standard over the bus.

  function openBus(s: XhrState, method: string, url: URL, async: boolean, username: string | null, password: string | null): void {
    if (!isToken(method)) throw domError(`'${method}' is not a valid HTTP method`, 'SyntaxError');
    if (isForbiddenMethod(method)) throw domError(`'${method}' HTTP method is unsupported`, 'SecurityError');
    const timeout = s.mode === 'native' ? s.native!.timeout : s.timeout;
    const responseType = s.mode === 'native' ? s.native!.responseType : s.responseType;
    if (!async && (timeout !== 0 || responseType !== '')) {
      throw domError('synchronous requests cannot have a timeout or a responseType', 'InvalidAccessError');
    }
    if (s.mode === 'native') {
      // Leave the delegate quietly: its events are no longer forwarded once mode changes.
      const n = s.native!;
      s.readyState = s.stateOverride ?? n.readyState;
      s.timeout = n.timeout;
      s.withCredentials = n.withCredentials;
      s.responseType = n.responseType;
      s.mode = 'bus';
      if (s.pending) s.pending.cancelled = true;
      s.pending = null;
      s.stateOverride = null;
      n.abort();
    }
    s.mode = 'bus';
    terminate(s);
    s.sendFlag = false;
    s.uploadListener = false;
    s.method = normalizeMethod(method);
    // open()'s username and password go into the URL (as the standard says), and from there
    // into the credentials a Basic challenge is answered with; responseURL shows neither.
    const u = new URL(url.href);
    if (username !== null) u.username = username;
    if (password !== null) u.password = password;
    s.credentials = u.username !== '' || u.password !== '' ? { username: percentDecode(u.username), password: percentDecode(u.password) } : null;
    u.username = '';
    u.password = '';
    s.url = u;
    s.sync = !async;
    s.headers = [];
    s.response = null;
    resetResponse(s);
    if (s.readyState !== OPENED) {
      s.readyState = OPENED;
      fireEvent(s.target, 'readystatechange');
    }
  }

  function busSend(s: XhrState, input: Document | XMLHttpRequestBodyInit | null): void {
    let body: ExtractedBody | null = null;
    if (s.method !== 'GET' && s.method !== 'HEAD' && input !== null) {
      const document = isDocument(input);
      body = document ? serializeDocument(input as Document) : extractBody(input);
      const authorType = getHeader(s.headers, 'content-type');
      if (authorType !== null) {
        if (document || typeof input === 'string') setCharsetUtf8(s, authorType);
      } else if (body.type !== null) {
        s.headers.push(['Content-Type', body.type]);
      }
    }
    s.uploadListener = hasUploadListeners(s.upload);
    s.uploadComplete = body === null;
    s.timedOut = false;
    s.stopped = false;
    s.sendFlag = true;
    const f: Fetching = {
      ac: new AbortController(),
      unstop: () => {},
      timer: null,
      start: now(),
      length: 0,
      progressAt: null,
      progressPending: false,
      uploadLength: body?.length ?? 0,
      uploadSent: 0,
      uploadProgressAt: null,
      uploadProgressPending: false,
    };
    s.active = f;
    fireProgress(s.target, 'loadstart', 0, 0);
    if (!s.uploadComplete && s.uploadListener) fireProgress(s.upload, 'loadstart', 0, f.uploadLength);
    // A listener may have called abort() or open().
    if (s.readyState !== OPENED || !s.sendFlag || s.active !== f) return;
    scheduleTimeout(s, f);
    // window.stop() aborts it, as the engine aborts its own loads (events in a later task).
    f.unstop = ctx.onStop(() => {
      if (s.active !== f) return;
      s.stopped = true;
      f.ac.abort();
    });
    const request = {
      method: s.method,
      url: s.url!,
      headers: s.headers,
      body,
      signal: f.ac.signal,
      redirect: 'follow' as RequestRedirect,
      onupload: (sent: number, done: boolean) => uploadProgress(s, f, sent, done),
    };
    then(
      authenticated(s, request),
      (res) => {
        // Anything failing in here is ours: the request errors rather than hang.
        then(processResponse(s, f, res), undefined, () => processError(s, f));
      },
      () => processError(s, f),
    );
    // An empty body goes as end_stream: no RequestEnd will report its end.
    if (body !== null && body.length === 0) enqueueMicrotask(() => uploadProgress(s, f, 0, true));
  }

  /** XHR "processRequestBodyChunkLength" and "processRequestEndOfBody". */
  function uploadProgress(s: XhrState, f: Fetching, sent: number, done: boolean): void {
    if (s.active !== f) return;
    f.uploadSent = sent;
    if (!done) {
      if (f.uploadProgressAt !== null && now() - f.uploadProgressAt < PROGRESS_INTERVAL) {
        f.uploadProgressPending = true;
        return;
      }
      f.uploadProgressAt = now();
      f.uploadProgressPending = false;
      if (s.uploadListener) fireProgress(s.upload, 'progress', sent, f.uploadLength);
      return;
    }
    if (s.uploadComplete) return;
    s.uploadComplete = true;
    if (!s.uploadListener) return;
    // The last progress, unless the one already fired covered every byte.
    if (f.uploadProgressPending || f.uploadProgressAt === null) fireProgress(s.upload, 'progress', sent, f.uploadLength);
    if (s.active !== f) return;
    fireProgress(s.upload, 'load', sent, f.uploadLength);
    if (s.active !== f) return;
    fireProgress(s.upload, 'loadend', sent, f.uploadLength);
  }

  /**
   * The request, answered again with open()'s credentials when the bus challenges it (401
   * with `WWW-Authenticate: Basic`) and the page set no Authorization of its own: what the
   * engine does with XHR credentials.
   */
  async function authenticated(s: XhrState, request: Parameters<typeof busRequest>[1]): Promise<BusResponse> {
    // The body may go again: its carrier's hold is ours to end (`keepBody`) once it won't.
    let res: BusResponse;
    try {
      res = await busRequest(ctx, { ...request, keepBody: true });
    } catch (e) {
      letGoBody(request.body);
      throw e;
    }
    const once = (): BusResponse => {
      letGoBody(request.body);
      return res;
    };
    const creds = s.credentials;
    if (res.status !== 401 || creds === null || getHeader(request.headers, 'authorization') !== null) return once();
    const challenge = getHeader(res.headers, 'www-authenticate');
    if (challenge === null || !/(^|,)\s*basic(\s|$|,)/i.test(challenge)) return once();
    if (request.body !== null && request.body.source === null) return once(); // a stream cannot go twice
    cancelStream(res.body);
    const token = toBase64(new TextEncoder().encode(`${creds.username}:${creds.password}`));
    return busRequest(ctx, { ...request, headers: [...request.headers, ['Authorization', `Basic ${token}`]] });
  }

  async function processResponse(s: XhrState, f: Fetching, res: BusResponse): Promise<void> {
    if (s.active !== f) {
      cancelStream(res.body);
      return;
    }
    s.response = { status: res.status, headers: res.headers, url: res.url };
    s.readyState = HEADERS_RECEIVED;
    fireEvent(s.target, 'readystatechange');
    if (s.readyState !== HEADERS_RECEIVED || s.active !== f) {
      cancelStream(res.body);
      return;
    }
    // The length is the header list's for every response (XHR "handle response
    // end-of-body"), a HEAD's or a 204's too: their progress events carry it as `total`.
    f.length = extractLength(res.headers) ?? 0;
    if (s.method === 'HEAD' || res.status === 204 || res.status === 205 || res.status === 304) {
      cancelStream(res.body);
      endOfBody(s, f);
      return;
    }
    const reader = getReader(res.body);
    f.ac.signal.addEventListener('abort', () => cancelReader(reader), ONCE);
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await read(reader);
      } catch {
        processError(s, f);
        return;
      }
      if (s.active !== f) return;
      if (next.done) {
        endOfBody(s, f);
        return;
      }
      bodyChunk(s, f, next.value);
    }
  }

  /** XHR "processBodyChunk". */
  function bodyChunk(s: XhrState, f: Fetching, bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    s.chunks.push(bytes);
    s.received += bytes.byteLength;
    s.bytesCache = null;
    if (f.progressAt !== null && now() - f.progressAt < PROGRESS_INTERVAL) {
      f.progressPending = true;
      return;
    }
    f.progressAt = now();
    f.progressPending = false;
    if (s.readyState === HEADERS_RECEIVED) s.readyState = LOADING;
    // readystatechange fires with every progress, not only on the state change (web compat).
    fireEvent(s.target, 'readystatechange');
    if (s.active !== f) return;
    fireProgress(s.target, 'progress', s.received, f.length);
  }

  /** XHR "handle response end-of-body". */
  function endOfBody(s: XhrState, f: Fetching): void {
    const transmitted = s.received;
    // The spec fires a final progress here; browsers skip it when the last one fired covered
    // every byte received, which is what we do (one progress for a one-chunk body).
    if (f.progressPending || f.progressAt === null) fireProgress(s.target, 'progress', transmitted, f.length);
    if (s.active !== f) return;
    clearTimer(f);
    f.unstop();
    s.active = null;
    s.readyState = DONE;
    s.sendFlag = false;
    fireEvent(s.target, 'readystatechange');
    fireProgress(s.target, 'load', transmitted, f.length);
    fireProgress(s.target, 'loadend', transmitted, f.length);
  }

  /** XHR "handle errors" for a failure the fetch reported (network error, or our timeout/abort). */
  function processError(s: XhrState, f: Fetching): void {
    if (s.active !== f || !s.sendFlag) return;
    requestError(s, s.timedOut ? 'timeout' : s.stopped ? 'abort' : 'error');
  }

  /** XHR "request error steps". */
  function requestError(s: XhrState, event: 'abort' | 'error' | 'timeout'): void {
    const f = s.active;
    if (f) {
      clearTimer(f);
      f.unstop();
      f.ac.abort();
    }
    s.active = null;
    s.readyState = DONE;
    s.sendFlag = false;
    s.response = null;
    resetResponse(s);
    fireEvent(s.target, 'readystatechange');
    if (!s.uploadComplete) {
      s.uploadComplete = true;
      if (s.uploadListener) {
        fireProgress(s.upload, event, 0, 0);
        fireProgress(s.upload, 'loadend', 0, 0);
      }
    }
    fireProgress(s.target, event, 0, 0);
    fireProgress(s.target, 'loadend', 0, 0);
  }

  function scheduleTimeout(s: XhrState, f: Fetching): void {
    clearTimer(f);
    if (s.timeout === 0) return;
    const deadline = f.start + s.timeout;
    f.timer = startTimer(() => expire(s, f, deadline, 0), Math.max(0, deadline - now()));
  }

  /**
   * The timer ran out. The standard's timeout runs in parallel: a response whose data had
   * arrived before the deadline is not timed out, even when the page was too busy to see it
   * yet. Frames sit in the bridge's queue behind the task that kept the page busy, so when
   * the timer fires late, the frames delivered meanwhile are let in (one task at a time, as
   * long as each brings some and the extra wait stays within the timer's lateness) before
   * deciding.
   */
  function expire(s: XhrState, f: Fetching, deadline: number, waited: number): void {
    f.timer = null;
    if (s.active !== f) return;
    const late = now() - deadline - waited;
    if (late > TIMER_SLACK && waited <= late) {
      const before = ctx.client.delivered;
      const start = now();
      f.timer = startTimer(() => {
        if (ctx.client.delivered !== before || waited === 0) expire(s, f, deadline, waited + (now() - start));
        else timeOut(s, f);
      }, 0);
      return;
    }
    timeOut(s, f);
  }

  function timeOut(s: XhrState, f: Fetching): void {
    f.timer = null;
    if (s.active !== f) return;
    s.timedOut = true;
    f.ac.abort();
    requestError(s, 'timeout');
  }

  /** Stops the current fetch without events (open() does this). */
  function terminate(s: XhrState): void {
    const f = s.active;
    if (!f) return;
    s.active = null;
    clearTimer(f);
    f.unstop();
    f.ac.abort();
  }

  const proto = XMLHttpRequest.prototype;
  idlShape(XMLHttpRequest, ['UNSENT', 'OPENED', 'HEADERS_RECEIVED', 'LOADING', 'DONE']);
  idlShape(XMLHttpRequestUpload, []);
  idlLength(proto.open, 2);
  idlLength(proto.setRequestHeader, 2);
  idlLength(proto.getResponseHeader, 1);
  idlLength(proto.overrideMimeType, 1);
  return XMLHttpRequest as unknown as typeof globalThis.XMLHttpRequest;
}

// ---------------------------------------------------------------------------------------

function clearTimer(f: Fetching): void {
  if (f.timer !== null) stopTimer(f.timer);
  f.timer = null;
}

function resetResponse(s: XhrState): void {
  s.chunks = [];
  s.received = 0;
  s.bytesCache = null;
  s.textCache = null;
  s.responseObject = null;
}

function toUint32(v: unknown): number {
  const n = Number(v);
  return Number.isFinite(n) ? Math.trunc(n) >>> 0 : 0;
}

/** WebIDL ByteString conversion: a char above U+00FF is a TypeError. */
function byteString(v: unknown, what: string): string {
  const s = String(v);
  if (/[^\0-\u00ff]/.test(s)) throw new TypeError(`${what === 'method' ? 'the method' : `header ${what}`} is not a ByteString`);
  return s;
}

/**
 * The bus's header values are `http::HeaderValue`s, which refuse control characters other
 * than tab, while XHR allows all but NUL, CR and LF: setRequestHeader() throws a TypeError
 * naming the header, where the page can see it, rather than the request failing later.
 */
function checkBusHeaderValue(name: string, value: string): void {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
      throw new TypeError(
        `setRequestHeader: the value of header ${JSON.stringify(name)} has the control character U+${c.toString(16).toUpperCase().padStart(4, '0')}, which the bus cannot carry (http::HeaderValue refuses it)`,
      );
    }
  }
}

/**
 * WebIDL conversion of send()'s argument, \`(Document or XMLHttpRequestBodyInit)?\`: the
 * platform objects stay, anything else becomes a string (calling its toString()).
 */
function convertBody(x: unknown): Document | XMLHttpRequestBodyInit | null {
  if (x === null || x === undefined) return null;
  if (isDocument(x) || isBlob(x) || isFormData(x) || isUrlSearchParams(x) || isBufferSource(x)) return x as Document | XMLHttpRequestBodyInit;
  return toUsv(String(x));
}

/** USVString: lone surrogates become U+FFFD. */
function toUsv(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

function percentDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const ONCE: AddEventListenerOptions = bare({ once: true });

/** A timer firing later than this past its deadline means the page was busy (a long task). */
const TIMER_SLACK = 20;

function isDocument(x: unknown): boolean {
  return typeof Document !== 'undefined' && x instanceof Document;
}

function serializeDocument(doc: Document): ExtractedBody {
  const html = doc.contentType === 'text/html';
  let text: string;
  if (html) {
    const dt = doc.doctype;
    text = (dt ? `<!DOCTYPE ${dt.name}>` : '') + (doc.documentElement?.outerHTML ?? '');
  } else {
    text = new XMLSerializer().serializeToString(doc);
  }
  const bytes = new TextEncoder().encode(text);
  return { source: bytes, stream: null, type: html ? 'text/html;charset=UTF-8' : 'application/xml;charset=UTF-8', length: bytes.byteLength, owned: true };
}

/** send(): a string or Document body goes as UTF-8, so a page's other charset is corrected. */
function setCharsetUtf8(s: XhrState, authorType: string): void {
  const m = parseMimeType(authorType);
  const charset = m?.parameters.get('charset');
  if (!m || charset === undefined || lower(charset) === 'utf-8') return;
  m.parameters.set('charset', 'UTF-8');
  const value = serializeMimeType(m);
  s.headers = s.headers.map(([k, v]) => (lower(k) === 'content-type' ? [k, value] : [k, v]));
}

function bytesOf(s: XhrState): Uint8Array {
  if (s.bytesCache && s.bytesCache.byteLength === s.received) return s.bytesCache;
  const out = new Uint8Array(s.received);
  let at = 0;
  for (const c of s.chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  s.chunks = out.byteLength > 0 ? [out] : [];
  s.bytesCache = out;
  return out;
}

/** XHR "get a final MIME type". */
function finalMime(s: XhrState): MimeType {
  return s.overrideMime ?? responseMime(s);
}

function responseMime(s: XhrState): MimeType {
  return (s.response && extractMimeType(s.response.headers)) ?? parseMimeType('text/xml')!;
}

/** XHR "get a final encoding": the override's charset wins over the response's. */
function finalCharset(s: XhrState): string | null {
  return s.overrideMime?.parameters.get('charset') ?? responseMime(s).parameters.get('charset') ?? null;
}

/** The Encoding standard's labels of the replacement encoding. */
const REPLACEMENT_LABELS = new Set(['csiso2022kr', 'hz-gb-2312', 'iso-2022-cn', 'iso-2022-cn-ext', 'iso-2022-kr', 'replacement']);

/** Encoding "decode": a BOM decides, else the label, else UTF-8. */
function decode(bytes: Uint8Array, label: string | null): string {
  let encoding = label ?? 'utf-8';
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) encoding = 'utf-8';
  else if (bytes[0] === 0xfe && bytes[1] === 0xff) encoding = 'utf-16be';
  else if (bytes[0] === 0xff && bytes[1] === 0xfe) encoding = 'utf-16le';
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(encoding);
  } catch {
    // The replacement encoding's labels (TextDecoder refuses them): any bytes decode to one
    // U+FFFD. Any other label TextDecoder does not know is no label.
    if (REPLACEMENT_LABELS.has(lower(encoding.trim()))) return bytes.byteLength === 0 ? '' : '\uFFFD';
    decoder = new TextDecoder('utf-8');
  }
  return decoder.decode(bytes);
}

/** The `encoding` of an XML declaration at the very start of the bytes (ASCII-compatible), or null. */
export function xmlDeclaredEncoding(bytes: Uint8Array): string | null {
  if (bytes.length < 6 || latin1Prefix(bytes, 5) !== '<?xml') return null;
  const head = latin1Prefix(bytes, 1024);
  const end = head.indexOf('?>');
  if (end < 0) return null;
  const m = /^<\?xml\s[^]*?\bencoding\s*=\s*(["'])([A-Za-z][A-Za-z0-9._-]*)\1/.exec(head.slice(0, end));
  return m ? m[2]! : null;
}

/**
 * HTML's "prescan a byte stream to determine its encoding", the common part: the first
 * 1024 bytes, comments skipped, `<meta charset>` or `<meta http-equiv=content-type content=…charset=…>`.
 */
export function htmlPrescan(bytes: Uint8Array): string | null {
  const head = latin1Prefix(bytes, 1024).replace(/<!--[^]*?-->/g, '');
  const metas = /<meta[\s/]([^>]*)>?/gi;
  for (let m = metas.exec(head); m !== null; m = metas.exec(head)) {
    const attrs = new Map<string, string>();
    const attr = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
    for (let a = attr.exec(m[1]!); a !== null; a = attr.exec(m[1]!)) {
      const name = a[1]!.toLowerCase();
      if (!attrs.has(name)) attrs.set(name, a[2] ?? a[3] ?? a[4] ?? '');
    }
    let label: string | null = null;
    if (attrs.has('charset')) label = attrs.get('charset')!.trim();
    else if (attrs.get('http-equiv')?.toLowerCase() === 'content-type' && attrs.has('content')) {
      const c = /charset\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s;"']+))/i.exec(attrs.get('content')!);
      label = c ? (c[1] ?? c[2] ?? c[3] ?? null) : null;
    }
    if (label === null || label === '') continue;
    // "utf-16" declared in an ASCII-compatible document means UTF-8; x-user-defined, windows-1252.
    const l = label.toLowerCase();
    if (/^(utf-16|utf-16le|utf-16be|unicode|ucs-2|csunicode|iso-10646-ucs-2|unicodefeff|unicodefffe)$/.test(l)) return 'utf-8';
    if (l === 'x-user-defined') return 'windows-1252';
    return label;
  }
  return null;
}

function latin1Prefix(bytes: Uint8Array, n: number): string {
  let out = '';
  const end = Math.min(n, bytes.length);
  for (let i = 0; i < end; i++) out += String.fromCharCode(bytes[i]!);
  return out;
}

function textResponse(s: XhrState): string {
  if (!s.response) return '';
  if (s.textCache && s.textCache.received === s.received) return s.textCache.text;
  const bytes = bytesOf(s);
  let charset = finalCharset(s);
  // XHR "text response": with responseType "", no charset and an XML type, the XML rules
  // decide: the encoding declaration (a BOM still wins, in decode).
  if (charset === null && s.responseType === '' && isXmlMime(finalMime(s))) charset = xmlDeclaredEncoding(bytes);
  const text = decode(bytes, charset);
  s.textCache = { received: s.received, text };
  return text;
}

function responseObject(s: XhrState): unknown {
  switch (s.responseType) {
    case 'arraybuffer':
      try {
        const bytes = bytesOf(s);
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      } catch {
        return null; // allocation failure
      }
    case 'blob':
      return new Blob([bytesOf(s) as BlobPart], { type: serializeMimeType(finalMime(s)) });
    case 'document':
      return documentResponse(s);
    case 'json':
      try {
        return JSON.parse(new TextDecoder('utf-8').decode(bytesOf(s))) as unknown;
      } catch {
        return null;
      }
    default:
      return null;
  }
}

const DOM_PARSER_XML_TYPES = new Set(['text/xml', 'application/xml', 'application/xhtml+xml', 'image/svg+xml']);

/** XHR "document response", through DOMParser (no scripts run, as in an XHR document). */
function documentResponse(s: XhrState): Document | null {
  if (!s.response) return null;
  const mime = finalMime(s);
  const html = isHtmlMime(mime);
  if (!html && !isXmlMime(mime)) return null;
  if (html && s.responseType === '') return null; // responseXML with "" parses XML only
  const Parser = (globalThis as { DOMParser?: typeof DOMParser }).DOMParser;
  if (!Parser) return null;
  const bytes = bytesOf(s);
  // XHR "document response": without a charset, HTML is prescanned for <meta charset> and
  // XML follows its encoding declaration.
  const charset = finalCharset(s) ?? (html ? htmlPrescan(bytes) : xmlDeclaredEncoding(bytes));
  const text = decode(bytes, charset);
  const type = html ? 'text/html' : DOM_PARSER_XML_TYPES.has(mime.essence) ? mime.essence : 'application/xml';
  const doc = new Parser().parseFromString(text, type as DOMParserSupportedType);
  if (!html && typeof doc.getElementsByTagName === 'function' && doc.getElementsByTagName('parsererror').length > 0) return null;
  return doc;
}
