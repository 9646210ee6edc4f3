//! WebSockets in a real WebKitGTK WebView, differentially: the same axum handlers
//! (`testkit::websocket`) reached natively on localhost by WebKit's own WebSocket and
//! through the bus by the shim must be observed the same way by the page; a foreign
//! document must not reach them; leaving the page closes its sockets for the handlers as
//! WebKit does.
//!
//! A test binary of its own because it opens a localhost listener (the comparison server);
//! the no-listener checks run in `webkit.rs`.

mod support;

use std::time::{Duration, Instant};

use bus_core::Mount;
use support::Harness;
use testkit::websocket::{Seen, pages, router};

fn harness(seen: &Seen) -> Harness {
    harness_with(seen, bridge_desktop::HostConfig::new(support::ORIGIN))
}

fn harness_with(seen: &Seen, config: bridge_desktop::HostConfig) -> Harness {
    let seen = seen.clone();
    Harness::with_config(
        move |b| {
            b.mount_with(Mount::new("/wsd", router(seen)).keep_prefix())
                .mount_with(
                    Mount::new("/wsd-pages", tower_http::services::ServeDir::new(pages())).public(),
                )
        },
        config,
    )
}

fn wait_for(h: &Harness, what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        h.wait(Duration::from_millis(20));
    }
}

/// Loads `/second.html` and waits for the shim: it must be there before the test opens
/// sockets from the page.
fn load_second(h: &Harness) {
    h.load("/second.html");
    wait_for(h, "the page with the shim", Duration::from_secs(10), || {
        h.eval(
            "return location.pathname === '/second.html' && document.readyState === 'complete' \
             && !!window[Symbol.for('inproc-bus.installation')];",
        ) == serde_json::json!(true)
    });
}

fn the_bus_matches_the_engines_own_websocket() {
    let seen = Seen::default();
    let local = testkit::serve_localhost(router(seen.clone()));
    let h = harness(&seen);
    h.load(&format!("/wsd-pages/index.html?port={}", local.addr.port()));
    let r = h.report(Duration::from_secs(300));
    for result in r["results"].as_array().into_iter().flatten() {
        if result["name"] == "order-10000" {
            println!("    order-10000: {}", result["observed"]);
        }
    }
    testkit::websocket::check_report(&r, &seen);
}

fn a_foreign_document_never_reaches_a_handler() {
    let seen = Seen::default();
    // The foreign document is a sandboxed srcdoc frame, which the default policy refuses.
    let h = harness_with(
        &seen,
        bridge_desktop::HostConfig::new(support::ORIGIN).allow_srcdoc_frames(),
    );
    h.load("/wsd-pages/foreign.html");
    testkit::websocket::check_foreign(&h.report(Duration::from_secs(60)), &seen);
}

fn leaving_the_page_closes_its_sockets_as_the_engine_does() {
    let seen = Seen::default();
    let local = testkit::serve_localhost(router(seen.clone()));
    let h = harness(&seen);
    load_second(&h);
    h.eval(&format!(
        "window.__bus = new WebSocket('ws://localhost/wsd/echo?who=nav-bus');
         window.__native = new WebSocket('ws://127.0.0.1:{}/wsd/echo?who=nav-native');
         return 1;",
        local.addr.port()
    ));
    let opened = Instant::now() + Duration::from_secs(10);
    while seen.of("nav-bus").is_empty() || seen.of("nav-native").is_empty() {
        assert!(
            Instant::now() < opened,
            "both sockets should open: {:?}; page: {}",
            seen.lines(),
            h.eval("return [String(window.__bus && window.__bus.readyState), String(window.__native && window.__native.readyState), location.href];")
        );
        h.wait(Duration::from_millis(20));
    }
    h.load("/basic.html");
    wait_for(
        &h,
        "both handlers to see the end",
        Duration::from_secs(15),
        || seen.of("nav-bus").len() >= 2 && seen.of("nav-native").len() >= 2,
    );
    println!(
        "    handler saw, bus: {:?}; native: {:?}",
        seen.of("nav-bus"),
        seen.of("nav-native")
    );
    // The same events with the same codes (the reasons are each side's words: WebKit says
    // "WebSocket is closed due to suspension.").
    let codes = |who| testkit::websocket::handler_events(&seen, who);
    assert_eq!(codes("nav-bus"), codes("nav-native"));
    assert_eq!(codes("nav-bus"), ["open", "close 1001"]);
}

/// A page with an open WebSocket of each kind (WebKit's own to the localhost twin, the
/// bus's) goes away and comes back through history (`testkit::websocket::check_bfcache`):
/// each handler sees its socket close, a restored page finds both old sockets closed with
/// the same events at the same moment, and new sockets work.
fn back_forward_cache_restore_closes_sockets_as_the_engine_does() {
    let seen = Seen::default();
    let local = testkit::serve_localhost(router(seen.clone()));
    let h = harness(&seen);
    h.load(&format!(
        "/wsd-pages/bfcache.html?port={}",
        local.addr.port()
    ));
    let open = h.report(Duration::from_secs(30));
    h.load("/wsd-pages/away.html");
    let away = h.report(Duration::from_secs(30));
    // The bus ends the old document's sockets when the next document takes over.
    wait_for(
        &h,
        "the bus handler to see the close",
        Duration::from_secs(15),
        || testkit::websocket::ended(&seen, "bf-bus"),
    );
    let native_before = testkit::websocket::ended(&seen, "bf-native");
    h.eval("history.back(); return 1;");
    let back = h.report(Duration::from_secs(30));
    wait_for(
        &h,
        "both handlers to see the end",
        Duration::from_secs(15),
        || testkit::websocket::ended(&seen, "bf-native"),
    );
    let summary = testkit::websocket::check_bfcache(&open, &away, &back, &seen);
    println!(
        "    WebKit: {summary}; its own socket's handler saw the end while the page was away: {native_before}"
    );
}

/// Resident memory of this process (the host: the bus, its sessions and the pump) in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn a_paused_page_holds_a_flooding_handler_back() {
    let seen = Seen::default();
    let h = harness(&seen);
    load_second(&h);
    let before = rss_kib();
    // The handler wants to send 256 MiB; the page's first message handler blocks its main
    // thread for 4 s, so nothing is read meanwhile.
    h.eval(
        "window.__got = 0;
         const ws = new WebSocket('ws://localhost/wsd/flood?who=flood&n=256&size=1048576');
         ws.binaryType = 'arraybuffer';
         ws.onmessage = (e) => {
           window.__got++;
           if (window.__got === 1) { const t = performance.now(); while (performance.now() - t < 4000) {} }
         };
         return 1;",
    );
    h.wait(Duration::from_millis(3000));
    let sent = seen.of("flood").len();
    let grown = rss_kib().saturating_sub(before);
    println!(
        "    while the page was paused: the handler sent {sent} of 256 MiB; host RSS +{} MiB",
        grown / 1024
    );
    assert!(sent <= 16, "the handler was not held back: {sent} MiB sent");
    assert!(grown < 64 * 1024, "the host grew by {grown} KiB");
    // Then the page reads again and everything arrives.
    wait_for(&h, "all 256 messages", Duration::from_secs(60), || {
        h.eval("return window.__got;") == serde_json::json!(256)
    });
}

fn a_handler_that_does_not_read_leaves_the_bytes_in_buffered_amount() {
    let seen = Seen::default();
    let h = harness(&seen);
    load_second(&h);
    let before = rss_kib();
    // 64 MiB to a handler that accepts and then reads nothing.
    h.eval(
        "window.__ws = new WebSocket('ws://localhost/wsd/stall?who=stall');
         window.__ws.onopen = () => {
           const chunk = new Uint8Array(1 << 20);
           for (let i = 0; i < 64; i++) window.__ws.send(chunk);
         };
         return 1;",
    );
    wait_for(&h, "the socket to open", Duration::from_secs(10), || {
        !seen.of("stall").is_empty()
    });
    h.wait(Duration::from_millis(2000));
    let buffered = h
        .eval("return window.__ws.bufferedAmount;")
        .as_u64()
        .unwrap_or(0);
    let grown = rss_kib().saturating_sub(before);
    println!(
        "    64 MiB sent to a handler that reads nothing: bufferedAmount {} MiB; host RSS +{} MiB",
        buffered >> 20,
        grown / 1024
    );
    assert!(buffered >= 60 << 20, "bufferedAmount {buffered}");
    assert!(grown < 32 * 1024, "the host grew by {grown} KiB");
    h.eval("window.__ws.close(); return 1;");
}

fn main() {
    support::run(&[
        (
            "the_bus_matches_the_engines_own_websocket",
            the_bus_matches_the_engines_own_websocket,
        ),
        (
            "a_foreign_document_never_reaches_a_handler",
            a_foreign_document_never_reaches_a_handler,
        ),
        (
            "leaving_the_page_closes_its_sockets_as_the_engine_does",
            leaving_the_page_closes_its_sockets_as_the_engine_does,
        ),
        (
            "back_forward_cache_restore_closes_sockets_as_the_engine_does",
            back_forward_cache_restore_closes_sockets_as_the_engine_does,
        ),
        (
            "a_paused_page_holds_a_flooding_handler_back",
            a_paused_page_holds_a_flooding_handler_back,
        ),
        (
            "a_handler_that_does_not_read_leaves_the_bytes_in_buffered_amount",
            a_handler_that_does_not_read_leaves_the_bytes_in_buffered_amount,
        ),
    ]);
}
