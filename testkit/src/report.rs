//! Where test pages POST what they measured or checked: a `/report` mount whose JSON
//! bodies arrive, in order, on a channel the test reads.

use std::convert::Infallible;
use std::sync::mpsc;

use bus_core::{Body, Mount};
use http::{Request, Response};
use http_body_util::BodyExt;
use serde_json::{Value, json};

/// A `/report` mount (bodies up to `max_body` bytes) and the receiver its reports arrive
/// on. A body that is not JSON arrives as `{"id": "?", "error": "unparsable report: …"}`,
/// so a waiting test fails naming why instead of timing out.
///
/// ```
/// let (mount, reports) = testkit::report::mount(1 << 20);
/// let bus = bus_core::Bus::builder().mount_with(mount).build();
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let post = http::Request::post("/report").body(bus_core::Body::from(r#"{"id":"t","ok":true}"#));
/// assert_eq!(bus.handle().call(post.unwrap()).await.status(), 200);
/// # });
/// assert_eq!(reports.recv().unwrap()["ok"], true);
/// ```
pub fn mount(max_body: u64) -> (Mount, mpsc::Receiver<Value>) {
    mount_waking(max_body, || {})
}

/// As [`mount`], calling `wake` after each report: a test whose main loop blocks until an
/// event (GTK's) wakes it to look at the report.
pub fn mount_waking(
    max_body: u64,
    wake: impl Fn() + Clone + Send + Sync + 'static,
) -> (Mount, mpsc::Receiver<Value>) {
    let (tx, reports) = mpsc::channel::<Value>();
    let service = tower::service_fn(move |req: Request<Body>| {
        let tx = tx.clone();
        let wake = wake.clone();
        async move {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let value = serde_json::from_slice(&body).unwrap_or_else(
                |e| json!({ "id": "?", "error": format!("unparsable report: {e}") }),
            );
            let _ = tx.send(value);
            wake();
            Ok::<_, Infallible>(Response::new(Body::from("ok")))
        }
    });
    (
        Mount::new("/report", service).max_body(Some(max_body)),
        reports,
    )
}
