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
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bridge-js/dist");
    assert!(
        dist.join("conformance.js").exists(),
        "bridge-js/dist/conformance.js is missing: run `npm run build` in bridge-js (scripts/test.sh does)"
    );
    let local = testkit::serve_localhost(testkit::conformance::router(Default::default()));
    let h = Harness::new(move |b| {
        b.mount_with(
            bus_core::Mount::new("/__bjs", tower_http::services::ServeDir::new(dist)).public(),
        )
    });
    h.load(&format!("/conformance.html?port={}", local.addr.port()));
    let r = h.report(Duration::from_secs(240));
    assert!(r["error"].is_null(), "{r}");
    println!(
        "    {} cases; documented deviations: {}",
        r["cases"],
        r["known"].as_array().map_or(0, Vec::len)
    );
    for k in r["known"].as_array().into_iter().flatten() {
        println!("      known: {}", k.as_str().unwrap_or(""));
    }
    assert!(r["cases"].as_u64().unwrap() >= 30, "{r}");
    assert_eq!(
        r["busFailures"],
        serde_json::json!([]),
        "cases that failed through the shim: {r}"
    );
    assert_eq!(
        r["unknown"],
        serde_json::json!([]),
        "undocumented differences: {r}"
    );
}

fn main() {
    support::run(&[(
        "shim_matches_the_engines_own_apis",
        shim_matches_the_engines_own_apis,
    )]);
}
