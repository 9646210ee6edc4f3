// The hostile-page suite's attacks, run from a foreign context against the app origin.
// Shared by the WebKitGTK (bridge-desktop/tests/hostile.rs) and Chromium
// (bridge-android/tests) suites; served from the foreign origin.
//
// Every request kind goes twice: to `APP/api/<ctx>/<kind>` (an API mount: no handler may
// run, nothing may be readable) and to `APP/probe/<ctx>/<kind>` (a public mount that records
// the caller the host stamped and the headers the engine attached: the census, and the
// proof that no foreign request was taken for the app's).
//
// runAttacks(app, ctx, report, opts) resolves after every attack settled and POSTs a JSON
// report to `report` (the foreign origin's own collector).
(function () {
  'use strict';
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const settle = (p, ms = 3000) => Promise.race([p.then(() => 'settled', (e) => 'rejected:' + (e && e.name)), sleep(ms).then(() => 'timeout')]);

  async function runAttacks(app, ctx, report, opts) {
    opts = opts || {};
    const noref = !!opts.noReferrer;
    if (noref) {
      const meta = document.createElement('meta');
      meta.name = 'referrer';
      meta.content = 'no-referrer';
      (document.head || document.documentElement).appendChild(meta);
    }
    const url = (mount, kind, q) => `${app}/${mount}/${ctx}/${kind}${q ? '?' + q : ''}`;
    const out = { ctx, where: String(location.href).slice(0, 80), origin: self.origin, readable: {}, outcomes: {} };
    const root = document.body || document.documentElement;

    const element = (tag, attrs, prop) => new Promise((resolve) => {
      const el = document.createElement(tag);
      for (const [k, v] of Object.entries(attrs)) if (k !== prop) el.setAttribute(k, v);
      el.onload = () => resolve('load');
      el.onerror = () => resolve('error');
      if (tag === 'video') { el.onloadeddata = () => resolve('load'); el.muted = true; }
      el.setAttribute(prop, attrs[prop]);
      root.appendChild(el);
      if (tag === 'iframe') setTimeout(() => resolve('timeout'), 1500);
    });

    const kinds = {
      img: (m) => element('img', { src: url(m, 'img') }, 'src'),
      'img-noref': (m) => element('img', { src: url(m, 'img-noref'), referrerpolicy: 'no-referrer' }, 'src'),
      script: (m) => element('script', { src: url(m, 'script', 'js=1') }, 'src'),
      'script-noref': (m) => element('script', { src: url(m, 'script-noref', 'js=1'), referrerpolicy: 'no-referrer' }, 'src'),
      link: (m) => element('link', { rel: 'stylesheet', href: url(m, 'link') }, 'href'),
      video: (m) => element('video', { src: url(m, 'video') }, 'src'),
      iframe: (m) => element('iframe', { src: url(m, 'iframe') }, 'src'),
      'fetch-cors': async (m) => {
        const r = await fetch(url(m, 'fetch-cors'));
        out.readable[m + ' fetch-cors'] = (await r.text()).slice(0, 40);
      },
      'fetch-nocors': (m) => fetch(url(m, 'fetch-nocors'), { mode: 'no-cors' }),
      'fetch-nocors-noref': (m) => fetch(url(m, 'fetch-nocors-noref'), { mode: 'no-cors', referrerPolicy: 'no-referrer' }),
      'fetch-credentials': (m) => fetch(url(m, 'fetch-credentials'), { mode: 'no-cors', credentials: 'include' }),
      xhr: (m) => new Promise((resolve, reject) => {
        const x = new XMLHttpRequest();
        x.open('GET', url(m, 'xhr'));
        x.onload = () => { out.readable[m + ' xhr'] = String(x.responseText).slice(0, 40); resolve(); };
        x.onerror = () => reject(new TypeError('xhr error'));
        x.send();
      }),
      'xhr-post': (m) => new Promise((resolve) => {
        const x = new XMLHttpRequest();
        x.open('POST', url(m, 'xhr-post'));
        x.onloadend = () => resolve();
        x.send(new Blob(['blob body']));
      }),
      'post-blob': (m) => fetch(url(m, 'post-blob'), { method: 'POST', body: new Blob(['crash?'], { type: 'application/x-www-form-urlencoded' }) }),
      'post-blob-marked': (m) => fetch(url(m, 'post-blob-marked'), { method: 'POST', headers: { 'x-inproc-bus-body': '1', 'x-inproc-bus-stash': '1' }, body: new Blob(['crash?']) }),
      // The WebKitGTK upload carrier's header with a guessed secret and a Blob body: refused
      // unread (a Blob-backed body crashes a WebKitGTK host that reads it).
      'post-blob-carrier': (m) => fetch(url(m, 'post-blob-carrier'), { method: 'POST', headers: { 'x-inproc-bus-carrier': '0'.repeat(32) }, body: new Blob(['crash?']) }),
      'post-file-formdata': (m) => {
        const fd = new FormData();
        fd.append('f', new File(['file body'], 'f.txt', { type: 'text/plain' }));
        return fetch(url(m, 'post-file-formdata'), { method: 'POST', headers: { 'x-inproc-bus-body': '1' }, body: fd });
      },
      'post-stream': (m) => fetch(url(m, 'post-stream'), { method: 'POST', body: new ReadableStream({ start(c) { c.enqueue(new Uint8Array([1, 2, 3])); c.close(); } }), duplex: 'half' }),
      beacon: async (m) => { navigator.sendBeacon(url(m, 'beacon'), new Blob(['beacon'])); await sleep(300); },
      eventsource: (m) => new Promise((resolve) => {
        const es = new EventSource(url(m, 'eventsource'));
        const done = () => { es.close(); resolve(); };
        es.onmessage = (e) => { out.readable[m + ' eventsource'] = String(e.data).slice(0, 40); done(); };
        es.onerror = done;
        setTimeout(done, 1500);
      }),
      // A dedicated worker the context makes from a blob: URL (issue 15): only the app's
      // own documents' workers get the shim; this one's requests must not act as the app.
      'worker-fetch': (m) => inWorker(m, 'worker-fetch', 'GET'),
      'worker-post': (m) => inWorker(m, 'worker-post', 'POST'),
      'form-get': (m) => submitForm(m, 'form-get', 'get', 'application/x-www-form-urlencoded'),
      'form-post': (m) => submitForm(m, 'form-post', 'post', 'application/x-www-form-urlencoded'),
      'form-post-file': (m) => submitForm(m, 'form-post-file', 'post', 'multipart/form-data', true),
    };

    function inWorker(m, kind, method) {
      const src = 'onmessage = async (e) => { const u = e.data[0]; const post = e.data[1] === \'POST\';' +
        ' try { const r = await fetch(u, post ? { method: \'POST\', body: new Uint8Array([1, 2, 3]) } : {}); postMessage(String(await r.text()).slice(0, 40)); }' +
        ' catch (err) { postMessage(\'failed \' + err.name); } };';
      return new Promise((resolve, reject) => {
        const w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
        w.onmessage = (e) => { out.readable[m + ' ' + kind] = String(e.data); w.terminate(); resolve(); };
        w.onerror = () => { w.terminate(); reject(new TypeError('worker error')); };
        w.postMessage([url(m, kind), method]);
      });
    }

    function submitForm(m, kind, method, enctype, withFile) {
      return new Promise((resolve) => {
        const name = 'sink-' + m + '-' + kind;
        const sink = document.createElement('iframe');
        sink.name = name;
        root.appendChild(sink);
        const form = document.createElement('form');
        form.method = method;
        form.action = url(m, kind);
        form.enctype = enctype;
        form.target = name;
        const input = document.createElement('input');
        input.name = 'a';
        input.value = 'form value';
        form.appendChild(input);
        if (withFile && typeof DataTransfer === 'function') {
          const file = document.createElement('input');
          file.type = 'file';
          file.name = 'f';
          try {
            const dt = new DataTransfer();
            dt.items.add(new File(['file body'], 'f.txt', { type: 'text/plain' }));
            file.files = dt.files;
          } catch (e) { /* the engine refuses: the form goes without the file */ }
          form.appendChild(file);
        }
        root.appendChild(form);
        sink.onload = () => resolve('load');
        setTimeout(() => resolve('timeout'), 1500);
        form.submit();
      });
    }

    const runs = [];
    for (const [kind, attack] of Object.entries(kinds)) {
      for (const mount of ['api', 'probe']) {
        runs.push(settle(Promise.resolve().then(() => attack(mount))).then((outcome) => {
          out.outcomes[mount + ' ' + kind] = outcome;
        }));
      }
    }
    await Promise.all(runs);
    out.leak = typeof self.__leak === 'undefined' ? null : String(self.__leak);
    // What reached the page from an app response, if anything, is in `readable` and `leak`.
    await fetch(report, { method: 'POST', body: JSON.stringify(out) }).catch(() => {});
    return out;
  }

  self.runAttacks = runAttacks;
})();
