//! Cookies in real Chromium playing Android (issue 15): the bus's jar gives the app's
//! documents the behaviour of a web origin on every path — fetch, XHR and WebSocket
//! (frames), navigation and `<img>` (interception) — and `document.cookie` through the
//! shim; a sandboxed (opaque-origin) frame of the app gets none.

mod common;

use std::time::Duration;

use android_emulator::Emulator;
use bus_core::Mount;
use common::{App, url};
use serde_json::Value;
use testkit::cookies::{Jar, SESSION, pages, router};

#[test]
fn the_app_origin_keeps_cookies_like_a_web_origin() {
    let jar = Jar::default();
    let (a, b) = (jar.clone(), jar.clone());
    let app = App::with(move |builder| {
        builder
            .mount("/ck", router(a))
            .mount_with(Mount::new("/ckpub", router(b)).public())
            .mount_with(
                Mount::new("/ck-pages", tower_http::services::ServeDir::new(pages())).public(),
            )
    });
    let emu = Emulator::builder(app.host.clone())
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    emu.navigate(&url("/ck-pages/index.html"))
        .expect("navigate");
    let r: Value = app.report(Duration::from_secs(60));
    println!("first page: {r}");
    println!("seen: {}", jar.dump());
    assert!(r["error"].is_null(), "{r}");
    let both = format!("{SESSION}; visible=1");
    assert_eq!(r["before"], "");
    assert_eq!(r["login"], 200);
    assert!(r["loginSetCookieVisible"].is_null(), "{r}");
    assert_eq!(r["fetch"], both.as_str());
    assert_eq!(r["xhr"]["text"], both.as_str());
    assert!(!r["xhr"]["headers"].as_str().unwrap().contains("set-cookie"));
    assert_eq!(
        r["ws"],
        both.as_str(),
        "the WebSocket upgrade carries the session"
    );
    assert_eq!(r["documentCookie"], "visible=1");
    assert_eq!(r["afterSet"], "visible=1; fromPage=42");
    assert_eq!(r["fetchAfterSet"], format!("{both}; fromPage=42").as_str());
    assert_eq!(r["afterForge"], format!("{both}; fromPage=42").as_str());
    assert!(
        r["shortBefore"].as_str().unwrap().contains("short=1"),
        "{r}"
    );
    assert!(
        !r["shortAfter"].as_str().unwrap().contains("short=1"),
        "{r}"
    );
    assert_eq!(r["afterDelete"], "visible=1");
    // Chromium proves an app page's <img> (Sec-Fetch-Site: same-origin or its Referer):
    // it is the app's, and carries the session, on an app-only route and a public one.
    assert_eq!(r["/ck/seen/img"], "load", "{r}");
    assert_eq!(jar.of("img"), vec![Some(both.clone())]);
    assert_eq!(jar.of("img-public"), vec![Some(both.clone())]);
    assert_eq!(r["sandboxed"], "done");
    assert!(
        jar.of("sandboxed-fetch").iter().all(Option::is_none)
            && jar.of("img-sandboxed").iter().all(Option::is_none),
        "a sandboxed frame got the app's cookies: {}",
        jar.dump()
    );

    let after: Value = app.report(Duration::from_secs(30));
    println!("after navigation: {after}");
    assert!(after["error"].is_null(), "{after}");
    // The navigation (to a public page) was proven the app's, and carried the session.
    assert_eq!(jar.of("nav"), vec![Some(both.clone())]);
    assert_eq!(after["documentCookie"], "visible=1");
    assert_eq!(after["logout"], 200);
    assert_eq!(after["afterLogout"], "visible=1");
}
