//! Popular HTTP clients, unmodified, against the bus: a page that runs axios and jQuery's
//! `$.ajax` (both over XMLHttpRequest) and ky (fetch) against the [`conformance`](crate::conformance)
//! routes and reports what it saw, and the checks both hosts' tests make on that report.
//!
//! The clients come from bridge-js's dev dependencies (`npm ci` in `bridge-js`, which
//! `scripts/test.sh` runs first). [`mount`] serves them at `/vendor` and the page at
//! `/clients.html`; the page POSTs its report as JSON to `/report`.

use std::path::PathBuf;

use bus_core::{Body, BusBuilder, Mount};
use serde_json::{Value, json};

/// The page, as HTML.
pub const PAGE: &str = include_str!("../pages/clients.html");

/// bridge-js's `node_modules`, where axios, jQuery and ky are.
///
/// # Panics
/// When they are not installed, with the command that installs them.
pub fn vendor_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bridge-js/node_modules");
    assert!(
        dir.join("axios/dist/axios.min.js").is_file()
            && dir.join("jquery/dist/jquery.min.js").is_file()
            && dir.join("ky/distribution/index.js").is_file(),
        "axios, jQuery and ky come from bridge-js's dev dependencies: run `npm ci` in \
         bridge-js (scripts/test.sh does)"
    );
    dir
}

/// A service answering every request with `html` (`text/html; charset=utf-8`): a test
/// page kept in the crate.
pub(crate) fn html_page(
    html: &'static str,
) -> impl tower::Service<
    http::Request<Body>,
    Response = http::Response<Body>,
    Error = std::convert::Infallible,
    Future = impl Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(move |_r: http::Request<Body>| async move {
        let mut response = http::Response::new(Body::from(html));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/html; charset=utf-8"),
        );
        Ok::<_, std::convert::Infallible>(response)
    })
}

/// Mounts the page at `/clients.html` and the clients at `/vendor`, both public (static
/// files any document may load); the routes the page calls are the caller's.
pub fn mount(builder: BusBuilder) -> BusBuilder {
    let page = html_page(PAGE);
    builder
        .mount_with(
            Mount::new("/vendor", tower_http::services::ServeDir::new(vendor_dir())).public(),
        )
        .mount_with(Mount::new("/clients.html", page).public())
}

/// Checks the page's report; `origin` is the app origin the page was served from.
///
/// # Panics
/// On the first difference, with the whole report.
pub fn check(r: &Value, origin: &str) {
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["axiosStatus"], 200, "{r}");
    assert_eq!(r["axiosData"], json!({ "ok": true, "n": 42 }), "{r}");
    assert_eq!(r["axiosContentType"], "application/json", "{r}");
    assert_eq!(r["axiosEcho"], json!({ "hello": "bus" }), "{r}");
    assert!(
        r["axiosEchoType"]
            .as_str()
            .is_some_and(|t| t.starts_with("application/json")),
        "{r}"
    );
    // Handlers see the absolute URI the page asked for (as on every bridge).
    let missing = format!("no conformance route {origin}/conf/nowhere\n");
    assert_eq!(r["axios404"], json!(["AxiosError", 404, missing]), "{r}");
    assert_eq!(r["axiosAbort"], "ERR_CANCELED", "{r}");
    let upload = &r["axiosUpload"];
    assert_eq!(upload["length"], 1 << 20, "{r}");
    assert_eq!(upload["equal"], true, "{r}");
    assert_eq!(
        upload["last"],
        1 << 20,
        "upload progress reaches the whole body: {r}"
    );
    assert!(upload["events"].as_u64().unwrap_or(0) >= 1, "{r}");
    assert_eq!(r["jqJson"], json!({ "ok": true, "n": 42 }), "{r}");
    assert_eq!(r["jqEcho"], json!({ "jq": true }), "{r}");
    assert_eq!(r["jq404"], json!(["error", 404, missing]), "{r}");
    assert_eq!(r["kyJson"], json!({ "ok": true, "n": 42 }), "{r}");
    assert_eq!(r["kyEcho"], "{\"n\":1}", "{r}");
    assert_eq!(r["ky404"], json!(["HTTPError", 404, missing]), "{r}");
    assert_eq!(r["kyTimeout"], "TimeoutError", "{r}");
    assert_eq!(
        r["kyHook"],
        json!(["hello", [format!("{origin}/conf/text")]]),
        "{r}"
    );
}
