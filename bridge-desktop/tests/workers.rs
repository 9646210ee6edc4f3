//! Web Workers in a real WebKitGTK WebView (issue 15): a classic worker of the app, a
//! module worker and a worker made from a `blob:` URL reach the bus through the page's
//! shim with the page's identity — a 16 MiB upload, a cancelled download, EventSource,
//! WebSocket (the unchanged echo handler of the WebSocket suite), XHR — a terminated
//! worker's and a departed page's worker's downloads end on the bus, service workers do
//! not register on the app scheme, and a sandboxed frame's worker is not the app
//! (`testkit::workers`).

mod support;

use std::time::{Duration, Instant};

use support::Harness;
use testkit::workers::Seen;

fn harness(seen: &Seen) -> Harness {
    let seen = seen.clone();
    // The suite's foreign context is a sandboxed srcdoc frame, which the default policy
    // refuses: let it in to show that its worker is not the app.
    Harness::with_config(
        move |builder| testkit::workers::mount(builder, &seen),
        bridge_desktop::HostConfig::new(support::ORIGIN).allow_srcdoc_frames(),
    )
}

fn wait_for(h: &Harness, what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        h.wait(Duration::from_millis(20));
    }
}

fn workers_reach_the_bus_as_their_document() {
    let seen = Seen::default();
    let h = harness(&seen);
    h.load("/wk-pages/index.html");
    let r = h.try_report(Duration::from_secs(180)).unwrap_or_else(|| {
        panic!(
            "no report; the suite was at {}; handlers saw {:?}",
            h.eval("return window.__workerSuite;"),
            seen.lines()
        )
    });
    for kind in ["classic", "module", "blob"] {
        println!(
            "    {kind}: upload 16 MiB {} ms; env {}",
            r[kind]["upload"]["ms"], r[kind]["env"]
        );
    }
    println!("    page: upload 16 MiB {} ms", r["pageUpload"]["ms"]);
    println!("    service worker: {}", r["serviceWorker"]);
    println!("    foreign frame's worker: {}", r["foreign"]);
    println!("    page caller: {}", r["page"]["body"]);
    testkit::workers::check(&r, &seen);
    // WebKitGTK refuses service workers on any scheme but http(s).
    assert!(
        r["serviceWorker"]
            .as_str()
            .unwrap_or_default()
            .contains("HTTP or HTTPS"),
        "{}",
        r["serviceWorker"]
    );
    wait_for(
        &h,
        "the terminated worker's download to end",
        Duration::from_secs(10),
        || seen.of("terminated").iter().any(|l| l.contains("dropped")),
    );

    // A download held open in a worker ends when its page goes away.
    let holding = h.report(Duration::from_secs(30));
    assert_eq!(holding["holding"], "holding", "{holding}");
    assert!(seen.of("nav-away").iter().all(|l| !l.contains("dropped")));
    h.load("/basic.html");
    wait_for(
        &h,
        "the departed page's worker download to end",
        Duration::from_secs(15),
        || seen.of("nav-away").iter().any(|l| l.contains("dropped")),
    );
    println!("    after leaving: {:?}", seen.of("nav-away"));
}

/// A page whose worker holds a download goes away and comes back through history
/// (`testkit::workers::check_bfcache`).
fn back_forward_cache_ends_the_workers_streams() {
    let seen = Seen::default();
    let h = harness(&seen);
    h.load("/wk-pages/bfcache.html");
    let open = h.report(Duration::from_secs(30));
    h.load("/wk-pages/away.html");
    wait_for(
        &h,
        "the held download to end",
        Duration::from_secs(15),
        || seen.of("bf-held").iter().any(|l| l.contains("dropped")),
    );
    h.eval("history.back(); return 1;");
    let back = h.report(Duration::from_secs(30));
    println!(
        "    WebKit: {}",
        testkit::workers::check_bfcache(&open, &back, &seen)
    );
}

fn main() {
    support::run(&[
        (
            "workers_reach_the_bus_as_their_document",
            workers_reach_the_bus_as_their_document,
        ),
        (
            "back_forward_cache_ends_the_workers_streams",
            back_forward_cache_ends_the_workers_streams,
        ),
    ]);
}
