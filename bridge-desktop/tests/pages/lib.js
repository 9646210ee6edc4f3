// Test helpers shared by the pages: a BusClient over the isolated-world relay (until the
// shim's install() carries fetch itself), and reporting to the harness.
const B = window.InprocBusBridge;
function b64(bytes) { let s = ''; for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000)); return btoa(s); }
function unb64(s) { const bin = atob(s); const out = new Uint8Array(bin.length); for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i); return out; }
const relayTransport = {
  send(bytes) { document.dispatchEvent(new CustomEvent('inproc-bus-out', { detail: b64(bytes) })); },
  onmessage: null,
};
document.addEventListener('inproc-bus-in', (e) => relayTransport.onmessage && relayTransport.onmessage(unb64(e.detail)));
const busClient = B ? new B.BusClient(relayTransport, {}) : null;
async function report(v) {
  await fetch('/report', { method: 'POST', headers: { 'content-type': 'application/json', 'x-inproc-bus-body': '1' }, body: JSON.stringify(v) });
}
function hex(buf) { return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join(''); }
function pattern(n) { const a = new Uint8Array(n); for (let i = 0; i < n; i++) a[i] = i % 251; return a; }
async function get(uri) { const r = await busClient.openStream({ method: 'GET', uri, headers: [] }); const reader = r.body.getReader(); for (;;) { const { done } = await reader.read(); if (done) break; } return r.status; }
