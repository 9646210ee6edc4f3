// Event plumbing for the XHR and EventSource replacements: `on*` event handler attributes
// with the HTML semantics (the handler's listener keeps its place among the listeners), and
// ProgressEvent where the platform lacks it.

interface HandlerSlot {
  value: unknown;
  listener: (event: Event) => void;
}

const slots = new WeakMap<object, Map<string, HandlerSlot>>();
const addListener = EventTarget.prototype.addEventListener;
const removeListener = EventTarget.prototype.removeEventListener;

/**
 * Defines `on<type>` accessors on a prototype. Setting a function registers one listener the
 * first time (so it runs in the order it was first set, as in browsers); setting null
 * removes it; a non-callable object is kept but never called, and primitives become null.
 */
export function defineEventHandlers(proto: object, types: readonly string[]): void {
  for (const type of types) {
    Object.defineProperty(proto, `on${type}`, {
      configurable: true,
      enumerable: true,
      get(this: EventTarget): unknown {
        return slots.get(this)?.get(type)?.value ?? null;
      },
      set(this: EventTarget, value: unknown) {
        let map = slots.get(this);
        const slot = map?.get(type);
        const v = typeof value === 'function' || (typeof value === 'object' && value !== null) ? value : null;
        if (v === null) {
          if (slot) {
            removeListener.call(this, type, slot.listener);
            map!.delete(type);
          }
          return;
        }
        if (slot) {
          slot.value = v;
          return;
        }
        if (!map) slots.set(this, (map = new Map()));
        const target = this;
        const created: HandlerSlot = {
          value: v,
          listener(event: Event) {
            const h = created.value;
            if (typeof h !== 'function') return;
            const result: unknown = h.call(target, event);
            if (result === false) event.preventDefault();
          },
        };
        map.set(type, created);
        addListener.call(this, type, created.listener);
      },
    });
  }
}

/** Whether an `on<type>` handler is set on the target. */
export function hasEventHandler(target: object): boolean {
  const map = slots.get(target);
  return map !== undefined && map.size > 0;
}

type ProgressEventCtor = new (type: string, init?: ProgressEventInit) => Event;

/** ProgressEvent for engines (and Node) without one: the three fields, read-only. */
class FallbackProgressEvent extends Event {
  readonly lengthComputable: boolean;
  readonly loaded: number;
  readonly total: number;
  constructor(type: string, init: ProgressEventInit = {}) {
    super(type, init);
    this.lengthComputable = init.lengthComputable ?? false;
    this.loaded = init.loaded ?? 0;
    this.total = init.total ?? 0;
  }
}

function progressEventCtor(): ProgressEventCtor {
  const native = (globalThis as { ProgressEvent?: ProgressEventCtor }).ProgressEvent;
  return typeof native === 'function' ? native : FallbackProgressEvent;
}

/** XHR "fire a progress event named e at target, given transmitted and length". */
export function fireProgress(target: EventTarget, type: string, loaded: number, total: number): void {
  const Ctor = progressEventCtor();
  target.dispatchEvent(new Ctor(type, { lengthComputable: total !== 0, loaded, total }));
}

export function fireEvent(target: EventTarget, type: string): void {
  target.dispatchEvent(new Event(type));
}
