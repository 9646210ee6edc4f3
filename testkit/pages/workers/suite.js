// The page side of the worker suite (see index.html).
(async () => {
  const report = {};
  // What the suite is doing, for a test that timed out (window.__workerSuite).
  const progress = (window.__workerSuite = []);
  const foreign = new Promise((resolve) => {
    addEventListener('message', (e) => {
      if (e.data && e.data.foreign) resolve(e.data.foreign);
    });
    setTimeout(() => resolve({ error: 'no answer from the foreign frame in 20 s' }), 20000);
  });
  let seq = 0;
  const call = (worker, name, arg) =>
    new Promise((resolve) => {
      const id = ++seq;
      const timer = setTimeout(() => resolve({ error: 'timeout: ' + name }), 5000);
      worker.addEventListener('message', function on(e) {
        if (!e.data || e.data.id !== id) return;
        worker.removeEventListener('message', on);
        clearTimeout(timer);
        progress.push(name + ' -> ' + JSON.stringify(e.data.result).slice(0, 300));
        resolve(e.data.result);
      });
      worker.postMessage({ id, name, arg });
      progress.push(name + (arg ? ' ' + arg : ''));
    });
  const errors = [];
  const made = (worker, kind) => {
    worker.onerror = (e) => { errors.push(kind + ': ' + (e.message || 'error')); progress.push('ERROR ' + kind + ': ' + e.message + ' ' + e.filename + ':' + e.lineno); };
    return worker;
  };

  // The page's own 16 MiB upload, to compare with its workers' (same run).
  {
    const body = new Uint8Array(16 << 20);
    for (let k = 0; k < body.length; k++) body[k] = k % 251;
    const t = performance.now();
    const r = await fetch('/wk/upload?who=upload-page', { method: 'POST', body });
    report.pageUpload = { status: r.status, ms: Math.round(performance.now() - t), ...(await r.json()) };
  }
  const page = await fetch('/wk/caller?who=page');
  report.page = { status: page.status, body: await page.json() };

  const blobSource = await (await fetch('blob-worker.js')).text();
  const blobUrl = URL.createObjectURL(new Blob([blobSource], { type: 'text/javascript' }));
  const workers = {
    classic: made(new Worker('worker.js'), 'classic'),
    module: made(new Worker('worker.mjs', { type: 'module' }), 'module'),
    blob: made(new Worker(blobUrl), 'blob'),
  };
  report.isWorker = workers.classic instanceof Worker && workers.classic.constructor === Worker;
  for (const [kind, w] of Object.entries(workers)) {
    const r = {};
    r.env = await call(w, 'env');
    r.caller = await call(w, 'caller', kind);
    r.upload = await call(w, 'upload', 'upload-' + kind);
    r.cancel = await call(w, 'cancel', 'cancel-' + kind);
    r.events = await call(w, 'events', 'events-' + kind);
    r.ws = await call(w, 'ws', 'ws-' + kind);
    r.xhr = await call(w, 'xhr');
    r.nested = await call(w, 'nested', 'nested-' + kind);
    report[kind] = r;
  }
  // A blob without a type (the engines run it as a worker script all the same).
  const untyped = made(new Worker(URL.createObjectURL(new Blob([blobSource]))), 'untyped');
  report.untyped = { env: await call(untyped, 'env'), caller: await call(untyped, 'caller', 'untyped') };
  untyped.terminate();
  // terminate(): the worker's open streams end on the bus.
  const doomed = made(new Worker('worker.js'), 'doomed');
  report.doomedHold = await call(doomed, 'hold', 'terminated');
  doomed.terminate();

  if (navigator.serviceWorker) {
    try {
      await navigator.serviceWorker.register('worker.js');
      report.serviceWorker = 'registered';
    } catch (e) {
      report.serviceWorker = String(e);
    }
  } else {
    report.serviceWorker = 'no navigator.serviceWorker';
  }
  report.foreign = await foreign;
  report.errors = errors;
  document.getElementById('out').textContent = JSON.stringify(report, null, 1);
  await fetch('/report', { method: 'POST', body: JSON.stringify(report) });

  // Then a download held open in a worker: it must end when the page goes away.
  const hold = await call(workers.classic, 'hold', 'nav-away');
  await fetch('/report', { method: 'POST', body: JSON.stringify({ holding: hold }) });
})().catch((e) => fetch('/report', { method: 'POST', body: JSON.stringify({ error: String(e && e.stack || e) }) }));
