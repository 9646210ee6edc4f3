// The EventSource replacement (HTML "Server-sent events") over frames, for bus URLs. Other
// URLs get the browser's own EventSource: the constructor returns a native instance.

import { defineEventHandlers, fireEvent } from './events.js';
import { extractMimeType, latin1, originOf, utf8, type HeaderPair } from './http.js';
import { cancelReader, cancelStream, getReader, idlLength, idlShape, microtaskTurns, read, startTimer, stopTimer, then, type Timer } from './intrinsics.js';
import { busRequest, type BusResponse, type ShimContext } from './request.js';

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;
/** setTimeout's largest delay; a larger `retry:` would fire at once. */
const MAX_DELAY = 0x7fffffff;

interface EventStreamSink {
  /** A complete event: `type` is `message` unless an `event:` field named another. */
  event(type: string, data: string, lastEventId: string): void;
  retry(ms: number): void;
}

/**
 * The event stream interpretation of the HTML standard, fed decoded text in any pieces:
 * lines end in CRLF, LF or CR (a CRLF split across pieces counts once); `:` lines are
 * comments; `data`, `event`, `id` (unless it contains NUL) and `retry` (digits only) fields;
 * a blank line dispatches. The last event ID buffer survives `reset()`: like Chromium (the
 * standard starts each stream with an empty buffer), an event without an `id:` after a
 * reconnection keeps the ID that was sent back as Last-Event-ID.
 */
export class EventStreamParser {
  /** The "last event ID string": set from the buffer at every dispatch, data or not. */
  lastEventId = '';
  private idBuffer = '';
  private pending = '';
  private afterCR = false;
  private data = '';
  private type = '';
  private dataSeen = false;

  constructor(private readonly sink: EventStreamSink) {}

  push(text: string): void {
    let start = 0;
    if (this.afterCR && text.charCodeAt(0) === 10) start = 1;
    this.afterCR = false;
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.pending + text.slice(start, i);
      this.pending = '';
      if (c === 13) {
        if (i + 1 === text.length) this.afterCR = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
      this.line(line);
    }
    this.pending += text.slice(start);
  }

  /** The stream ended: an unterminated line or event is discarded, as the standard says. */
  reset(): void {
    this.pending = '';
    this.afterCR = false;
    this.data = '';
    this.type = '';
    this.dataSeen = false;
  }

  private line(line: string): void {
    if (line === '') return this.dispatch();
    if (line.charCodeAt(0) === 58) return; // ':' comment
    const colon = line.indexOf(':');
    let field = line;
    let value = '';
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.charCodeAt(0) === 32) value = value.slice(1);
    }
    switch (field) {
      case 'event':
        this.type = value;
        break;
      case 'data':
        this.data += `${value}\n`;
        this.dataSeen = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.idBuffer = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.sink.retry(Math.min(Number(value), MAX_DELAY));
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  private dispatch(): void {
    const id = (this.lastEventId = this.idBuffer);
    if (!this.dataSeen) {
      this.type = '';
      return;
    }
    const data = this.data.slice(0, -1); // the last "\n"
    const type = this.type === '' ? 'message' : this.type;
    this.data = '';
    this.type = '';
    this.dataSeen = false;
    this.sink.event(type, data, id);
  }
}

interface EsState {
  readonly target: EventTarget;
  readonly url: URL;
  readonly withCredentials: boolean;
  readyState: number;
  reconnectionTime: number;
  origin: string;
  /** The current connection; replaced on reconnect, null when none. */
  connection: AbortController | null;
  /** Unregisters the current connection from window.stop(). */
  unstop: () => void;
  timer: Timer | null;
  /** Events the parser found in the last chunk, not yet dispatched: type, data, last event ID. */
  parsed: [string, string, string][];
  parser: EventStreamParser;
}

const states = new WeakMap<object, EsState>();

function st(x: unknown): EsState {
  const s = states.get(x as object);
  if (!s) throw new TypeError('Illegal invocation');
  return s;
}

export function createEventSource(
  ctx: ShimContext,
  Original: typeof globalThis.EventSource | undefined,
  retry: number,
): typeof globalThis.EventSource {
  class EventSource extends EventTarget {
    static readonly CONNECTING = CONNECTING;
    static readonly OPEN = OPEN;
    static readonly CLOSED = CLOSED;

    static override [Symbol.hasInstance](x: unknown): boolean {
      if (Function.prototype[Symbol.hasInstance].call(this, x)) return true;
      return this === EventSource && Original !== undefined && x instanceof Original;
    }

    constructor(url: string | URL, init?: EventSourceInit);
    constructor(...args: unknown[]) {
      if (args.length < 1) throw new TypeError("Failed to construct 'EventSource': 1 argument required, but only 0 present.");
      let parsed: URL | null;
      try {
        parsed = new URL(String(args[0]), ctx.baseURL());
      } catch {
        parsed = null;
      }
      if (parsed === null || !ctx.isBus(parsed)) {
        // Not ours: the browser's own EventSource (which throws its SyntaxError for a bad URL).
        if (Original) return new (Original as new (...a: unknown[]) => EventSource)(...args);
        if (parsed === null) throw new DOMException(`'${String(args[0])}' is not a valid URL`, 'SyntaxError');
        throw new DOMException('EventSource: no browser EventSource for non-bus URLs', 'NotSupportedError');
      }
      super();
      const init = args[1] as EventSourceInit | null | undefined;
      const s: EsState = {
        target: this,
        url: parsed,
        withCredentials: Boolean(init?.withCredentials),
        readyState: CONNECTING,
        reconnectionTime: retry,
        origin: originOf(parsed),
        connection: null,
        unstop: () => {},
        timer: null,
        parsed: [],
        parser: new EventStreamParser({
          // Dispatched by the reading loop, one at a time (see `dispatchParsed`).
          event: (type, data, lastEventId) => {
            s.parsed.push([type, data, lastEventId]);
          },
          retry: (ms) => {
            s.reconnectionTime = ms;
          },
        }),
      };
      states.set(this, s);
      connect(s);
    }

    get url(): string {
      return st(this).url.href;
    }

    get withCredentials(): boolean {
      return st(this).withCredentials;
    }

    get readyState(): number {
      return st(this).readyState;
    }

    close(): void {
      const s = st(this);
      s.readyState = CLOSED;
      if (s.timer !== null) stopTimer(s.timer);
      s.timer = null;
      const c = s.connection;
      s.connection = null;
      s.unstop();
      c?.abort(); // sends Cancel: the bus drops the handler
    }
  }

  defineEventHandlers(EventSource.prototype, ['open', 'message', 'error']);
  if (Original) Object.setPrototypeOf(EventSource.prototype, Original.prototype);
  for (const [name, value] of [['CONNECTING', CONNECTING], ['OPEN', OPEN], ['CLOSED', CLOSED]] as const) {
    Object.defineProperty(EventSource.prototype, name, { value, enumerable: true });
  }
  Object.defineProperty(EventSource.prototype, Symbol.toStringTag, { value: 'EventSource', configurable: true });

  function connect(s: EsState): void {
    const connection = new AbortController();
    s.connection = connection;
    // window.stop() aborts the document's fetches; for an EventSource an aborted fetch fails
    // the connection for good (HTML), as Chromium does. In a later task, as natively.
    s.unstop();
    s.unstop = ctx.onStop(() => {
      if (s.connection !== connection) return;
      s.connection = null;
      connection.abort();
      startTimer(() => failConnection(s), 0);
    });
    const headers: HeaderPair[] = [
      ['accept', 'text/event-stream'],
      ['cache-control', 'no-cache'],
    ];
    // The header carries the ID's UTF-8 bytes (it may hold any character but NUL, CR, LF).
    // An ID with a control character the bus's http::HeaderValue refuses is not sent (the
    // request would fail, and every reconnection after it).
    const id = s.parser.lastEventId;
    if (id !== '' && !/[\x01-\x08\x0a-\x1f\x7f]/.test(id)) headers.push(['last-event-id', latin1(utf8(id))]);
    then(
      busRequest(ctx, { method: 'GET', url: s.url, headers, body: null, signal: connection.signal, redirect: 'follow' }),
      (res) => {
        // A failure of ours while handling the stream ends this connection the way a network
        // error would, rather than leaving the EventSource connected to nothing.
        then(handle(res), undefined, () => {
          if (s.connection === connection) reestablish(s);
        });
      },
      () => {
        // A network error (not an HTTP error) before the response: try again later.
        if (s.connection !== connection) return;
        reestablish(s);
      },
    );

    async function handle(res: BusResponse): Promise<void> {
      if (s.connection !== connection) {
        cancelStream(res.body);
        return;
      }
      const mime = extractMimeType(res.headers);
      if (res.status !== 200 || mime === null || mime.essence !== 'text/event-stream') {
        cancelStream(res.body);
        failConnection(s);
        return;
      }
      s.origin = originOf(res.url);
      // Announce the connection.
      s.readyState = OPEN;
      fireEvent(s.target, 'open');
      if (s.connection !== connection) {
        cancelStream(res.body);
        return;
      }
      const reader = getReader(res.body);
      // UTF-8 decode, a leading BOM stripped once per connection.
      const decoder = new TextDecoder('utf-8');
      try {
        for (;;) {
          const next = await read(reader);
          if (s.connection !== connection) return;
          if (next.done) {
            s.parser.push(decoder.decode());
            await dispatchParsed(s, connection);
            if (s.connection !== connection) return; // closed or stopped meanwhile
            break;
          }
          s.parser.push(decoder.decode(next.value, { stream: true }));
          await dispatchParsed(s, connection);
          if (s.connection !== connection) {
            cancelReader(reader);
            return;
          }
        }
      } catch {
        if (s.connection !== connection) return;
      }
      s.parser.reset();
      reestablish(s);
    }
  }

  /** HTML "reestablish the connection". */
  /**
   * Dispatches the events parsed from one chunk, in order, with turns of the microtask queue
   * between them (the standard queues a task for each: a listener that awaits the next
   * event, `once`, must have its reactions run before that event comes). Stops when the
   * connection is closed or replaced.
   */
  async function dispatchParsed(s: EsState, connection: AbortController): Promise<void> {
    const parsed = s.parsed;
    if (parsed.length === 0) return;
    s.parsed = [];
    for (let i = 0; i < parsed.length; i++) {
      if (i > 0) await microtaskTurns();
      if (s.readyState === CLOSED || s.connection !== connection) return;
      const event = parsed[i]!; // by index: the page may have replaced the array iterator
      s.target.dispatchEvent(new MessageEvent(event[0], { data: event[1], origin: s.origin, lastEventId: event[2] }));
    }
  }

  function reestablish(s: EsState): void {
    if (s.readyState === CLOSED) return;
    s.connection = null;
    s.unstop();
    s.readyState = CONNECTING;
    fireEvent(s.target, 'error');
    if (s.readyState !== CONNECTING) return; // closed by an error listener
    s.timer = startTimer(() => {
      s.timer = null;
      if (s.readyState !== CONNECTING) return;
      connect(s);
    }, s.reconnectionTime);
  }

  /** HTML "fail the connection": no more reconnection. */
  function failConnection(s: EsState): void {
    s.connection = null;
    s.unstop();
    if (s.readyState === CLOSED) return;
    s.readyState = CLOSED;
    fireEvent(s.target, 'error');
  }

  idlShape(EventSource, ['CONNECTING', 'OPEN', 'CLOSED']);
  idlLength(EventSource, 1);
  return EventSource as unknown as typeof globalThis.EventSource;
}
