//! The single-page-app recipe (README, `testkit::spa`) in a real WebKitGTK WebView: a deep
//! link opens the app (index.html for a navigation to a path that is no file), its entry
//! module lazy-loads the route's chunk with `import()`, and a missing asset is a 404.

mod support;

use std::time::Duration;

use support::Harness;

fn a_deep_link_and_a_lazy_chunk_load() {
    let h = Harness::new(testkit::spa::mount);
    h.load(testkit::spa::DEEP_LINK);
    testkit::spa::check_report(&h.report(Duration::from_secs(30)));
}

fn main() {
    support::run(&[(
        "a_deep_link_and_a_lazy_chunk_load",
        a_deep_link_and_a_lazy_chunk_load,
    )]);
}
