//! The bus as a `tower::Service`: tower-http layers around it, as around any HTTP client.

use std::convert::Infallible;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;
use bus_core::{Body, Bus, BusHandle, Caller, FrameKind, Mount, Transport};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_http::add_extension::AddExtensionLayer;
use tower_http::follow_redirect::{FollowRedirectLayer, RequestUri};
use tower_http::set_header::SetResponseHeaderLayer;

fn bus() -> Bus {
    // The old address is public (as a page's pictures are); the API it now points to is not.
    let old = Router::new().route("/page", get(|| async { Redirect::to("/api/page") }));
    let api = Router::new().route("/page", get(|| async { "the page" }));
    Bus::builder()
        .app_origin("app://localhost")
        .mount_with(Mount::new("/old", old).public())
        .mount("/api", api)
        .build()
}

fn get_req(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

async fn text(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// A `BusHandle` satisfies every bound tower's combinators and tower-http's layers ask of a
/// client service.
fn assert_service<S>(_: &S)
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
}

#[tokio::test]
async fn follow_redirect_and_a_response_header_layer_wrap_the_bus() {
    let bus = bus();
    assert_service(&bus.handle());
    let mut client = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            http::header::SERVER,
            HeaderValue::from_static("bus"),
        ))
        .layer(FollowRedirectLayer::new())
        .service(bus.handle());

    let response = client
        .ready()
        .await
        .unwrap()
        .call(get_req("app://localhost/old/page"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[http::header::SERVER], "bus");
    assert_eq!(
        response.extensions().get::<RequestUri>().unwrap().0,
        "app://localhost/api/page",
        "the redirect was followed on the bus"
    );
    assert_eq!(text(response).await, "the page");

    // The same request without the layer sees the redirect itself.
    let direct = bus
        .handle()
        .oneshot(get_req("app://localhost/old/page"))
        .await;
    let direct = direct.unwrap();
    assert_eq!(direct.status(), StatusCode::SEE_OTHER);
    assert_eq!(direct.headers()[http::header::LOCATION], "/api/page");
}

#[tokio::test]
async fn a_caller_added_inside_the_redirect_layer_holds_for_every_hop() {
    // FollowRedirect rebuilds the request for each hop without its extensions: a `Caller`
    // must be added inside it (next to the bus), or the next hop runs as in-process.
    let bus = bus();
    let client = |caller: Caller| {
        ServiceBuilder::new()
            .layer(FollowRedirectLayer::new())
            .layer(AddExtensionLayer::new(caller))
            .service(bus.handle())
    };
    let page = Caller::new(Transport::Frames)
        .with_origin("app://localhost")
        .with_frame(FrameKind::Main);
    let app = client(page).oneshot(get_req("app://localhost/old/page"));
    assert_eq!(app.await.unwrap().status(), StatusCode::OK);

    let anonymous = client(Caller::anonymous(Transport::Scheme));
    let refused = anonymous
        .oneshot(get_req("app://localhost/old/page"))
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "the public redirect does not open the API to an anonymous caller"
    );
}

#[tokio::test]
async fn the_service_is_always_ready_and_errors_are_responses() {
    let bus = bus();
    let mut handle: BusHandle = bus.handle();
    let ready = std::future::poll_fn(|cx| handle.poll_ready(cx)).await;
    assert!(ready.is_ok());
    let missing = Service::call(&mut handle, get_req("/nowhere"))
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    drop(bus);
    let closed = Service::call(&mut handle, get_req("/api/page"))
        .await
        .unwrap();
    assert_eq!(closed.status(), StatusCode::SERVICE_UNAVAILABLE);
}

/// A mounted service that is not ready yet (a concurrency limit, a pool being filled): the
/// call waits for the service's own wake-up, then is called and answered; another call
/// made meanwhile waits too, and both answer once it is ready.
#[tokio::test]
async fn a_call_waits_for_a_service_that_is_not_ready() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Waker};

    #[derive(Clone, Default)]
    struct Gated {
        open: Arc<AtomicBool>,
        wakers: Arc<Mutex<Vec<Waker>>>,
    }
    impl Service<Request<Body>> for Gated {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<Body>, Infallible>>;
        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            if self.open.load(Ordering::SeqCst) {
                return Poll::Ready(Ok(()));
            }
            self.wakers.lock().unwrap().push(cx.waker().clone());
            Poll::Pending
        }
        fn call(&mut self, _request: Request<Body>) -> Self::Future {
            std::future::ready(Ok(Response::new(Body::from("ready now"))))
        }
    }

    let gated = Gated::default();
    let bus = Bus::builder().mount("/gated", gated.clone()).build();
    let calls: Vec<_> = (0..2)
        .map(|_| {
            let handle = bus.handle();
            tokio::spawn(async move { handle.call(get_req("/gated")).await })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    assert!(calls.iter().all(|c| !c.is_finished()));
    assert_eq!(bus.handle().in_flight(), 2);
    gated.open.store(true, Ordering::SeqCst);
    for waker in gated.wakers.lock().unwrap().drain(..) {
        waker.wake();
    }
    for call in calls {
        let response = tokio::time::timeout(std::time::Duration::from_secs(10), call)
            .await
            .expect("the call answers once the service is ready")
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(text(response).await, "ready now");
    }
    assert_eq!(bus.handle().in_flight(), 0);
}

/// A service that never gets ready is held to the mount's timeout (504), and a bus shutting
/// down cuts the wait off (503); either way its place in flight comes back.
#[tokio::test]
async fn a_service_that_never_gets_ready_is_timed_out_and_cut_off() {
    use std::task::{Context, Poll};

    #[derive(Clone)]
    struct Never;
    impl Service<Request<Body>> for Never {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<Body>, Infallible>>;
        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Pending
        }
        fn call(&mut self, _request: Request<Body>) -> Self::Future {
            unreachable!("never ready")
        }
    }

    let bus = Bus::builder()
        .mount_with(Mount::new("/timed", Never).timeout(Some(std::time::Duration::from_millis(50))))
        .mount_with(Mount::new("/untimed", Never).timeout(None))
        .build();
    let timed = bus.handle().call(get_req("/timed")).await;
    assert_eq!(timed.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(bus.handle().in_flight(), 0);

    let handle = bus.handle();
    let untimed = tokio::spawn(async move { handle.call(get_req("/untimed")).await });
    while bus.handle().in_flight() == 0 {
        tokio::task::yield_now().await;
    }
    bus.shutdown();
    let response = tokio::time::timeout(std::time::Duration::from_secs(10), untimed)
        .await
        .expect("the shutdown cuts the wait off")
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(bus.handle().in_flight(), 0);
}

/// A framework's body that is complete at once (axum boxes a handler's string) is handed
/// over as one buffer: the call's place in flight comes back with the response, before the
/// body is read.
#[tokio::test]
async fn a_framework_body_complete_at_once_does_not_hold_its_place() {
    let api = Router::new().route("/page", get(|| async { "the page" }));
    let bus = Bus::builder()
        .limits(bus_core::Limits::default().with_max_in_flight(1))
        .mount("/api", api)
        .build();
    let first = bus.handle().call(get_req("/api/page")).await;
    assert_eq!(bus.handle().in_flight(), 0);
    assert_eq!(
        http_body::Body::size_hint(first.body()).exact(),
        Some("the page".len() as u64)
    );
    let second = bus.handle().call(get_req("/api/page")).await;
    assert_eq!(
        second.status(),
        StatusCode::OK,
        "not refused as over the limit"
    );
    assert_eq!(text(first).await, "the page");
    assert_eq!(text(second).await, "the page");
}

/// A body that declares 10 bytes, gives 5 and says it has ended.
struct Short(Option<bytes::Bytes>);

impl http_body::Body for Short {
    type Data = bytes::Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Infallible>>> {
        std::task::Poll::Ready(self.0.take().map(|data| Ok(http_body::Frame::data(data))))
    }
    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }
    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(10)
    }
}

/// A body of known length whose first piece is not all of it keeps its place until it is
/// read to its end, and gives every piece in order (the piece taken to look is not lost);
/// one whose first poll is an error gives that error.
#[tokio::test]
async fn a_body_of_known_length_that_is_not_complete_streams_as_before() {
    let bus = Bus::builder()
        .mount(
            "/pieces",
            tower::service_fn(|_request: Request<Body>| async {
                let (tx, body) = Body::channel_with_len(4, 10);
                tx.try_send(bytes::Bytes::from_static(b"hello")).unwrap();
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    tx.send(bytes::Bytes::from_static(b"world")).await.unwrap();
                });
                Ok::<_, Infallible>(Response::new(body))
            }),
        )
        .mount(
            "/dropped",
            tower::service_fn(|_request: Request<Body>| async {
                let (tx, body) = Body::channel_with_len(4, 10);
                drop(tx);
                Ok::<_, Infallible>(Response::new(body))
            }),
        )
        .mount(
            "/short",
            tower::service_fn(|_request: Request<Body>| async {
                Ok::<_, Infallible>(Response::new(Body::new(Short(Some(
                    bytes::Bytes::from_static(b"hello"),
                )))))
            }),
        )
        .mount(
            "/broken",
            tower::service_fn(|_request: Request<Body>| async {
                let (tx, body) = Body::channel_with_len(4, 10);
                tx.abort("the source failed").await;
                Ok::<_, Infallible>(Response::new(body))
            }),
        )
        .build();
    let response = bus.handle().call(get_req("/pieces")).await;
    assert_eq!(
        http_body::Body::size_hint(response.body()).exact(),
        Some(10)
    );
    assert!(!http_body::Body::is_end_stream(response.body()));
    assert_eq!(bus.handle().in_flight(), 1, "held until the body ends");
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(first, "hello");
    let second = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(second, "world");
    assert!(body.frame().await.is_none());
    assert_eq!(bus.handle().in_flight(), 0);

    // Bodies that end short of the length they declared are not taken for complete: a
    // producer dropped before it sent anything, and one piece with the end too early. The
    // reader gets an error naming the cut, not a shorter body.
    for (path, read) in [("/dropped", 0), ("/short", 5)] {
        let response = bus.handle().call(get_req(path)).await;
        assert_eq!(
            http_body::Body::size_hint(response.body()).exact(),
            Some(10)
        );
        assert_eq!(
            bus.handle().in_flight(),
            1,
            "{path}: held until the body ends"
        );
        let error = response.into_body().collect().await.unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("the response body ended after {read} of the 10 bytes it declared"),
            "{path}"
        );
        assert_eq!(bus.handle().in_flight(), 0);
    }

    let response = bus.handle().call(get_req("/broken")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let error = response.into_body().collect().await.unwrap_err();
    assert!(error.to_string().contains("the source failed"), "{error}");
    assert_eq!(bus.handle().in_flight(), 0);
}
