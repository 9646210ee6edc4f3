//! The Android host in real Chromium (headless), driven over CDP by the emulator: the
//! engine's own requests through `AndroidHost::intercept`, the shim's frames through
//! `AndroidHost::open_session`. `tests/host.rs` drives the same cases from plain threads.
//!
//! Chromium is required: a missing binary fails the tests with the apt-get line.

mod common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use android_emulator::{BINDING, Emulator, EmulatorError, ForeignResponse, Record, shim_script};
use common::{App, ORIGIN, pattern, sha256_hex, url};
use serde_json::Value;

const T: Duration = Duration::from_secs(30);

/// One Chromium at a time: the machine is small, and the socket check wants quiet.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn start(app: &App) -> Emulator {
    Emulator::builder(app.host.clone())
        .start()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A new app in a new emulator, showing `/pages/basic.html`, and the page's report (its
/// requests by every path; checked to have no error).
fn basic_page() -> (App, Emulator, Value) {
    let app = App::new();
    let emu = start(&app);
    emu.navigate(&url("/pages/basic.html")).unwrap();
    let r = app.report(T);
    assert!(r["error"].is_null(), "{r:#}");
    (app, emu, r)
}

fn intercepted(emu: &Emulator, method: &str, path: &str) -> Vec<(u16, bool, bool)> {
    let wanted = url(path);
    emu.intercepted()
        .into_iter()
        .filter(|i| i.method == method && i.url == wanted)
        .map(|i| (i.status, i.main_frame, i.body_dropped))
        .collect()
}

/// Loads the form page, which submits a text field and a 5,000-byte file to
/// `/conf/multipart` (the stash unless the shim takes forms over), and returns the result
/// page's JSON once it shows at the action's URL.
fn submit_upload_form(emu: &Emulator) -> Value {
    emu.navigate(&url("/pages/form.html?submit=upload"))
        .unwrap();
    // The result shows at the action's URL: the injected script replaced
    // /__bus/result/<token>#<action> before the document was parsed.
    let shown = emu.wait_for(
        "location.pathname === '/conf/multipart' && document.body && document.body.innerText",
        T,
    );
    let text = shown
        .as_str()
        .unwrap_or_else(|| panic!("no result page: {shown} {:?}", emu.records()));
    let result: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(result["fields"]["title"], "A title", "{result:#}");
    assert_eq!(result["files"][0]["sha256"], sha256_hex(&pattern(5000)));
    result
}

#[test]
fn page_load_subresources_gets_bodies_push_and_cancel() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (app, emu, r) = basic_page();
    assert_eq!(r["href"], url("/pages/basic.html"));
    assert_eq!(
        r["shim"], true,
        "the shim is installed in the app's main frame"
    );

    // Interception: the document, <img> and a redirected <img> (followed on the host).
    // fetch and XHR go as frames, bodiless GETs included (see the emulator's shim script).
    assert_eq!(
        intercepted(&emu, "GET", "/pages/basic.html"),
        [(200, true, false)]
    );
    assert_eq!(r["imgWidth"], 40, "{r:#}");
    assert_eq!(r["redirectedImgWidth"], 40, "{r:#}");
    assert_eq!(
        intercepted(&emu, "GET", "/conf/redirect/302?to=/pages/pixel.svg"),
        [(200, false, false)]
    );
    assert_eq!(r["fetchText"], "hello");
    assert_eq!(intercepted(&emu, "GET", "/conf/text"), []);
    assert_eq!(r["xhr"]["status"], 200);
    assert_eq!(
        serde_json::from_str::<Value>(r["xhr"]["body"].as_str().unwrap()).unwrap(),
        serde_json::json!({ "ok": true, "n": 42 })
    );
    assert_eq!(intercepted(&emu, "GET", "/conf/json"), []);

    // Frames: a GET, a JSON POST, uploads with a File (fetch FormData, XHR Blob), push,
    // a stream, a cancel. None of them reached interception.
    assert_eq!(r["framesJson"]["status"], 200);
    assert_eq!(r["echo"]["status"], 200);
    assert_eq!(r["echo"]["method"], "POST");
    assert_eq!(r["echo"]["type"], "application/json");
    assert_eq!(r["echo"]["body"], r#"{"a":1,"b":"two"}"#);
    let sha = sha256_hex(&pattern(100_000));
    assert_eq!(r["fileSha256"], sha);
    assert_eq!(r["multipart"]["status"], 200, "{r:#}");
    assert_eq!(r["multipart"]["body"]["fields"]["note"], "hello");
    let file = &r["multipart"]["body"]["files"][0];
    assert_eq!(
        (&file["filename"], &file["size"], &file["sha256"]),
        (&"data.bin".into(), &100_000.into(), &sha.clone().into()),
        "{r:#}"
    );
    assert_eq!(r["xhrUpload"]["status"], 200);
    assert_eq!(r["xhrUpload"]["body"]["sha256"], sha);
    assert_eq!(
        r["events"],
        serde_json::json!(["event 1", "event 2", "event 3"])
    );
    let arrivals = r["arrivals"].as_array().unwrap();
    assert_eq!(arrivals.len(), 3, "each chunk on its own: {r:#}");
    let spread = arrivals[2][0].as_f64().unwrap() - arrivals[0][0].as_f64().unwrap();
    assert!(spread >= 200.0, "chunks spread over time: {arrivals:?}");
    assert_eq!(r["cancelled"], "AbortError");
    let deadline = std::time::Instant::now() + T;
    while app.counters.cancelled.load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the handler was not dropped"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    for path in [
        "/conf/multipart",
        "/conf/sha256",
        "/report",
        "/conf/sse?n=3",
    ] {
        assert_eq!(intercepted(&emu, "POST", path), [], "{path} went as frames");
        assert_eq!(intercepted(&emu, "GET", path), [], "{path} went as frames");
    }

    // A body through the engine itself: the host refuses it, body-less and named.
    assert_eq!(r["nativePost"]["status"], 400);
    assert!(
        r["nativePost"]["body"]
            .as_str()
            .unwrap()
            .contains("request bodies cannot be intercepted on Android; this request must go through the bus shim"),
        "{r:#}"
    );
    assert_eq!(
        intercepted(&emu, "POST", "/conf/echo"),
        [(400, false, true)],
        "only the native POST was intercepted, its body dropped as Android does"
    );
    let sessions = emu
        .records()
        .into_iter()
        .filter(|r| matches!(r, Record::SessionOpened { origin, .. } if origin == ORIGIN))
        .count();
    assert_eq!(sessions, 1, "one frame session for the document");
}

/// axios and jQuery (XMLHttpRequest) and ky (fetch), unmodified, through the shim's frames in
/// Chromium; the same page and checks as the WebKitGTK test (`testkit::clients`).
#[test]
fn popular_clients_axios_jquery_and_ky_work_unmodified() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let app = App::with(testkit::clients::mount);
    let emu = start(&app);
    emu.navigate(&url("/clients.html")).unwrap();
    testkit::clients::check(&app.report(T), ORIGIN);
}

#[test]
fn form_with_a_file_shows_its_result_through_the_stash_once() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let app = App::new();
    let emu = start(&app);
    let result = submit_upload_form(&emu);
    let file = &result["files"][0];
    assert_eq!(file["name"], "upload");
    assert_eq!(file["filename"], "picked.bin");
    assert_eq!(file["size"], 5000);
    assert_eq!(
        emu.evaluate("window.formError || null").unwrap(),
        Value::Null
    );
    assert_eq!(
        emu.evaluate("location.href").unwrap(),
        url("/conf/multipart")
    );
    assert_eq!(
        emu.evaluate("history.length").unwrap(),
        3,
        "about:blank, the form, its result"
    );
    let results: Vec<(String, u16, bool)> = emu
        .intercepted()
        .into_iter()
        .filter(|i| i.url.contains("/__bus/result/"))
        .map(|i| (i.url, i.status, i.main_frame))
        .collect();
    let [(result_url, 200, true)] = results.as_slice() else {
        panic!("one result page, for the main frame: {results:?}");
    };
    // The multipart body never went through interception.
    assert_eq!(intercepted(&emu, "POST", "/conf/multipart"), []);
    assert_eq!(app.host.stash_usage(), (0, 0), "taken out of the stash");

    // Shown once: the same URL again, from the app's page, is gone.
    emu.evaluate(&format!("location.assign({result_url:?}); true"))
        .unwrap();
    let gone = emu.wait_for(
        "document.body && document.body.innerText.includes('cannot be shown again')",
        T,
    );
    assert_eq!(gone, true, "{:?}", emu.evaluate("document.body.innerText"));
    // A load nothing proves the app's (a typed address, `loadUrl`: no Referer) is refused.
    emu.navigate(result_url).unwrap();
    let refused = emu.wait_for(
        "document.body && document.body.innerText.includes('form results are shown only to')",
        T,
    );
    assert_eq!(
        refused,
        true,
        "{:?}",
        emu.evaluate("document.body.innerText")
    );
}

/// The shim's own form takeover (`forms: 'all'`: the answer written into the document)
/// works over the Android transport too; the stash above is the alternative that makes a
/// real navigation.
#[test]
fn the_shims_own_form_takeover_works_here_too() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let app = App::new();
    let script = shim_script(ORIGIN, BINDING).replace("forms: false", "forms: 'all'");
    assert!(script.contains("forms: 'all'"));
    let emu = Emulator::builder(app.host.clone())
        .script(script)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    submit_upload_form(&emu);
    assert_eq!(intercepted(&emu, "POST", "/conf/multipart"), []);
    assert_eq!(app.host.stash_usage(), (0, 0), "the stash was not used");
}

#[test]
fn form_answered_by_a_redirect_lands_on_its_target() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let app = App::new();
    let emu = start(&app);
    emu.navigate(&url("/pages/form.html?submit=thanks"))
        .unwrap();
    let r = app.report(T);
    assert!(r["error"].is_null(), "{r:#}");
    assert_eq!(r["page"], "landing");
    assert_eq!(r["href"], url("/pages/landing.html?from=form"));
    assert_eq!(intercepted(&emu, "POST", "/forms/thanks"), []);
}

#[test]
fn a_redirect_is_followed_on_navigation() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // The app's own first load carries nothing that proves who asked (no Referer), so it
    // is anonymous: the route it starts at must be public, as the app's pages are.
    let app = App::with(|b| {
        b.mount_with(
            bus_core::Mount::new(
                "/start",
                axum::Router::new().route(
                    "/redirect",
                    axum::routing::get(|| async {
                        axum::response::Redirect::to("/pages/landing.html?from=redirect")
                    }),
                ),
            )
            .public(),
        )
    });
    let emu = start(&app);
    let start = "/start/redirect";
    emu.navigate(&url(start)).unwrap();
    let r = app.report(T);
    assert!(r["error"].is_null(), "{r:#}");
    assert_eq!(r["page"], "landing");
    assert_eq!(
        r["href"],
        url("/pages/landing.html?from=redirect"),
        "the document's URL is the redirect's target"
    );
    assert_eq!(r["shim"], true);
    assert_eq!(
        intercepted(&emu, "GET", start),
        [(200, true, false)],
        "answered with a page that navigates on"
    );
    assert_eq!(
        intercepted(&emu, "GET", "/pages/landing.html?from=redirect"),
        [(200, true, false)]
    );
}

#[test]
fn a_foreign_iframe_cannot_reach_the_bus() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let app = App::new();
    let (tx, evil_reports) = mpsc::channel::<Value>();
    let tx = Arc::new(Mutex::new(tx));
    // The navigation policy refuses foreign frames unless the app allows their origin: this
    // app does, to see what such a frame can do.
    let host = app
        .host
        .clone()
        .allow_navigation_to("https://evil.invalid")
        .unwrap();
    let emu = Emulator::builder(host)
        .foreign_origin("https://evil.invalid", move |req| {
            let url = url::Url::parse(&req.url).unwrap();
            if url.path() == "/report" {
                let data = url
                    .query_pairs()
                    .find(|(k, _)| k == "d")
                    .unwrap()
                    .1
                    .into_owned();
                let _ = tx
                    .lock()
                    .unwrap()
                    .send(serde_json::from_str(&data).unwrap());
                return ForeignResponse {
                    status: 200,
                    content_type: "text/plain".into(),
                    body: b"ok".to_vec(),
                };
            }
            let file = common::pages()
                .join("evil")
                .join(url.path().trim_start_matches('/'));
            match std::fs::read(&file) {
                Ok(body) => ForeignResponse {
                    status: 200,
                    content_type: if url.path().ends_with(".js") {
                        "text/javascript".into()
                    } else {
                        "text/html".into()
                    },
                    body,
                },
                Err(_) => ForeignResponse {
                    status: 404,
                    content_type: "text/plain".into(),
                    body: b"not here".to_vec(),
                },
            }
        })
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    emu.navigate(&url("/pages/iframes.html")).unwrap();
    let evil = evil_reports
        .recv_timeout(T)
        .unwrap_or_else(|_| panic!("no report from the evil frame: {:?}", emu.records()));
    let page = app.report(T);
    assert!(page["error"].is_null(), "{page:#}");

    // What the foreign frame saw. The binding is there — addJavascriptInterface reaches
    // every frame, which is why the host must check who calls — but nothing else is.
    assert_eq!(evil["where"], "https://evil.invalid/attack.html");
    assert_eq!(evil["bindingVisible"], true, "{evil:#}");
    assert_eq!(evil["deliverVisible"], false, "{evil:#}");
    assert_eq!(evil["bridgeVisible"], false, "{evil:#}");
    assert_eq!(evil["parentDeliver"], "SecurityError", "{evil:#}");
    assert_eq!(evil["corsGet"], "TypeError", "{evil:#}");
    assert_eq!(evil["noCorsGet"], "opaque", "{evil:#}");
    assert_eq!(evil["img"], "error", "{evil:#}");

    // What the host did: its binding calls refused (foreign origin), its direct requests
    // refused by origin (403) or for their lost body (400), and no handler ran.
    let refused: Vec<(String, String)> = emu
        .records()
        .into_iter()
        .filter_map(|r| match r {
            Record::BindingRefused { origin, reason, .. } => Some((origin, reason)),
            _ => None,
        })
        .collect();
    let foreign = refused
        .iter()
        .filter(|(o, _)| o == "https://evil.invalid")
        .count();
    assert_eq!(foreign, 2, "{refused:?}");
    assert!(refused.iter().any(|(o, r)| o == "https://evil.invalid"
        && r.contains("frames are accepted only from https://app.invalid")));
    assert_eq!(intercepted(&emu, "GET", "/secret"), [(403, false, false)]);
    assert_eq!(
        intercepted(&emu, "GET", "/secret?no-cors"),
        [(403, false, false)]
    );
    assert_eq!(
        intercepted(&emu, "POST", "/secret?post"),
        [(400, false, true)]
    );
    assert_eq!(
        intercepted(&emu, "GET", "/secret?img"),
        [(403, false, false)]
    );
    assert_eq!(app.secret_hits.load(Ordering::SeqCst), 0);

    // The app's own subframe: no shim there, its binding call refused (not the main
    // frame), its bodiless GET answered (the Referer is ours).
    let child = &page["child"];
    assert_eq!(child["shim"], false, "{page:#}");
    assert_eq!(child["getStatus"], 200);
    assert_eq!(child["getText"], "hello");
    assert!(
        refused
            .iter()
            .any(|(o, r)| o == ORIGIN && r.contains("not from a subframe")),
        "{refused:?}"
    );
    let sessions: Vec<Record> = emu
        .records()
        .into_iter()
        .filter(|r| matches!(r, Record::SessionOpened { .. }))
        .collect();
    assert_eq!(sessions.len(), 1, "only the main frame: {sessions:?}");
}

#[test]
fn no_listening_socket_in_chromium_or_here() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (_app, emu, _report) = basic_page();
    let pids = testkit::sockets::process_tree(std::process::id());
    assert!(pids.contains(&emu.pid()));
    assert!(pids.len() >= 3, "expected Chromium's processes: {pids:?}");
    let found = testkit::sockets::listeners(&pids).expect("/proc is readable");
    println!(
        "    {} processes (this test + Chromium's), listening sockets: {found:?}",
        pids.len()
    );
    for l in &found {
        let cmd = std::fs::read_to_string(format!("/proc/{}/cmdline", l.pid))
            .unwrap_or_default()
            .replace('\0', " ");
        let udp = std::fs::read_to_string(format!("/proc/{}/net/udp", l.pid)).unwrap_or_default();
        println!("{} {cmd}\n{udp}", l.pid);
    }
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn a_missing_chromium_fails_and_says_how_to_install_it() {
    let app = App::new();
    let err = Emulator::builder(app.host.clone())
        .chromium("/nonexistent/chromium")
        .start()
        .unwrap_err();
    assert!(matches!(err, EmulatorError::NoChromium(_)));
    assert!(
        err.to_string().contains("apt-get install chromium"),
        "{err}"
    );
}
