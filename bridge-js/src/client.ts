// The page side of the bus protocol: many request/response streams multiplexed over one
// message transport, with flow control in both directions (PROTOCOL.md sections 5 and 6).
//
// Response bodies are ReadableStreams whose queue is the stream's window: Credit is only
// granted for bytes the consumer has taken out of the queue, so a page that stops reading
// stops the handler producing on the bus side. Uploads are sent only within the credit
// the bus grants, so a slow handler holds the page's upload back.

import {
  DecodeError,
  ErrorCode,
  FRAME_TYPES,
  INITIAL_UPLOAD_WINDOW,
  MAX_FRAME,
  SESSION_STREAM,
  VERSION,
  decode,
  encode,
  errorCodeName,
  type Frame,
  type Header,
} from './codec.js';
import { bare, cancelReader, cancelStream, enqueueMicrotask, getReader, read, then } from './intrinsics.js';

/**
 * A message channel to the bus that preserves message boundaries and order (one message
 * is one frame). The client installs `onmessage`; the transport calls it once per message,
 * and hands over the buffer: the client keeps views into it (response body chunks), so
 * the transport must not reuse it.
 */
export interface Transport {
  send(bytes: Uint8Array): void;
  onmessage: ((bytes: Uint8Array) => void) | null;
  /**
   * Optional: the client installs it, and the transport calls it when the bus side started
   * a new session for this page (e.g. a page restored from the back/forward cache): the
   * streams of the old session are gone there, so the client fails them; new ones work.
   */
  onreset?: ((reason: unknown) => void) | null | undefined;
  /**
   * Optional: carries the whole request body of `stream` (whose head went out with
   * `endStream` false) as bytes outside the frames; the bus side feeds it to the stream
   * within its credit and ends it. Returns false when it cannot (the client then sends
   * frames). The transport copies what it keeps, and `body` stays the caller's, unless
   * `lend` is true: then the transport may take `body`'s buffer (detaching it) when the
   * view covers all of it, and gives the bytes back through `oncarryreturn` once it is done
   * with them. On WebKitGTK the relay's binary upload carrier (bridge-desktop's channel.rs;
   * docs/ARCHITECTURE.md, "Binary carriers").
   */
  sendBody?: ((stream: number, body: Uint8Array, lend?: boolean) => boolean) | undefined;
  /** Optional: the client installs it; the transport calls it when a carried body failed. */
  oncarryerror?: ((stream: number, reason: string) => void) | null | undefined;
  /**
   * Optional: the client installs it; the transport calls it with a lent body's bytes once
   * the carrier is done with them (null if they cannot come back).
   */
  oncarryreturn?: ((stream: number, body: Uint8Array | null | CarryBack) => void) | null | undefined;
}

/**
 * A lent body the carrier still holds and gives back only when asked (the desktop relay,
 * when JavaScriptCore pinned the buffer its socket read: giving it back is a copy, worth
 * making only for a redirect that sends it again).
 */
export interface CarryBack {
  /** The bytes, once (null if they are gone). */
  again(): Promise<Uint8Array | null>;
  /** Not needed: the carrier lets them go. */
  release(): void;
}

/** A request body: bytes, or chunks produced over time (streamed upload). */
export type RequestBody = Uint8Array | AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;

export interface StreamInit {
  method: string;
  /** Absolute (`app://localhost/api/x`) or origin-form (`/api/x`). */
  uri: string;
  /** String values are ByteStrings (one byte per char, as in fetch); names are sent lower case. */
  headers?: Iterable<readonly [string, string | Uint8Array]> | undefined;
  body?: RequestBody | null | undefined;
  signal?: AbortSignal | null | undefined;
  /** A second signal that aborts the stream the same way (e.g. one shared by many requests). */
  stop?: AbortSignal | null | undefined;
  /** Response bytes buffered ahead of the consumer (the stream's window); default 1 MiB. */
  window?: number | undefined;
  /**
   * Told after each `RequestData` frame is handed to the transport (`done` false) and after
   * `RequestEnd` (`done` true), with the body bytes sent so far: real upload progress, since
   * data goes out only within the bus's credit. Not called for a body sent as `endStream`.
   */
  onupload?: ((sent: number, done: boolean) => void) | undefined;
  /**
   * The caller lends the body's buffer (a `Uint8Array` it made and holds nowhere else): a
   * transport's carrier may take it, detaching `body`, instead of copying it (a 16 MiB copy
   * is ~10 ms of the page's thread in WebKitGTK). When it did (`body` is detached), this is
   * called with a promise of the same bytes back, for a caller that may send them again (a
   * redirect); it resolves once the carrier is done with them, or to null if they cannot
   * come back (the client closed, the carrier could not transfer them).
   */
  lendBody?: ((back: Promise<Uint8Array | null | CarryBack>) => void) | undefined;
}

export interface StreamResponse {
  status: number;
  /** As received: lower-case names, raw value bytes. */
  headers: Header[];
  /** Fed as ResponseData arrives; reading it is what grants the bus more credit. */
  body: ReadableStream<Uint8Array>;
  /**
   * The whole body when it arrived in the same delivery as the head (a small response):
   * callers can use these bytes and skip the stream, which is then made only if read.
   */
  complete: Uint8Array | null;
  /**
   * Body bytes received so far, and whether the response has ended (`ResponseEnd`): a
   * reader that has taken `received` bytes of an ended response has all of it.
   */
  progress?: (() => { received: number; ended: boolean }) | undefined;
}

/** A violation by the peer that is not (only) one stream's failure. */
export class ProtocolError extends Error {
  /** The stream concerned, or 0 for the session. */
  readonly stream: number;
  /** The code of the bus's `Error` frame when it reported the problem, else null. */
  readonly code: number | null;

  constructor(message: string, stream: number, code: number | null = null) {
    super(message);
    this.name = 'ProtocolError';
    this.stream = stream;
    this.code = code;
  }
}

export interface ClientOptions {
  onprotocolerror?: ((error: DecodeError | ProtocolError) => void) | undefined;
  /**
   * Streams open at once; more requests wait in order until one ends, as a browser queues
   * requests beyond its connections. Default 256, the bus port's per-session limit
   * (`SessionConfig::max_streams`): a 257th stream would be refused with `TooManyStreams`.
   */
  maxStreams?: number | undefined;
}

/**
 * The default response window. 1 MiB rather than 256 KiB: a 64 MiB download by fetch in
 * WebKitGTK waited for credit to cross back (151 MB/s with 256 KiB, 170-229 with 1 MiB in
 * `benches webview --quick` runs of the same hour, not side by side). A paused stream holds
 * at most this much in the page.
 */
export const DEFAULT_WINDOW = 1024 * 1024;

/** The bus port's default limit of open streams per session. */
export const DEFAULT_MAX_STREAMS = 256;

/**
 * Streams of a page's session its workers cannot take (a quarter of `maxStreams`, at most
 * this many): a worker holding every other slot leaves the page these.
 */
export const PAGE_RESERVED_STREAMS = 16;

/**
 * Largest RequestData payload we send: a quarter of the initial upload window, so four
 * chunks are in flight while the bus credits back each one its handler consumes.
 */
export const UPLOAD_CHUNK = 64 * 1024;

/** Bodies larger than this go by the transport's carrier (`Transport.sendBody`) if it has one. */
export const CARRY_OVER = UPLOAD_CHUNK;

const MAX_U32 = 0xffffffff;

type Phase = 'head' | 'body' | 'closed';

/** Client-side state of one open stream. */
class Stream {
  phase: Phase = 'head';
  /** Response credit given to the bus in total (window + Credit frames), and bytes received. */
  granted: number;
  received = 0;
  /** ResponseEnd arrived. */
  ended = false;
  controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  /** Between the head and the response's publication (a microtask later): data so far. */
  early: Uint8Array[] | null = null;
  /** Set when the stream ended (`true`) or failed (the reason) before its publication. */
  earlyEnd: { error: unknown } | true | null = null;
  status = 0;
  headers: Header[] = [];
  /** Upload credit the bus has granted and we have not used yet. */
  uploadCredit = INITIAL_UPLOAD_WINDOW;
  /** Wakes the upload pump waiting for credit (or for the stream to close). */
  wake: (() => void) | null = null;
  detachAbort: () => void = () => {};
  /** Cancels a ReadableStream upload source, which may be waiting for its next chunk. */
  /** Cancels the request body's source (with the abort's reason, when there is one). */
  cancelSource: ((reason?: unknown) => void) | null = null;
  /** Upload progress hook (StreamInit.onupload) and body bytes sent so far. */
  onupload: ((sent: number, done: boolean) => void) | null = null;
  /** StreamInit.lendBody. */
  lendBody: ((back: Promise<Uint8Array | null | CarryBack>) => void) | null = null;
  sent = 0;

  constructor(
    readonly id: number,
    readonly window: number,
    readonly resolve: (response: StreamResponse) => void,
    readonly reject: (reason: unknown) => void,
  ) {
    this.granted = window;
  }
}

// Per-request records inherit nothing: assigning a field must not run a setter (or hit a
// getter) a page put on Object.prototype. (Cheaper than defining every field.)
Object.setPrototypeOf(Stream.prototype, null);

/**
 * A peer attached to a client ({@link BusClient.attachPeer}): another client (a worker's)
 * whose streams the page's client relays into its own session.
 */
export interface PeerLink {
  /** The peer's streams open in the session now (not those waiting for a slot). */
  readonly openStreams: number;
  /**
   * The peer is gone (its worker was terminated or closed itself): cancels its open streams
   * on the bus, forgets those waiting, and relays nothing more either way.
   */
  close(): void;
}

/** One stream of a peer: its id there and, once it has a slot, its id in the session. */
class Relayed {
  /** The id in the page's session; 0 while waiting for a slot. */
  pageId = 0;
  /** Frames from the peer while waiting for a slot (the head first), in order. */
  queued: Uint8Array[] | null = null;

  constructor(
    readonly peer: Peer,
    readonly peerId: number,
  ) {}
}
Object.setPrototypeOf(Relayed.prototype, null);

class Peer {
  readonly streams = new Map<number, Relayed>();
  closed = false;

  constructor(readonly transport: Transport) {}
}
Object.setPrototypeOf(Peer.prototype, null);

/**
 * Opens request streams to the bus over a {@link Transport}. One client per transport
 * (per page session); it takes over the transport's `onmessage`.
 */
export class BusClient {
  /**
   * Told about peer misbehaviour no request's promise or body reports by itself: an
   * inbound frame that does not decode, an `Error` on stream 0, a frame the bus must not
   * send (these fail nothing), and a stream the bus broke the protocol on (that stream is
   * also cancelled and failed).
   */
  onprotocolerror: ((error: DecodeError | ProtocolError) => void) | null;

  private readonly streams = new Map<number, Stream>();
  /** Lent bodies the carrier has not given back yet, by stream id (see `StreamInit.lendBody`). */
  private readonly lent = new Map<number, (body: Uint8Array | null | CarryBack) => void>();
  /** Peers' streams open in the session, by their id in the session. */
  private readonly relayed = new Map<number, Relayed>();
  private readonly peers = new Set<Peer>();
  /** Requests (ours and peers') waiting for a stream slot (beyond `maxStreams`), oldest first. */
  private readonly waiting: Waiting[] = [];
  private readonly maxStreams: number;
  /**
   * Slots peers (workers) may hold together: `maxStreams` less a reserve for the page's own
   * requests (a quarter, at most 16), so a worker holding every slot cannot starve its page.
   */
  private readonly peerSlots: number;
  private nextId = 1;
  private isClosed = false;
  private closeReason: unknown = undefined;
  /** Inbound messages handled so far (a request's timer can tell whether frames were pending). */
  private messages = 0;

  constructor(
    private readonly transport: Transport,
    options: ClientOptions = {},
  ) {
    this.onprotocolerror = options.onprotocolerror ?? null;
    const max = options.maxStreams ?? DEFAULT_MAX_STREAMS;
    if (!Number.isInteger(max) || max < 1) throw new RangeError('maxStreams must be a positive integer');
    this.maxStreams = max;
    this.peerSlots = max - Math.min(PAGE_RESERVED_STREAMS, Math.floor(max / 4));
    transport.onmessage = (bytes) => this.receive(bytes);
    transport.onreset = (reason) => this.reset(reason);
    transport.oncarryreturn = (id, body) => {
      const back = this.lent.get(id);
      if (back === undefined) {
        // Not lent (a copy the carrier made, or a stream that is gone): nobody will ask
        // for it again, so a carrier that keeps it lets it go.
        if (body !== null && typeof body === 'object' && !ArrayBuffer.isView(body)) body.release();
        return;
      }
      this.lent.delete(id);
      back(body);
    };
    transport.oncarryerror = (id, reason) => {
      const s = this.streams.get(id);
      if (!s || s.phase === 'closed') return;
      this.trySendFrame(s, { type: 'Cancel', stream: id });
      this.fail(s, new TypeError(`request body could not be carried to the bus: ${reason}`));
    };
  }

  /** Inbound messages handled so far: it grows whenever the bus delivered anything. */
  get delivered(): number {
    return this.messages;
  }

  /** Requests waiting for one of the session's `maxStreams` streams to end. */
  get queuedStreams(): number {
    return this.waiting.length;
  }

  /**
   * Fails every open stream with `reason` (default: a TypeError saying the session was
   * reset) and keeps the client usable: the bus side has a new session and knows none of
   * them. Each gets a `Cancel` all the same (a new session ignores a cancel of a stream it
   * does not know): a reset the page's script made up, where the session lives on, must not
   * leave the bus's streams open, taking the session's stream slots.
   */
  reset(reason?: unknown): void {
    if (this.isClosed) return;
    const why = reason ?? new TypeError('the bus session was reset: open requests were dropped');
    for (const s of [...this.streams.values()]) {
      this.trySendFrame(s, { type: 'Cancel', stream: s.id });
      this.fail(s, why);
    }
    // Peers' streams end the same way: the session that carried them is gone.
    this.endPeerStreams(messageOf(why), true);
  }

  /** Streams open now (waiting for or receiving their response). */
  get openStreams(): number {
    return this.streams.size;
  }

  /**
   * Sends a request and resolves with the response head once it arrives. Rejects with a
   * TypeError when the bus fails the stream (the message names the error code), or with
   * the signal's reason (an AbortError DOMException by default) when aborted; an abort
   * after the head errors the body the same way.
   */
  openStream(init: StreamInit): Promise<StreamResponse> {
    try {
      return this.open(init);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Fails every open stream with `reason` (default: a TypeError) and refuses new ones.
   * Sends nothing: this is for when the transport is gone (page unload, bridge lost).
   */
  close(reason?: unknown): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeReason = reason ?? new TypeError('the bus connection is closed');
    this.endPeerStreams(messageOf(this.closeReason), false);
    for (const w of this.waiting.splice(0, this.waiting.length)) {
      w.detachAbort();
      w.reject(this.closeReason);
    }
    for (const s of [...this.streams.values()]) this.fail(s, this.closeReason);
    for (const back of this.lent.values()) back(null);
    this.lent.clear();
    for (const p of this.peers) {
      p.closed = true;
      p.transport.onmessage = null;
    }
    this.peers.clear();
  }

  /**
   * Relays another client's streams (a worker's, over a `MessagePort`) through this
   * client's session: the peer's frames go to the bus with their stream ids remapped into
   * this session's id space, and the bus's frames for them go back with the peer's ids.
   * Everything else passes unchanged, so bodies, credit, cancellation and server push work
   * as for the page's own requests, and the bus sees them as this session's (the caller
   * identity of the page, never more). The peer's streams count against `maxStreams`:
   * beyond it they wait, in order with the page's own. Frames the peer must not send
   * (bus-to-page types, stream 0, a bad version) are answered with an `Error` frame to the
   * peer and never reach the bus. The client takes over `transport.onmessage`.
   */
  attachPeer(transport: Transport): PeerLink {
    if (this.isClosed) throw new TypeError('attachPeer: the bus connection is closed');
    const peer = new Peer(transport);
    this.peers.add(peer);
    transport.onmessage = (bytes) => this.fromPeer(peer, bytes);
    return bare({
      get openStreams(): number {
        let n = 0;
        for (const r of peer.streams.values()) if (r.pageId !== 0) n++;
        return n;
      },
      close: () => this.closePeer(peer),
    });
  }

  /** Peers' streams open in the session now (not those waiting for a slot). */
  get relayedStreams(): number {
    return this.relayed.size;
  }

  /** Handles one inbound message; installed as the transport's `onmessage`. */
  receive(bytes: Uint8Array): void {
    if (this.isClosed) return;
    this.messages++;
    if (this.relayed.size > 0 && this.toPeer(bytes)) return;
    let frame: Frame;
    try {
      frame = decode(bytes);
    } catch (e) {
      // Nothing in an undecodable frame says which stream it was for: report, go on.
      this.report(e instanceof DecodeError ? e : new ProtocolError(`cannot decode a frame: ${String(e)}`, 0));
      return;
    }
    try {
      this.dispatch(frame);
    } catch (e) {
      // Our own failure (or a platform object the page tampered with): the stream concerned
      // fails, rather than leave its request waiting forever.
      const s = this.streams.get(frame.stream);
      if (s) {
        this.trySendFrame(s, { type: 'Cancel', stream: s.id });
        this.fail(s, internalError(e));
      }
    }
  }

  // -------------------------------------------------------------------------------------

  private open(init: StreamInit): Promise<StreamResponse> {
    if (this.isClosed) return Promise.reject(this.closeReason);
    const { method, uri, signal } = init;
    if (typeof method !== 'string') throw new TypeError('method must be a string');
    if (typeof uri !== 'string') throw new TypeError('uri must be a string');
    const window = init.window ?? DEFAULT_WINDOW;
    // A window of 0 ("wait for my first Credit") cannot work with a queue-driven window:
    // there would be no queue room whose freeing grants credit.
    if (!Number.isInteger(window) || window < 1 || window > MAX_U32) {
      throw new RangeError(`window must be an integer from 1 to ${MAX_U32}`);
    }
    const headers = normalizeHeaders(init.headers);
    const body = init.body ?? null;
    if (body !== null && !(body instanceof Uint8Array) && !isReadableStream(body) && !isAsyncIterable(body)) {
      throw new TypeError('body must be a Uint8Array, a ReadableStream or an async iterable of Uint8Array');
    }
    const endStream = body === null || (body instanceof Uint8Array && body.byteLength === 0);
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const stop = init.stop ?? null;
    if (stop?.aborted) return Promise.reject(abortReason(stop));
    const start: Start = {
      method,
      uri,
      headers,
      body,
      endStream,
      window,
      signal: signal ?? null,
      stop,
      onupload: init.onupload ?? null,
      lendBody: init.lendBody ?? null,
    };
    if (this.hasSlot() && !this.waiting.some((w) => w.relay === null || this.canStart(w))) {
      return this.start(start);
    }

    // Beyond the session's streams: wait for one to end, as browsers queue beyond their connections.
    return new Promise<StreamResponse>((resolve, reject) => {
      const w: Waiting = { start, relay: null, resolve, reject, detachAbort: () => {} };
      w.detachAbort = onAborts(signal ?? null, stop, (reason) => {
        const at = this.waiting.indexOf(w);
        if (at >= 0) this.waiting.splice(at, 1);
        cancelBody(start.body, reason);
        reject(reason);
      });
      this.waiting.push(w);
    });
  }

  /** Opens a stream now (a slot is free). */
  private start(init: Start): Promise<StreamResponse> {
    const { method, uri, headers, body, endStream, window, signal } = init;
    const id = this.allocateId();
    // Encode before registering: a head that cannot be encoded opens nothing.
    let head: Uint8Array;
    try {
      head = encode({ type: 'RequestHead', stream: id, method, uri, headers, endStream, window });
    } catch (e) {
      const tooLarge = headTooLarge(e, uri, headers);
      if (tooLarge) return Promise.resolve(tooLarge);
      throw e;
    }
    let s!: Stream;
    const response = new Promise<StreamResponse>((resolve, reject) => {
      s = new Stream(id, window, resolve, reject);
    });
    this.streams.set(id, s);
    if (!this.trySend(s, head)) return response;

    s.detachAbort = onAborts(signal, init.stop, (reason) => this.abort(s, reason));
    if (init.onupload) s.onupload = init.onupload;
    if (init.lendBody) s.lendBody = init.lendBody;
    if (!endStream && body !== null) void this.upload(s, body);
    return response;
  }

  /** Starts waiting requests while slots are free (called when a stream ends). */
  private pump(): void {
    // In order, but a peer's stream beyond the peers' slots lets the page's own go past it.
    for (let i = 0; i < this.waiting.length && this.hasSlot() && !this.isClosed; ) {
      const w = this.waiting[i]!;
      if (!this.canStart(w)) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      w.detachAbort();
      if (w.relay !== null) {
        this.startRelay(w.relay);
        continue;
      }
      const start = w.start!;
      const aborted = start.signal?.aborted ? start.signal : start.stop?.aborted ? start.stop : null;
      if (aborted) {
        const reason = abortReason(aborted);
        cancelBody(start.body, reason);
        w.reject(reason);
        continue;
      }
      let p: Promise<StreamResponse>;
      try {
        p = this.start(w.start!);
      } catch (e) {
        w.reject(e);
        continue;
      }
      then(p, w.resolve, w.reject);
    }
  }

  private allocateId(): number {
    // Count up, wrapping at u32 (skipping 0 and ids still open), as PROTOCOL.md asks.
    for (;;) {
      const id = this.nextId;
      this.nextId = id >= MAX_U32 ? 1 : id + 1;
      if (!this.streams.has(id) && !this.relayed.has(id) && !this.lent.has(id)) return id;
    }
  }

  private hasSlot(): boolean {
    return this.streams.size + this.relayed.size < this.maxStreams;
  }

  /** A slot is free and the peers hold fewer than theirs. */
  private hasPeerSlot(): boolean {
    return this.hasSlot() && this.relayed.size < this.peerSlots;
  }

  /** Whether a waiting request (the page's or a peer's) could start now. */
  private canStart(w: Waiting): boolean {
    return w.relay === null ? this.hasSlot() : this.hasPeerSlot();
  }

  // --- relaying a peer's streams (attachPeer) ------------------------------------------

  /** A frame from a peer: checked just enough to route it, remapped, sent to the bus. */
  private fromPeer(peer: Peer, bytes: Uint8Array): void {
    if (this.isClosed || peer.closed) return;
    if (!(bytes instanceof Uint8Array) || bytes.byteLength < 9) {
      this.errorToPeer(peer, SESSION_STREAM, ErrorCode.Malformed, 'malformed frame: shorter than a stream frame');
      return;
    }
    if (bytes.byteLength > MAX_FRAME) {
      this.errorToPeer(peer, SESSION_STREAM, ErrorCode.FrameTooLarge, `frame of ${bytes.byteLength} bytes is over the limit`);
      return;
    }
    if (bytes[0] !== VERSION) {
      this.errorToPeer(peer, SESSION_STREAM, ErrorCode.UnsupportedVersion, `unsupported protocol version ${bytes[0]}`);
      return;
    }
    const type = readU32(bytes, 1);
    const id = readU32(bytes, 5);
    if (id === SESSION_STREAM) {
      this.errorToPeer(peer, SESSION_STREAM, ErrorCode.Protocol, 'stream 0 is reserved for the session');
      return;
    }
    const r = peer.streams.get(id);
    switch (type) {
      case 0: {
        // RequestHead
        if (r) {
          // An id still open: the bus closes that stream with StreamIdInUse (PROTOCOL.md 5).
          this.endRelay(r, true);
          this.errorToPeer(peer, id, ErrorCode.StreamIdInUse, `stream ${id} is already open`);
          return;
        }
        const fresh = new Relayed(peer, id);
        peer.streams.set(id, fresh);
        fresh.queued = [bytes];
        if (this.hasPeerSlot() && this.waiting.length === 0) this.startRelay(fresh);
        else this.waiting.push({ start: null, relay: fresh, resolve: () => {}, reject: () => {}, detachAbort: () => {} });
        return;
      }
      case 1: // RequestData
      case 2: // RequestEnd
      case 7: // Credit
        if (!r) return; // raced with the stream's end, as the bus drops it
        if (r.queued !== null) r.queued.push(bytes);
        else this.forward(r, bytes);
        return;
      case 6: // Cancel
        if (!r) return;
        this.endRelay(r, true);
        return;
      default: {
        const name = FRAME_TYPES[type];
        if (name === undefined) {
          this.errorToPeer(peer, SESSION_STREAM, ErrorCode.Malformed, `malformed frame: unknown frame type ${type}`);
        } else {
          this.errorToPeer(peer, id, ErrorCode.Protocol, `${name} frames go from the bus to the page, not back`);
        }
      }
    }
  }

  /** Gives a waiting peer stream its id in the session and sends what it has queued. */
  private startRelay(r: Relayed): void {
    const queued = r.queued;
    if (queued === null || r.peer.closed || r.peer.streams.get(r.peerId) !== r) return;
    r.queued = null;
    r.pageId = this.allocateId();
    this.relayed.set(r.pageId, r);
    for (let i = 0; i < queued.length && r.pageId !== 0; i++) this.forward(r, queued[i]!);
  }

  /** Sends a peer's frame to the bus under the stream's id in the session. */
  private forward(r: Relayed, bytes: Uint8Array): void {
    // The buffer is ours (the transport hands it over): rewrite the id in place.
    writeU32(bytes, 5, r.pageId);
    try {
      this.transport.send(bytes);
    } catch (e) {
      this.endRelay(r, false);
      this.errorToPeer(r.peer, r.peerId, ErrorCode.Internal, `the bus transport failed: ${String(e)}`);
    }
  }

  /**
   * A bus frame for a peer's stream goes back to the peer under its own id; true when the
   * frame was one (it is then not the client's to decode).
   */
  private toPeer(bytes: Uint8Array): boolean {
    if (bytes.byteLength < 9 || bytes[0] !== VERSION) return false;
    const r = this.relayed.get(readU32(bytes, 5));
    if (!r) return false;
    const type = readU32(bytes, 1);
    // ResponseHead, ResponseData, ResponseEnd, Credit, Error, Response: the bus's frames.
    // Anything else on this id is the bus's violation: the client reports it as for its own.
    if (type !== 3 && type !== 4 && type !== 5 && type !== 7 && type !== 8 && type !== 9) return false;
    writeU32(bytes, 5, r.peerId);
    // ResponseEnd, Response and every Error close the stream on the bus side (PROTOCOL.md 5).
    if (type === 5 || type === 8 || type === 9) this.endRelay(r, false);
    this.sendToPeer(r.peer, bytes);
    return true;
  }

  /** Forgets a peer's stream (freeing its slot); `cancel` tells the bus to drop it too. */
  private endRelay(r: Relayed, cancel: boolean): void {
    if (r.peer.streams.get(r.peerId) === r) r.peer.streams.delete(r.peerId);
    if (r.queued !== null) {
      r.queued = null;
      const at = this.waiting.findIndex((w) => w.relay === r);
      if (at >= 0) this.waiting.splice(at, 1);
      return;
    }
    if (r.pageId === 0 || this.relayed.get(r.pageId) !== r) return;
    const pageId = r.pageId;
    this.relayed.delete(pageId);
    r.pageId = 0;
    if (cancel) {
      try {
        this.transport.send(encode({ type: 'Cancel', stream: pageId }));
      } catch {
        /* the transport is gone: so is the stream */
      }
    }
    if (this.waiting.length > 0) enqueueMicrotask(() => this.pump());
  }

  private closePeer(peer: Peer): void {
    if (peer.closed) return;
    peer.closed = true;
    peer.transport.onmessage = null;
    this.peers.delete(peer);
    for (const r of [...peer.streams.values()]) this.endRelay(r, !this.isClosed);
  }

  /** Fails every peer stream (the session is gone): an Error frame to each peer for each. */
  /** Ends every peer's stream with `message`; `cancel`: a Cancel for each goes to the bus. */
  private endPeerStreams(message: string, cancel: boolean): void {
    for (const peer of this.peers) {
      for (const r of [...peer.streams.values()]) {
        this.endRelay(r, cancel);
        this.errorToPeer(peer, r.peerId, ErrorCode.Shutdown, message);
      }
    }
  }

  private errorToPeer(peer: Peer, stream: number, code: number, message: string): void {
    this.sendToPeer(peer, encode({ type: 'Error', stream, code, message }));
  }

  private sendToPeer(peer: Peer, bytes: Uint8Array): void {
    if (peer.closed) return;
    try {
      peer.transport.send(bytes);
    } catch {
      // The peer's end is gone (its worker terminated): its streams go with it.
      this.closePeer(peer);
    }
  }

  private dispatch(frame: Frame): void {
    if (frame.type === 'Error' && frame.stream === SESSION_STREAM) {
      this.report(
        new ProtocolError(
          `bus session error ${errorCodeName(frame.code)} (${frame.code}): ${frame.message}`,
          SESSION_STREAM,
          frame.code,
        ),
      );
      return;
    }
    const s = this.streams.get(frame.stream);
    switch (frame.type) {
      case 'ResponseHead':
        if (!s) return; // raced with our Cancel
        if (s.phase !== 'head') return this.violation(s, 'a second ResponseHead');
        this.onHead(s, frame.status, frame.headers);
        return;
      case 'ResponseData':
        if (!s) return;
        if (s.phase !== 'body') return this.violation(s, 'ResponseData before ResponseHead');
        this.onData(s, frame.data);
        return;
      case 'ResponseEnd':
        if (!s) return;
        if (s.phase !== 'body') return this.violation(s, 'ResponseEnd before ResponseHead');
        this.onEnd(s);
        return;
      case 'Response':
        if (!s) return; // raced with our Cancel
        if (s.phase !== 'head') return this.violation(s, 'a Response after ResponseHead');
        this.onHead(s, frame.status, frame.headers);
        this.onData(s, frame.data);
        // (onData may have failed it: data beyond the window.)
        if ((s.phase as Phase) === 'body') this.onEnd(s);
        return;
      case 'Credit':
        if (!s) return; // credit for a stream that ended: a normal race
        // Totals saturate (PROTOCOL.md 6); a double stays exact far beyond any real upload.
        s.uploadCredit = Math.min(s.uploadCredit + frame.bytes, Number.MAX_SAFE_INTEGER);
        s.wake?.();
        return;
      case 'Error':
        if (!s) return; // e.g. UnknownStream for data that raced with the stream's end
        // Not every Error closes the stream on the bus side (StreamIdInUse is about an id
        // the bus still has open; a wrong-direction frame is refused without closing), but
        // we forget the stream all the same. Cancel makes both sides agree; for a stream
        // the bus already closed it is ignored.
        this.trySendFrame(s, { type: 'Cancel', stream: s.id });
        this.fail(s, new TypeError(`bus stream ${s.id} failed: ${errorCodeName(frame.code)} (${frame.code}): ${frame.message}`));
        return;
      default:
        // RequestHead, RequestData, RequestEnd, Cancel go from the page to the bus.
        this.report(new ProtocolError(`${frame.type} frames go from the page to the bus, not back`, frame.stream));
        return;
    }
  }

  /**
   * The response is published a microtask after its head: a transport delivers a batch of
   * frames synchronously, so a small response's data and end are in by then and its body
   * can be handed over whole, without a stream.
   */
  private onHead(s: Stream, status: number, headers: Header[]): void {
    s.phase = 'body';
    s.status = status;
    s.headers = headers;
    s.early = [];
    enqueueMicrotask(() => this.publish(s));
  }

  private publish(s: Stream): void {
    try {
      this.publishNow(s);
    } catch (e) {
      // Nothing may leave a request unsettled: an internal failure fails the stream.
      if (s.phase !== 'closed') {
        this.trySendFrame(s, { type: 'Cancel', stream: s.id });
        this.finish(s);
      }
      s.reject(internalError(e));
    }
  }

  private publishNow(s: Stream): void {
    // Aborted in between: the promise was rejected already.
    if (s.early === null) return;
    const early = s.early;
    const end = s.earlyEnd;
    s.early = null;
    s.earlyEnd = null;
    if (end === true) {
      const complete = concat(early);
      let body: ReadableStream<Uint8Array> | null = null;
      // Null prototypes: resolving a promise looks `then` up, and the page owns Object.prototype.
      s.resolve(
        bare({
          status: s.status,
          headers: s.headers,
          complete,
          get body() {
            body ??= bytesStream(complete);
            return body;
          },
        }),
      );
      return;
    }
    const body = new ReadableStream<Uint8Array>(
      bare({
        start: (controller: ReadableStreamDefaultController<Uint8Array>) => {
          s.controller = controller;
          for (let i = 0; i < early.length; i++) controller.enqueue(early[i]!);
          if (end) controller.error(end.error);
        },
        // Called whenever the queue has room (after the consumer reads, or a chunk arrives).
        pull: () => this.grant(s),
        cancel: () => {
          if (s.phase === 'closed') return;
          this.finish(s);
          this.trySendFrame(s, { type: 'Cancel', stream: s.id });
        },
      }),
      // The queue is the window: it holds at most what we granted and the consumer has not read.
      bare({ highWaterMark: s.window, size: (chunk: Uint8Array) => chunk.byteLength }),
    );
    const progress = (): { received: number; ended: boolean } => bare({ received: s.received, ended: s.ended });
    s.resolve(bare({ status: s.status, headers: s.headers, body, complete: null, progress }));
  }

  private onEnd(s: Stream): void {
    s.ended = true;
    this.finish(s);
    if (s.early) s.earlyEnd = true;
    else s.controller?.close();
  }

  private onData(s: Stream, data: Uint8Array): void {
    s.received += data.byteLength;
    if (s.received > s.granted) {
      this.violation(s, `ResponseData beyond credit (${s.received} bytes received, ${s.granted} granted)`);
      return;
    }
    if (data.byteLength === 0) return;
    if (s.early) s.early.push(data);
    else s.controller?.enqueue(data);
  }

  /**
   * Grants the bus credit for the queue room the consumer has freed, so that granted but
   * unreceived bytes plus queued bytes never exceed the window. Grants in steps of at least
   * a quarter window to avoid a Credit frame per small read; this cannot stall: below that
   * step, the bus still holds over three quarters of a window of credit.
   */
  private grant(s: Stream): void {
    if (s.phase !== 'body' || !s.controller) return;
    const room = s.controller.desiredSize ?? 0;
    const inFlight = s.granted - s.received;
    const bytes = room - inFlight;
    if (bytes < Math.max(1, Math.ceil(s.window / 4))) return;
    s.granted += bytes;
    this.trySendFrame(s, { type: 'Credit', stream: s.id, bytes });
  }

  /** Sends the request body within the upload credit, then RequestEnd. */
  private async upload(s: Stream, body: RequestBody): Promise<void> {
    // More than one frame's worth of bytes in hand: as bytes by the transport's carrier,
    // when it has one (no base64, no credit round trips here; the bus side keeps the credit).
    const carry = this.transport.sendBody;
    const lend = s.lendBody;
    // Read before the carrier may take (detach) a lent body.
    const length = body instanceof Uint8Array ? body.byteLength : 0;
    if (body instanceof Uint8Array && length > CARRY_OVER && carry && carry(s.id, body, lend !== null)) {
      // Waited for only when the carrier did take it (a transport may copy instead, and then
      // never gives anything back).
      if (lend !== null && body.byteLength === 0) lend(new Promise<Uint8Array | null | CarryBack>((resolve) => this.lent.set(s.id, resolve)));
      s.sent = length;
      this.progress(s, true);
      return;
    }
    try {
      for await (const chunk of chunksOf(body, s)) {
        if (!(chunk instanceof Uint8Array)) throw new TypeError('request body chunks must be Uint8Array');
        let offset = 0;
        while (offset < chunk.byteLength) {
          if (!(await this.uploadCredit(s))) return; // the stream closed: stop, drop the rest
          const n = Math.min(chunk.byteLength - offset, s.uploadCredit, UPLOAD_CHUNK);
          // The payload is copied into the frame here, so later mutation by the producer is harmless.
          const data = chunk.subarray(offset, offset + n);
          if (!this.trySendFrame(s, { type: 'RequestData', stream: s.id, data })) return;
          s.uploadCredit -= n;
          offset += n;
          s.sent += n;
          this.progress(s, false);
        }
      }
      if (s.phase !== 'closed' && this.trySendFrame(s, { type: 'RequestEnd', stream: s.id })) this.progress(s, true);
    } catch (e) {
      // The body source failed: the request cannot complete, as fetch does for a failing body.
      if (s.phase === 'closed') return;
      this.trySendFrame(s, { type: 'Cancel', stream: s.id });
      // Fetch's processBodyError: an "AbortError" DOMException aborts the fetch (it rejects
      // with an AbortError); any other error is a network error (a TypeError).
      const aborted = e instanceof DOMException && e.name === 'AbortError';
      this.fail(s, aborted ? e : new TypeError(`request body failed: ${String(e)}`, { cause: e }));
    }
  }

  private progress(s: Stream, done: boolean): void {
    const hook = s.onupload;
    if (!hook) return;
    try {
      hook(s.sent, done);
    } catch (e) {
      // The hook is the caller's code: it must not break the upload loop.
      enqueueMicrotask(() => {
        throw e;
      });
    }
  }

  /** Resolves true once there is upload credit, false if the stream closes first. */
  private async uploadCredit(s: Stream): Promise<boolean> {
    while (s.phase !== 'closed' && s.uploadCredit <= 0) {
      await new Promise<void>((resolve) => {
        s.wake = resolve;
      });
      s.wake = null;
    }
    return s.phase !== 'closed';
  }

  private abort(s: Stream, reason: unknown): void {
    if (s.phase === 'closed') return;
    this.trySendFrame(s, { type: 'Cancel', stream: s.id });
    if (s.early !== null) {
      // The head is in but the response is not published yet: as Fetch's "abort fetch",
      // the promise rejects (it would have, a microtask earlier).
      s.early = null;
      s.earlyEnd = null;
      this.finish(s, reason);
      s.reject(reason);
      return;
    }
    this.fail(s, reason);
  }

  /** The bus broke the protocol on this stream: report it, cancel and fail the stream. */
  private violation(s: Stream, what: string): void {
    const message = `bus protocol violation on stream ${s.id}: ${what}`;
    this.report(new ProtocolError(message, s.id));
    this.abort(s, new TypeError(message));
  }

  /** Closes the stream locally and delivers `reason` to whoever waits on it. */
  private fail(s: Stream, reason: unknown): void {
    const phase = s.phase;
    if (phase === 'closed') return;
    this.finish(s, reason);
    if (phase === 'head') s.reject(reason);
    else if (s.early) s.earlyEnd = { error: reason };
    else s.controller?.error(reason);
  }

  /**
   * Marks the stream closed: forgets it (its id may be reused) and stops its upload, whose
   * source is cancelled with `reason` (an abort's, a failure's) when there is one.
   */
  private finish(s: Stream, reason?: unknown): void {
    s.phase = 'closed';
    this.streams.delete(s.id);
    s.detachAbort();
    s.wake?.();
    s.cancelSource?.(reason);
    // A slot is free: the oldest waiting request goes (after the current frame's handling).
    if (this.waiting.length > 0) enqueueMicrotask(() => this.pump());
  }

  private trySendFrame(s: Stream, frame: Frame): boolean {
    let bytes: Uint8Array;
    try {
      bytes = encode(frame);
    } catch (e) {
      this.fail(s, new TypeError(`cannot encode ${frame.type}: ${String(e)}`, { cause: e }));
      return false;
    }
    return this.trySend(s, bytes);
  }

  /** Sends, failing the stream (locally: the transport is what broke) if the transport throws. */
  private trySend(s: Stream, bytes: Uint8Array): boolean {
    try {
      this.transport.send(bytes);
      return true;
    } catch (e) {
      this.fail(s, new TypeError(`the bus transport failed: ${String(e)}`, { cause: e }));
      return false;
    }
  }

  private report(error: DecodeError | ProtocolError): void {
    const hook = this.onprotocolerror;
    if (!hook) return;
    try {
      hook(error);
    } catch (e) {
      // A throwing hook must not break frame processing; surface it as an uncaught error.
      enqueueMicrotask(() => {
        throw e;
      });
    }
  }
}

// ---------------------------------------------------------------------------------------

function normalizeHeaders(headers: StreamInit['headers']): Header[] {
  const out: Header[] = [];
  if (headers == null) return out;
  const add = (pair: readonly [string, string | Uint8Array]): void => {
    const name = pair[0];
    const value = pair[1];
    if (typeof name !== 'string') throw new TypeError('header names must be strings');
    const bytes = typeof value === 'string' ? byteString(value, name) : value;
    checkHeaderValue(name, bytes);
    out.push([asciiLowerCase(name), bytes]);
  };
  // Arrays by index (the page may have replaced Array.prototype[Symbol.iterator]).
  if (Array.isArray(headers)) for (let i = 0; i < headers.length; i++) add(headers[i] as readonly [string, string | Uint8Array]);
  else for (const pair of headers) add(pair);
  return out;
}

/**
 * The bus's header values are the `http` crate's `HeaderValue`s, which refuse control
 * characters other than tab (Fetch allows U+0001-U+0008, U+000B, U+000C, U+000E-U+001F and
 * U+007F): such a request fails here, naming the header, rather than at the bus.
 */
function checkHeaderValue(name: string, value: Uint8Array): void {
  for (let i = 0; i < value.length; i++) {
    const b = value[i]!;
    if ((b < 0x20 && b !== 0x09) || b === 0x7f) {
      throw new TypeError(
        `the value of header ${JSON.stringify(name)} has the control character U+${b.toString(16).toUpperCase().padStart(4, '0')}, which the bus cannot carry (http::HeaderValue refuses it)`,
      );
    }
  }
}

/** A request that could not be sent and is answered here (see `headTooLarge`). */
function localAnswer(status: number, message: string): StreamResponse {
  const bytes = new TextEncoder().encode(`${message}\n`);
  let body: ReadableStream<Uint8Array> | null = null;
  return bare({
    status,
    headers: [
      ['content-type', new TextEncoder().encode('text/plain; charset=utf-8')],
      ['content-length', new TextEncoder().encode(String(bytes.byteLength))],
    ] as Header[],
    complete: bytes,
    get body() {
      body ??= bytesStream(bytes);
      return body;
    },
  });
}

/**
 * A head too large for any frame (MAX_FRAME) gets the answer the bus gives heads over its
 * limits, without a round trip: 414 when the URI alone is too long, else 431. The page sees
 * an HTTP status, as it would from a server, not a network error.
 */
function headTooLarge(e: unknown, uri: string, headers: readonly Header[]): StreamResponse | null {
  if (!(e instanceof RangeError) || !/over MAX_FRAME/.test(e.message)) return null;
  let size = 0;
  for (let i = 0; i < headers.length; i++) size += headers[i]![0].length + headers[i]![1].byteLength;
  if (uri.length >= size) {
    return localAnswer(414, `URI of ${uri.length} characters is too long for the bus (a request head is at most ${MAX_FRAME} bytes)`);
  }
  return localAnswer(431, `request headers of ${size} bytes are too large for the bus (a request head is at most ${MAX_FRAME} bytes)`);
}

function bytesStream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    bare({
      start: (controller: ReadableStreamDefaultController<Uint8Array>) => {
        // An empty body is a stream that ends: no empty chunk.
        if (bytes.byteLength > 0) controller.enqueue(bytes);
        controller.close();
      },
    }),
  );
}

function internalError(e: unknown): TypeError {
  return new TypeError(`the bus request failed inside the shim: ${String(e)}`, bare({ cause: e }));
}

/** What a request needs to start, kept while it waits for a slot. */
interface Start {
  method: string;
  uri: string;
  headers: Header[];
  body: RequestBody | null;
  endStream: boolean;
  window: number;
  signal: AbortSignal | null;
  stop: AbortSignal | null;
  onupload: ((sent: number, done: boolean) => void) | null;
  lendBody: ((back: Promise<Uint8Array | null | CarryBack>) => void) | null;
}

/** Calls `abort` with the reason of whichever signal aborts first; returns the detach. */
function onAborts(a: AbortSignal | null, b: AbortSignal | null, abort: (reason: unknown) => void): () => void {
  if (a === null && b === null) return () => {};
  const onA = (): void => abort(abortReason(a!));
  const onB = (): void => abort(abortReason(b!));
  a?.addEventListener('abort', onA, ONCE);
  b?.addEventListener('abort', onB, ONCE);
  return () => {
    a?.removeEventListener('abort', onA);
    b?.removeEventListener('abort', onB);
  };
}

interface Waiting {
  /** A request of this client's, or (`relay`) a peer's stream waiting for a slot. */
  start: Start | null;
  relay: Relayed | null;
  resolve: (response: StreamResponse) => void;
  reject: (reason: unknown) => void;
  detachAbort: () => void;
}

const ONCE: AddEventListenerOptions = bare({ once: true });

/** ASCII-only lower-casing: Unicode case mapping could change a (bad) name's length. */
function asciiLowerCase(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0x20));
}

/** A ByteString as fetch's Headers takes it: one byte per char, chars above U+00FF refused. */
function byteString(value: string, name: string): Uint8Array {
  const out = new Uint8Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff) throw new TypeError(`value of header ${name} has a character above U+00FF`);
    out[i] = c;
  }
  return out;
}

/** Fetch's "abort the fetch() call": a stream body not read yet is cancelled with the reason. */
function cancelBody(body: RequestBody | null, reason: unknown): void {
  if (isReadableStream(body)) cancelStream(body, reason);
}

function abortReason(signal: AbortSignal): unknown {
  // As fetch: the signal's reason, which is an AbortError DOMException unless the caller gave
  // one (`abort(null)` gives null; only an engine without `reason` has undefined).
  const reason: unknown = signal.reason;
  return reason !== undefined ? reason : new DOMException('The operation was aborted.', 'AbortError');
}

function isReadableStream(x: unknown): x is ReadableStream<Uint8Array> {
  return typeof ReadableStream !== 'undefined' && x instanceof ReadableStream;
}

function isAsyncIterable(x: unknown): x is AsyncIterable<Uint8Array> {
  return typeof x === 'object' && x !== null && typeof (x as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

/**
 * The body's chunks. ReadableStreams are read with a reader, not `for await`, because
 * WebKit's ReadableStream is not async-iterable; the stream's closing cancels the reader
 * even while it waits for a chunk. Stopping early cancels the source either way.
 */
async function* chunksOf(body: RequestBody, s: Stream): AsyncGenerator<Uint8Array, void, undefined> {
  if (body instanceof Uint8Array) {
    yield body;
  } else if (isReadableStream(body)) {
    const reader = getReader(body);
    let done = false;
    s.cancelSource = (reason) => cancelReader(reader, reason);
    try {
      for (;;) {
        const next = await read(reader);
        if (next.done) {
          done = true;
          return;
        }
        yield next.value;
      }
    } finally {
      s.cancelSource = null;
      if (!done) cancelReader(reader);
    }
  } else {
    yield* body;
  }
}

/** The text of a reason, for an Error frame to a peer. */
function messageOf(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = (value >>> 24) & 0xff;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  let n = 0;
  for (const c of chunks) n += c.byteLength;
  const out = new Uint8Array(n);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
