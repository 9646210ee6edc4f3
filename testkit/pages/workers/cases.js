// The worker side of the worker suite: what a worker of the app does with the bus, one
// case per message `{id, name, arg}` from the page, answered `{id, result}`. Loaded by
// importScripts (classic workers), a static import (the module worker) and from a blob:
// worker made by the page. Relative URLs resolve against the script's URL; a blob: worker
// has none to resolve against (as in a browser), so it uses absolute ones.
(() => {
  const url = (path) => (location.protocol === 'blob:' ? new URL(path, self.origin + '/wk-pages/').href : path);
  const wsBase = () => {
    const app = new URL(self.origin);
    return (app.protocol === 'https:' ? 'wss://' : 'ws://') + app.host;
  };
  const pattern = (n) => {
    const out = new Uint8Array(n);
    for (let k = 0; k < n; k++) out[k] = k % 251;
    return out;
  };
  const held = [];

  const cases = {
    async env() {
      return {
        kind: self.kind,
        location: String(self.location),
        locationHref: self.location.href,
        helper: self.helperLoaded || null,
        shim: !!self[Symbol.for('inproc-bus.installation')],
      };
    },
    async caller(who) {
      const r = await fetch(url('../wk/caller?who=' + who));
      return { status: r.status, body: await r.json() };
    },
    async upload(who) {
      const body = pattern(16 << 20);
      const t = performance.now();
      const r = await fetch(url('../wk/upload?who=' + who), { method: 'POST', body });
      const answer = await r.json();
      return { status: r.status, ms: Math.round(performance.now() - t), ...answer };
    },
    async cancel(who) {
      const r = await fetch(url('../wk/stream?who=' + who));
      const reader = r.body.getReader();
      let got = 0;
      while (got < 256 << 10) {
        const { done, value } = await reader.read();
        if (done) return { error: 'the endless stream ended' };
        got += value.byteLength;
      }
      await reader.cancel();
      return { status: r.status, got };
    },
    events(who) {
      return new Promise((resolve) => {
        const es = new EventSource(url('../wk/events?who=' + who));
        const got = [];
        es.onmessage = (e) => {
          got.push(e.data + '#' + e.lastEventId);
          if (got.length === 3) {
            es.close();
            resolve({ got, readyState: es.readyState });
          }
        };
        es.onerror = () => {
          if (got.length < 3) {
            es.close();
            resolve({ error: 'EventSource error after ' + got.length });
          }
        };
      });
    },
    ws(who) {
      return new Promise((resolve) => {
        const events = [];
        const ws = new WebSocket(wsBase() + '/wsd/echo?who=' + who);
        ws.binaryType = 'arraybuffer';
        ws.onopen = () => {
          events.push('open');
          ws.send('hello from ' + who);
          ws.send(Uint8Array.of(1, 2, 3));
        };
        ws.onmessage = (e) => {
          events.push(typeof e.data === 'string' ? 'text ' + e.data : 'binary ' + Array.from(new Uint8Array(e.data)).join(','));
          if (events.length === 3) ws.close(1000, 'bye');
        };
        ws.onerror = () => events.push('error');
        ws.onclose = (e) => {
          events.push('close ' + e.code);
          resolve({ events });
        };
      });
    },
    xhr() {
      const post = new Promise((resolve) => {
        const x = new XMLHttpRequest();
        x.open('POST', url('../wk/echo'));
        x.onload = () => resolve({ status: x.status, text: x.responseText });
        x.onerror = () => resolve({ error: 'xhr error' });
        x.send('from xhr');
      });
      const json = new Promise((resolve) => {
        const x = new XMLHttpRequest();
        x.open('GET', url('../wk/caller?who=xhr-' + self.kind));
        x.responseType = 'json';
        x.onload = () => resolve({ status: x.status, body: x.response });
        x.onerror = () => resolve({ error: 'xhr error' });
        x.send();
      });
      return Promise.all([post, json]).then(([p, j]) => ({ post: p, caller: j }));
    },
    nested(who) {
      // A worker this worker creates: relayed through this one, then through the page.
      return new Promise((resolve) => {
        const inner = new Worker(url('worker.js'));
        const timer = setTimeout(() => resolve({ error: 'the nested worker did not answer' }), 10000);
        inner.onmessage = (e) => {
          clearTimeout(timer);
          inner.terminate();
          resolve(e.data.result);
        };
        inner.onerror = (e) => resolve({ error: 'nested worker error ' + e.message });
        inner.postMessage({ id: 1, name: 'caller', arg: who });
      });
    },
    async heldRead() {
      // What became of the download `hold` kept (after a back/forward-cache round trip).
      const reader = held.shift();
      if (!reader) return { error: 'nothing held' };
      try {
        for (;;) {
          const { done } = await reader.read();
          if (done) return { done: true };
        }
      } catch (e) {
        return { failed: String(e) };
      }
    },
    async hold(who) {
      // A download the worker keeps open (and stops reading): it ends when the page goes.
      const r = await fetch(url('../wk/stream?who=' + who));
      const reader = r.body.getReader();
      await reader.read();
      held.push(reader);
      return 'holding';
    },
  };

  self.addEventListener('message', async (e) => {
    const { id, name, arg } = e.data || {};
    if (!id) return;
    let result;
    try {
      result = await cases[name](arg);
    } catch (err) {
      result = { error: String(err) };
    }
    postMessage({ id, result });
  });
})();
