//! PouchDB (npm, unmodified) in a real WebKitGTK page, with a local IndexedDB database,
//! replicating with `bus-couch` through the bus: every request of PouchDB's HTTP adapter is
//! a `fetch` the shim carries as frames to the store's tower service. See
//! `testkit::pouch` for the phases and checks; this file only drives WebKitGTK.

mod support;

use std::time::Duration;

use bus_couch::Couch;
use support::Harness;

struct WebKit(Harness);

impl testkit::pouch::Page for WebKit {
    fn load(&self, path: &str) {
        self.0.load(path);
    }

    fn try_report(&self, timeout: Duration) -> Option<serde_json::Value> {
        self.0.try_report(timeout)
    }

    fn log(&self) -> String {
        let log = self
            .0
            .eval(&format!("return {}", testkit::pouch::LOG_EXPRESSION));
        log.as_str().unwrap_or("").to_owned()
    }

    fn wait(&self, time: Duration) {
        self.0.wait(time);
    }
}

/// Runs the page's phases (`testkit::pouch::sync_phases`) with `n` documents pushed by
/// the page and an extra attachment of `big` bytes (0: none).
fn sync_phases(n: u64, big: u64) {
    let dir = testkit::pouch::StoreDir::new("webkit");
    let path = dir.store();
    let couch = Couch::open(&path).expect("the store opens");
    let switch = testkit::pouch::Restartable::new(&couch);
    let h = WebKit(Harness::new(|b| testkit::pouch::mount(b, &switch)));
    let bus = h.0.bus.handle();
    testkit::pouch::sync_phases(
        &h,
        &bus,
        (&switch, &path, couch),
        (n, big),
        Duration::from_secs(300),
    );
}

/// 10,000 documents and a 50 MiB attachment, once (`POUCH_N` and `POUCH_BIG` override
/// both, for quicker runs while developing).
fn pouchdb_replicates_and_syncs_through_the_bus() {
    let var = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    sync_phases(var("POUCH_N", 10_000), var("POUCH_BIG", 50 << 20));
}

fn main() {
    support::run(&[(
        "pouchdb_replicates_and_syncs_through_the_bus",
        pouchdb_replicates_and_syncs_through_the_bus,
    )]);
}
