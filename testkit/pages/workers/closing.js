// Workers of the app that end while their streams are open (see closing.html): the
// handlers must see those streams end, and the page's session must keep none of them.
(async () => {
  const out = {};
  const src = `onmessage = async (e) => {
    if (e.data === 'close') {
      const r = await fetch(self.origin + '/wk/stream?who=protoclose');
      const reader = r.body.getReader(); await reader.read();
      // The engine's close is the global's own property ([Global]), which the shim
      // replaced: no prototype holds another to call past it.
      postMessage('holding ' + typeof DedicatedWorkerGlobalScope.prototype.close + ' ' + typeof WorkerGlobalScope.prototype.close);
      setTimeout(() => self.close(), 50);
    } else if (e.data === 'upload') {
      const body = new Uint8Array(32 << 20);
      postMessage('uploading');
      fetch(self.origin + '/wk/upload?who=termupload', { method: 'POST', body }).then((r) => postMessage('uploaded ' + r.status));
    }
  };`;
  const mk = () => new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
  const ask = (w, m) => new Promise((ok) => { w.onmessage = (e) => ok(e.data); w.postMessage(m); setTimeout(() => ok('timeout'), 10000); });
  try {
    out.close = await ask(mk(), 'close');
    const b = mk();
    out.upload = await ask(b, 'upload');
    // Terminate once the upload is on the bus (its handler has begun), not at a guess: on a
    // loaded machine 300 ms was not always enough to get there.
    for (let i = 0; i < 500; i++) {
      if ((await (await fetch('/wk/started?who=termupload')).text()) === 'yes') break;
      await new Promise((ok) => setTimeout(ok, 20));
    }
    b.terminate();
    await new Promise((ok) => setTimeout(ok, 2000));
    out.relayed = InprocBusBridge.installation().client.relayedStreams;
  } catch (e) {
    out.error = String(e);
  }
  await fetch('/report', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(out) });
})();
