'use strict';
// The workloads of the WebView benchmark, loaded by both pages it compares: the bus's
// (benches/src/webview/bench.html, served by the bus as /bench.js) and the Tauri 2 peer's
// (benches/tauri-peer/dist/index.html; tauri.conf.json embeds this very file), so the two
// cannot time anything differently. Each page names its paths and how it reports; the host
// calls `__bench.run(command)` and gets the result as a report. Times are
// performance.now() differences; WebKitGTK's clock ticks in 1 ms steps, so anything short
// is timed as a batch.
window.BenchPage = (() => {
  const TINY_BYTES = 12;

  const asBytes = (x) => (x instanceof ArrayBuffer || ArrayBuffer.isView(x) ? x.byteLength : -1);

  async function drain(reader, onChunk) {
    let got = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return got;
      got += value.byteLength;
      if (onChunk) onChunk(got);
    }
  }

  // A path reached by `fetchFn` at `base`: the same routes on every server.
  function fetched(base, fetchFn) {
    const p = {
      async tiny() {
        const r = await fetchFn(base + '/bench/tiny');
        const body = await r.arrayBuffer();
        if (r.status !== 200 || body.byteLength !== TINY_BYTES) throw new Error(`tiny GET: status ${r.status}, ${body.byteLength} bytes`);
      },
      async open(n) {
        const r = await fetchFn(base + '/bench/bytes/' + n);
        if (r.status !== 200 || !r.body) throw new Error(`GET /bench/bytes/${n}: status ${r.status}`);
        return r.body.getReader();
      },
      async down(n) {
        return drain(await p.open(n));
      },
      async up(data) {
        const r = await fetchFn(base + '/bench/upload', { method: 'POST', body: data });
        const text = await r.text();
        if (r.status !== 200) throw new Error(`upload: status ${r.status}, answer ${text.slice(0, 200)}`);
        return Number(text);
      },
    };
    return p;
  }

  const uploads = new Map();
  function uploadData(n) {
    let data = uploads.get(n);
    if (!data) {
      data = new Uint8Array(n);
      for (let i = 0; i < n; i += 4096) data[i] = (i >> 12) & 255;
      uploads.set(n, data);
    }
    return data;
  }

  // The four workloads both pages run; `op(path, what)` is the path's operation.
  const WORKLOADS = {
    // Sequential small GETs, timed in batches (the clock's 1 ms steps).
    async seq(c, op) {
      const tiny = op(c.path, 'tiny');
      const batches = [];
      for (let b = 0; b < c.n / c.batch; b++) {
        const t0 = performance.now();
        for (let i = 0; i < c.batch; i++) await tiny();
        batches.push(performance.now() - t0);
      }
      return { batches_ms: batches };
    },
    // n small GETs in flight at once: the time until the last one's body is read. `batches`
    // of them back to back, timed together (one batch is a few 1 ms clock steps): `ms` is
    // the mean per batch.
    async par(c, op) {
      const tiny = op(c.path, 'tiny');
      const batches = c.batches || 1;
      const t0 = performance.now();
      for (let b = 0; b < batches; b++) await Promise.all(Array.from({ length: c.n }, () => tiny()));
      return { ms: (performance.now() - t0) / batches, batches };
    },
    // A download read to its end, nothing kept (`chunk`: a Tauri Channel's chunk size).
    async down(c, op) {
      const down = op(c.path, 'down');
      const t0 = performance.now();
      const got = await down(c.bytes, c.chunk);
      const ms = performance.now() - t0;
      if (got !== c.bytes) throw new Error(`download: ${got} of ${c.bytes} bytes`);
      return { ms, bytes: got };
    },
    // An upload of bytes held in a Uint8Array (made before the clock starts); the handler
    // counts what it read and answers the count.
    async up(c, op) {
      const up = op(c.path, 'up');
      const data = uploadData(c.bytes);
      const t0 = performance.now();
      const got = await up(data);
      const ms = performance.now() - t0;
      if (got !== c.bytes) throw new Error(`upload: the handler counted ${got} of ${c.bytes} bytes`);
      return { ms };
    },
  };

  // Installs `window.__bench.run(command)`. `paths`: name -> operations (null: not on this
  // page); `report(value)`: sends a result to the host; `commands`: the page's own, besides
  // the four workloads; `around()`: called before a command, returns what adds to its result.
  function start({ paths, report, commands = {}, around = () => () => {} }) {
    function op(name, what) {
      const p = paths[name];
      if (p === undefined) throw new Error('unknown path ' + name);
      if (p === null) throw new Error(`path ${name} is not available on this page`);
      if (!p[what]) throw new Error(`path ${name} has no ${what} operation`);
      return p[what].bind(p);
    }
    const all = { ...WORKLOADS, ...commands };
    async function run(command) {
      const finish = around();
      const t0 = performance.now();
      let result;
      try {
        const f = all[command.kind];
        if (!f) throw new Error('unknown command ' + command.kind);
        result = await f(command, op);
        result.ok = true;
      } catch (e) {
        result = { ok: false, error: String(e && e.stack ? e + ' ' + e.stack : e) };
      }
      result.id = command.id;
      result.kind = command.kind;
      result.path = command.path;
      result.wall_ms = performance.now() - t0;
      finish(result);
      await report(result);
    }
    window.__bench = Object.freeze({ run });
  }

  return Object.freeze({ asBytes, drain, fetched, uploadData, start });
})();
