//! The bridge-js conformance suite in real Chromium playing Android: every case runs
//! through the shim against the bus (bodiless GETs intercepted, everything else as frames
//! over the string binding) and through Chromium's own fetch/XHR/EventSource against a
//! localhost twin of the same routes; they must agree except for documented deviations.
//!
//! A test binary of its own: it opens the localhost comparison server, which the
//! no-listener check in `chromium.rs` must not see.

mod common;

use std::time::Duration;

use android_emulator::Emulator;
use common::{App, url};

#[test]
fn shim_matches_chromiums_own_apis() {
    let app = App::with(testkit::conformance::mount_page);
    let local = testkit::serve_localhost(testkit::conformance::router(Default::default()));
    let emu = Emulator::builder(app.host.clone())
        // The app origin is not on this machine's network; loopback is. Chromium would
        // otherwise hold the public-to-local requests of the comparison run for a prompt.
        .arg("--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessRespectPreflightResults")
        // The emulator maps every host name to nothing (no resolver sockets); let the
        // comparison server's loopback address through.
        .reachable_host("127.0.0.1")
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    emu.navigate(&url(&format!(
        "/conformance/index.html?port={}",
        local.addr.port()
    )))
    .expect("navigate");
    testkit::conformance::check_report(&app.report(Duration::from_secs(240)));
}
