//! The single-page-app recipe (README, `testkit::spa`) in Chromium playing Android: a deep
//! link opens the app (index.html for a navigation to a path that is no file), its entry
//! module lazy-loads the route's chunk with `import()`, and a missing asset is a 404.

mod common;

use std::time::Duration;

use android_emulator::Emulator;
use common::{App, url};

#[test]
fn a_deep_link_and_a_lazy_chunk_load() {
    let app = App::with(testkit::spa::mount);
    let emu = Emulator::builder(app.host.clone())
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    emu.navigate(&url(testkit::spa::DEEP_LINK))
        .expect("navigate");
    testkit::spa::check_report(&app.report(Duration::from_secs(30)));
}
