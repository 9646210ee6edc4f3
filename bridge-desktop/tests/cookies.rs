//! Cookies in a real WebKitGTK WebView (issue 15): the bus's jar gives the app's documents
//! the behaviour of a web origin on every path — fetch and XHR (frames), navigation and
//! `<img>` (the scheme handler), WebSocket (frames) — and `document.cookie` through the
//! shim; a document that is not proven to be the app's gets none.
//!
//! WebKitGTK sends `<img>` and navigations with nothing that names their document; they
//! are the app's because the host's navigation policy admits only the app's documents (by
//! default). A host that admits others (`allow_navigation_to`, `allow_srcdoc_frames`)
//! makes them anonymous, and then they carry no cookie.

mod support;

use std::time::Duration;

use bridge_desktop::HostConfig;
use serde_json::Value;
use support::{Harness, ORIGIN};
use testkit::cookies::Jar;

fn harness(jar: &Jar, config: HostConfig) -> Harness {
    Harness::with_config(|builder| testkit::cookies::mount(builder, jar), config)
}

fn the_app_origin_keeps_cookies_like_a_web_origin() {
    let jar = Jar::default();
    let h = harness(&jar, HostConfig::new(ORIGIN));
    h.load("/ck-pages/index.html");
    let r: Value = h.report(Duration::from_secs(60));
    // The sandboxed srcdoc frame is refused by the default policy: it never runs.
    testkit::cookies::check_first_page(&r, &jar, false);
    let after: Value = h.try_report(Duration::from_secs(30)).unwrap_or_else(|| {
        panic!(
            "no report after the navigation; seen {}, at {}",
            jar.dump(),
            h.uri()
        )
    });
    testkit::cookies::check_after_navigation(&after, &jar);
}

/// A host that lets other documents in: the sandboxed srcdoc frame runs and gets nothing,
/// and what WebKitGTK reports nothing about (`<img>`, navigations) is anonymous, so it
/// carries no cookie either and an app-only route refuses it.
fn with_other_documents_admitted_unreported_requests_get_no_cookie() {
    let jar = Jar::default();
    let h = harness(
        &jar,
        HostConfig::new(ORIGIN)
            .allow_srcdoc_frames()
            .allow_navigation_to("evil://x"),
    );
    h.load("/ck-pages/index.html");
    let r: Value = h.report(Duration::from_secs(60));
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["sandboxed"], "done", "{r}");
    assert_eq!(
        r["fetch"],
        format!("{}; visible=1", testkit::cookies::SESSION)
    );
    assert_eq!(
        r["/ck/seen/img"], "error",
        "an app-only route refuses it: {r}"
    );
    assert_eq!(r["/ckpub/seen/img-public"], "load", "{r}");
    for kind in ["img-public", "sandboxed-fetch", "img-sandboxed"] {
        assert!(
            jar.of(kind).iter().all(Option::is_none),
            "{kind}: {}",
            jar.dump()
        );
    }
    let _ = h.try_report(Duration::from_secs(30));
    assert_eq!(jar.of("nav"), vec![None], "{}", jar.dump());
}

/// A document of another origin (shown because the host allowed it) makes the engine's own
/// loads of app URLs: none carries a cookie.
fn a_foreign_document_never_gets_the_apps_cookies() {
    let jar = Jar::default();
    let h = harness(
        &jar,
        HostConfig::new(ORIGIN).allow_navigation_to("evil://x"),
    );
    let _reports = support::evil::register(h.host.webkit());
    h.load("/ck-pages/index.html");
    let r: Value = h.report(Duration::from_secs(60));
    assert!(r["error"].is_null(), "{r}");
    let _ = h.report(Duration::from_secs(30));
    webkit2gtk::WebViewExt::load_uri(h.host.webkit(), "evil://x/cookie-thief.html");
    h.wait(Duration::from_secs(3));
    println!("    seen: {}", jar.dump());
    for kind in ["foreign-fetch", "img-foreign", "nav-foreign"] {
        let seen = jar.of(kind);
        assert!(!seen.is_empty(), "{kind} never arrived: {}", jar.dump());
        assert!(seen.iter().all(Option::is_none), "{kind}: {}", jar.dump());
    }
}

fn main() {
    support::run(&[
        (
            "the_app_origin_keeps_cookies_like_a_web_origin",
            the_app_origin_keeps_cookies_like_a_web_origin,
        ),
        (
            "with_other_documents_admitted_unreported_requests_get_no_cookie",
            with_other_documents_admitted_unreported_requests_get_no_cookie,
        ),
        (
            "a_foreign_document_never_gets_the_apps_cookies",
            a_foreign_document_never_gets_the_apps_cookies,
        ),
    ]);
}
