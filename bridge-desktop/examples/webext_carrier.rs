//! One more page-to-host carrier for issue 16, measured side by side with WebKit's own
//! scheme fetch (the path Tauri's fastest rows take): a web process extension
//! (`webext-probe`) defines a synchronous `__probe()` in the page whose bytes cross a
//! socketpair this host hands over in a `WebKitUserMessage` — no listener anywhere.
//!
//! ```sh
//! cargo build --release -p webext-probe
//! cargo run --release -p bridge-desktop --example webext_carrier
//! ```
//!
//! A probe, not a test: it prints one JSON line per observation and exits. Under Xvfb when
//! there is no display. docs/ARCHITECTURE.md ("Binary carriers") records what it printed.
//!
//! From the isolated world (a user script of this host in the world `probe-world`, where
//! bridge-desktop's relay runs): whether `__probe` is there, 2,000 tiny calls, and 2,000
//! script messages the host answers at once (the relay's carrier today, for comparison).
//!
//! Per round (six, the first a warm-up; the two carriers interleaved in each):
//! - 2,000 tiny requests in a row, 12 bytes back: `__probe(0)` (with an `await` per call,
//!   as a promise-returning API would have) against `fetch('probe://localhost/tiny')` and
//!   its `arrayBuffer()`; and the same without blocking (`__probe(5)`, the answer handed to
//!   a callback from the web process's main loop, awaited as a promise);
//! - a 16 MiB upload from one `Uint8Array`: `__probe(1, bytes)` (ten in a row, timed
//!   together: one is about the page's 1 ms clock step) against a `fetch` POST the scheme
//!   handler reads in 1 MiB pieces;
//! - a 64 MiB download: 64 calls of `__probe(2, 1 MiB)`, each a `Uint8Array`, against a
//!   `fetch` whose body the scheme answers from memory at once (as Tauri's scheme protocol
//!   does), read with a reader.
#![allow(missing_docs)]

use std::io::{Read, Write};
use std::os::fd::IntoRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use webkit2gtk::{
    URISchemeRequestExt, UserContentInjectedFrames, UserContentManagerExt, UserMessageExt,
    UserScript, UserScriptInjectionTime, WebContextExt, WebViewExt,
};

const WORLD: &str = "probe-world";

const PAGE: &str = r#"<!doctype html><meta charset=utf-8><title>webext carrier</title><script>
'use strict';
const log = (o) => webkit.messageHandlers.probeLog.postMessage(JSON.stringify(o));
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
(async () => {
  try {
    for (let i = 0; i < 500 && !(typeof __probe === 'function' && __probe(9)); i++) await sleep(10);
    log({ probe: 'main world', __probe: typeof __probe, handshake: typeof __probe === 'function' && __probe(9) });
    if (typeof __probe !== 'function' || !__probe(9)) throw new Error('no __probe or no handshake');
    const iso = new Promise((ok) => document.addEventListener('probe-iso-done', (e) => ok(JSON.parse(e.detail)), { once: true }));
    document.dispatchEvent(new CustomEvent('probe-iso-go'));
    log(Object.assign({ probe: 'isolated world (a user script of the UI process, world probe-world)' },
      await Promise.race([iso, sleep(5000).then(() => ({ answered: false }))])));
    const up = new Uint8Array(16 << 20);
    for (let i = 0; i < up.length; i += 4096) up[i] = (i >> 12) & 255;
    let wake = null;
    __probe(6, (b) => { const w = wake; wake = null; w(b); });
    const rows = [];
    for (let round = 0; round < 6; round++) {
      const row = { probe: 'side by side', round, warm_up: round === 0 };
      let t0 = performance.now();
      for (let i = 0; i < 2000; i++) {
        const b = await __probe(0);
        if (b.byteLength !== 12) throw new Error('tiny answer of ' + b.byteLength);
      }
      row.tiny_ext_us = (performance.now() - t0) * 1000 / 2000;
      t0 = performance.now();
      for (let i = 0; i < 2000; i++) {
        const b = await new Promise((ok) => { wake = ok; __probe(5); });
        if (b.byteLength !== 12) throw new Error('tiny answer of ' + b.byteLength);
      }
      row.tiny_ext_async_us = (performance.now() - t0) * 1000 / 2000;
      t0 = performance.now();
      for (let i = 0; i < 2000; i++) await (await fetch('probe://localhost/tiny')).arrayBuffer();
      row.tiny_scheme_us = (performance.now() - t0) * 1000 / 2000;

      // Ten in a row, timed together: one takes about as long as the page's 1 ms clock step.
      t0 = performance.now();
      for (let i = 0; i < 10; i++) {
        const counted = __probe(1, up);
        if (counted !== up.length) throw new Error('the host counted ' + counted);
        await null;
      }
      row.upload_ext_ms = (performance.now() - t0) / 10;
      t0 = performance.now();
      const text = await (await fetch('probe://localhost/up', { method: 'POST', body: up })).text();
      row.upload_scheme_ms = performance.now() - t0;
      if (text !== String(up.length)) throw new Error('the scheme counted ' + text);

      t0 = performance.now();
      let total = 0, x = 0;
      for (let i = 0; i < 64; i++) {
        const b = __probe(2, 1 << 20);
        total += b.byteLength; x ^= b[b.length - 1];
        await null;
      }
      row.download_ext_mb_s = total / 1e3 / (performance.now() - t0);
      t0 = performance.now();
      const reader = (await fetch('probe://localhost/down')).body.getReader();
      let got = 0;
      for (;;) { const { done, value } = await reader.read(); if (done) break; got += value.byteLength; x ^= value[0]; }
      row.download_scheme_mb_s = got / 1e3 / (performance.now() - t0);
      if (total !== 64 << 20 || got !== 64 << 20) throw new Error('downloads of ' + total + ' and ' + got);
      row.ratios = { tiny: row.tiny_ext_us / row.tiny_scheme_us, tiny_async: row.tiny_ext_async_us / row.tiny_scheme_us, upload: row.upload_ext_ms / row.upload_scheme_ms,
        download: row.download_ext_mb_s / row.download_scheme_mb_s };
      log(row);
      if (round > 0) rows.push(row);
    }
    const median = (k) => { const v = rows.map((r) => r[k]).sort((a, b) => a - b); return v[v.length >> 1]; };
    const summary = { probe: 'medians of rounds 1-5' };
    for (const k of ['tiny_ext_us', 'tiny_ext_async_us', 'tiny_scheme_us', 'upload_ext_ms', 'upload_scheme_ms', 'download_ext_mb_s', 'download_scheme_mb_s']) summary[k] = median(k);
    log(summary);
  } catch (e) {
    log({ probe: 'failed', error: String(e && e.stack || e) });
  }
  log({ done: true });
})();
</script>"#;

/// The isolated world's part: is `__probe` there, and how fast is it from there.
const ISOLATED: &str = r#"
document.addEventListener('probe-iso-go', async () => {
  const out = { type: typeof __probe };
  if (typeof __probe === 'function') {
    const t0 = performance.now();
    for (let i = 0; i < 2000; i++) await __probe(0);
    out.tiny_us = (performance.now() - t0) * 1000 / 2000;
  }
  // The floor of the relay's carrier today: a script message the host answers at once.
  const t1 = performance.now();
  for (let i = 0; i < 2000; i++) await webkit.messageHandlers.probeEcho.postMessage('ping').catch(() => {});
  out.script_message_us = (performance.now() - t1) * 1000 / 2000;
  document.dispatchEvent(new CustomEvent('probe-iso-done', { detail: JSON.stringify(out) }));
});
"#;

mod probe;

fn main() {
    use gtk::prelude::*;
    let library = extension_library();
    let dir = std::env::temp_dir().join(format!("webext-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory for the extension");
    std::fs::copy(&library, dir.join("libwebext_probe.so")).expect("copy the extension");

    let probe = probe::Probe::new(|context| {
        // Before anything loads: the web process starts with the first load.
        context.set_web_extensions_directory(dir.to_str().expect("a UTF-8 path"));
    });
    let (view, context) = (&probe.view, &probe.context);
    let down = glib::Bytes::from_owned(vec![7u8; 64 << 20]);
    context.register_uri_scheme("probe", move |request| {
        let path = request.path().map(|p| p.to_string()).unwrap_or_default();
        let answer = |kind: &str, body: glib::Bytes| probe::answer(request, 200, kind, body);
        match path.as_str() {
            "/" => answer("text/html", glib::Bytes::from_static(PAGE.as_bytes())),
            "/tiny" => answer(
                "application/octet-stream",
                glib::Bytes::from_static(b"hello, world"),
            ),
            "/down" => answer("application/octet-stream", down.clone()),
            _ => {
                let mut total = 0usize;
                if let Some(stream) = request.http_body() {
                    let mut buf = vec![0u8; 1 << 20];
                    loop {
                        let n = stream
                            .read(&mut buf[..], gio::Cancellable::NONE)
                            .unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        total += n;
                    }
                }
                answer("text/plain", glib::Bytes::from_owned(total.to_string()));
            }
        }
    });

    view.connect_user_message_received(|_, message| {
        if message.name().as_deref() != Some("probe-fd") {
            return false;
        }
        let (ours, theirs) = UnixStream::pair().expect("a socketpair");
        std::thread::spawn(move || serve(ours));
        let list = gio::UnixFDList::from_array([theirs.into_raw_fd()]);
        message.send_reply(&webkit2gtk::UserMessage::with_fd_list(
            "probe-fd",
            None,
            Some(&list),
        ));
        true
    });

    let manager = view.user_content_manager().expect("content manager");
    assert!(manager.register_script_message_handler_with_reply("probeEcho", WORLD));
    manager.connect_local(
        "script-message-with-reply-received::probeEcho",
        false,
        |args| {
            // As bridge-desktop answers (a rejection's message: see its Caveats).
            probe::reply_text(args.get(2)?, "pong");
            Some(true.to_value())
        },
    );
    manager.add_script(&UserScript::for_world(
        ISOLATED,
        UserContentInjectedFrames::TopFrame,
        UserScriptInjectionTime::Start,
        WORLD,
        &[],
        &[],
    ));
    // SAFETY: plain getters of the library's version.
    let version = unsafe {
        use webkit2gtk::ffi::*;
        format!(
            "{}.{}.{}",
            webkit_get_major_version(),
            webkit_get_minor_version(),
            webkit_get_micro_version()
        )
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{{\"probe\":\"machine\",\"webkitgtk\":\"{version}\",\"cpus\":{},\"loadavg\":\"{}\"}}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.trim()
    );
    probe.run("probeLog", None, 300);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The extension's library, built by `cargo build --release -p webext-probe` next to this
/// example's own directory.
fn extension_library() -> PathBuf {
    let exe = std::env::current_exe().expect("this example's path");
    let profile = exe
        .parent()
        .and_then(|examples| examples.parent())
        .expect("target/<profile>/examples");
    let library = profile.join("libwebext_probe.so");
    if !library.exists() {
        eprintln!(
            "{} is missing: run `cargo build --release -p webext-probe` first",
            library.display()
        );
        std::process::exit(2);
    }
    library
}

/// The host's end: answers each request as `webext-probe` frames it.
fn serve(mut stream: UnixStream) {
    let pattern = vec![7u8; 1 << 20];
    let mut sink = vec![0u8; 1 << 20];
    let mut head = [0u8; 8];
    while stream.read_exact(&mut head).is_ok() {
        let n = u32::from_le_bytes(head[4..].try_into().expect("4 bytes")) as usize;
        let ok = match head[0] {
            0 => stream
                .write_all(&12u32.to_le_bytes())
                .and_then(|()| stream.write_all(b"hello, world")),
            1 => {
                let mut left = n;
                let mut counted = 0u64;
                while left > 0 {
                    let take = left.min(sink.len());
                    if stream.read_exact(&mut sink[..take]).is_err() {
                        return;
                    }
                    counted += take as u64;
                    left -= take;
                }
                stream
                    .write_all(&8u32.to_le_bytes())
                    .and_then(|()| stream.write_all(&counted.to_le_bytes()))
            }
            2 => {
                let mut result = stream.write_all(&(n as u32).to_le_bytes());
                let mut left = n;
                while result.is_ok() && left > 0 {
                    let take = left.min(pattern.len());
                    result = stream.write_all(&pattern[..take]);
                    left -= take;
                }
                result
            }
            _ => return,
        };
        if ok.is_err() {
            return;
        }
    }
}
