//! Cookies in a real WebKitGTK WebView (issue 15): the bus's jar gives the app's documents
//! the behaviour of a web origin on every path — fetch and XHR (frames), navigation and
//! `<img>` (the scheme handler), WebSocket (frames) — and `document.cookie` through the
//! shim; a document that is not proven to be the app's gets none.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::Harness;
use testkit::cookies::Jar;

fn harness(jar: &Jar) -> Harness {
    Harness::new(|builder| testkit::cookies::mount(builder, jar))
}

fn the_app_origin_keeps_cookies_like_a_web_origin() {
    let jar = Jar::default();
    let h = harness(&jar);
    h.load("/ck-pages/index.html");
    let r: Value = h.report(Duration::from_secs(60));
    testkit::cookies::check_first_page(&r, &jar);
    // <img>: WebKitGTK sends an app page's <img> with no Origin, Referer or fetch
    // metadata, so the bus cannot tell it from a foreign page's: anonymous, no cookie (and
    // an app-only route refuses it).
    println!(
        "    img app-only: {}, img public: {}, public img carried: {:?}",
        r["/ck/seen/img"],
        r["/ckpub/seen/img-public"],
        jar.of("img-public")
    );
    assert_eq!(r["/ckpub/seen/img-public"], "load");
    assert_eq!(
        r["/ck/seen/img"], "error",
        "an app-only route refuses the anonymous <img>"
    );
    assert_eq!(jar.of("img-public"), vec![None]);

    // The navigation carried the session; the next page logs out.
    let after: Value = h.try_report(Duration::from_secs(30)).unwrap_or_else(|| {
        panic!(
            "no report after the navigation; seen {}, at {}",
            jar.dump(),
            h.uri()
        )
    });
    testkit::cookies::check_after_navigation(&after);
    // WebKitGTK sends a top-level navigation of an app page to the app scheme with no
    // Origin, Referer or fetch metadata (measured), so the bus cannot tell it from a
    // foreign page's: anonymous, no cookie, and only a public mount answers it.
    let nav = jar.of("nav");
    assert_eq!(nav, vec![None], "{}", jar.dump());
}

fn a_foreign_document_never_gets_the_apps_cookies() {
    let jar = Jar::default();
    let h = harness(&jar);
    h.load("/ck-pages/index.html");
    let r: Value = h.report(Duration::from_secs(60));
    assert!(r["error"].is_null(), "{r}");
    let _ = h.report(Duration::from_secs(30));
    // A document of another origin: the engine's own loads of app URLs, from a data: page.
    h.webview
        .load_html(
            "<!doctype html><script>\
             fetch('app://localhost/ckpub/seen/foreign-fetch', {mode: 'no-cors'}).catch(() => {});\
             const i = new Image(); i.src = 'app://localhost/ckpub/seen/img-foreign';\
             </script>",
        )
        .expect("load_html");
    h.wait(Duration::from_secs(2));
    println!("    seen: {}", jar.dump());
    for kind in ["foreign-fetch", "img-foreign"] {
        assert!(
            jar.of(kind).iter().all(Option::is_none),
            "{kind}: {}",
            jar.dump()
        );
    }
}

fn main() {
    support::run(&[
        (
            "the_app_origin_keeps_cookies_like_a_web_origin",
            the_app_origin_keeps_cookies_like_a_web_origin,
        ),
        (
            "a_foreign_document_never_gets_the_apps_cookies",
            a_foreign_document_never_gets_the_apps_cookies,
        ),
    ]);
}
