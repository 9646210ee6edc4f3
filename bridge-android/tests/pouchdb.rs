//! PouchDB (npm, unmodified) in real Chromium playing Android, with a local IndexedDB
//! database on the app origin (`https://app.invalid`), replicating with `bus-couch`
//! through the bus: bodiless GETs through interception, everything else as frames over the
//! string binding. The run and its checks are `testkit::pouch::sync_phases`, as in
//! WebKitGTK; this file only drives Chromium.

mod common;

use std::time::Duration;

use android_emulator::Emulator;
use bus_couch::Couch;
use common::{App, url};

struct Chromium<'a> {
    app: &'a App,
    emu: Emulator,
}

impl testkit::pouch::Page for Chromium<'_> {
    fn load(&self, path: &str) {
        self.emu.navigate(&url(path)).expect("navigate");
    }

    fn try_report(&self, timeout: Duration) -> Option<serde_json::Value> {
        self.app.try_report(timeout)
    }

    fn log(&self) -> String {
        let log = self.emu.evaluate(testkit::pouch::LOG_EXPRESSION);
        let log = log.unwrap_or_default();
        format!(
            "{}\nChromium's stderr:\n{}",
            log.as_str().unwrap_or(""),
            self.emu.log_tail()
        )
    }

    fn wait(&self, time: Duration) {
        std::thread::sleep(time);
    }
}

#[test]
fn pouchdb_replicates_and_syncs_in_chromium() {
    let dir = testkit::pouch::StoreDir::new("chromium");
    let path = dir.store();
    let couch = Couch::open(&path).expect("the store opens");
    let switch = testkit::pouch::Restartable::new(&couch);
    let app = App::with(|b| testkit::pouch::mount(b, &switch));
    let emu = Emulator::builder(app.host.clone())
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let page = Chromium { app: &app, emu };
    testkit::pouch::sync_phases(
        &page,
        &app.bus.handle(),
        (&switch, &path, couch),
        (1000, 5 << 20),
        Duration::from_secs(300),
    );
}
