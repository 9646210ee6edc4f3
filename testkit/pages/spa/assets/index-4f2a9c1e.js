// The entry chunk: a client-side router that lazy-loads the page for the route it starts on,
// as a Vite + React Router build does (import() of a hashed chunk).
const routes = { '/spa/deep/link': () => import('./deep-7b3e2d10.js') };
(async () => {
  const r = { path: location.pathname, search: location.search };
  try {
    const prefix = Object.keys(routes).find((p) => location.pathname.startsWith(p));
    r.route = prefix ?? null;
    if (prefix) {
      const page = await routes[prefix]();
      r.rendered = page.render(document.getElementById('root'), location.pathname);
    }
    const missing = await fetch('/spa/assets/missing-00000000.js');
    r.missingStatus = missing.status;
    r.missingType = missing.headers.get('content-type');
    const style = await fetch('/spa/assets/style-1a2b3c4d.css');
    r.styleStatus = style.status;
  } catch (e) {
    r.error = String(e && e.stack ? e.stack : e);
  }
  await fetch('/report', { method: 'POST', body: JSON.stringify(r) });
})();
