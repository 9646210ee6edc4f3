//! The single-page-app recipe (README, `testkit::spa`) in Chromium playing Android: a deep
//! link opens the app (index.html for a navigation to a path that is no file), its entry
//! module lazy-loads the route's chunk with `import()`, and a missing asset is a 404.

mod common;

use std::time::Duration;

use android_emulator::Emulator;
use bus_core::Mount;
use common::{App, url};

#[test]
fn a_deep_link_and_a_lazy_chunk_load() {
    let app = App::with(|b| {
        b.mount_with(Mount::new("/spa", testkit::spa::spa(&testkit::spa::pages())).public())
    });
    let emu = Emulator::builder(app.host.clone())
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    emu.navigate(&url("/spa/deep/link/42?tab=2"))
        .expect("navigate");
    let r = app.report(Duration::from_secs(30));
    println!("{r}");
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["path"], "/spa/deep/link/42");
    assert_eq!(r["search"], "?tab=2");
    assert_eq!(r["rendered"], "deep page for /spa/deep/link/42");
    assert_eq!(r["missingStatus"], 404, "a missing asset is not the page");
    assert_eq!(r["styleStatus"], 200);
}
