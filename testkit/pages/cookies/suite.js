// The cookie suite, first page: log in (an HttpOnly session cookie), then every kind of
// request the app makes; document.cookie reads and writes; a sandboxed (opaque-origin)
// frame's requests. Reports to /report, then navigates to /ckpub/nav (after.js goes on).
(async () => {
  const r = { steps: [] };
  const step = (s) => r.steps.push(s);
  const text = async (p) => (await p).text();
  try {
    r.before = document.cookie;
    const login = await fetch('/ck/login', { method: 'POST' });
    r.login = login.status;
    r.loginSetCookieVisible = login.headers.get('set-cookie');
    step('login');
    r.fetch = await text(fetch('/ck/seen/fetch'));
    r.xhr = await new Promise((ok, fail) => {
      const x = new XMLHttpRequest();
      x.open('GET', '/ck/seen/xhr');
      x.onload = () => ok({ text: x.responseText, headers: x.getAllResponseHeaders() });
      x.onerror = () => fail(new Error('xhr failed'));
      x.send();
    });
    step('xhr');
    for (const path of ['/ck/seen/img', '/ckpub/seen/img-public']) {
      r[path] = await new Promise((ok) => {
        const img = new Image();
        img.onload = () => ok('load');
        img.onerror = () => ok('error');
        img.src = path;
      });
    }
    step('img');
    r.ws = await new Promise((ok, fail) => {
      const ws = new WebSocket('/ck/ws');
      ws.onmessage = (e) => {
        ok(String(e.data));
        ws.close();
      };
      ws.onerror = () => fail(new Error('websocket failed'));
    });
    step('ws');
    r.documentCookie = document.cookie;
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) void document.cookie;
    r.readMs = (performance.now() - t0) / 20;
    document.cookie = 'fromPage=42; path=/';
    r.afterSet = document.cookie;
    r.fetchAfterSet = await text(fetch('/ck/seen/after-set'));
    document.cookie = 'sid=forged; path=/';
    r.afterForge = await text(fetch('/ck/seen/after-forge'));
    document.cookie = 'short=1; max-age=1; path=/';
    r.shortBefore = await text(fetch('/ck/seen/short-before'));
    await new Promise((ok) => setTimeout(ok, 1500));
    r.shortAfter = await text(fetch('/ck/seen/short-after'));
    document.cookie = 'fromPage=; max-age=0; path=/';
    r.afterDelete = document.cookie;
    step('document.cookie');
    // An iframe of the app (no shim of its own): its document.cookie is the same jar's.
    r.frame = await new Promise((ok) => {
      addEventListener('message', (e) => e.data && e.data.frame && ok(e.data.frame));
      setTimeout(() => ok('timeout'), 10000);
      const f = document.createElement('iframe');
      f.src = '/ck-pages/frame.html';
      document.body.appendChild(f);
    });
    r.fetchAfterFrame = await text(fetch('/ck/seen/after-frame'));
    document.cookie = 'fromFrame=; max-age=0; path=/';
    step('iframe');
    // A sandboxed frame of this page: an opaque origin, not the app.
    r.sandboxed = await new Promise((ok) => {
      const f = document.createElement('iframe');
      f.sandbox = 'allow-scripts';
      f.srcdoc = `<script>
        fetch('app-url', { mode: 'no-cors' }).catch(() => {});
        const img = new Image(); img.src = 'IMG';
        img.onload = img.onerror = () => parent.postMessage('sandbox-done', '*');
      <\/script>`
        .replace('app-url', location.origin + '/ckpub/seen/sandboxed-fetch')
        .replace('IMG', location.origin + '/ckpub/seen/img-sandboxed');
      addEventListener('message', (e) => e.data === 'sandbox-done' && ok('done'));
      setTimeout(() => ok('timeout'), 5000);
      document.body.appendChild(f);
    });
    step('sandboxed');
  } catch (e) {
    r.error = String(e && e.stack ? e.stack : e);
  }
  await fetch('/report', { method: 'POST', body: JSON.stringify(r) });
  if (!r.error) location.href = '/ckpub/nav';
})();
