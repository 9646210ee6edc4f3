//! End-to-end tests in a real WebKitGTK WebView (under Xvfb when there is no display).
//! Each test owns the GTK main thread in turn; see `support::run`.

mod support;

use std::time::Duration;

use support::Harness;

const T: Duration = Duration::from_secs(20);

fn page_load_image_xhr_fetch_and_links() {
    let h = Harness::new(|b| b);
    h.load("/basic.html");
    let r = h.report(T);
    assert_eq!(r["page"], "basic", "{r}");
    assert_eq!(r["href"], "app://localhost/basic.html");
    assert_eq!(r["imgWidth"], 40, "the <img> loaded: {r}");
    assert_eq!(r["xhrStatus"], 200, "{r}");
    let body: serde_json::Value = serde_json::from_str(r["xhrBody"].as_str().unwrap()).unwrap();
    assert_eq!(body, serde_json::json!({ "ok": true, "n": 42 }));
    assert_eq!(r["fetchText"], "hello");
    h.eval("document.getElementById('next').click(); return true;");
    let r = h.report(T);
    assert_eq!(r["page"], "second", "{r}");
    assert_eq!(r["href"], "app://localhost/second.html?from=basic");
}

fn frames_over_the_isolated_world_relay() {
    let h = Harness::new(|b| b);
    h.load("/frames.html");
    let r = h.report(T);
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["jsonStatus"], 200, "{r}");
    assert_eq!(r["echoStatus"], 200);
    assert_eq!(r["echoLength"], 1 << 20);
    assert_eq!(r["echoEqual"], true);
    let arrivals = r["arrivals"].as_array().unwrap();
    assert_eq!(arrivals.len(), 4, "each chunk arrives on its own: {r}");
    let first = arrivals[0][0].as_f64().unwrap();
    let last = arrivals[3][0].as_f64().unwrap();
    assert!(
        last - first >= 300.0,
        "chunks spread over time, not buffered: {arrivals:?}"
    );
    assert_eq!(r["missingStatus"], 404);
    assert_eq!(r["missingBody"], "no conformance route /conf/nowhere\n");
    assert_eq!(r["afterGarbage"], "hello");
}

fn main() {
    support::run(&[
        (
            "page_load_image_xhr_fetch_and_links",
            page_load_image_xhr_fetch_and_links,
        ),
        (
            "frames_over_the_isolated_world_relay",
            frames_over_the_isolated_world_relay,
        ),
    ]);
}
