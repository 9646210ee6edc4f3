// `window.stop()` aborts the document's in-flight fetches and XHRs natively (their loaders
// are the document's). Requests on the bus have no loader there, so the shim wraps the
// global `stop` and aborts its own in-flight requests first.

import { enqueueMicrotask } from './intrinsics.js';

export interface Stopper {
  /** Registers an abort to run on `window.stop()`; returns its unregistration. */
  onStop(abort: () => void): () => void;
  /**
   * A signal `window.stop()` aborts (with a TypeError, as the engine's loads fail), shared by
   * the requests in flight; after a stop, a new one. Cheaper than a registration per request.
   */
  signal(): AbortSignal;
  /** Puts the original `stop` back (unless someone patched over ours). */
  unhook(): void;
}

export function hookStop(global: object): Stopper {
  const g = global as { stop?: unknown };
  const original = g.stop;
  const aborts = new Set<() => void>();
  let controller: AbortController | null = null;
  let stop: ((this: unknown, ...args: unknown[]) => unknown) | null = null;
  const stopper: Stopper = {
    onStop(abort) {
      aborts.add(abort);
      return () => {
        aborts.delete(abort);
      };
    },
    signal() {
      controller ??= new AbortController();
      return controller.signal;
    },
    unhook() {
      if (stop !== null && g.stop === stop) g.stop = original;
    },
  };
  if (typeof original !== 'function') return stopper;
  stop = function stop(this: unknown, ...args: unknown[]): unknown {
    const now = Array.from(aborts);
    aborts.clear();
    const c = controller;
    controller = null;
    c?.abort(new TypeError('the document stopped loading (window.stop())'));
    for (let i = 0; i < now.length; i++) {
      try {
        now[i]!();
      } catch (e) {
        // One request's failure must not keep the others (or the page's own stop) from running.
        enqueueMicrotask(() => {
          throw e;
        });
      }
    }
    return Reflect.apply(original as (...a: unknown[]) => unknown, this, args);
  };
  Object.defineProperty(stop, 'length', { value: 0 });
  g.stop = stop;
  return stopper;
}
