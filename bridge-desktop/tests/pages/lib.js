// Test helpers shared by the pages: the shim's BusClient for raw streams, and reporting
// to the harness (through the shim's fetch).
const B = window.InprocBusBridge;
// The shim's own client: one client per session (stream ids are the client's).
const busClient = B && B.installation() ? B.installation().client : null;
async function report(v) {
  await fetch('/report', { method: 'POST', headers: { 'content-type': 'application/json', 'x-inproc-bus-body': '1' }, body: JSON.stringify(v) });
}
function hex(buf) { return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join(''); }
function pattern(n) { const a = new Uint8Array(n); for (let i = 0; i < n; i++) a[i] = i % 251; return a; }
async function get(uri) { const r = await busClient.openStream({ method: 'GET', uri, headers: [] }); const reader = r.body.getReader(); for (;;) { const { done } = await reader.read(); if (done) break; } return r.status; }
