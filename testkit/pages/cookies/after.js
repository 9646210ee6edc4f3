// The cookie suite, second page (reached by a navigation): document.cookie as the page
// starts and once the host's jar has arrived; log out (Max-Age=0 deletes the HttpOnly
// session) and report what the next request carries.
(async () => {
  const r = { page: 'after' };
  try {
    // Read by the page's first, inline script (testkit::cookies `/nav`).
    r.documentCookieAtStart = window.__cookieAtStart;
    await globalThis[Symbol.for('inproc-bus.installation')].cookiesReady;
    r.documentCookie = document.cookie;
    r.logout = (await fetch('/ck/logout', { method: 'POST' })).status;
    r.afterLogout = await (await fetch('/ck/seen/after-logout')).text();
  } catch (e) {
    r.error = String(e);
  }
  await fetch('/report', { method: 'POST', body: JSON.stringify(r) });
})();
