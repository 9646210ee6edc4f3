//! Which binary carriers WebKitGTK has between a page, the isolated world our relay runs in,
//! and the host, and what each costs for 16 MiB (issue 16's "binary without base64" goal).
//!
//! ```sh
//! cargo run --release -p bridge-desktop --example carriers
//! ```
//!
//! A probe, not a test: it prints one JSON line per observation and exits. Under Xvfb when
//! there is no display. docs/ARCHITECTURE.md ("Binary carriers") records what it printed.
//!
//! What it tries:
//! - main world -> isolated world: a `CustomEvent` whose `detail` is a `Uint8Array`, an
//!   `ArrayBuffer`, a `Blob`, an object holding a view, a base64 string (what arrives, whether
//!   it is the same object or a copy, and how long `dispatchEvent` takes);
//! - isolated world -> main world: the same in the other direction;
//! - isolated world -> host: `postMessage` of a `Uint8Array`, an `ArrayBuffer`, a `DataView`
//!   and a base64 string to a script message handler registered with reply (what the host's
//!   `JSCValue` is, and the round trip);
//! - isolated world and main world -> host: a `fetch` POST of the bytes to a custom scheme
//!   (the body the scheme handler reads, the round trip, and the handler's own read time);
//! - isolated world <- main world's `blob:` URL: whether the relay can read it.
#![allow(missing_docs)]

use std::time::Instant;

use javascriptcore::{ValueExt, ValueExtManual};
use webkit2gtk::{
    URISchemeRequestExt, UserContentInjectedFrames, UserContentManagerExt, UserScript,
    UserScriptInjectionTime, WebContextExt, WebViewExt,
};

const WORLD: &str = "probe-world";

const PAGE: &str = r#"<!doctype html><meta charset=utf-8><title>carriers</title><script>
'use strict';
const N = 16 << 20;
const u8 = new Uint8Array(N);
for (let i = 0; i < N; i += 4096) u8[i] = (i >> 12) & 255;
const tell = (o) => document.dispatchEvent(new CustomEvent('probe-main', { detail: JSON.stringify(o) }));
function describe(d) {
  return { type: typeof d, tag: Object.prototype.toString.call(d), view: ArrayBuffer.isView(d),
    u8: d instanceof Uint8Array, ab: d instanceof ArrayBuffer,
    bytes: d && (d.byteLength ?? d.size ?? (d.a && d.a.byteLength) ?? d.length) };
}
document.addEventListener('probe-in', (e) => {
  const d = e.detail;
  tell({ probe: 'isolated->main detail', sent: e.type, got: describe(d) });
});
document.addEventListener('probe-port', (e) => {
  window.__probePort = e.ports && e.ports[0];
  tell({ probe: 'isolated->main MessageEvent ports', got: String(window.__probePort), ports: e.ports ? e.ports.length : -1 });
});
document.addEventListener('probe-go', async (e) => {
  const cmd = JSON.parse(e.detail);
  if (cmd.kind === 'details') {
    const b64 = u8.toBase64 ? u8.toBase64() : null;
    const cases = [
      ['Uint8Array 16 MiB', u8], ['ArrayBuffer 16 MiB', u8.buffer],
      ['Blob 16 MiB', new Blob([u8])], ['{a: Uint8Array} 16 MiB', { a: u8 }],
      ['base64 string of 16 MiB', b64],
    ];
    for (const [name, detail] of cases) {
      for (let r = 0; r < 3; r++) {
        u8[0] = 0;
        const t0 = performance.now();
        document.dispatchEvent(new CustomEvent('probe-out', { detail, }));
        const ms = performance.now() - t0;
        tell({ probe: 'main->isolated dispatch', name, round: r, dispatch_ms: ms, isolated_wrote_through: u8[0] === 77 });
      }
    }
    // 256 events of 64 KiB views: the per-event cost at the shim's upload chunk size.
    const t0 = performance.now();
    for (let i = 0; i < 256; i++) document.dispatchEvent(new CustomEvent('probe-out', { detail: u8.subarray(i << 16, (i + 1) << 16) }));
    tell({ probe: 'main->isolated dispatch', name: '256 x 64 KiB Uint8Array views', dispatch_ms: performance.now() - t0 });
    tell({ done: 'details' });
  } else if (cmd.kind === 'carry') {
    for (let r = 0; r < 3; r++) {
      let t0 = performance.now();
      const b64 = u8.toBase64();
      const encode_ms = performance.now() - t0;
      tell({ probe: 'main toBase64 16 MiB', round: r, ms: encode_ms });
      document.dispatchEvent(new CustomEvent('probe-carry-b64', { detail: b64 }));
      await new Promise((ok) => document.addEventListener('probe-carried', ok, { once: true }));
      document.dispatchEvent(new CustomEvent('probe-carry-text', { detail: b64 }));
      await new Promise((ok) => document.addEventListener('probe-carried', ok, { once: true }));
      t0 = performance.now();
      const blob = new Blob([u8]);
      tell({ probe: 'main new Blob([16 MiB])', round: r, ms: performance.now() - t0 });
      document.dispatchEvent(new CustomEvent('probe-carry-blob', { detail: blob }));
      await new Promise((ok) => document.addEventListener('probe-carried', ok, { once: true }));
    }
    tell({ done: 'carry' });
  } else if (cmd.kind === 'port') {
    // What the shim's fetch does with a 16 MiB body before the carrier: the engine's
    // Request constructor (does it copy the bytes, or keep the caller's?) and a slice.
    for (let r = 0; r < 3; r++) {
      let t0 = performance.now();
      const request = new Request('probe://localhost/up', { method: 'POST', body: u8 });
      const request_ms = performance.now() - t0;
      const before = u8[1];
      u8[1] = 99;
      const seen = new Uint8Array(await request.arrayBuffer())[1];
      u8[1] = before;
      t0 = performance.now();
      const copy = u8.slice();
      const slice_ms = performance.now() - t0;
      tell({ probe: 'main new Request(url, {body: 16 MiB Uint8Array}), then a slice', round: r, request_ms, request_kept_callers_bytes: seen === 99, slice_ms, sliced: copy.byteLength });
    }
    const port = window.__probePort;
    for (let r = 0; r < 3; r++) {
      const copy = u8.slice();
      const t0 = performance.now();
      port.postMessage({ stream: r, body: copy.buffer }, [copy.buffer]);
      tell({ probe: 'main postMessage on the isolated world\'s port, 16 MiB transferred', round: r, post_ms: performance.now() - t0, detached: copy.byteLength === 0, t0 });
      await new Promise((ok) => document.addEventListener('probe-carried', ok, { once: true }));
    }
    tell({ done: 'port' });
  } else if (cmd.kind === 'fetch') {
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      const res = await fetch('probe://localhost/up', { method: 'POST', body: u8 });
      const text = await res.text();
      tell({ probe: 'main world fetch POST to the scheme', round: r, ms: performance.now() - t0, status: res.status, answer: text });
    }
    const url = URL.createObjectURL(new Blob([u8]));
    tell({ done: 'fetch', blob_url: url });
  } else if (cmd.kind === 'piece') {
    // What a page does with one piece of a download over frames (72 KiB, 96K base64
    // characters), step by step, each step 500 times in a row.
    const piece = u8.subarray(0, 72 << 10).toBase64();
    const n = 500;
    for (let r = 0; r < 3; r++) {
      let t0 = performance.now();
      let got = 0;
      for (let i = 0; i < n; i++) got += Uint8Array.fromBase64(piece).byteLength;
      const decode_us = (performance.now() - t0) * 1000 / n;
      const one = Uint8Array.fromBase64(piece);
      let controller;
      const reader = new ReadableStream({ start(c) { controller = c; } }).getReader();
      t0 = performance.now();
      for (let i = 0; i < n; i++) { controller.enqueue(one.slice()); got += (await reader.read()).value.byteLength; }
      const stream_us = (performance.now() - t0) * 1000 / n;
      t0 = performance.now();
      for (let i = 0; i < n; i++) got += one.slice().byteLength;
      const copy_us = (performance.now() - t0) * 1000 / n;
      const listener = (e) => { got += e.detail.length; };
      document.addEventListener('probe-piece', listener);
      t0 = performance.now();
      for (let i = 0; i < n; i++) document.dispatchEvent(new CustomEvent('probe-piece', { detail: piece }));
      const event_us = (performance.now() - t0) * 1000 / n;
      document.removeEventListener('probe-piece', listener);
      tell({ probe: 'a 72 KiB download piece in the page, mean of 500 (us)', round: r, fromBase64_us: decode_us, copy_72k_us: copy_us, stream_enqueue_copy_and_read_us: stream_us, event_us, got });
    }
    tell({ done: 'piece' });
  }
});
</script>"#;

const RELAY: &str = r#"(() => {
'use strict';
const log = (o) => window.webkit.messageHandlers.probeLog.postMessage(JSON.stringify(o));
const bin = window.webkit.messageHandlers.probeBin;
const N = 16 << 20;
let last = null;
function describe(d) {
  return { type: typeof d, tag: Object.prototype.toString.call(d), view: ArrayBuffer.isView(d),
    u8: d instanceof Uint8Array, ab: d instanceof ArrayBuffer, blob: d instanceof Blob,
    bytes: d && (d.byteLength ?? d.size ?? (d.a && d.a.byteLength) ?? d.length) };
}
let seen = 0;
document.addEventListener('probe-out', (e) => {
  const t = performance.now();
  let d;
  try { d = e.detail; } catch (err) { log({ probe: 'main->isolated detail', error: String(err) }); return; }
  seen++;
  if (seen <= 15) log({ probe: 'main->isolated detail', got: describe(d), detail_read_ms: performance.now() - t });
  if (ArrayBuffer.isView(d) && d.byteLength === N) { d[0] = 77; last = d; }
});
const carried = () => document.dispatchEvent(new CustomEvent('probe-carried'));
document.addEventListener('probe-carry-b64', async (e) => {
  const s = e.detail;
  if (typeof s !== 'string') return;
  let t0 = performance.now();
  const bytes = Uint8Array.fromBase64(s);
  const decode_ms = performance.now() - t0;
  const res = await fetch('probe://localhost/up', { method: 'POST', body: bytes, headers: { 'x-probe-key': 'isolated' } });
  const text = await res.text();
  log({ probe: 'carry: string event -> isolated fromBase64 -> fetch bytes', decode_ms, fetch_ms: performance.now() - t0 - decode_ms, answer: text });
  carried();
});
document.addEventListener('probe-carry-text', async (e) => {
  const s = e.detail;
  if (typeof s !== 'string') return;
  const t0 = performance.now();
  const res = await fetch('probe://localhost/up', { method: 'POST', body: s, headers: { 'x-probe-key': 'isolated' } });
  const text = await res.text();
  log({ probe: 'carry: string event -> isolated fetch with the base64 string as body', fetch_ms: performance.now() - t0, answer: text });
  carried();
});
document.addEventListener('probe-carry-blob', async (e) => {
  const b = e.detail;
  if (!(b instanceof Blob)) return;
  let t0 = performance.now();
  const buffer = await b.arrayBuffer();
  const read_ms = performance.now() - t0;
  const res = await fetch('probe://localhost/up', { method: 'POST', body: buffer, headers: { 'x-probe-key': 'isolated' } });
  const text = await res.text();
  log({ probe: 'carry: Blob event -> isolated blob.arrayBuffer() -> fetch bytes', read_ms, fetch_ms: performance.now() - t0 - read_ms, answer: text });
  carried();
});
const channel = new MessageChannel();
channel.port2.onmessage = async (e) => {
  const t = performance.now();
  const d = e.data;
  const ok = d && d.body instanceof ArrayBuffer;
  log({ probe: 'isolated world port receives', body_is_isolated_ArrayBuffer: ok, bytes: ok ? d.body.byteLength : null, stream: d && d.stream });
  if (ok) {
    const res = await fetch('probe://localhost/up', { method: 'POST', body: new Uint8Array(d.body), headers: { 'x-probe-key': 'isolated' } });
    const text = await res.text();
    log({ probe: 'carry: MessagePort transfer -> isolated fetch bytes', fetch_ms: performance.now() - t, answer: text });
  }
  carried();
};
const waitFor = (what) => new Promise((ok) => {
  const f = (e) => { const o = JSON.parse(e.detail); if (o.done === what) { document.removeEventListener('probe-main', f); ok(o); } };
  document.addEventListener('probe-main', f);
});
document.addEventListener('probe-main', (e) => { const o = JSON.parse(e.detail); if (!o.done) log(o); });
const go = (kind) => document.dispatchEvent(new CustomEvent('probe-go', { detail: JSON.stringify({ kind }) }));
async function post(name, value, rounds) {
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    let answer;
    try { answer = await bin.postMessage(value); } catch (e) { answer = 'rejected: ' + (e && e.message); }
    log({ probe: 'isolated->host postMessage', name, round: r, ms: performance.now() - t0, answer: String(answer) });
  }
}
addEventListener('load', async () => {
  try {
    const p = waitFor('details'); go('details'); await p;
    const u8 = new Uint8Array(N);
    for (let i = 0; i < N; i += 4096) u8[i] = (i >> 12) & 255;
    // isolated -> main
    for (const [name, detail] of [['Uint8Array', u8], ['ArrayBuffer', u8.buffer]]) {
      const t0 = performance.now();
      document.dispatchEvent(new CustomEvent('probe-in', { detail }));
      log({ probe: 'isolated->main dispatch', name, dispatch_ms: performance.now() - t0 });
    }
    await post('string hello', 'hello', 1);
    await post('Uint8Array 16 bytes', u8.slice(0, 16), 1);
    await post('Uint8Array 64 KiB', u8.slice(0, 65536), 1);
    await post('ArrayBuffer 16 bytes', u8.slice(0, 16).buffer, 1);
    await post('DataView 16 bytes', new DataView(u8.slice(0, 16).buffer), 1);
    // A typed array arrives as an object with one property per element (measured above):
    // nothing larger is tried.
    if (u8.toBase64) {
      const t0 = performance.now();
      const s = u8.toBase64();
      log({ probe: 'isolated toBase64 16 MiB', ms: performance.now() - t0 });
      await post('base64 string of 16 MiB', s, 3);
    }
    document.dispatchEvent(new MessageEvent('probe-port', { ports: [channel.port1] }));
    { const c = waitFor('port'); go('port'); await c; }
    { const c = waitFor('carry'); go('carry'); await c; }
    // The relay's own fetch to the scheme, with a header page script cannot see.
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      const res = await fetch('probe://localhost/up', { method: 'POST', body: u8, headers: { 'x-probe-key': 'isolated' } });
      const text = await res.text();
      log({ probe: 'isolated world fetch POST to the scheme', round: r, ms: performance.now() - t0, status: res.status, answer: text });
    }
    for (let r = 0; r < 2; r++) {
      const t0 = performance.now();
      const res = await fetch('probe://localhost/up1k', { method: 'POST', body: u8 });
      const text = await res.text();
      log({ probe: 'isolated world fetch POST, host reads in 1 KiB (wry)', round: r, ms: performance.now() - t0, status: res.status, answer: text });
    }
    const f = waitFor('fetch'); go('fetch'); const { blob_url } = await f;
    try {
      const t0 = performance.now();
      const b = await (await fetch(blob_url)).arrayBuffer();
      log({ probe: 'isolated world reads the main world blob: URL', ok: true, bytes: b.byteLength, ms: performance.now() - t0 });
    } catch (e) {
      log({ probe: 'isolated world reads the main world blob: URL', ok: false, error: String(e) });
    }
    // The floors of a small request: a script message round trip answered at once (what
    // the relay's every request and reply rides on), and a scheme fetch answered at once
    // with a 12-byte body in memory (what Tauri's scheme protocol does), each timed over
    // 2000 in a row (the clock ticks in 1 ms steps).
    for (let r = 0; r < 3; r++) {
      let t0 = performance.now();
      for (let i = 0; i < 2000; i++) await bin.postMessage('ping').catch(() => {}); // answered as a rejection (reply_text)
      const message_us = (performance.now() - t0) * 1000 / 2000;
      t0 = performance.now();
      for (let i = 0; i < 2000; i++) await (await fetch('probe://localhost/tiny')).arrayBuffer();
      const scheme_us = (performance.now() - t0) * 1000 / 2000;
      log({ probe: 'round trip floors, isolated world, mean of 2000', round: r, script_message_us: message_us, scheme_fetch_12_bytes_us: scheme_us });
    }
    { const c = waitFor('piece'); go('piece'); await c; }
    if (location.hash === '#give') try {
      const t0 = performance.now();
      const answer = await bin.postMessage('give');
      log({ probe: 'host->isolated reply value', got: describe(answer), ms: performance.now() - t0 });
    } catch (e) {
      log({ probe: 'host->isolated reply value', error: String(e && e.message) });
    }
  } catch (e) {
    log({ probe: 'failed', error: String(e && e.stack || e) });
  }
  log({ done: true });
});
})();"#;

mod probe;

fn main() {
    use gtk::prelude::*;
    let probe = probe::Probe::new(|_| {});
    let (view, context) = (&probe.view, &probe.context);
    context.register_uri_scheme("probe", |request| {
        let path = request.path().map(|p| p.to_string()).unwrap_or_default();
        let answer = |status: u32, kind: &str, body: Vec<u8>| {
            probe::answer(request, status, kind, glib::Bytes::from_owned(body));
        };
        if path == "/" {
            answer(200, "text/html", PAGE.as_bytes().to_vec());
            return;
        }
        if path == "/tiny" {
            answer(200, "application/octet-stream", b"hello, world".to_vec());
            return;
        }
        let key = request
            .http_headers()
            .and_then(|h| h.one("x-probe-key"))
            .map(|v| v.to_string());
        let declared = request
            .http_headers()
            .and_then(|h| h.one("content-length"))
            .map(|v| v.to_string());
        let started = Instant::now();
        let chunk = if path == "/up1k" { 1024 } else { 1 << 20 };
        let mut total = 0usize;
        let mut reads = 0usize;
        let mut out: Vec<u8> = Vec::new();
        if let Some(stream) = request.http_body() {
            let mut buf = vec![0u8; chunk];
            loop {
                let n = stream.read(&mut buf[..], gio::Cancellable::NONE).unwrap_or(0);
                if n == 0 {
                    break;
                }
                reads += 1;
                total += n;
                out.extend_from_slice(&buf[..n]);
            }
        }
        let read_us = started.elapsed().as_micros();
        std::hint::black_box(&out);
        let text = format!(
            "{total} bytes in {reads} reads of up to {chunk}, {read_us} us; header x-probe-key {key:?}; content-length {declared:?}"
        );
        answer(200, "text/plain", text.into_bytes());
    });

    let manager = view.user_content_manager().expect("content manager");
    assert!(manager.register_script_message_handler_with_reply("probeBin", WORLD));
    manager.add_script(&UserScript::for_world(
        RELAY,
        UserContentInjectedFrames::TopFrame,
        UserScriptInjectionTime::Start,
        WORLD,
        &[],
        &[],
    ));
    manager.connect_local(
        "script-message-with-reply-received::probeBin",
        false,
        |args| {
            let value = args
                .get(1)
                .and_then(|v| v.get::<javascriptcore::Value>().ok())?;
            let reply = args.get(2)?;
            if value.is_string() && value.to_str().as_str() == "ping" {
                probe::reply_text(reply, "pong");
                return Some(true.to_value());
            }
            eprintln!(
                "host: message with reply, argument types {:?}",
                args.iter().map(|a| a.type_()).collect::<Vec<_>>()
            );
            let started = Instant::now();
            let what = if value.is_typed_array() {
                let bytes: Vec<u8> = match value.typed_array_get_data() {
                    javascriptcore::TypedArrayData::Uint8(s) => s.to_vec(),
                    _ => Vec::new(),
                };
                format!(
                    "typed array ({:?}), {} bytes copied out in {} us",
                    value.typed_array_get_type(),
                    bytes.len(),
                    started.elapsed().as_micros()
                )
            } else if value.is_array_buffer() {
                let n = value.array_buffer_get_data().to_vec().len();
                format!(
                    "ArrayBuffer, {n} bytes copied out in {} us",
                    started.elapsed().as_micros()
                )
            } else if value.is_string() {
                let s = value.to_str();
                if s.as_str() == "give" {
                    return Some(give(&value, reply).to_value());
                }
                format!(
                    "string of {} bytes read in {} us",
                    s.len(),
                    started.elapsed().as_micros()
                )
            } else if value.is_object() {
                format!(
                    "object: {}",
                    value
                        .to_json(0)
                        .map(|s| s.to_string())
                        .unwrap_or_default()
                        .chars()
                        .take(80)
                        .collect::<String>()
                )
            } else {
                format!("other: {}", value.to_str())
            };
            probe::reply_text(reply, &what);
            Some(true.to_value())
        },
    );
    probe.run("probeLog", Some(WORLD), 120);
}

/// Answers with a 1 MiB `Uint8Array` made in the message's own context, at once.
fn give(value: &javascriptcore::Value, reply: &glib::Value) -> bool {
    let Some(context) = value.context() else {
        return false;
    };
    let data = glib::Bytes::from_owned(vec![7u8; 1 << 20]);
    let Some(buffer) = javascriptcore::Value::new_array_buffer(&context, data) else {
        return false;
    };
    let ptr = probe::boxed(reply);
    // SAFETY: `ptr` is the signal's live reply, answered once here; `buffer` is a live JSCValue WebKit serialises before
    // returning.
    unsafe {
        webkit2gtk::ffi::webkit_script_message_reply_return_value(
            ptr,
            glib::translate::ToGlibPtr::to_glib_none(&buffer).0,
        )
    };
    true
}
