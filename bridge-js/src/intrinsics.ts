// Private references to the built-ins the shim relies on, taken when the bundle is evaluated
// (at document start, before any page script), and helpers that use only them. A page may
// change `Object.prototype`, `Array.prototype[Symbol.iterator]`, `Promise.prototype.then` or
// the stream readers' methods; the browser's own fetch and XHR never notice, so neither may
// the shim: it must not call the page's replacements (that is observable, and can break or
// hijack a request), and the objects it hands to platform APIs (dictionaries such as a
// ReadableStream's underlying source, which WebIDL reads with [[Get]], prototype included)
// must not inherit what the page put on `Object.prototype`.

const { apply } = Reflect;
const setPrototypeOf = Object.setPrototypeOf;
const promiseThen = Promise.prototype.then;
const noop = (): void => {};

// Timers and clocks as the page found them. A page that replaces `setTimeout` or the clocks
// (zone.js tracks every timer as a task of its zone; a test's fake clock fires timers only
// when it is ticked, and fakes `Date.now` and `performance.now`) does not change when the
// browser's own XHR times out or its EventSource reconnects, so it must not change the
// shim's either. (A page that clears timer ids it did not set can still clear the shim's:
// the engine hands ids to both from one counter.)
const originalSetTimeout = globalThis.setTimeout;
const originalClearTimeout = globalThis.clearTimeout;
const performanceObject = typeof performance !== 'undefined' ? performance : undefined;
const performanceNow = performanceObject?.now;
const dateNow = Date.now;

const originalQueueMicrotask = globalThis.queueMicrotask;

/**
 * Settles after a few turns of the microtask queue: what the reactions a listener started
 * (an `await` on a promise it resolved, and the code after it) need to run before the next
 * event, as they would between two of the engine's tasks. The shim dispatches the events of
 * one chunk (EventSource messages, WebSocket messages the bus sent together) with these
 * turns between them rather than a task each: a task here is a timer, clamped to 4 ms
 * after a few in a row, or a message through the UI process (see the README).
 */
/** `queueMicrotask(f)`, the original (zone.js replaces it; a fake clock may too). */
export function enqueueMicrotask(f: () => void): void {
  apply(originalQueueMicrotask, globalThis, [f]);
}

export function microtaskTurns(): Promise<void> {
  return new NativePromise<void>((resolve) => {
    apply(originalQueueMicrotask, globalThis, [
      () => apply(originalQueueMicrotask, globalThis, [() => apply(originalQueueMicrotask, globalThis, [resolve])]),
    ]);
  });
}

/**
 * Gives `f` the `length` WebIDL gives the engine's own operation (its required arguments):
 * the shim's take rest parameters, whose `length` is 0.
 */
export function idlLength(f: unknown, length: number): void {
  Object.defineProperty(f, 'length', { value: length, configurable: true });
}

/**
 * WebIDL's property shapes for an interface the shim defines with class syntax (which makes
 * methods and accessors non-enumerable, and static fields writable): operations and
 * attributes on the prototype are enumerable; the constants on the interface object are
 * read-only, enumerable and not configurable (the prototype's are defined so already).
 */
export function idlShape(ctor: { prototype: object }, constants: readonly string[]): void {
  const proto = ctor.prototype;
  const names = Object.getOwnPropertyNames(proto);
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (name === 'constructor') continue;
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (d === undefined || d.enumerable === true || d.configurable !== true) continue;
    d.enumerable = true;
    Object.defineProperty(proto, name, d);
  }
  for (let i = 0; i < constants.length; i++) {
    const name = constants[i]!;
    const value: unknown = (ctor as unknown as Record<string, unknown>)[name];
    Object.defineProperty(ctor, name, { value, writable: false, enumerable: true, configurable: false });
  }
}

/** A timer of the shim's own. */
export type Timer = ReturnType<typeof setTimeout>;

/** `setTimeout(callback, ms)`, the original. */
export function startTimer(callback: () => void, ms: number): Timer {
  return apply(originalSetTimeout, globalThis, [callback, ms]) as Timer;
}

/** `clearTimeout(timer)`, the original. */
export function stopTimer(timer: Timer): void {
  apply(originalClearTimeout, globalThis, [timer]);
}

/** `performance.now()` (milliseconds, monotonic), the original; `Date.now()` without it. */
export function monotonicNow(): number {
  return performanceObject !== undefined && typeof performanceNow === 'function'
    ? (apply(performanceNow, performanceObject, []) as number)
    : wallClockNow();
}

/** `Date.now()`, the original. */
export function wallClockNow(): number {
  return apply(dateNow, Date, []) as number;
}

/** `p.then(onFulfilled, onRejected)` with the original `then`, whatever the page did to it. */
export function then<T, R1 = T, R2 = never>(
  p: Promise<T>,
  onFulfilled: ((value: T) => R1 | PromiseLike<R1>) | undefined,
  onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | undefined,
): Promise<R1 | R2> {
  return apply(promiseThen, p, [onFulfilled, onRejected]) as Promise<R1 | R2>;
}

/** Handles a rejection nobody waits for (`p.catch(() => {})`, which would call the page's `then`). */
export function ignore(p: Promise<unknown>): void {
  apply(promiseThen, p, [undefined, noop]);
}

/**
 * The object with a null prototype: for dictionaries given to platform APIs and for internal
 * records that may resolve a promise (resolution looks up `then`, prototype included).
 */
export function bare<T extends object>(o: T): T {
  setPrototypeOf(o, null);
  return o;
}

// Streams: a reader is taken and read with the original methods.
const RS = typeof ReadableStream === 'function' ? ReadableStream : undefined;
const getReaderFn = RS?.prototype.getReader;
const readerProto: ReadableStreamDefaultReader<unknown> | undefined = RS
  ? (Object.getPrototypeOf(apply(getReaderFn!, new RS(), [])) as ReadableStreamDefaultReader<unknown>)
  : undefined;
const readFn = readerProto?.read;
const cancelReaderFn = readerProto?.cancel;
const releaseLockFn = readerProto?.releaseLock;
const cancelStreamFn = RS?.prototype.cancel;

export function getReader<T>(stream: ReadableStream<T>): ReadableStreamDefaultReader<T> {
  return apply(getReaderFn!, stream, []) as ReadableStreamDefaultReader<T>;
}

export function read<T>(reader: ReadableStreamDefaultReader<T>): Promise<ReadableStreamReadResult<T>> {
  return apply(readFn!, reader, []) as Promise<ReadableStreamReadResult<T>>;
}

/** Cancels through the reader, ignoring the outcome. */
export function cancelReader(reader: ReadableStreamDefaultReader<unknown>, reason?: unknown): void {
  try {
    ignore(apply(cancelReaderFn!, reader, [reason]) as Promise<void>);
  } catch {
    /* released meanwhile */
  }
}

export function releaseLock(reader: ReadableStreamDefaultReader<unknown>): void {
  apply(releaseLockFn!, reader, []);
}

/** Cancels an unlocked stream, ignoring the outcome (a locked one is left alone). */
export function cancelStream(stream: ReadableStream<unknown>, reason?: unknown): void {
  try {
    ignore(apply(cancelStreamFn!, stream, [reason]) as Promise<void>);
  } catch {
    /* not a stream of this realm */
  }
}

const NativePromise = Promise;

/**
 * `f(await p)` as a new promise, without looking `then` up on any promise (returning a
 * promise from a `then` callback or an async function does, and the page owns
 * `Promise.prototype.then`).
 */
export function chain<T, R>(p: Promise<T>, f: (value: T) => R | Promise<R>): Promise<R> {
  return new NativePromise<R>((resolve, reject) => {
    then(
      p,
      (value) => {
        let r: R | Promise<R>;
        try {
          r = f(value);
        } catch (e) {
          reject(e);
          return;
        }
        if (r instanceof NativePromise) then(r, resolve, reject);
        else resolve(r);
      },
      reject,
    );
  });
}

/** A promise rejected with `e`, from the original constructor. */
export function rejected<T>(e: unknown): Promise<T> {
  return NativePromise.reject(e) as Promise<T>;
}
