//! Cookies in real Chromium playing Android (issue 15): the bus's jar gives the app's
//! documents the behaviour of a web origin on every path — fetch, XHR and WebSocket
//! (frames), navigation and `<img>` (interception) — and `document.cookie` through the
//! shim; a sandboxed (opaque-origin) frame of the app gets none.

mod common;

use std::time::Duration;

use android_emulator::Emulator;
use common::{App, url};
use serde_json::Value;
use testkit::cookies::Jar;

#[test]
fn the_app_origin_keeps_cookies_like_a_web_origin() {
    let jar = Jar::default();
    let app = App::with(|builder| testkit::cookies::mount(builder, &jar));
    let emu = Emulator::builder(app.host.clone())
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    emu.navigate(&url("/ck-pages/index.html"))
        .expect("navigate");
    let r: Value = app.report(Duration::from_secs(60));
    // Chromium proves an app page's <img> and navigations (Sec-Fetch-Site: same-origin,
    // or its Referer), and runs the sandboxed srcdoc frame as an opaque origin.
    testkit::cookies::check_first_page(&r, &jar, true);
    let after: Value = app.report(Duration::from_secs(30));
    testkit::cookies::check_after_navigation(&after, &jar);
}
