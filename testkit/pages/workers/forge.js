// A worker of the app takes its shim's port (by patching MessagePort.prototype.postMessage)
// and sends raw frames — Cancel, Credit, RequestData, RequestEnd for stream ids 1..256 and a
// ResponseHead — while the page has a download open: the relay's id remapping must confine
// them to the worker's own streams, so the page's download goes on intact.
(async () => {
  const out = {};
  const src = `onmessage = async () => {
    let port = null;
    const post = MessagePort.prototype.postMessage;
    MessagePort.prototype.postMessage = function (...args) { port = this; return post.apply(this, args); };
    await (await fetch(self.origin + '/wk/caller?who=forger')).json();
    MessagePort.prototype.postMessage = post;
    const frame = (type, id, extra) => {
      const b = new Uint8Array(9 + extra.length);
      b[0] = 1;
      new DataView(b.buffer).setUint32(1, type, true);
      new DataView(b.buffer).setUint32(5, id, true);
      b.set(extra, 9);
      return b.buffer;
    };
    const errors = [];
    port.addEventListener('message', (e) => { if (e.data instanceof ArrayBuffer) errors.push(new Uint8Array(e.data)[1]); });
    let sent = 0;
    for (let id = 1; id <= 256; id++) {
      for (const [type, extra] of [[6, []], [7, [0, 0, 0, 64]], [1, [1, 2, 3]], [2, []], [3, [0]]]) {
        const f = frame(type, id, Uint8Array.from(extra));
        post.call(port, f, [f]);
        sent++;
      }
    }
    await new Promise((ok) => setTimeout(ok, 500));
    postMessage({ port: port !== null, sent, answers: errors.length });
  };`;
  try {
    const r = await fetch('/wk/stream?who=victim');
    const reader = r.body.getReader();
    let got = (await reader.read()).value.byteLength;
    const w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
    out.forger = await new Promise((ok) => { w.onmessage = (e) => ok(e.data); w.postMessage('go'); setTimeout(() => ok('timeout'), 10000); });
    while (got < 2 << 20) {
      const { done, value } = await reader.read();
      if (done) break;
      got += value.byteLength;
    }
    await reader.cancel();
    out.victim = got;
    out.after = (await (await fetch('/wk/caller?who=after')).json()).origin;
    w.terminate();
  } catch (e) {
    out.error = String(e);
  }
  await fetch('/report', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(out) });
})();
