//! The safe request API behind `bus_ios_request_*`: one HTTP request from the host (a
//! `WKURLSchemeTask`), its body pushed in chunks, its response delivered to a
//! [`ResponseSink`] within the credit the host grants.
//!
//! Life of a request: [`RequestSpec::parse`] validates the head, builds the `http::Request` with the
//! caller the host vouched for ([`prepare`]), and [`Prepared::launch`] spawns the response pump on the bus's runtime; the
//! pump calls the bus, delivers the head, then body chunks — each only within credit
//! ([`credit`]) — then the end or an error. [`cancel`] stops it (the handler's future and
//! body are dropped); [`free`] forgets the handle (and cancels what still runs).

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use bus_core::protocol::MAX_DATA;
use bus_core::{Body, BusHandle, Caller, FrameKind, Transport};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, header};
use http_body_util::BodyExt;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

use crate::error::{Error, Status};
use crate::gate::Gate;
use crate::registry::{self, REQUESTS};
use crate::upload::Upload;

/// Largest chunk a response callback is given (1 MiB).
pub(crate) const MAX_RESPONSE_CHUNK: usize = MAX_DATA;

/// Where a request's response goes: the host's callbacks.
///
/// Called from bus worker threads, one call at a time per request, in order: `head`, then
/// `data` any number of times, then `end` or `error` — or `error` alone if the bus shut
/// down before the head. Nothing after a cancel. Dropping the sink is the host's cue that
/// its context is no longer used.
pub(crate) trait ResponseSink: Send + Sync + 'static {
    /// The response head. `headers` are borrowed for the call.
    fn head(&self, status: u16, headers: &[(&[u8], &[u8])]);
    /// A chunk of the body (never empty), borrowed for the call.
    fn data(&self, chunk: &[u8]);
    /// The body ended normally.
    fn end(&self);
    /// The response failed: `status` is [`Status::Closed`] (the bus shut down) or
    /// [`Status::BodyFailed`].
    fn error(&self, status: Status, message: &str);
}

/// Who sent a request, as the host reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CallerSource {
    /// The host verified the origin and frame itself (from `WKFrameInfo`).
    Verified {
        /// `None` for an opaque or unknown origin.
        origin: Option<String>,
        /// Which frame.
        frame: FrameKind,
    },
    /// A `WKURLSchemeTask`, which comes with no frame information: the origin is taken
    /// from what the engine attached ([`Caller::from_engine_headers`]: `Origin`, fetch
    /// metadata, `Referer`), else the caller is anonymous (fails closed). The frame is
    /// unknown. A request for another host than `app_origin`'s is answered 421.
    SchemeHeaders {
        /// The app's own origin.
        app_origin: String,
    },
}

/// A request head as the host gives it, validated.
#[derive(Debug)]
pub(crate) struct RequestSpec {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) caller: CallerSource,
    /// Whether a body follows (`write`… then `end`); without one the body is empty.
    pub(crate) has_body: bool,
    /// Response bytes the host accepts before its first [`credit`].
    pub(crate) window: u32,
}

impl RequestSpec {
    /// Validates the raw head. Sizes are checked by the caller (before it reads them).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first part that is not valid HTTP.
    pub(crate) fn parse(
        method: &[u8],
        url: &[u8],
        headers: &[(&[u8], &[u8])],
        caller: CallerSource,
        has_body: bool,
        window: u32,
    ) -> Result<Self, Error> {
        let method = Method::from_bytes(method).map_err(|_| {
            Error::InvalidArgument(format!(
                "invalid method {:?}",
                String::from_utf8_lossy(method)
            ))
        })?;
        let uri = Uri::try_from(url).map_err(|e| {
            Error::InvalidArgument(format!(
                "invalid URL {:?}: {e}",
                String::from_utf8_lossy(url)
            ))
        })?;
        let mut map = HeaderMap::with_capacity(headers.len());
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name).map_err(|_| {
                Error::InvalidArgument(format!(
                    "invalid header name {:?}",
                    String::from_utf8_lossy(name)
                ))
            })?;
            let value = HeaderValue::from_bytes(value).map_err(|_| {
                Error::InvalidArgument(format!("invalid value for header {name:?}"))
            })?;
            map.append(name, value);
        }
        Ok(RequestSpec {
            method,
            uri,
            headers: map,
            caller,
            has_body,
            window,
        })
    }

    fn caller(&self) -> Caller {
        match &self.caller {
            CallerSource::Verified { origin, frame } => {
                let caller = Caller::new(Transport::Scheme).with_frame(*frame);
                match origin {
                    Some(origin) => caller.with_origin(origin),
                    None => caller,
                }
            }
            CallerSource::SchemeHeaders { app_origin } => {
                caller_from_headers(&self.uri, &self.headers, app_origin)
            }
        }
    }
}

/// Who sent a scheme request, from what WebKit attached (see
/// [`Caller::from_engine_headers`]).
pub(crate) fn caller_from_headers(target: &Uri, headers: &HeaderMap, app_origin: &str) -> Caller {
    Caller::from_engine_headers(Transport::Scheme, target, headers, app_origin)
}

/// Why a scheme request names another host than the app's, if it does.
fn misdirected(spec: &RequestSpec) -> Option<String> {
    let CallerSource::SchemeHeaders { app_origin } = &spec.caller else {
        return None;
    };
    let app_authority = app_origin.split_once("://").map_or("", |(_, a)| a);
    // A relative URI names no other host (WebKit always gives absolute ones; the C tests
    // and hosts that build requests themselves may not).
    let ok = spec
        .uri
        .authority()
        .is_none_or(|a| a.as_str().eq_ignore_ascii_case(app_authority));
    (!ok).then(|| format!("{}: this scheme serves {app_origin} only", spec.uri))
}

/// A started request, as its registry entry.
#[derive(Debug)]
pub(crate) struct Request {
    upload: Option<Arc<Upload>>,
    credit: Arc<Credit>,
    delivery: Arc<Delivery>,
    task: AbortHandle,
    /// Set by the first [`cancel`].
    cancelled: Mutex<bool>,
}

/// The sink behind its gate.
struct Delivery {
    gate: Gate,
    sink: Box<dyn ResponseSink>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("closed", &self.gate.is_closed())
            .finish_non_exhaustive()
    }
}

/// Releases the response pump when dropped: the host has stored the request's handle by
/// then, so a callback that uses the handle finds it.
#[derive(Debug)]
pub(crate) struct Armed(#[allow(dead_code)] oneshot::Sender<()>);

/// A request ready to start: the bus and its runtime were found, the `http::Request`
/// is built. Launching it cannot fail, so a host's callbacks are taken (and eventually
/// released) only once the request is sure to start.
#[derive(Debug)]
pub(crate) struct Prepared {
    bus: BusHandle,
    runtime: tokio::runtime::Handle,
    request: http::Request<Body>,
    caller: Caller,
    misdirected: Option<String>,
    upload: Option<Arc<Upload>>,
    window: u32,
}

/// Prepares a request on the bus behind `bus`.
///
/// # Errors
/// [`Error::BadHandle`] for an unknown bus; [`Error::Closed`] when the bus is shut down.
pub(crate) fn prepare(bus: u64, spec: RequestSpec) -> Result<Prepared, Error> {
    let bus = registry::bus(bus)?;
    let runtime = bus
        .runtime()
        .map_err(|_| Error::Closed("the bus is shut down"))?;
    let caller = spec.caller();
    let misdirected = misdirected(&spec);
    let (upload, body) = if spec.has_body {
        let (upload, body) = Upload::new();
        (Some(upload), Body::new(body))
    } else {
        (None, Body::empty())
    };
    let mut request = http::Request::new(body);
    *request.method_mut() = spec.method;
    *request.uri_mut() = spec.uri;
    *request.headers_mut() = spec.headers;
    Ok(Prepared {
        bus,
        runtime,
        request,
        caller,
        misdirected,
        upload,
        window: spec.window,
    })
}

impl Prepared {
    /// Starts the request: registers its handle and spawns the response pump, which
    /// waits until the returned [`Armed`] is dropped.
    pub(crate) fn launch(self, sink: Box<dyn ResponseSink>) -> (u64, Armed) {
        let credit = Arc::new(Credit::new(self.window));
        let delivery = Arc::new(Delivery {
            gate: Gate::new(),
            sink,
        });
        // Made here, not in the pump, so that a pump dropped before its first poll (the
        // runtime shut down just now) still tells the host.
        let guard = PumpGuard {
            delivery: Arc::clone(&delivery),
            done: false,
        };
        let (armed, go) = oneshot::channel();
        let task = self.runtime.spawn(pump(
            self.bus,
            (self.caller, self.misdirected),
            self.request,
            Arc::clone(&credit),
            guard,
            go,
        ));
        let handle = REQUESTS.insert(Arc::new(Request {
            upload: self.upload,
            credit,
            delivery,
            task: task.abort_handle(),
            cancelled: Mutex::new(false),
        }));
        (handle, Armed(armed))
    }
}

/// Pushes a chunk of the request body, waiting up to `timeout` for room.
///
/// # Errors
/// [`Error::BadHandle`]; [`Error::InvalidState`] for a request without a body or after
/// [`end`]; [`Error::Closed`] when the handler no longer reads it or the request was
/// cancelled; [`Error::WouldBlock`] when there was no room in time.
pub(crate) fn write(handle: u64, chunk: &[u8], timeout: Duration) -> Result<(), Error> {
    let request = REQUESTS.get(handle)?;
    request.upload()?.write(chunk, timeout)
}

/// Ends the request body.
///
/// # Errors
/// [`Error::BadHandle`]; [`Error::InvalidState`] for a request without a body or when it
/// was already ended.
pub(crate) fn end(handle: u64) -> Result<(), Error> {
    let request = REQUESTS.get(handle)?;
    request.upload()?.end()
}

/// Allows `bytes` more response bytes. Credit for a request that finished or was
/// cancelled is ignored (the two race).
///
/// # Errors
/// [`Error::BadHandle`].
pub(crate) fn credit(handle: u64, bytes: u32) -> Result<(), Error> {
    REQUESTS.get(handle)?.credit.grant(bytes);
    Ok(())
}

/// Cancels the request: the handler's future and body are dropped, the request body is
/// refused, and no callback runs once this returns (called from outside a callback).
/// Cancelling a request whose response already ended is fine (the two race).
///
/// # Errors
/// [`Error::BadHandle`]; [`Error::InvalidState`] when it was already cancelled.
pub(crate) fn cancel(handle: u64) -> Result<(), Error> {
    let request = REQUESTS.get(handle)?;
    if !request.cancel() {
        return Err(Error::InvalidState("the request was already cancelled"));
    }
    Ok(())
}

/// Forgets the handle, cancelling the request if it still runs. The host's context is
/// released once the pump is gone too.
///
/// # Errors
/// [`Error::BadHandle`] (e.g. when it was already freed).
pub(crate) fn free(handle: u64) -> Result<(), Error> {
    let request = REQUESTS.remove(handle)?;
    request.cancel();
    drop(request);
    Ok(())
}

impl Request {
    fn upload(&self) -> Result<&Upload, Error> {
        self.upload.as_deref().ok_or(Error::InvalidState(
            "this request has no body (it was started without one)",
        ))
    }

    /// Returns false when it was already cancelled.
    fn cancel(&self) -> bool {
        let mut cancelled = self.cancelled.lock().unwrap_or_else(|e| e.into_inner());
        if *cancelled {
            return false;
        }
        *cancelled = true;
        drop(cancelled);
        // Close the gate first: a pump past its last await must not deliver more.
        self.delivery.gate.close();
        if let Some(upload) = &self.upload {
            upload.close();
        }
        self.task.abort();
        true
    }
}

/// Delivers a terminal error if the pump is dropped before it finished — which happens
/// only when the bus's runtime shuts down (a cancel closes the gate first).
struct PumpGuard {
    delivery: Arc<Delivery>,
    done: bool,
}

impl Drop for PumpGuard {
    fn drop(&mut self) {
        if !self.done {
            self.delivery.gate.run_last(|| {
                self.delivery.sink.error(
                    Status::Closed,
                    "the bus shut down before the response was complete",
                )
            });
        }
    }
}

enum Outcome {
    End,
    Failed(Status, String),
    /// The gate closed (cancelled): say nothing.
    Silent,
}

async fn pump(
    bus: BusHandle,
    (caller, misdirected): (Caller, Option<String>),
    request: http::Request<Body>,
    credit: Arc<Credit>,
    mut guard: PumpGuard,
    go: oneshot::Receiver<()>,
) {
    // Either value means go: the host has the handle (or `launch`'s caller unwound).
    let _ = go.await;
    let delivery = Arc::clone(&guard.delivery);
    let head_request = request.method() == Method::HEAD;
    let response = match misdirected {
        None => bus.call_from(caller, request).await,
        Some(why) => {
            let mut response = http::Response::new(Body::from(format!("{why}\n")));
            *response.status_mut() = http::StatusCode::MISDIRECTED_REQUEST;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        }
    };
    let (mut parts, body) = response.into_parts();
    // What an HTTP server would add: WebKit shows progress and checks the length with it.
    if !parts.headers.contains_key(header::CONTENT_LENGTH)
        && !head_request
        && parts.status != http::StatusCode::NO_CONTENT
        && parts.status != http::StatusCode::NOT_MODIFIED
        && let Some(len) = body.exact_len()
    {
        parts.headers.insert(header::CONTENT_LENGTH, len.into());
    }
    let headers: Vec<(&[u8], &[u8])> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes()))
        .collect();
    let status = parts.status.as_u16();
    if !delivery.gate.run(|| delivery.sink.head(status, &headers)) {
        guard.done = true;
        return;
    }
    drop(headers);
    let shut_down = || {
        Outcome::Failed(
            Status::Closed,
            "the bus shut down before the response was complete".into(),
        )
    };
    let outcome = tokio::select! {
        biased;
        () = bus.closed() => shut_down(),
        outcome = stream_body(body, &credit, &delivery) => match outcome {
            // Shutting down drops the tasks that produce bodies, and a channel body whose
            // sender was dropped looks like a body that ended. Reporting a truncated body
            // as complete would be worse than failing one that did complete just then.
            Outcome::End if bus.is_closed() => shut_down(),
            // Nor is a body that failed because the shutdown dropped its producer (a
            // handler's stream erroring as its task goes) the body's own failure: the
            // ASan run of the C tests saw BODY_FAILED here once, racing `bus.closed()`.
            Outcome::Failed(Status::BodyFailed, _) if bus.is_closed() => shut_down(),
            outcome => outcome,
        },
    };
    guard.done = true;
    match outcome {
        Outcome::End => delivery.gate.run_last(|| delivery.sink.end()),
        Outcome::Failed(status, message) => delivery
            .gate
            .run_last(|| delivery.sink.error(status, &message)),
        Outcome::Silent => false,
    };
}

async fn stream_body(mut body: Body, credit: &Credit, delivery: &Delivery) -> Outcome {
    loop {
        match body.frame().await {
            None => return Outcome::End,
            Some(Err(e)) => {
                return Outcome::Failed(
                    Status::BodyFailed,
                    format!("the response body failed: {e}"),
                );
            }
            Some(Ok(frame)) => {
                let Ok(mut data) = frame.into_data() else {
                    continue; // trailers are not carried
                };
                while !data.is_empty() {
                    let n = credit.take(data.len().min(MAX_RESPONSE_CHUNK)).await;
                    let chunk: Bytes = data.split_to(n);
                    if !delivery.gate.run(|| delivery.sink.data(&chunk)) {
                        return Outcome::Silent;
                    }
                }
            }
        }
    }
}

/// The response credit the Swift side grants after each `didReceive`.
pub(crate) type Credit = bus_core::port::CreditWindow;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Instant;

    use bus_core::Bus;

    /// What a test sink saw.
    #[derive(Debug, PartialEq, Eq)]
    enum Event {
        Head(u16, Vec<(String, String)>),
        Data(Vec<u8>),
        End,
        Error(Status, String),
        Released,
    }

    struct TestSink(Mutex<mpsc::Sender<Event>>);

    impl TestSink {
        fn pair() -> (Box<dyn ResponseSink>, mpsc::Receiver<Event>) {
            let (tx, rx) = mpsc::channel();
            (Box::new(TestSink(Mutex::new(tx))), rx)
        }
        fn send(&self, event: Event) {
            let _ = self.0.lock().unwrap().send(event);
        }
    }

    impl ResponseSink for TestSink {
        fn head(&self, status: u16, headers: &[(&[u8], &[u8])]) {
            let headers = headers
                .iter()
                .map(|(n, v)| {
                    (
                        String::from_utf8_lossy(n).into_owned(),
                        String::from_utf8_lossy(v).into_owned(),
                    )
                })
                .collect();
            self.send(Event::Head(status, headers));
        }
        fn data(&self, chunk: &[u8]) {
            self.send(Event::Data(chunk.to_vec()));
        }
        fn end(&self) {
            self.send(Event::End);
        }
        fn error(&self, status: Status, message: &str) {
            self.send(Event::Error(status, message.into()));
        }
    }

    impl Drop for TestSink {
        fn drop(&mut self) {
            self.send(Event::Released);
        }
    }

    /// What a test bus's handlers did, per bus (tests run in parallel).
    #[derive(Default)]
    struct Counters {
        produced: AtomicU64,
        hang_started: AtomicUsize,
        hang_dropped: AtomicUsize,
    }

    struct CountDrop(Arc<Counters>);
    impl Drop for CountDrop {
        fn drop(&mut self) {
            self.0.hang_dropped.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn test_bus() -> (Bus, Arc<Counters>) {
        let counters = Arc::new(Counters::default());
        let echo = tower::service_fn(|req: http::Request<Body>| async move {
            let caller = req.extensions().get::<Caller>().cloned();
            let origin = caller
                .as_ref()
                .and_then(|c| c.origin().map(str::to_owned))
                .unwrap_or_default();
            let body = req.into_body().collect().await?.to_bytes();
            let mut response = http::Response::new(Body::from(body));
            response
                .headers_mut()
                .insert("x-caller-origin", origin.parse().unwrap());
            Ok::<_, bus_core::BoxError>(response)
        });
        let c = Arc::clone(&counters);
        let large = tower::service_fn(move |_req: http::Request<Body>| {
            let c = Arc::clone(&c);
            async move {
                let (tx, body) = Body::channel(1);
                tokio::spawn(async move {
                    for _ in 0..64 {
                        if tx.send(Bytes::from(vec![7u8; 64 * 1024])).await.is_err() {
                            return;
                        }
                        c.produced.fetch_add(64 * 1024, Ordering::SeqCst);
                    }
                });
                Ok::<_, std::convert::Infallible>(http::Response::new(body))
            }
        });
        let c = Arc::clone(&counters);
        let hang = tower::service_fn(move |_req: http::Request<Body>| {
            let c = Arc::clone(&c);
            async move {
                c.hang_started.fetch_add(1, Ordering::SeqCst);
                let _count = CountDrop(c);
                std::future::pending::<()>().await;
                Ok::<_, std::convert::Infallible>(http::Response::new(Body::empty()))
            }
        });
        let bus = Bus::builder()
            .app_origin("app://localhost")
            .mount("/echo", echo)
            .mount("/large", large)
            .mount("/hang", hang)
            .build();
        (bus, counters)
    }

    fn wait_for(what: &str, condition: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn spec(method: &str, url: &str, has_body: bool, window: u32) -> RequestSpec {
        RequestSpec::parse(
            method.as_bytes(),
            url.as_bytes(),
            &[],
            CallerSource::Verified {
                origin: Some("app://localhost".into()),
                frame: FrameKind::Main,
            },
            has_body,
            window,
        )
        .unwrap()
    }

    fn start_test(
        bus: u64,
        spec: RequestSpec,
        sink: Box<dyn ResponseSink>,
    ) -> Result<(u64, Armed), Error> {
        Ok(prepare(bus, spec)?.launch(sink))
    }

    fn recv(rx: &mpsc::Receiver<Event>) -> Event {
        rx.recv_timeout(Duration::from_secs(10)).expect("an event")
    }

    #[test]
    fn heads_are_validated() {
        let caller = CallerSource::SchemeHeaders {
            app_origin: "app://localhost".into(),
        };
        let bad = [
            (&b"G ET"[..], &b"/x"[..], &[][..]),
            (b"GET", b"http://[::1", &[]),
            (b"GET", b"/x", &[(&b"bad name"[..], &b"v"[..])]),
            (b"GET", b"/x", &[(&b"ok"[..], &b"line\nbreak"[..])]),
        ];
        for (method, url, headers) in bad {
            let err =
                RequestSpec::parse(method, url, headers, caller.clone(), false, 0).unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
        }
        let ok = RequestSpec::parse(
            b"POST",
            b"app://localhost/echo?x=1",
            &[(b"Content-Type", b"text/plain")],
            caller,
            true,
            0,
        )
        .unwrap();
        assert_eq!(ok.headers["content-type"], "text/plain");
    }

    #[test]
    fn other_hosts_on_the_app_scheme_are_misdirected() {
        let spec = |url: &str| RequestSpec {
            method: Method::GET,
            uri: url.parse().unwrap(),
            headers: HeaderMap::new(),
            caller: CallerSource::SchemeHeaders {
                app_origin: "app://localhost".into(),
            },
            has_body: false,
            window: 0,
        };
        assert_eq!(misdirected(&spec("app://localhost/x")), None);
        assert_eq!(misdirected(&spec("APP://LOCALHOST/x")), None);
        assert_eq!(misdirected(&spec("/x")), None);
        for other in [
            "app://other/x",
            "app://localhost.evil/x",
            "app://localhost:8080/x",
        ] {
            assert!(misdirected(&spec(other)).is_some(), "{other}");
        }
    }

    #[test]
    fn the_scheme_caller_fails_closed() {
        let app = "app://localhost";
        let target: Uri = "app://localhost/api".parse().unwrap();
        let headers = |pairs: &[(&'static str, &'static str)]| {
            pairs
                .iter()
                .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
                .collect::<HeaderMap>()
        };
        let c = caller_from_headers(&target, &headers(&[("origin", "evil://x")]), app);
        assert_eq!(c.origin(), Some("evil://x"));
        let c = caller_from_headers(
            &target,
            &headers(&[("referer", "app://localhost/a/b?c")]),
            app,
        );
        assert!(c.is_origin(app));
        assert_eq!(c.transport(), Transport::Scheme);
        let c = caller_from_headers(&target, &headers(&[("referer", "evil://x/p")]), app);
        assert_eq!(c.origin(), Some("evil://x"));
        // Nothing attached: anonymous, GET included (an <img> of any page looks like this).
        assert!(caller_from_headers(&target, &HeaderMap::new(), app).is_anonymous());
    }

    #[test]
    fn an_upload_is_echoed_and_the_context_released_after_free() {
        let (bus, _) = test_bus();
        let id = crate::register_handle(bus.handle());
        let (sink, rx) = TestSink::pair();
        let (handle, armed) =
            start_test(id.get(), spec("POST", "/echo", true, 1 << 20), sink).unwrap();
        drop(armed);
        for _ in 0..10 {
            write(handle, &[b'a'; 1000], Duration::from_secs(5)).unwrap();
        }
        end(handle).unwrap();
        assert!(matches!(end(handle), Err(Error::InvalidState(_))));
        let Event::Head(200, headers) = recv(&rx) else {
            panic!("no head")
        };
        assert!(headers.contains(&("x-caller-origin".into(), "app://localhost".into())));
        assert!(headers.contains(&("content-length".into(), "10000".into())));
        let mut body = Vec::new();
        loop {
            match recv(&rx) {
                Event::Data(d) => body.extend(d),
                Event::End => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(body, vec![b'a'; 10_000]);
        // Cancelling after the end races harmlessly; the second cancel is a bug.
        cancel(handle).unwrap();
        assert!(matches!(cancel(handle), Err(Error::InvalidState(_))));
        free(handle).unwrap();
        assert_eq!(recv(&rx), Event::Released);
        assert!(matches!(free(handle), Err(Error::BadHandle { .. })));
        assert!(matches!(
            write(handle, b"x", Duration::ZERO),
            Err(Error::BadHandle { .. })
        ));
        crate::unregister(id).unwrap();
    }

    #[test]
    fn a_host_that_grants_no_credit_holds_the_producer_back() {
        let (bus, counters) = test_bus();
        let id = crate::register_handle(bus.handle());
        let (sink, rx) = TestSink::pair();
        let (handle, armed) =
            start_test(id.get(), spec("GET", "/large", false, 100_000), sink).unwrap();
        drop(armed);
        assert!(matches!(recv(&rx), Event::Head(200, _)));
        let mut got = 0;
        while got < 100_000 {
            match recv(&rx) {
                Event::Data(d) => got += d.len(),
                other => panic!("unexpected {other:?}"),
            }
        }
        std::thread::sleep(Duration::from_millis(200));
        assert!(rx.try_recv().is_err(), "nothing beyond the window");
        let produced = counters.produced.load(Ordering::SeqCst);
        assert!(
            produced <= 100_000 + 3 * 64 * 1024,
            "the producer ran ahead: {produced}"
        );
        credit(handle, u32::MAX).unwrap();
        loop {
            match recv(&rx) {
                Event::Data(d) => got += d.len(),
                Event::End => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(got, 64 * 64 * 1024);
        free(handle).unwrap();
        crate::unregister(id).unwrap();
    }

    #[test]
    fn cancel_drops_the_handler_and_silences_the_callbacks() {
        let (bus, counters) = test_bus();
        let id = crate::register_handle(bus.handle());
        let (sink, rx) = TestSink::pair();
        let (handle, armed) = start_test(id.get(), spec("POST", "/hang", true, 0), sink).unwrap();
        drop(armed);
        wait_for("the handler", || {
            counters.hang_started.load(Ordering::SeqCst) == 1
        });
        // The handler holds the body without reading: the queue fills, then writes wait.
        let mut queued = 0;
        while write(handle, &[0; 64 * 1024], Duration::ZERO).is_ok() {
            queued += 64 * 1024;
            assert!(queued <= crate::upload::QUEUE_BYTES);
        }
        cancel(handle).unwrap();
        assert!(matches!(
            write(handle, b"x", Duration::ZERO),
            Err(Error::Closed(_))
        ));
        wait_for("the handler to be dropped", || {
            counters.hang_dropped.load(Ordering::SeqCst) == 1
        });
        free(handle).unwrap();
        assert_eq!(recv(&rx), Event::Released, "no callback but the release");
        crate::unregister(id).unwrap();
    }

    #[test]
    fn a_shut_down_bus_refuses_new_requests_and_fails_running_ones() {
        let (bus, counters) = test_bus();
        let id = crate::register(bus);
        let (sink, rx) = TestSink::pair();
        let (handle, armed) = start_test(id.get(), spec("GET", "/hang", false, 0), sink).unwrap();
        drop(armed);
        wait_for("the handler", || {
            counters.hang_started.load(Ordering::SeqCst) == 1
        });
        crate::unregister(id).unwrap();
        match recv(&rx) {
            Event::Error(Status::Closed, _) => {}
            // The bus answered 503 first; its body then ends, or the shutdown cuts it.
            Event::Head(503, _) => loop {
                match recv(&rx) {
                    Event::Data(_) => continue,
                    Event::End | Event::Error(Status::Closed, _) => break,
                    other => panic!("unexpected {other:?}"),
                }
            },
            other => panic!("unexpected {other:?}"),
        }
        free(handle).unwrap();
        assert_eq!(recv(&rx), Event::Released);
        let (sink, _rx) = TestSink::pair();
        drop(sink);
        assert!(matches!(
            prepare(id.get(), spec("GET", "/hang", false, 0)),
            Err(Error::BadHandle { .. })
        ));

        let (bus, _) = test_bus();
        let id = crate::register_handle(bus.handle());
        drop(bus);
        let (sink, _rx) = TestSink::pair();
        drop(sink);
        assert!(matches!(
            prepare(id.get(), spec("GET", "/hang", false, 0)),
            Err(Error::Closed(_))
        ));
        crate::unregister(id).unwrap();
    }
}
