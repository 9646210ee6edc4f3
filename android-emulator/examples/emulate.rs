//! Runs a small app in the Chromium emulator and shows which path each request took.
//!
//! ```sh
//! cargo run -p android-emulator --example emulate -- /tmp/page.png
//! ```
//!
//! Timings printed here measure CDP in headless Chromium, not Android.

use std::time::{Duration, Instant};

use android_emulator::{Emulator, Record};
use axum::Json;
use axum::response::Html;
use axum::routing::{get, post};
use bridge_android::host::{AndroidHost, DEFAULT_ORIGIN};
use bus_core::{Bus, Mount};

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8"><title>emulated</title>
<style>body { font: 16px sans-serif; margin: 2em } pre { background: #eee; padding: 1em }</style>
<h1>An app page on https://app.invalid</h1>
<p>No socket: this page, its picture and its requests went to Rust in memory.</p>
<img src="/pixel.svg" width="80" height="60" alt="a picture">
<pre id="out">running…</pre>
<script>
(async () => {
  const lines = [];
  const time = async (label, run, n = 50) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await run();
    lines.push(`${label}: ${((performance.now() - t0) / n).toFixed(2)} ms each (CDP, not Android)`);
  };
  lines.push('GET  /api/hello  → ' + await (await fetch('/api/hello')).text() + '   (frames)');
  const posted = await fetch('/api/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hi: 'there' }) });
  lines.push('POST /api/echo   → ' + await posted.text() + '   (frames)');
  await time('small GET as frames', async () => (await fetch('/api/hello')).text());
  await time('small POST as frames', async () => (await fetch('/api/echo', { method: 'POST', body: '{}' })).text());
  document.getElementById('out').textContent = lines.join('\n');
  window.done = true;
})().catch((e) => { document.getElementById('out').textContent = String(e); window.done = true; });
</script>"#;

fn main() {
    // The page and its picture are public (the first load, a `loadUrl`, carries nothing
    // that proves who asked); the API keeps the default policy: the app's documents only.
    let pages = axum::Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route(
            "/pixel.svg",
            get(|| async {
                (
                    [("content-type", "image/svg+xml")],
                    r##"<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect width="40" height="30" fill="#3a7"/></svg>"##,
                )
            }),
        );
    let api = axum::Router::new()
        .route("/hello", get(|| async { "hello from Rust" }))
        .route(
            "/echo",
            post(|Json(v): Json<serde_json::Value>| async move { Json(v) }),
        );
    let bus = Bus::builder()
        .app_origin(DEFAULT_ORIGIN)
        .mount_with(Mount::new("/", pages).public())
        .mount("/api", api)
        .build();
    let host = AndroidHost::new(bus.handle(), DEFAULT_ORIGIN).expect("a valid origin");
    let started = Instant::now();
    let emulator = Emulator::builder(host)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    println!("Chromium up in {:?}", started.elapsed());
    emulator.navigate(DEFAULT_ORIGIN).expect("the page loads");
    emulator.wait_for("window.done === true", Duration::from_secs(30));
    println!(
        "{}",
        emulator
            .evaluate("document.getElementById('out').textContent")
            .unwrap()
            .as_str()
            .unwrap_or("")
    );
    let intercepted = emulator
        .records()
        .into_iter()
        .filter(|r| matches!(r, Record::Intercepted { .. }))
        .count();
    println!(
        "{intercepted} requests intercepted (the page and what the engine loads for it); fetch went as frames"
    );
    if let Some(path) = std::env::args().nth(1) {
        std::fs::write(&path, emulator.screenshot().expect("a screenshot")).expect("written");
        println!("screenshot: {path}");
    }
}
