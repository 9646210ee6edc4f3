//! The bridge-js conformance suite in a real WebKitGTK WebView: every case runs through the
//! shim against the bus (app://) and through WebKit's own fetch/XHR/EventSource against a
//! real localhost server serving the same routes; the observations must agree except for
//! the deviations bridge-js documents.
//!
//! This is a test binary of its own because it opens a localhost listener (the comparison
//! server); the no-listener checks run in `webkit.rs`.

mod support;

use std::time::Duration;

use support::Harness;

fn shim_matches_the_engines_own_apis() {
    let local = testkit::serve_localhost(testkit::conformance::router(Default::default()));
    let h = Harness::new(testkit::conformance::mount_page);
    h.load(&format!(
        "/conformance/index.html?port={}",
        local.addr.port()
    ));
    testkit::conformance::check_report(&h.report(Duration::from_secs(240)));
}

fn main() {
    support::run(&[(
        "shim_matches_the_engines_own_apis",
        shim_matches_the_engines_own_apis,
    )]);
}
