//! PouchDB (npm, unmodified) in real Chromium playing Android, with a local IndexedDB
//! database on the app origin (`https://app.invalid`), replicating with `bus-couch`
//! through the bus: bodiless GETs through interception, everything else as frames over the
//! string binding. The phases and checks are `testkit::pouch`'s, as in WebKitGTK.

mod common;

use std::time::{Duration, Instant};

use android_emulator::Emulator;
use bus_couch::Couch;
use common::{App, url};

const T: Duration = Duration::from_secs(300);

/// The next report; every 20 s without one, what the page has logged so far.
fn next_report(app: &App, emu: &Emulator) -> serde_json::Value {
    let deadline = Instant::now() + T;
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let found = loop {
        let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            app.report(Duration::from_secs(20))
        }));
        match attempt {
            Ok(v) => break Some(v),
            Err(_) if Instant::now() < deadline => {
                let log = emu
                    .evaluate("document.getElementById('log') && document.getElementById('log').textContent")
                    .unwrap_or_default();
                eprintln!(
                    "still waiting for the page; its log:\n{}",
                    log.as_str().unwrap_or("")
                );
            }
            Err(_) => break None,
        }
    };
    std::panic::set_hook(quiet);
    found.unwrap_or_else(|| panic!("no report from the page within {T:?}\n{}", emu.log_tail()))
}

#[test]
fn pouchdb_replicates_and_syncs_in_chromium() {
    let dir = std::env::temp_dir().join(format!("bus-couch-chromium-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("couch.sqlite3");
    let mut couch = Couch::open(&path).expect("the store opens");
    let switch = testkit::pouch::Restartable::new(&couch);
    let app = App::with(|b| testkit::pouch::mount(b, &switch));
    let bus = app.bus.handle();
    let rt = bus.runtime().expect("the bus runtime");
    let seeded = 50;
    rt.block_on(testkit::pouch::seed(&bus, "notes", seeded));
    let emu = Emulator::builder(app.host.clone())
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let (n, big) = (1000, 5 << 20);
    let started = Instant::now();
    emu.navigate(&url(&format!(
        "/pouchdb.html?db=notes&n={n}&big={big}&restart=1"
    )))
    .expect("navigate");
    let mut r = next_report(&app, &emu);
    if r["phase"] == "live-ready" {
        rt.block_on(testkit::pouch::host_write(&bus, "notes"));
        r = next_report(&app, &emu);
    }
    if r["phase"] == "restart-ready" {
        couch = rt.block_on(testkit::pouch::restart(
            &switch,
            &path,
            &bus,
            "notes",
            Duration::from_millis(1500),
        ));
        r = next_report(&app, &emu);
    }
    println!("phases (ms): {}", r["phases"]);
    testkit::pouch::check(&r, seeded as u64, n);
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
    testkit::pouch::assert_feeds_end(&couch, Duration::from_secs(5), || {
        std::thread::sleep(Duration::from_millis(10))
    });
    assert_eq!(couch.integrity_check().unwrap(), "ok");
    println!("whole run {:.1?}", started.elapsed());
    drop(emu);
    let _ = std::fs::remove_dir_all(&dir);
}
