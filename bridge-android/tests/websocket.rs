//! WebSockets in real Chromium playing Android, differentially: the same axum handlers
//! (`testkit::websocket`) reached natively on localhost by Chromium's own WebSocket and
//! through the bus by the shim (frames over the string binding) must be observed the same
//! way by the page; a foreign document must not reach them; leaving the page closes its
//! bus sockets for the handlers (1001).
//!
//! A test binary of its own: it opens the localhost comparison server, which the
//! no-listener check in `chromium.rs` must not see.

mod common;

use std::time::{Duration, Instant};

use android_emulator::{Emulator, EmulatorBuilder};
use bus_core::Mount;
use common::{App, url};
use testkit::websocket::{Seen, pages, router};

fn app(seen: &Seen) -> App {
    let seen = seen.clone();
    App::with(move |b| {
        b.mount_with(Mount::new("/wsd", router(seen)).keep_prefix())
            .mount_with(
                Mount::new("/wsd-pages", tower_http::services::ServeDir::new(pages())).public(),
            )
    })
}

fn emulator(app: &App) -> EmulatorBuilder {
    Emulator::builder(app.host.clone())
        // The app origin is not on this machine's network; loopback is. Chromium would
        // otherwise hold the comparison run's connections to loopback for a prompt.
        .arg("--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessRespectPreflightResults")
        // Every host name resolves to nothing but the comparison server's loopback address.
        .arg("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_bus_matches_chromiums_own_websocket() {
    let seen = Seen::default();
    let app = app(&seen);
    let local = testkit::serve_localhost(router(seen.clone()));
    let emu = emulator(&app).start().unwrap_or_else(|e| panic!("{e}"));
    emu.navigate(&url(&format!(
        "/wsd-pages/index.html?port={}",
        local.addr.port()
    )))
    .expect("navigate");
    testkit::websocket::check_report(&app.report(Duration::from_secs(300)), &seen);
}

#[test]
fn a_foreign_document_never_reaches_a_handler() {
    let seen = Seen::default();
    let app = app(&seen);
    let emu = emulator(&app).start().unwrap_or_else(|e| panic!("{e}"));
    emu.navigate(&url("/wsd-pages/foreign.html"))
        .expect("navigate");
    testkit::websocket::check_foreign(&app.report(Duration::from_secs(60)), &seen);
}

#[test]
fn leaving_the_page_closes_its_bus_sockets() {
    let seen = Seen::default();
    let app = app(&seen);
    let local = testkit::serve_localhost(router(seen.clone()));
    let emu = emulator(&app).start().unwrap_or_else(|e| panic!("{e}"));
    emu.navigate(&url("/wsd-pages/foreign.html?idle"))
        .expect("navigate");
    emu.wait_for(
        "document.readyState === 'complete' && !!window[Symbol.for('inproc-bus.installation')]",
        Duration::from_secs(10),
    );
    emu.evaluate(&format!(
        "window.__bus = new WebSocket('wss://' + location.host + '/wsd/echo?who=nav-bus');
         window.__native = new WebSocket('ws://127.0.0.1:{}/wsd/echo?who=nav-native');
         1",
        local.addr.port()
    ))
    .expect("evaluate");
    let opened = (Instant::now() + Duration::from_secs(10), ());
    while seen.of("nav-bus").is_empty() || seen.of("nav-native").is_empty() {
        assert!(
            Instant::now() < opened.0,
            "both sockets should open: {:?}; page: {:?}",
            seen.lines(),
            emu.evaluate("[window.__bus && window.__bus.readyState, window.__native && window.__native.readyState, String(WebSocket).slice(0, 40)]")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    emu.navigate(&url("/wsd-pages/index.html?only=none&port=1"))
        .expect("navigate");
    // The bus closes the old document's sockets when its session ends: the handler gets
    // 1001, as WebKit's own WebSocket gives it. Chromium's own kept its connection open
    // after this navigation (measured: no close within 15 s; the page may be held in the
    // back/forward cache), so it is reported, not compared.
    wait_for(
        "the bus handler to see the close",
        Duration::from_secs(15),
        || seen.of("nav-bus").len() >= 2,
    );
    std::thread::sleep(Duration::from_secs(2));
    println!(
        "handler saw, bus: {:?}; native (reported only): {:?}",
        seen.of("nav-bus"),
        seen.of("nav-native")
    );
    assert_eq!(
        testkit::websocket::handler_events(&seen, "nav-bus"),
        ["open", "close 1001"]
    );
}

/// A page with an open WebSocket of each kind (Chromium's own to the localhost twin, the
/// bus's) goes away and comes back through history (`testkit::websocket::check_bfcache`):
/// each handler sees its socket close, a restored page finds both old sockets closed with
/// the same events at the same moment, and new sockets work. Headless Chromium keeps the
/// page in its back/forward cache.
#[test]
fn back_forward_cache_restore_closes_sockets_as_chromium_does() {
    let seen = Seen::default();
    let app = app(&seen);
    let local = testkit::serve_localhost(router(seen.clone()));
    let emu = emulator(&app).start().unwrap_or_else(|e| panic!("{e}"));
    emu.navigate(&url(&format!(
        "/wsd-pages/bfcache.html?port={}",
        local.addr.port()
    )))
    .expect("navigate");
    let open = app.report(Duration::from_secs(30));
    emu.navigate(&url("/wsd-pages/away.html"))
        .expect("navigate");
    let away = app.report(Duration::from_secs(30));
    // The bus ends the old document's sockets when its execution context goes.
    wait_for(
        "the bus handler to see the close",
        Duration::from_secs(15),
        || testkit::websocket::ended(&seen, "bf-bus"),
    );
    // Chromium's own socket: measured, not compared (it stayed open while the page was
    // in the cache, and closed when it came back).
    std::thread::sleep(Duration::from_secs(1));
    let native_before = testkit::websocket::ended(&seen, "bf-native");
    emu.evaluate("history.back(); 1").expect("evaluate");
    let back = app.report(Duration::from_secs(30));
    wait_for(
        "both handlers to see the end",
        Duration::from_secs(15),
        || testkit::websocket::ended(&seen, "bf-native"),
    );
    let summary = testkit::websocket::check_bfcache(&open, &away, &back, &seen);
    println!(
        "Chromium: {summary}; its own socket's handler saw the end while the page was away: {native_before}"
    );
}
