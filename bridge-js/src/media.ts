// Media for bus URLs on engines whose media player cannot load a custom scheme.
//
// WebKitGTK's GStreamer player accepts only http, https and blob sources (WebKit bug
// 146351), so `<video src="app://…">` never plays there. This module upgrades such
// elements to a Media Source player fed by `Range` pieces fetched over the bus: it keeps a
// few seconds buffered ahead (never the whole file), and seeks to unbuffered times by
// finding the cluster at or before the target, aborting the SourceBuffer, appending the
// init segment again, and continuing from that cluster (without the re-append WebKit
// fails with decode error 3). WebM (VP8/VP9, Vorbis/Opus) is supported; other containers
// get a console error naming the limitation.

/** Bytes `[start, end]` of `url`, and the total size the server reported. */
export interface RangePiece {
  bytes: Uint8Array;
  total: number;
  contentType: string;
}

export type RangeFetcher = (url: string, start: number, end: number) => Promise<RangePiece>;

export interface MediaOptions {
  /** Origins whose media to upgrade, e.g. `['app://localhost']`. */
  origins: string[];
  /** Bytes per Range request (default 512 KiB). */
  piece?: number;
  /** Seconds to keep buffered ahead of the playhead (default 8). */
  ahead?: number;
  /** How pieces are fetched; default: `fetch` with a `Range` header. */
  fetchRange?: RangeFetcher;
}

const CLUSTER_ID = [0x1f, 0x43, 0xb6, 0x75];
const UPGRADED = Symbol.for('inproc-bus.media');

/** Fetches `[start, end]` of `url` with a Range request (206 expected, 200 accepted). */
export const fetchRange: RangeFetcher = async (url, start, end) => {
  // globalThis.fetch: the shim's fetch when installed (frames, with credit), else the engine's.
  const response = await globalThis.fetch(url, { headers: { Range: `bytes=${start}-${end}` } });
  if (response.status !== 206 && response.status !== 200) {
    throw new TypeError(`Range request for ${url} failed with status ${response.status}`);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  const range = response.headers.get('content-range');
  const total = range ? Number(range.split('/')[1]) : bytes.length;
  return { bytes: response.status === 200 ? bytes.subarray(start, end + 1) : bytes, total, contentType: response.headers.get('content-type') ?? '' };
};

/** Upgrades every current and future `<video>`/`<audio>` whose source is a bus URL. */
export function upgradeMedia(options: MediaOptions): () => void {
  const origins = new Set(options.origins.map((o) => o.toLowerCase().replace(/\/$/, '')));
  const isBus = (src: string): boolean => {
    try {
      const u = new URL(src, document.baseURI);
      return origins.has(`${u.protocol}//${u.host}`.toLowerCase());
    } catch {
      return false;
    }
  };
  const consider = (el: Element): void => {
    if (!(el instanceof HTMLMediaElement)) return;
    const src = el.getAttribute('src') ?? el.querySelector('source')?.getAttribute('src');
    if (!src || !isBus(src)) return;
    const url = new URL(src, document.baseURI).href;
    const marked = (el as unknown as Record<symbol, string | undefined>)[UPGRADED];
    if (marked === url) return;
    (el as unknown as Record<symbol, string | undefined>)[UPGRADED] = url;
    new MsePlayer(el, url, options).start().catch((e: unknown) => {
      console.error(`bus media: cannot play ${url}: ${e instanceof Error ? e.message : String(e)}`);
      el.dispatchEvent(new Event('error'));
    });
  };
  const scan = (root: ParentNode): void => root.querySelectorAll('video, audio').forEach(consider);
  const observer = new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'attributes' && r.target instanceof Element) consider(r.target);
      r.addedNodes.forEach((n) => {
        if (n instanceof Element) {
          consider(n);
          scan(n);
        }
      });
    }
  });
  const begin = (): void => {
    scan(document);
    observer.observe(document.documentElement, { subtree: true, childList: true, attributes: true, attributeFilter: ['src'] });
  };
  if (document.documentElement) begin();
  else document.addEventListener('DOMContentLoaded', begin, { once: true });
  return () => observer.disconnect();
}

/** The MSE type for a WebM file, from the codec ids in its header, or null. */
export function webmMimeType(head: Uint8Array): string | null {
  const text = String.fromCharCode(...head.subarray(0, Math.min(head.length, 64 * 1024)));
  if (!text.includes('webm')) return null;
  const codecs: string[] = [];
  if (text.includes('V_VP9')) codecs.push('vp9');
  else if (text.includes('V_VP8')) codecs.push('vp8');
  if (text.includes('A_OPUS')) codecs.push('opus');
  else if (text.includes('A_VORBIS')) codecs.push('vorbis');
  if (codecs.length === 0) return null;
  const kind = codecs[0] === 'vp8' || codecs[0] === 'vp9' ? 'video' : 'audio';
  return `${kind}/webm; codecs="${codecs.join(', ')}"`;
}

/** Offset of the first Cluster element at or after `from`, or -1. */
export function findCluster(bytes: Uint8Array, from = 0): number {
  for (let i = from; i + 4 <= bytes.length; i++) {
    if (bytes[i] === CLUSTER_ID[0] && bytes[i + 1] === CLUSTER_ID[1] && bytes[i + 2] === CLUSTER_ID[2] && bytes[i + 3] === CLUSTER_ID[3]) return i;
  }
  return -1;
}

/** Reads an EBML variable-size integer at `at`: [value, length], or null. */
function vint(bytes: Uint8Array, at: number): [number, number] | null {
  const first = bytes[at];
  if (first === undefined || first === 0) return null;
  let length = 1;
  while (!(first & (0x80 >> (length - 1)))) length++;
  if (at + length > bytes.length) return null;
  let value = first & (0xff >> length);
  for (let i = 1; i < length; i++) value = value * 256 + bytes[at + i]!;
  return [value, length];
}

/** The Timecode of the Cluster at `at` (in TimecodeScale units), or null if not readable. */
export function clusterTimecode(bytes: Uint8Array, at: number): number | null {
  const size = vint(bytes, at + 4);
  if (!size) return null;
  let p = at + 4 + size[1];
  // The Timecode (0xE7) is the cluster's first child in practice; allow a CRC-32 first.
  for (let guard = 0; guard < 4 && p < bytes.length; guard++) {
    const id = bytes[p];
    const len = vint(bytes, p + 1);
    if (!len) return null;
    if (id === 0xe7) {
      let v = 0;
      for (let i = 0; i < len[0]; i++) {
        const b = bytes[p + 1 + len[1] + i];
        if (b === undefined) return null;
        v = v * 256 + b;
      }
      return v;
    }
    p += 1 + len[1] + len[0];
  }
  return null;
}

class MsePlayer {
  private readonly piece: number;
  private readonly ahead: number;
  private readonly fetchRange: RangeFetcher;
  private total = 0;
  private init = new Uint8Array(0);
  private next = 0;
  private generation = 0;
  /** The generation whose fill loop is running, or -1. */
  private filling = -1;
  private queue: Promise<void> = Promise.resolve();
  private source!: MediaSource;
  private buffer!: SourceBuffer;

  constructor(private readonly el: HTMLMediaElement, private readonly url: string, options: MediaOptions) {
    this.piece = options.piece ?? 512 * 1024;
    this.ahead = options.ahead ?? 8;
    this.fetchRange = options.fetchRange ?? fetchRange;
  }

  async start(): Promise<void> {
    if (typeof MediaSource === 'undefined') throw new Error('this engine has no MediaSource');
    const head = await this.fetchRange(this.url, 0, this.piece - 1);
    this.total = head.total;
    const mime = webmMimeType(head.bytes);
    if (!mime) {
      throw new Error(
        `only WebM (VP8/VP9 with Vorbis/Opus) can be streamed from the bus on this engine; ` +
          `${head.contentType || 'this file'} is not (its media player cannot load custom-scheme URLs, WebKit bug 146351)`,
      );
    }
    if (!MediaSource.isTypeSupported(mime)) throw new Error(`${mime} is not supported by this engine`);
    const first = findCluster(head.bytes);
    if (first < 0) throw new Error('no WebM cluster in the first piece: the header is too large or the file is not WebM');
    this.init = head.bytes.slice(0, first);
    this.source = new MediaSource();
    const opened = new Promise<void>((resolve) => this.source.addEventListener('sourceopen', () => resolve(), { once: true }));
    const autoplay = this.el.autoplay;
    this.el.removeAttribute('src');
    this.el.querySelectorAll('source').forEach((s) => s.remove());
    this.el.src = URL.createObjectURL(this.source);
    await opened;
    this.buffer = this.source.addSourceBuffer(mime);
    await this.append(head.bytes);
    this.next = head.bytes.length;
    const report = (what: string) => (e: unknown): void =>
      console.error(`bus media: ${what} ${this.url} failed: ${e instanceof Error ? e.message : String(e)}`);
    this.el.addEventListener('timeupdate', () => void this.fill().catch(report('buffering')));
    this.el.addEventListener('seeking', () => void this.seek().catch(report('seeking in')));
    if (autoplay) this.el.play().catch(() => {});
    void this.fill().catch(report('buffering'));
  }

  /** Runs `f` after every SourceBuffer operation queued before it: appends never overlap. */
  private exclusive(f: () => Promise<void>): Promise<void> {
    const run = this.queue.then(f, f);
    this.queue = run.catch(() => {});
    return run;
  }

  private append(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      const settle = (ok: boolean) => (): void => {
        this.buffer.removeEventListener('updateend', done);
        this.buffer.removeEventListener('error', failed);
        if (ok) resolve();
        else reject(new Error('the SourceBuffer refused a piece'));
      };
      const done = settle(true);
      const failed = settle(false);
      // An abort() ends an append with 'abort' then 'updateend': it resolves too.
      this.buffer.addEventListener('updateend', done);
      this.buffer.addEventListener('error', failed);
      this.buffer.appendBuffer(bytes as Uint8Array<ArrayBuffer>);
    });
  }

  private bufferedAhead(): number {
    const t = this.el.currentTime;
    const b = this.buffer.buffered;
    for (let i = 0; i < b.length; i++) if (b.start(i) <= t + 0.1 && t < b.end(i)) return b.end(i) - t;
    return 0;
  }

  /** Appends pieces until `ahead` seconds are buffered or the file ends. */
  private async fill(): Promise<void> {
    const generation = this.generation;
    if (this.filling === generation) return;
    this.filling = generation;
    try {
      while (generation === this.generation && this.next < this.total && this.bufferedAhead() < this.ahead) {
        const start = this.next;
        const end = Math.min(start + this.piece, this.total) - 1;
        const piece = await this.fetchRange(this.url, start, end);
        // Checked inside the queue: a piece fetched before a seek is never appended after it.
        await this.exclusive(async () => {
          if (generation !== this.generation || this.next !== start) return;
          await this.append(piece.bytes);
          this.next = end + 1;
        });
      }
      await this.exclusive(async () => {
        if (generation === this.generation && this.next >= this.total && this.source.readyState === 'open' && !this.buffer.updating) {
          this.source.endOfStream();
        }
      });
    } finally {
      if (this.filling === generation) this.filling = -1;
    }
  }

  /** Restarts the feed from the cluster at or before the new playhead if it is not buffered. */
  private async seek(): Promise<void> {
    const target = this.el.currentTime;
    const b = this.buffer.buffered;
    for (let i = 0; i < b.length; i++) if (b.start(i) <= target && target < b.end(i) - 0.5) return;
    const generation = ++this.generation;
    const duration = Number.isFinite(this.el.duration) && this.el.duration > 0 ? this.el.duration : target + 1;
    // Estimate the byte offset, then step back until a cluster at or before the target.
    let guess = Math.floor(this.init.length + (target / duration) * (this.total - this.init.length));
    for (let attempt = 0; attempt < 16; attempt++) {
      const start = Math.max(this.init.length, guess - this.piece);
      const end = Math.min(start + 2 * this.piece, this.total) - 1;
      const piece = await this.fetchRange(this.url, start, end);
      if (generation !== this.generation) return;
      let best = -1;
      for (let at = findCluster(piece.bytes); at >= 0; at = findCluster(piece.bytes, at + 4)) {
        const tc = clusterTimecode(piece.bytes, at);
        if (tc === null) continue;
        if (tc / 1000 <= target) best = at;
        else break;
      }
      if (best >= 0 || start === this.init.length) {
        const offset = start + Math.max(best, findCluster(piece.bytes));
        await this.exclusive(async () => {
          if (generation !== this.generation) return;
          // abort() resets the parser to expect a new segment; an ended source has
          // nothing pending, and appending reopens it.
          if (this.source.readyState === 'open') this.buffer.abort();
          await this.append(this.init);
          this.next = offset;
        });
        await this.fill();
        return;
      }
      guess = start;
    }
    throw new Error(`cannot find a cluster before ${target}s`);
  }
}
