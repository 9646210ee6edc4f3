// Large request bodies' copies, used again. Fetch and XHR copy a BufferSource body when the
// request is made; for megabytes that copy is fresh memory, and the page's thread then spends
// more on the kernel's page faults (and on freeing it after) than on the copy itself (issue
// 16: a 16 MiB upload took 18-25 ms where one into warm memory took 7-10). A copy the shim
// made, lent to a carrier and given back once its request is done, is kept a while for the
// next body of the same size (a file sent in fixed-size chunks, the same upload again).

import { arrayBufferSize, copyView } from './http.js';
import { startTimer, stopTimer, type Timer } from './intrinsics.js';

/** Bodies smaller than this are copied as they always were (the heap serves them well). */
export const POOL_FROM = 1 << 20;
/** The most bytes kept at once; the oldest go first. */
export const POOL_BYTES = 64 << 20;
/** Kept buffers are let go after this long without a body taken or given back. */
export const POOL_IDLE_MS = 10_000;

const typedArraySet = (Object.getPrototypeOf(Uint8Array.prototype) as { set: (this: Uint8Array, src: ArrayLike<number>) => void }).set;

/** Kept buffers, oldest first, with the size each had when kept (a page holding one could
 * detach it meanwhile: it is then dropped, and its size with it). */
let free: { buffer: ArrayBuffer; size: number }[] = [];
let freeBytes = 0;
let idle: Timer | null = null;

function touch(): void {
  if (idle !== null) stopTimer(idle);
  idle = null;
  if (free.length === 0) return;
  idle = startTimer(() => {
    idle = null;
    free = [];
    freeBytes = 0;
  }, POOL_IDLE_MS);
  // Node: a kept buffer must not keep the process alive.
  (idle as { unref?: () => void }).unref?.();
}

/**
 * A copy of `bytes` (the request's own, which the caller may change after): into a kept
 * buffer of exactly its size when there is one, else new.
 */
export function copyForRequest(bytes: Uint8Array): Uint8Array {
  const n = bytes.byteLength;
  if (n >= POOL_FROM) {
    for (let i = 0; i < free.length; i++) {
      const { buffer, size } = free[i]!;
      const now = arrayBufferSize(buffer);
      if (now === size && size !== n) continue;
      free.splice(i, 1);
      freeBytes -= size;
      i--;
      if (now !== size) continue; // detached: gone
      touch();
      const out = new Uint8Array(buffer);
      Reflect.apply(typedArraySet, out, [bytes]);
      return out;
    }
  }
  return copyView(bytes);
}

/**
 * `bytes`, a copy `copyForRequest` made that nothing else holds any more (its request is
 * done and no carrier has it), kept for the next body of its size.
 */
export function recycle(bytes: Uint8Array): void {
  const buffer = bytes.buffer;
  const n = bytes.byteLength;
  if (!(buffer instanceof ArrayBuffer) || n < POOL_FROM || n > POOL_BYTES) return;
  if (bytes.byteOffset !== 0 || arrayBufferSize(buffer) !== n) return;
  free.push({ buffer, size: n });
  freeBytes += n;
  while (freeBytes > POOL_BYTES) freeBytes -= free.shift()!.size;
  touch();
}

/** What is kept (for tests). */
export function pooled(): { buffers: number; bytes: number } {
  return { buffers: free.length, bytes: freeBytes };
}
