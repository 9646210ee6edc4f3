//! The app both test files drive: a bus with the conformance routes, the test pages, a
//! `/report` route the pages POST their findings to, a `/secret` route only the app may
//! reach, and a few form and redirect routes.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use bridge_android::host::{AndroidHost, DEFAULT_ORIGIN};
use bus_core::{Body, Bus, Mount};
use http::{Request, Response};
use serde_json::Value;

pub const ORIGIN: &str = DEFAULT_ORIGIN;

pub fn pages() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pages")
}

pub struct App {
    pub bus: Bus,
    pub host: AndroidHost,
    pub counters: testkit::conformance::Counters,
    pub secret_hits: Arc<AtomicUsize>,
    reports: mpsc::Receiver<Value>,
}

impl App {
    pub fn new() -> App {
        Self::with(|b| b)
    }

    /// An app whose bus also has what `extra` mounts.
    pub fn with(extra: impl FnOnce(bus_core::BusBuilder) -> bus_core::BusBuilder) -> App {
        let (report, reports) = testkit::report::mount(16 << 20);
        let secret_hits = Arc::new(AtomicUsize::new(0));
        let hits = Arc::clone(&secret_hits);
        let secret = tower::service_fn(move |_req: Request<Body>| {
            hits.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, std::convert::Infallible>(Response::new(Body::from("secret"))) }
        });
        let forms = axum::Router::new()
            .route(
                "/thanks",
                post(|body: String| async move {
                    if body == "name=Ada" {
                        Redirect::to("/pages/landing.html?from=form").into_response()
                    } else {
                        (
                            http::StatusCode::BAD_REQUEST,
                            format!("unexpected form {body:?}"),
                        )
                            .into_response()
                    }
                }),
            )
            .route(
                "/loop",
                get(|| async { Redirect::temporary("/forms/loop").into_response() }),
            )
            .route(
                "/away",
                get(|| async { Redirect::temporary("https://example.com/x").into_response() }),
            );
        let counters = testkit::conformance::Counters::default();
        let bus = Bus::builder()
            .app_origin(ORIGIN)
            .mount_with(report)
            .mount("/secret", secret)
            .mount("/forms", forms)
            .mount_with(testkit::conformance::mount(counters.clone()))
            .mount_with(
                Mount::new("/pages", tower_http::services::ServeDir::new(pages())).public(),
            );
        let bus = extra(bus).build();
        let host = AndroidHost::new(bus.handle(), ORIGIN).expect("a valid origin");
        App {
            bus,
            host,
            counters,
            secret_hits,
            reports,
        }
    }

    /// The next report a page POSTed, or a panic after `timeout`.
    pub fn report(&self, timeout: Duration) -> Value {
        self.try_report(timeout)
            .unwrap_or_else(|| panic!("no report from the page within {timeout:?}"))
    }

    /// The next report a page POSTed, or `None` after `timeout`.
    pub fn try_report(&self, timeout: Duration) -> Option<Value> {
        self.reports.recv_timeout(timeout).ok()
    }
}

/// The app's URL for `path`.
pub fn url(path: &str) -> String {
    format!("{ORIGIN}{path}")
}

/// SHA-256 of `n` bytes of the test pattern (byte k is k % 251), as the pages make it.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|k| (k % 251) as u8).collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    testkit::conformance::hex(&sha2::Sha256::digest(bytes))
}

/// An app with `testkit::workers`'s mounts, the Chromium emulator showing its `page`
/// (under `/wk-pages/`), and what the worker handlers saw.
pub fn worker_app(page: &str) -> (App, android_emulator::Emulator, testkit::workers::Seen) {
    let seen = testkit::workers::Seen::default();
    let a = seen.clone();
    let app = App::with(move |builder| testkit::workers::mount(builder, &a));
    let emu = android_emulator::Emulator::builder(app.host.clone())
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    emu.navigate(&url(&format!("/wk-pages/{page}")))
        .expect("navigate");
    (app, emu, seen)
}
