// Shared by the test pages: the shim's installation, reporting to the test through the
// bus (a POST with a body: it travels as frames, since interception would lose it).
const inst = () => window[Symbol.for('inproc-bus.installation')] || null;
function pattern(n) { const a = new Uint8Array(n); for (let i = 0; i < n; i++) a[i] = i % 251; return a; }
function hex(buf) { return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join(''); }
function header(pairs, name) { for (const [n, v] of pairs) if (n === name) return typeof v === 'string' ? v : new TextDecoder().decode(v); return null; }
async function readText(stream) { return new Response(stream).text(); }
async function report(v) {
  const r = await fetch('/report', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(v) });
  if (!r.ok) throw new Error('report refused: ' + r.status);
}
async function run(page, body) {
  const out = { page };
  try { await body(out); } catch (e) { out.error = String(e) + ' ' + (e && e.stack); }
  await report(out);
}
