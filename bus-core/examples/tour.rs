//! A tour of the bus: real requests through an axum API and a ServeDir, in process and
//! through the framed port from a plain thread, each printed with its answer — and proof
//! that the process holds no listening socket.
//!
//! Run: `cargo run -p bus-core --example tour`. Needs no WebView and no platform library.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use bus_core::port::{Session, SessionConfig, encoded};
use bus_core::protocol::{Frame, decode, encode};
use bus_core::{Body, Bus, BusHandle, Caller, FrameKind, Mount, Transport};
use bytes::Bytes;
use http::{Request, Response, header};
use http_body_util::BodyExt;

type Notes = Arc<Mutex<Vec<String>>>;

fn api() -> Router {
    let notes: Notes = Arc::new(Mutex::new(vec!["first note".into()]));
    Router::new()
        .route(
            "/notes",
            get(|State(n): State<Notes>| async move { axum::Json(n.lock().unwrap().clone()) })
                .post(
                    |State(n): State<Notes>, axum::Json(text): axum::Json<String>| async move {
                        let mut n = n.lock().unwrap();
                        n.push(text);
                        (
                            http::StatusCode::CREATED,
                            axum::Json(serde_json::json!({ "id": n.len() - 1 })),
                        )
                    },
                ),
        )
        .route(
            "/notes/{id}",
            get(|State(n): State<Notes>, Path(id): Path<usize>| async move {
                match n.lock().unwrap().get(id) {
                    Some(t) => Ok(axum::Json(t.clone())),
                    None => Err((http::StatusCode::NOT_FOUND, format!("no note {id}\n"))),
                }
            }),
        )
        .route(
            "/ticks",
            get(|| async {
                let (tx, body) = Body::channel(1);
                tokio::spawn(async move {
                    for i in 1..=3 {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        if tx
                            .send(Bytes::from(format!("data: tick {i}\n\n")))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                });
                Response::builder()
                    .header(header::CONTENT_TYPE, "text/event-stream")
                    .body(axum::body::Body::new(body))
                    .unwrap()
            }),
        )
        .with_state(notes)
}

async fn show(bus: &BusHandle, label: &str, request: Request<Body>) {
    let line = format!("{} {}", request.method(), request.uri());
    let started = Instant::now();
    let response = bus.call(request).await;
    let head_at = started.elapsed();
    let status = response.status();
    let kind = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let range = response
        .headers()
        .get(header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|r| format!(" [{r}]"))
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&body);
    let preview: String = text.trim_end().chars().take(70).collect();
    println!(
        "  {label:<28} {line:<44} -> {} {kind}{range} ({} bytes, head in {:?})\n  {:<28} {preview}",
        status.as_u16(),
        body.len(),
        head_at,
        ""
    );
}

fn get_req(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn main() {
    let assets = concat!(env!("CARGO_MANIFEST_DIR"), "/assets");
    let bus = Bus::builder()
        .app_origin("app://localhost")
        .mount("/api", api())
        .mount_with(Mount::new(
            "/static",
            tower_http::services::ServeDir::new(assets),
        ))
        .mount_with(
            Mount::new(
                "/upload",
                tower::service_fn(|r: Request<Body>| async move {
                    let n = r
                        .into_body()
                        .collect()
                        .await
                        .map(|c| c.to_bytes().len())
                        .unwrap_or(0);
                    Ok::<_, Infallible>(Response::new(Body::from(format!("received {n} bytes"))))
                }),
            )
            .max_body(Some(1024)),
        )
        .build();

    println!(
        "The bus: {} mounts, no listener. In-process calls (bus.call):",
        3
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let bus = bus.handle();
        show(&bus, "JSON list", get_req("app://localhost/api/notes")).await;
        let post = Request::post("app://localhost/api/notes")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("\"written through the bus\""))
            .unwrap();
        show(&bus, "JSON create (axum Json)", post).await;
        show(
            &bus,
            "path parameter",
            get_req("app://localhost/api/notes/1"),
        )
        .await;
        show(
            &bus,
            "handler's own 404",
            get_req("app://localhost/api/notes/9"),
        )
        .await;
        show(
            &bus,
            "static file (ServeDir)",
            get_req("app://localhost/static/hello.txt"),
        )
        .await;
        let range = Request::get("app://localhost/static/hello.txt")
            .header(header::RANGE, "bytes=0-4")
            .body(Body::empty())
            .unwrap();
        show(&bus, "Range request", range).await;
        show(&bus, "unknown route", get_req("app://localhost/nowhere")).await;
        let mut foreign = get_req("app://localhost/api/notes");
        foreign
            .extensions_mut()
            .insert(Caller::new(Transport::Scheme).with_origin("https://evil.example"));
        show(&bus, "foreign origin", foreign).await;
        let big = Request::post("app://localhost/upload")
            .body(Body::from(vec![0u8; 4096]))
            .unwrap();
        show(&bus, "body over the mount limit", big).await;

        println!("\n  streaming (text/event-stream), chunk by chunk:");
        let started = Instant::now();
        let mut body = bus
            .call(get_req("app://localhost/api/ticks"))
            .await
            .into_body();
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            println!(
                "    +{:>4} ms  {:?}",
                started.elapsed().as_millis(),
                String::from_utf8_lossy(&data)
            );
        }
    });

    println!("\nThrough the framed port, driven from a plain OS thread (as JNI or C would):");
    let (tx, rx) = std::sync::mpsc::channel::<Bytes>();
    let page = Caller::new(Transport::Frames)
        .with_origin("app://localhost")
        .with_frame(FrameKind::Main);
    let session = Session::new(
        &bus.handle(),
        SessionConfig::new(page),
        encoded(move |b| {
            let _ = tx.send(b);
        }),
    )
    .unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            let head = encode(&Frame::RequestHead {
                stream: 1,
                method: "POST".into(),
                uri: "app://localhost/upload".into(),
                headers: vec![(
                    "content-type".into(),
                    Bytes::from_static(b"application/octet-stream"),
                )],
                end_stream: false,
                window: 64 * 1024,
            });
            println!("  page -> bus  RequestHead  ({} bytes)", head.len());
            session.receive(head).unwrap();
            let data = encode(&Frame::RequestData {
                stream: 1,
                data: Bytes::from(vec![1u8; 700]),
            });
            println!("  page -> bus  RequestData  ({} bytes)", data.len());
            session.receive(data).unwrap();
            session
                .receive(encode(&Frame::RequestEnd { stream: 1 }))
                .unwrap();
            println!("  page -> bus  RequestEnd");
            let garbage = Bytes::from_static(b"\x01\xffnot a frame");
            println!("  page -> bus  12 bytes of garbage");
            let _ = session.receive(garbage);
            loop {
                let bytes = rx.recv_timeout(Duration::from_secs(5)).unwrap();
                let frame = decode(bytes.clone()).unwrap();
                let detail = match &frame {
                    Frame::ResponseHead { status, .. } => format!("status {status}"),
                    Frame::ResponseData { data, .. } => {
                        format!("{:?}", String::from_utf8_lossy(data))
                    }
                    Frame::Credit { bytes, .. } => format!("{bytes} more bytes of upload credit"),
                    Frame::Error { code, message, .. } => format!("{code:?}: {message}"),
                    _ => String::new(),
                };
                println!(
                    "  bus -> page  {:<12} ({} bytes) {detail}",
                    frame.name(),
                    bytes.len()
                );
                if matches!(frame, Frame::ResponseEnd { .. }) {
                    break;
                }
            }
        });
    });

    match testkit::sockets::listeners(&[std::process::id()]) {
        Ok(found) if found.is_empty() => {
            println!("\nListening sockets held by this process (read from /proc): none.")
        }
        Ok(found) => {
            println!("\nListening sockets held by this process: {found:?}");
            std::process::exit(1);
        }
        Err(e) => println!("\nCould not read /proc to check for listening sockets: {e}"),
    }
}
