//! What the benchmark page talks to: one axum `Router` mounted on the bus and served on
//! 127.0.0.1 by `testkit::serve_localhost`, so every path reaches the same handlers.
//!
//! - `GET /bench.html`: the page, and `GET /bench.js`: its workloads (shared with the
//!   Tauri peer's page);
//! - `GET /bench/tiny`: 12 bytes;
//! - `GET /bench/bytes/{n}`: `n` bytes in 64 KiB slices of one in-memory 1 MiB source (no
//!   copy by the handler), counted as they are produced;
//! - `POST /bench/upload`: reads the body to its end without keeping it, answers the count.
//!
//! Every response says `Cache-Control: no-store`. CORS is `CorsLayer::permissive()` (the
//! localhost server is another origin to the `app://` page); it is on the bus's copy too,
//! so both do the same work per request.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;

use crate::handler::{self, TINY_BODY};

/// The benchmark page.
pub(crate) const PAGE: &str = include_str!("bench.html");
/// Its workloads, the same file the Tauri peer's page loads.
pub(crate) const SCRIPT: &str = include_str!("bench.js");

/// Bytes the `/bench/bytes` producers have handed to a transport, and producers alive.
#[derive(Clone, Debug, Default)]
pub(crate) struct Counters {
    produced: Arc<AtomicU64>,
    live: Arc<AtomicU64>,
}

impl Counters {
    /// Bytes produced so far (all paths, all streams).
    pub(crate) fn produced(&self) -> u64 {
        self.produced.load(Ordering::Relaxed)
    }

    /// `/bench/bytes` bodies not yet dropped.
    pub(crate) fn live(&self) -> u64 {
        self.live.load(Ordering::Relaxed)
    }
}

#[derive(Clone)]
struct AppState {
    source: Bytes,
    counters: Counters,
}

/// The router every path serves.
pub(crate) fn router(counters: Counters) -> Router {
    let state = AppState {
        source: handler::source(),
        counters,
    };
    let file = |kind: &'static str, text: &'static str| {
        get(move || async move {
            (
                [
                    (header::CONTENT_TYPE, kind),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                text,
            )
        })
    };
    Router::new()
        .route("/bench.html", file("text/html; charset=utf-8", PAGE))
        .route("/bench.js", file("text/javascript; charset=utf-8", SCRIPT))
        .route(
            "/bench/tiny",
            get(|| async { ([(header::CACHE_CONTROL, "no-store")], TINY_BODY) }),
        )
        .route("/bench/bytes/{n}", get(bytes))
        .route("/bench/upload", post(upload))
        .layer(tower_http::cors::CorsLayer::permissive())
        .with_state(state)
}

async fn bytes(State(state): State<AppState>, Path(n): Path<u64>) -> Response<axum::body::Body> {
    state.counters.live.fetch_add(1, Ordering::Relaxed);
    let mut response = Response::new(axum::body::Body::new(Counted {
        source: state.source,
        left: n,
        index: 0,
        counters: state.counters,
    }));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn upload(
    body: axum::body::Body,
) -> (StatusCode, [(header::HeaderName, &'static str); 1], String) {
    let mut body = body;
    let mut n = 0u64;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    n += data.len() as u64;
                }
            }
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    [(header::CACHE_CONTROL, "no-store")],
                    format!("reading the upload failed after {n} bytes: {e}"),
                );
            }
        }
    }
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        n.to_string(),
    )
}

/// `left` bytes in 64 KiB slices of the source, counted as they are produced.
struct Counted {
    source: Bytes,
    left: u64,
    index: usize,
    counters: Counters,
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.left == 0 {
            return Poll::Ready(None);
        }
        let mut data = handler::chunk(&this.source, this.index);
        if (data.len() as u64) > this.left {
            data.truncate(this.left as usize);
        }
        this.left -= data.len() as u64;
        this.index += 1;
        this.counters
            .produced
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.counters.live.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn routes_answer_what_the_page_checks() {
        block_on(async {
            let counters = Counters::default();
            let app = router(counters.clone());
            let get = |uri: &str| {
                http::Request::get(uri)
                    .body(axum::body::Body::empty())
                    .unwrap()
            };
            let res = app.clone().oneshot(get("/bench/tiny")).await.unwrap();
            assert_eq!(res.status(), 200);
            assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body.len(), 12);

            let n = 3 * crate::handler::CHUNK as u64 + 5;
            let res = app
                .clone()
                .oneshot(get(&format!("/bench/bytes/{n}")))
                .await
                .unwrap();
            assert_eq!(counters.live(), 1);
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body.len() as u64, n);
            assert_eq!(counters.produced(), n);
            assert_eq!(counters.live(), 0);

            let up = http::Request::post("/bench/upload")
                .body(axum::body::Body::from(vec![7u8; 100_000]))
                .unwrap();
            let res = app.clone().oneshot(up).await.unwrap();
            assert_eq!(res.status(), 200);
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"100000");

            let res = app.clone().oneshot(get("/bench.html")).await.unwrap();
            assert_eq!(res.status(), 200);
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert!(
                std::str::from_utf8(&body)
                    .unwrap()
                    .contains("BenchPage.start")
            );
            let res = app.oneshot(get("/bench.js")).await.unwrap();
            assert_eq!(
                res.headers()[header::CONTENT_TYPE],
                "text/javascript; charset=utf-8"
            );
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert!(
                std::str::from_utf8(&body)
                    .unwrap()
                    .contains("window.__bench")
            );
        });
    }
}
