//! PouchDB (npm, unmodified) in a real WebKitGTK page, with a local IndexedDB database,
//! replicating with `bus-couch` through the bus: every request of PouchDB's HTTP adapter is
//! a `fetch` the shim carries as frames to the store's tower service. See
//! `testkit::pouch` for the phases and checks.

mod support;

use std::time::{Duration, Instant};

use bus_couch::Couch;
use support::Harness;

const T: Duration = Duration::from_secs(300);

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("bus-couch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The page's next report; every 20 s without one, what the page has logged so far.
fn next_report(h: &Harness) -> serde_json::Value {
    let deadline = Instant::now() + T;
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let found = loop {
        let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            h.report(Duration::from_secs(20))
        }));
        match attempt {
            Ok(v) => break Some(v),
            Err(_) if Instant::now() < deadline => {
                let log = h.eval("return document.getElementById('log') && document.getElementById('log').textContent");
                eprintln!(
                    "still waiting for the page; its log:\n{}",
                    log.as_str().unwrap_or("")
                );
            }
            Err(_) => break None,
        }
    };
    std::panic::set_hook(quiet);
    found.unwrap_or_else(|| panic!("no report from the page within {T:?}"))
}

/// Runs the page's phases against a store seeded with `seeded` host documents, `n` pushed
/// by the page, and an extra attachment of `big` bytes (0: none).
fn sync_phases(n: u64, big: u64) {
    let dir = TempDir::new("webkit");
    let path = dir.0.join("couch.sqlite3");
    let mut couch = Couch::open(&path).expect("the store opens");
    let switch = testkit::pouch::Restartable::new(&couch);
    let h = Harness::new(|b| testkit::pouch::mount(b, &switch));
    let bus = h.bus.handle();
    let rt = bus.runtime().expect("the bus runtime");
    let seeded = 50;
    rt.block_on(testkit::pouch::seed(&bus, "notes", seeded));
    let started = Instant::now();
    h.load(&format!("/pouchdb.html?db=notes&n={n}&big={big}&restart=1"));
    let mut r = next_report(&h);
    if r["phase"] == "live-ready" {
        rt.block_on(testkit::pouch::host_write(&bus, "notes"));
        r = next_report(&h);
    }
    if r["phase"] == "restart-ready" {
        // Down for 1.5 s; the page keeps pumping meanwhile (the store is off the GTK thread).
        let back = rt.spawn({
            let (switch, path, bus) = (switch.clone(), path.clone(), bus.clone());
            async move {
                testkit::pouch::restart(&switch, &path, &bus, "notes", Duration::from_millis(1500))
                    .await
            }
        });
        while !back.is_finished() {
            h.wait(Duration::from_millis(10));
        }
        couch = rt.block_on(back).expect("the restart ran");
        r = next_report(&h);
    }
    println!("phases (ms): {}", r["phases"]);
    println!(
        "push {n} docs: {} ms; attachments push {} ms, pull {} ms; live: page→store {} ms, host→page {} ms",
        r["push"]["ms"],
        r["attachments"]["pushMs"],
        r["attachments"]["pullMs"],
        r["live"]["pushMs"],
        r["live"]["pull"]["ms"]
    );
    testkit::pouch::check(&r, seeded as u64, n);
    // The bytes the page hashed are the bytes the store holds.
    for f in r["attachments"]["files"].as_array().expect("files") {
        let sha = rt.block_on(testkit::pouch::attachment_sha(
            &bus,
            "notes",
            &format!("att-{}", f["size"]),
        ));
        assert_eq!(
            serde_json::Value::String(sha),
            f["sha"],
            "attachment of {} bytes",
            f["size"]
        );
    }
    // cancel() ended the live sync's long-poll handler.
    testkit::pouch::assert_feeds_end(&couch, Duration::from_secs(5), || {
        h.wait(Duration::from_millis(10))
    });
    assert_eq!(couch.integrity_check().expect("integrity_check runs"), "ok");
    println!("whole run {:.1?}", started.elapsed());
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
