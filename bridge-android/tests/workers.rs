//! Web Workers in real Chromium playing Android (issue 15): a classic worker of the app, a
//! module worker and a worker made from a `blob:` URL reach the bus through the page's
//! shim with the page's identity — a 16 MiB upload, a cancelled download, EventSource,
//! WebSocket (the unchanged echo handler of the WebSocket suite), XHR — a terminated
//! worker's and a departed page's worker's downloads end on the bus, no service worker
//! registers, and a sandboxed frame's worker is not the app (`testkit::workers`).

mod common;

use std::time::{Duration, Instant};

use common::url;

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn workers_reach_the_bus_as_their_document() {
    let (app, emu, seen) = common::worker_app("index.html");
    let r = app.report(Duration::from_secs(180));
    for kind in ["classic", "module", "blob"] {
        println!(
            "{kind}: upload 16 MiB {} ms; env {}",
            r[kind]["upload"]["ms"], r[kind]["env"]
        );
    }
    println!("page: upload 16 MiB {} ms", r["pageUpload"]["ms"]);
    println!("service worker: {}", r["serviceWorker"]);
    println!("foreign frame's worker: {}", r["foreign"]);
    println!("page caller: {}", r["page"]["body"]);
    testkit::workers::check(&r, &seen);
    wait_for(
        "the terminated worker's download to end",
        Duration::from_secs(10),
        || seen.of("terminated").iter().any(|l| l.contains("dropped")),
    );

    // A download held open in a worker ends when its page goes away.
    let holding = app.report(Duration::from_secs(30));
    assert_eq!(holding["holding"], "holding", "{holding}");
    assert!(seen.of("nav-away").iter().all(|l| !l.contains("dropped")));
    emu.navigate(&url("/pages/basic.html")).expect("navigate");
    wait_for(
        "the departed page's worker download to end",
        Duration::from_secs(15),
        || seen.of("nav-away").iter().any(|l| l.contains("dropped")),
    );
    println!("after leaving: {:?}", seen.of("nav-away"));
}

/// A page whose worker holds a download goes away and comes back through history
/// (`testkit::workers::check_bfcache`).
#[test]
fn back_forward_cache_ends_the_workers_streams() {
    let (app, emu, seen) = common::worker_app("bfcache.html");
    let open = app.report(Duration::from_secs(30));
    emu.navigate(&url("/wk-pages/away.html")).expect("navigate");
    wait_for("the held download to end", Duration::from_secs(15), || {
        seen.of("bf-held").iter().any(|l| l.contains("dropped"))
    });
    emu.evaluate("history.back(); 1").expect("evaluate");
    let back = app.report(Duration::from_secs(30));
    println!(
        "Chromium: {}",
        testkit::workers::check_bfcache(&open, &back, &seen)
    );
}
