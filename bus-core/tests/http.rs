//! The bus with real handlers: an axum Router and tower-http's ServeDir, called in process.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query};
use axum::routing::{get, post};
use bus_core::{Body, Bus, BusError, Caller, FrameKind, Limits, Mount, Policy, Transport};
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use tokio::sync::oneshot;

fn get_req(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

async fn text(response: Response<Body>) -> String {
    String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap()
}

fn api() -> Router {
    #[derive(serde::Deserialize)]
    struct Paging {
        limit: Option<u32>,
    }
    Router::new()
        .route(
            "/users/{id}",
            get(|Path(id): Path<u64>, Query(p): Query<Paging>| async move {
                axum::Json(serde_json::json!({ "id": id, "limit": p.limit }))
            }),
        )
        .route(
            "/echo",
            post(|axum::Json(v): axum::Json<serde_json::Value>| async move {
                axum::Json(serde_json::json!({ "got": v }))
            }),
        )
        .route(
            "/count",
            post(|body: Bytes| async move { body.len().to_string() }),
        )
        .route(
            "/stream",
            get(|| async {
                let (tx, body) = Body::channel(1);
                tokio::spawn(async move {
                    for i in 0..5 {
                        if tx.send(Bytes::from(format!("chunk{i};"))).await.is_err() {
                            return;
                        }
                    }
                });
                Response::new(axum::body::Body::new(body))
            }),
        )
}

#[tokio::test]
async fn axum_router_path_param_query_json_and_streaming() {
    let bus = Bus::builder().mount("/api", api()).build();

    let response = bus.handle().call(get_req("/api/users/42?limit=5")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(text(response).await, r#"{"id":42,"limit":5}"#);

    let request = Request::post("app://localhost/api/echo")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"a":[1,2]}"#))
        .unwrap();
    let response = bus.handle().call(request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(text(response).await, r#"{"got":{"a":[1,2]}}"#);

    // The streaming response arrives as separate chunks, not one buffer.
    let mut body = bus.handle().call(get_req("/api/stream")).await.into_body();
    let mut chunks = Vec::new();
    while let Some(frame) = body.frame().await {
        chunks.push(frame.unwrap().into_data().unwrap());
    }
    assert_eq!(chunks.len(), 5);
    assert_eq!(chunks.concat(), b"chunk0;chunk1;chunk2;chunk3;chunk4;");
}

#[tokio::test]
async fn serve_dir_answers_range_with_206_and_knows_mime_types() {
    let dir = std::env::temp_dir().join(format!("bus-core-servedir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let content: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("movie.webm"), &content).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>hi</h1>").unwrap();

    let bus = Bus::builder()
        .mount("/static", tower_http::services::ServeDir::new(&dir))
        .build();

    let request = Request::get("/static/movie.webm")
        .header(header::RANGE, "bytes=100-1099")
        .body(Body::empty())
        .unwrap();
    let response = bus.handle().call(request).await;
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        response.headers()[header::CONTENT_RANGE],
        "bytes 100-1099/10000"
    );
    assert_eq!(response.headers()[header::CONTENT_TYPE], "video/webm");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], &content[100..1100]);

    let response = bus.handle().call(get_req("/static/")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(text(response).await, "<h1>hi</h1>");

    let response = bus.handle().call(get_req("/static/missing.png")).await;
    assert_eq!(response.status(), 404);

    // Traversal never reaches ServeDir, literal or encoded.
    for evil in ["/static/../Cargo.toml", "/static/%2e%2e/Cargo.toml"] {
        let response = bus.handle().call(get_req(evil)).await;
        assert_eq!(response.status(), 400, "{evil}");
        assert!(text(response).await.contains("segment"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn unknown_route_is_404_naming_the_path() {
    let bus = Bus::builder().mount("/api", api()).build();
    let response = bus.handle().call(get_req("/nothing/here?x=1")).await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/plain; charset=utf-8"
    );
    assert!(matches!(
        response.extensions().get::<Arc<BusError>>().map(|e| &**e),
        Some(BusError::NoRoute { .. })
    ));
    assert_eq!(text(response).await, "no route for GET /nothing/here\n");
}

#[tokio::test]
async fn mounts_can_be_restricted_to_a_host_and_scheme() {
    let hello = |name: &'static str| {
        tower::service_fn(move |_r: Request<Body>| async move {
            Ok::<_, Infallible>(Response::new(Body::from(name)))
        })
    };
    let bus = Bus::builder()
        .mount_with(
            Mount::new("/", hello("app"))
                .scheme("app")
                .host("localhost"),
        )
        .mount_with(Mount::new("/", hello("other")).host("cdn.local"))
        .build();
    assert_eq!(
        text(bus.handle().call(get_req("app://localhost/x")).await).await,
        "app"
    );
    assert_eq!(
        text(bus.handle().call(get_req("app://cdn.local/x")).await).await,
        "other"
    );
    assert_eq!(
        bus.handle()
            .call(get_req("https://localhost/x"))
            .await
            .status(),
        404
    );
    assert_eq!(bus.handle().call(get_req("/x")).await.status(), 404);
}

#[tokio::test]
async fn policy_refuses_foreign_callers_with_403_and_a_reason() {
    let bus = Bus::builder()
        .app_origin("app://localhost")
        .mount("/api", api())
        .mount_with(
            Mount::new("/admin", api())
                .policy(Policy::origins(["app://localhost"]).and(Policy::main_frame_only())),
        )
        .build();
    let as_caller = |uri: &str, caller: Caller| {
        let mut r = get_req(uri);
        r.extensions_mut().insert(caller);
        r
    };
    let page = Caller::new(Transport::Scheme)
        .with_origin("app://localhost")
        .with_frame(FrameKind::Main);
    let evil = Caller::new(Transport::Scheme)
        .with_origin("https://evil.example")
        .with_frame(FrameKind::Main);
    let iframe = page.clone().with_frame(FrameKind::Sub);

    assert_eq!(
        bus.handle()
            .call(as_caller("/api/users/1", page.clone()))
            .await
            .status(),
        200
    );
    let refused = bus.handle().call(as_caller("/api/users/1", evil)).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        text(refused).await,
        "forbidden: origin https://evil.example may not call this mount\n"
    );
    assert_eq!(
        bus.handle()
            .call(as_caller("/admin/users/1", page))
            .await
            .status(),
        200
    );
    let refused = bus.handle().call(as_caller("/admin/users/1", iframe)).await;
    assert_eq!(refused.status(), 403);
    assert!(text(refused).await.contains("only the main frame"));
    // A request with no Caller is Rust code in this process.
    assert_eq!(
        bus.handle().call(get_req("/admin/users/1")).await.status(),
        200
    );
}

#[tokio::test]
async fn header_limit_answers_431() {
    let bus = Bus::builder()
        .limits(Limits::default().with_max_header_bytes(1024))
        .mount("/api", api())
        .build();
    let request = Request::get("/api/users/1")
        .header("x-big", "a".repeat(2000))
        .body(Body::empty())
        .unwrap();
    let response = bus.handle().call(request).await;
    assert_eq!(response.status(), 431);
    assert!(
        text(response)
            .await
            .contains("over the limit of 1024 bytes")
    );
}

#[tokio::test]
async fn body_limit_answers_413_declared_or_streamed() {
    let bus = Bus::builder()
        .mount_with(Mount::new("/api", api()).max_body(Some(1000)))
        .build();
    // Known length: refused before the handler runs.
    let response = bus
        .handle()
        .call(
            Request::post("/api/count")
                .body(Body::from(vec![0u8; 1001]))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), 413);
    assert_eq!(
        text(response).await,
        "request body of 1001 bytes is over this route's limit of 1000 bytes\n"
    );
    // Declared by Content-Length on a streaming body.
    let (_tx, body) = Body::channel(1);
    let request = Request::post("/api/count")
        .header(header::CONTENT_LENGTH, "5000")
        .body(body)
        .unwrap();
    assert_eq!(bus.handle().call(request).await.status(), 413);
    // Unknown length: the limit cuts the stream and axum answers 413 itself.
    let (tx, body) = Body::channel(4);
    tokio::spawn(async move {
        for _ in 0..10 {
            if tx.send(Bytes::from(vec![1u8; 300])).await.is_err() {
                break;
            }
        }
    });
    let response = bus
        .handle()
        .call(Request::post("/api/count").body(body).unwrap())
        .await;
    assert_eq!(response.status(), 413);
    // Under the limit: fine.
    let response = bus
        .handle()
        .call(
            Request::post("/api/count")
                .body(Body::from(vec![0u8; 1000]))
                .unwrap(),
        )
        .await;
    assert_eq!(text(response).await, "1000");
}

/// A handler that answers "done" once the sender says `true`.
fn held() -> (
    tokio::sync::watch::Sender<bool>,
    impl tower::Service<
        Request<Body>,
        Response = Response<Body>,
        Error = Infallible,
        Future = impl Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static,
) {
    let (release_tx, release_rx) = tokio::sync::watch::channel(false);
    let slow = tower::service_fn(move |_r: Request<Body>| {
        let mut rx = release_rx.clone();
        async move {
            let _ = rx.wait_for(|v| *v).await;
            Ok::<_, Infallible>(Response::new(Body::from("done")))
        }
    });
    (release_tx, slow)
}

#[tokio::test]
async fn in_flight_limit_answers_503_with_retry_after() {
    let (release_tx, slow) = held();
    let bus = Bus::builder()
        .limits(Limits::default().with_max_in_flight(2))
        .mount("/slow", slow)
        .build();
    let first = tokio::spawn({
        let bus = bus.handle();
        async move { bus.call(get_req("/slow")).await.status() }
    });
    let second = tokio::spawn({
        let bus = bus.handle();
        async move { bus.call(get_req("/slow")).await.status() }
    });
    while bus.handle().in_flight() < 2 {
        tokio::task::yield_now().await;
    }
    let third = bus.handle().call(get_req("/slow")).await;
    assert_eq!(third.status(), 503);
    assert_eq!(third.headers()[header::RETRY_AFTER], "1");
    assert!(
        text(third)
            .await
            .contains("too many requests in flight (limit 2)")
    );
    release_tx.send(true).unwrap();
    assert_eq!(first.await.unwrap(), 200);
    assert_eq!(second.await.unwrap(), 200);
    // Permits come back: the next call goes through.
    assert_eq!(bus.handle().call(get_req("/slow")).await.status(), 200);
}

/// Callers racing on several threads for the last places get exactly the limit, and
/// every place comes back when the responses end.
#[test]
fn in_flight_limit_is_exact_under_racing_callers() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (release_tx, slow) = held();
        let bus = Bus::builder()
            .limits(Limits::default().with_max_in_flight(5))
            .mount("/slow", slow)
            .build();
        let calls: Vec<_> = (0..64)
            .map(|_| {
                let bus = bus.handle();
                tokio::spawn(async move { bus.call(get_req("/slow")).await.status() })
            })
            .collect();
        // The refused ones answer at once; the admitted ones wait for the release, which
        // comes only once every call has had its answer or its place.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while calls.iter().filter(|c| c.is_finished()).count() < 59 {
            assert!(
                std::time::Instant::now() < deadline,
                "59 calls refused in time"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(bus.handle().in_flight(), 5);
        release_tx.send(true).unwrap();
        let mut statuses = Vec::new();
        for call in calls {
            statuses.push(call.await.unwrap().as_u16());
        }
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 5);
        assert_eq!(statuses.iter().filter(|s| **s == 503).count(), 59);
        assert_eq!(bus.handle().in_flight(), 0);
    });
}

#[tokio::test(start_paused = true)]
async fn timeout_answers_504_and_drops_the_handler() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    let never = tower::service_fn(move |_r: Request<Body>| {
        let guard = DropFlag(d.clone());
        async move {
            let _guard = guard;
            std::future::pending::<()>().await;
            Ok::<_, Infallible>(Response::new(Body::empty()))
        }
    });
    let bus = Bus::builder()
        .mount_with(Mount::new("/never", never).timeout(Some(Duration::from_secs(3))))
        .build();
    let response = bus.handle().call(get_req("/never")).await;
    assert_eq!(response.status(), 504);
    assert_eq!(
        text(response).await,
        "the handler did not answer within 3s\n"
    );
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

struct DropFlag(Arc<AtomicUsize>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn dropping_the_call_drops_the_handler_and_closes_the_producer() {
    // 1. Dropped while the handler is still working on the head.
    let (started_tx, started_rx) = oneshot::channel::<()>();
    let started_tx = Arc::new(std::sync::Mutex::new(Some(started_tx)));
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    let hang = tower::service_fn(move |_r: Request<Body>| {
        let guard = DropFlag(d.clone());
        let started = started_tx.lock().unwrap().take();
        async move {
            let _guard = guard;
            if let Some(s) = started {
                let _ = s.send(());
            }
            std::future::pending::<()>().await;
            Ok::<_, Infallible>(Response::new(Body::empty()))
        }
    });
    // 2. Dropped while the handler's body producer is writing.
    let (closed_tx, closed_rx) = oneshot::channel::<usize>();
    let closed_tx = Arc::new(std::sync::Mutex::new(Some(closed_tx)));
    let produce = tower::service_fn(move |_r: Request<Body>| {
        let closed_tx = closed_tx.lock().unwrap().take();
        async move {
            let (tx, body) = Body::channel(2);
            tokio::spawn(async move {
                let mut sent = 0;
                while tx.send(Bytes::from_static(&[0u8; 1024])).await.is_ok() {
                    sent += 1;
                }
                if let Some(c) = closed_tx {
                    let _ = c.send(sent);
                }
            });
            Ok::<_, Infallible>(Response::new(body))
        }
    });
    let bus = Bus::builder()
        .mount("/hang", hang)
        .mount("/produce", produce)
        .build();

    let call = tokio::spawn({
        let bus = bus.handle();
        async move { bus.call(get_req("/hang")).await }
    });
    started_rx.await.unwrap();
    call.abort();
    let _ = call.await;
    assert_eq!(dropped.load(Ordering::SeqCst), 1, "handler future dropped");

    let mut body = bus.handle().call(get_req("/produce")).await.into_body();
    for _ in 0..3 {
        body.frame().await.unwrap().unwrap();
    }
    drop(body);
    let sent = tokio::time::timeout(Duration::from_secs(5), closed_rx)
        .await
        .unwrap()
        .unwrap();
    assert!(
        sent < 10,
        "the producer stopped soon after the reader left (sent {sent})"
    );
}

#[tokio::test]
async fn handler_errors_and_panics_are_500_and_the_bus_keeps_serving() {
    let failing = tower::service_fn(|_r: Request<Body>| async {
        Err::<Response<Body>, _>(std::io::Error::other("database unreachable"))
    });
    let panicking = tower::service_fn(|_r: Request<Body>| async {
        if true {
            panic!("handler bug");
        }
        Ok::<_, Infallible>(Response::new(Body::empty()))
    });
    let bus = Bus::builder()
        .mount("/fail", failing)
        .mount("/panic", panicking)
        .mount("/api", api())
        .build();
    let response = bus.handle().call(get_req("/fail")).await;
    assert_eq!(response.status(), 500);
    assert_eq!(
        text(response).await,
        "the handler failed: database unreachable\n"
    );
    let response = bus.handle().call(get_req("/panic")).await;
    assert_eq!(response.status(), 500);
    assert_eq!(text(response).await, "the handler panicked: handler bug\n");
    assert_eq!(
        bus.handle().call(get_req("/api/users/1")).await.status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_requests_are_all_answered() {
    let bus = Bus::builder().mount("/api", api()).build();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10_000u64 {
        let bus = bus.handle();
        tasks.spawn(async move {
            let response = bus.call(get_req(&format!("/api/users/{i}"))).await;
            assert_eq!(response.status(), 200);
            let body = text(response).await;
            assert_eq!(body, format!(r#"{{"id":{i},"limit":null}}"#));
        });
    }
    let mut answered = 0;
    while let Some(result) = tasks.join_next().await {
        result.unwrap();
        answered += 1;
    }
    assert_eq!(answered, 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_in_flight_requests_and_refuses_new_ones() {
    let hang = tower::service_fn(|_r: Request<Body>| async {
        std::future::pending::<()>().await;
        Ok::<_, Infallible>(Response::new(Body::empty()))
    });
    let bus = Bus::builder().mount("/hang", hang).build();
    let handle = bus.handle();
    let pending = tokio::spawn({
        let handle = handle.clone();
        async move { handle.call(get_req("/hang")).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(bus);
    let response = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(text(response).await, "the bus is shut down\n");
    assert_eq!(handle.call(get_req("/hang")).await.status(), 503);
    assert!(handle.runtime().is_err());
}
