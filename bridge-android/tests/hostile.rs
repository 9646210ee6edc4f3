//! The hostile-page suite in Chromium playing Android WebView: the same contexts, pages
//! (`testkit/pages/hostile/`) and checks as the WebKitGTK suite
//! (`bridge-desktop/tests/hostile.rs`). Foreign documents of every kind the WebView can
//! show try every request kind against the app origin, with and without referrers; none
//! may reach an API handler, none may be taken for the app, nothing of an app response may
//! be readable, and the host and the app's session must live through it. Also the Android
//! regressions: a foreign top-level navigation to an API route (it used to run as the
//! app's main frame), redirect pages built from request data, framing, the navigation
//! policy, and the stash marker page script could set.
//!
//! The foreign origin is real: an axum server on loopback (`http://127.0.0.1:<port>`)
//! serving the suite's pages and collecting their reports, reached over the network (the
//! emulator's `reachable_host`) and allowed by the host's navigation policy
//! (`allow_navigation_to`), as an app that shows a foreign site would. A test binary of its
//! own: the no-listener check in `chromium.rs` must not see this server.
//!
//! Run alone: `cargo test -p bridge-android --test hostile [name]`.

mod common;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use android_emulator::{Emulator, Record};
use axum::routing::{get, post};
use common::{App, ORIGIN, url};
use serde_json::Value;
use testkit::hostile::{APP_PAGE_FRAMES, FOREIGN_NESTED, FOREIGN_TOP, REDIRECT_PAYLOADS, enc};

const T: Duration = Duration::from_secs(30);

/// One Chromium at a time: the machine is small.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

struct Suite {
    app: App,
    emu: Emulator,
    record: testkit::hostile::Record,
    reports: mpsc::Receiver<Value>,
    /// `http://127.0.0.1:<port>`.
    foreign: String,
    _server: testkit::LocalServer,
}

/// The foreign site: the suite's pages under `/hostile/`, and `POST /report`, whose JSON
/// lands on the returned channel. Reports come from foreign pages (same origin) and from
/// the app's control page (cross-origin, a simple request), so `/report` allows any origin.
fn foreign_site() -> (axum::Router, mpsc::Receiver<Value>) {
    let (tx, rx) = mpsc::channel::<Value>();
    let tx = Arc::new(Mutex::new(tx));
    let cors = [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-private-network", "true"),
        ("access-control-allow-headers", "*"),
    ];
    let router = axum::Router::new()
        .route(
            "/report",
            post(move |body: axum::body::Bytes| {
                let tx = Arc::clone(&tx);
                async move {
                    let value = serde_json::from_slice(&body)
                        .unwrap_or_else(|e| Value::String(format!("unparsable report: {e}")));
                    let _ = tx.lock().unwrap_or_else(|e| e.into_inner()).send(value);
                    (cors, "ok")
                }
            })
            .options(move || async move { (cors, "") }),
        )
        .route("/", get(|| async { "a foreign site" }))
        .nest_service(
            "/hostile",
            tower_http::services::ServeDir::new(testkit::hostile::pages()),
        );
    (router, rx)
}

impl Suite {
    fn new() -> Suite {
        let mut record = None;
        let app = App::with(|b| {
            let (b, r) = testkit::hostile::mount(b);
            record = Some(r);
            b
        });
        let (router, reports) = foreign_site();
        let server = testkit::serve_localhost(router);
        let foreign = format!("http://127.0.0.1:{}", server.addr.port());
        let host = app
            .host
            .clone()
            .allow_navigation_to(&foreign)
            .expect("an origin");
        let emu = Emulator::builder(host)
            .reachable_host("127.0.0.1")
            // The app origin is not on this machine's network and the foreign site is on
            // loopback: Chromium would hold the app page's requests to it (a foreign
            // iframe, the control's report) for a Local Network Access prompt, which
            // Android WebView does not have.
            .arg("--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessRespectPreflightResults")
            .start()
            .unwrap_or_else(|e| panic!("{e}"));
        Suite {
            app,
            emu,
            record: record.expect("mounted"),
            reports,
            foreign,
            _server: server,
        }
    }

    fn report_url(&self) -> String {
        format!("{}/report", self.foreign)
    }

    /// Waits for a report of `ctx` (others that arrive meanwhile are dropped).
    fn report(&self, ctx: &str, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.reports.recv_timeout(left) {
                Ok(r) if r["ctx"] == ctx => return Some(r),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    fn host_page(&self, ctx: &str) -> String {
        url(&format!(
            "/hostile/host.html?ctx={ctx}&foreign={}&report={}",
            enc(&format!("{}/hostile/", self.foreign)),
            enc(&self.report_url())
        ))
    }

    fn foreign_page(&self, ctx: &str, extra: &str) -> String {
        format!(
            "{}/hostile/attack.html?app={}&ctx={ctx}&report={}{extra}",
            self.foreign,
            enc(ORIGIN),
            enc(&self.report_url())
        )
    }

    fn navigate(&self, url: &str) {
        // A refused or failed load is an answer too; what counts is what reached the app.
        if let Err(e) = self.emu.navigate(url) {
            eprintln!("navigate {url}: {e}");
        }
    }

    fn intercepted(&self, path_prefix: &str) -> Vec<(String, u16, bool)> {
        let prefix = format!("{ORIGIN}{path_prefix}");
        self.emu
            .intercepted()
            .into_iter()
            .filter(|i| i.url.starts_with(&prefix))
            .map(|i| (i.url, i.status, i.main_frame))
            .collect()
    }

    fn census(&self) {
        testkit::hostile::print_census(&self.record.hits());
    }

    /// The checks that hold after every attack: no violation, nothing readable, the host
    /// alive and the app's own page still reaching its API through the shim.
    fn check(&self, reports: &[Value]) {
        testkit::hostile::assert_contained(&self.record.hits(), reports, ORIGIN);
        assert_eq!(
            self.app.host.stash_usage().0,
            0,
            "a response was diverted into the form-result stash"
        );
        self.emu
            .navigate(&url("/pages/basic.html"))
            .expect("the app's page loads");
        let page = self.app.report(T);
        assert!(page["error"].is_null(), "{page:#}");
        assert_eq!(page["shim"], true, "{page:#}");
        let status = self
            .emu
            .evaluate("fetch('/api/app/alive').then((r) => r.status)")
            .expect("the host still runs the page's script");
        assert_eq!(status, 200, "the app's page no longer reaches its API");
        let alive = self
            .record
            .hits()
            .into_iter()
            .find(|h| h.mount == "api" && h.ctx == "app" && h.kind == "alive");
        let alive = alive.expect("the API saw the app's request");
        let caller = alive.caller.expect("a caller");
        assert!(caller.is_origin(ORIGIN), "{caller:?}");
        assert_eq!(caller.frame(), bus_core::FrameKind::Main);
    }
}

/// Every foreign context an app page can embed, and the control (the app's own page
/// making the same requests, which must reach the API as the app).
#[test]
fn frames_in_an_app_page() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s = Suite::new();
    s.navigate(&s.host_page("app"));
    let control = s
        .report("app", T)
        .unwrap_or_else(|| panic!("the app's own page reports: {:?}", s.emu.records()));
    let api_from_app: Vec<String> = s
        .record
        .hits()
        .iter()
        .filter(|h| h.mount == "api" && h.ctx == "app")
        .map(|h| format!("{} {}", h.kind, h.method))
        .collect();
    eprintln!("the control reached the API with: {api_from_app:?}");
    assert!(
        api_from_app.len() >= 4,
        "the control must reach the API as the app (fetch, XHR, EventSource, POST): {control}"
    );
    // The control's fetch with `x-inproc-bus-stash: 1` set by page script is an ordinary
    // request: it reached the handler and its answer went to the page, not to the stash.
    assert!(
        api_from_app.iter().any(|k| k == "post-blob-marked POST"),
        "{api_from_app:?}"
    );
    assert_eq!(s.app.host.stash_usage().0, 0);
    let mut reports = vec![];
    for ctx in APP_PAGE_FRAMES {
        s.navigate(&s.host_page(ctx));
        let r = s
            .report(ctx, T)
            .unwrap_or_else(|| panic!("no report from {ctx}: {:?}", s.emu.records()));
        reports.push(r);
    }
    std::thread::sleep(Duration::from_millis(500));
    s.census();
    s.check(&reports);
}

/// An app-origin child frame (no shim) posts Blob, File, FormData and stream bodies with
/// every marker variant. On Android they reach interception without their bodies and are
/// refused (`400`); no handler runs and the host lives. (Its requests are the app's own:
/// its Referer is the app's, so they are not counted as violations.)
#[test]
fn same_origin_frames_cannot_crash_the_host() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s = Suite::new();
    s.navigate(&s.host_page("same-origin-child"));
    let r = s
        .report("same-origin-child", T)
        .expect("the child frame reports");
    let bodies = testkit::hostile::bodies_read(&r, &s.record.hits(), "same-origin-child");
    assert!(bodies.is_empty(), "bodies were read: {bodies:?}");
    // The child's document is an app-origin subframe: never the main frame.
    let child: Vec<_> = s.intercepted("/hostile/attack.html");
    assert!(
        !child.is_empty() && child.iter().all(|(_, _, main)| !main),
        "{child:?}"
    );
    // What stays (same-origin policy, not the host): a same-origin child can script its
    // parent, so it can use the parent's shim, and that request is the main frame's.
    let status = s
        .emu
        .evaluate(
            "document.querySelector('iframe').contentWindow.eval(\
             \"parent.fetch('/api/same-origin-child/via-parent').then((r) => r.status)\")",
        )
        .expect("the child runs script");
    let via_parent = s
        .record
        .hits()
        .into_iter()
        .find(|h| h.kind == "via-parent")
        .and_then(|h| h.caller);
    eprintln!("a same-origin child through its parent's shim: {status}, caller {via_parent:?}");
    assert!(
        via_parent.is_some_and(|c| c.is_origin(ORIGIN)),
        "the child's own origin is the app's"
    );
    s.census();
    s.check(&[]);
}

/// A foreign page in the top frame (as an app that allows one would show it), with the
/// default referrer policy and with `no-referrer`, and the contexts it can make: `data:`,
/// `blob:`, `srcdoc`, and an `about:blank` frame it writes.
#[test]
fn foreign_top_level_pages_and_what_they_nest() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s = Suite::new();
    let mut reports = vec![];
    for (ctx, extra) in FOREIGN_TOP {
        s.navigate(&s.foreign_page(ctx, extra));
        let r = s
            .report(ctx, T)
            .unwrap_or_else(|| panic!("no report from {ctx}: {:?}", s.emu.records()));
        reports.push(r);
    }
    // data: and blob: frames are not network loads: the emulator's policy does not see
    // them (Android's shouldOverrideUrlLoading may), so they run here, and their requests
    // are checked like any other.
    for (ctx, extra) in FOREIGN_NESTED {
        s.navigate(&s.foreign_page(ctx, extra));
        match s.report(ctx, Duration::from_secs(15)) {
            Some(r) => reports.push(r),
            None => eprintln!("{ctx}: did not run (refused by the engine or the policy)"),
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    s.census();
    s.check(&reports);
}

/// Finding 1's shape: a foreign `no-referrer` page sends the top frame to an app route
/// that redirects to request data; the redirect page must run no script (neither a
/// `</script>` break-out nor a `javascript:` target).
#[test]
fn redirects_to_request_data_run_no_script() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s = Suite::new();
    for (name, to) in REDIRECT_PAYLOADS {
        let go = format!("{ORIGIN}/pub/redirect?to={}", enc(to));
        let ctx = format!("redirect-{name}");
        let before = s.intercepted("/pub/redirect").len();
        s.navigate(&s.foreign_page(&ctx, &format!("&noref=1&go={}", enc(&go))));
        let _ = s.report(&ctx, T);
        // The top frame goes to the redirect route, then wherever its page leads.
        let deadline = Instant::now() + T;
        while s.intercepted("/pub/redirect").len() == before {
            assert!(
                Instant::now() < deadline,
                "{name}: the redirect route was never reached"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(2500));
        let title = s.emu.evaluate("document.title").unwrap_or(Value::Null);
        let at = s.emu.evaluate("location.href").unwrap_or(Value::Null);
        assert_ne!(title, "PWNED", "{name}: the payload ran at {at}");
        eprintln!("{name}: ended at {at} titled {title}");
    }
    let hits = s.record.hits();
    assert!(
        !hits.iter().any(|h| h.ctx == "xss"),
        "a redirect payload ran in the app origin: {hits:?}"
    );
    s.check(&[]);
}

/// Finding 2: a foreign page (default and `no-referrer`) sends the top frame straight to
/// an API route. `isForMainFrame` is true for it, and it used to run as the app's main
/// frame; it must not run at all.
#[test]
fn foreign_top_navigation_to_an_api_route_is_refused() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s = Suite::new();
    for (ctx, extra) in [("nav", ""), ("nav-noref", "&noref=1")] {
        let go = format!("{ORIGIN}/api/{ctx}/navigation");
        s.navigate(&s.foreign_page(ctx, &format!("{extra}&go={}", enc(&go))));
        let _ = s.report(ctx, T);
        let deadline = Instant::now() + T;
        let path = format!("/api/{ctx}/navigation");
        let answered = loop {
            let seen = s.intercepted(&path);
            if !seen.is_empty() || Instant::now() >= deadline {
                break seen;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let at = s.emu.evaluate("location.href").unwrap_or(Value::Null);
        eprintln!("{ctx}: {answered:?}, ended at {at}");
        assert_eq!(
            answered
                .iter()
                .map(|(_, status, main)| (*status, *main))
                .collect::<Vec<_>>(),
            [(403, true)],
            "a main-frame navigation, refused"
        );
    }
    s.check(&[]);
}

/// Framing: a foreign page cannot show an app page in an iframe. The framed document is
/// an app page that would attack its own origin with the app's `Referer` if it ran.
#[test]
fn a_foreign_page_cannot_frame_the_app() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s = Suite::new();
    let framed = url(&format!(
        "/hostile/attack.html?app={}&ctx=framed&report={}",
        enc(ORIGIN),
        enc(&s.report_url())
    ));
    s.navigate(&s.foreign_page("framing", &format!("&frame={}", enc(&framed))));
    let r = s.report("framing", T).expect("the framing page reports");
    eprintln!("framing: {r}");
    assert_ne!(r["framed"], "readable:foreign page", "{r}");
    // The app answered the frame's document request (X-Frame-Options: SAMEORIGIN), and
    // Chromium did not show it: the framed page never ran.
    let asked = s.intercepted("/hostile/attack.html");
    assert!(
        asked
            .iter()
            .any(|(_, status, main)| *status == 200 && !main),
        "{asked:?}"
    );
    let ran = s.report("framed", Duration::from_secs(3));
    assert!(ran.is_none(), "the framed app page ran: {ran:?}");
    assert!(
        !s.record.hits().iter().any(|h| h.ctx == "framed"),
        "the framed app page made requests"
    );
    s.check(&[r]);
}

/// The navigation policy (`shouldOverrideUrlLoading` on Android): an app page cannot be
/// led to a foreign origin the app did not allow, neither in an iframe nor in the top
/// frame; the allowed one loads.
#[test]
fn the_navigation_policy_refuses_origins_the_app_did_not_allow() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s = Suite::new();
    s.emu
        .navigate(&url("/pages/landing.html"))
        .expect("the app's page");
    let _ = s.app.report(T);
    // An iframe of an origin that is not allowed (it would not resolve either: the
    // refusal is the policy's, recorded before any network access).
    let frame = s
        .emu
        .evaluate(
            "new Promise((resolve) => { const f = document.createElement('iframe'); \
             f.src = 'https://not-allowed.invalid/x'; f.onload = () => resolve('load'); \
             document.body.appendChild(f); setTimeout(() => resolve('timeout'), 3000); })",
        )
        .expect("the page runs");
    eprintln!("iframe of a refused origin: {frame}");
    // The allowed foreign origin loads in an iframe.
    let allowed = s
        .emu
        .evaluate(&format!(
            "new Promise((resolve) => {{ const f = document.createElement('iframe'); \
             f.src = '{}/'; f.onload = () => resolve('load'); \
             document.body.appendChild(f); setTimeout(() => resolve('timeout'), 3000); }})",
            s.foreign
        ))
        .expect("the page runs");
    assert_eq!(allowed, "load");
    // The top frame, sent elsewhere by the page, stays on the app.
    let _ = s
        .emu
        .evaluate("location.href = 'https://not-allowed.invalid/top'; true");
    std::thread::sleep(Duration::from_millis(1500));
    let at = s.emu.evaluate("location.href").unwrap_or(Value::Null);
    let refused: Vec<(String, bool)> = s
        .emu
        .records()
        .into_iter()
        .filter_map(|r| match r {
            Record::NavigationRefused { url, main_frame } => Some((url, main_frame)),
            _ => None,
        })
        .collect();
    assert_eq!(
        refused,
        [
            ("https://not-allowed.invalid/x".to_owned(), false),
            ("https://not-allowed.invalid/top".to_owned(), true)
        ],
        "at {at}"
    );
    assert_eq!(at, url("/pages/landing.html"));
    s.check(&[]);
}

/// Loads a page of `testkit::workers` in an app with its mounts; its report and what the
/// handlers saw, checked by `check` while the page and the app are still there.
fn worker_page(page: &str, check: impl FnOnce(&Value, &testkit::workers::Seen)) {
    let (app, _emu, seen) = common::worker_app(page);
    let r = app.report(Duration::from_secs(60));
    check(&r, &seen);
    println!("handlers saw {:?}", seen.lines());
}

/// Workers of the app that end with streams open (`testkit::workers::check_closing`): one
/// closes itself with a download open, one is terminated mid-upload; the handlers see both
/// end and the page's session relays nothing after.
#[test]
fn a_worker_closing_itself_ends_its_streams() {
    worker_page("closing.html", testkit::workers::check_closing);
}

/// A worker of the app that takes its shim's port and sends raw frames for the page's own
/// stream ids (`testkit::workers::check_forge`): they reach only its own streams.
#[test]
fn a_worker_forging_frames_reaches_only_its_own_streams() {
    worker_page("forge.html", testkit::workers::check_forge);
}
