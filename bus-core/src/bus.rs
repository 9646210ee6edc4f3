//! [`Bus`], [`BusHandle`] and [`BusBuilder`]: the routing table, the limits, and the call
//! pipeline every request goes through.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use http::{Request, Response, header};
use http_body::{Frame, SizeHint};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tower::Service;
use tracing::{Instrument, Span, field};

use crate::body::{Body, BoxError};
use crate::caller::{Caller, Policy};
use crate::cookies::{self, CookieJar};
use crate::error::BusError;
use crate::route::{BoxedService, Mount, Routes, has_dot_segment, strip};

/// The limits every request is held to. Each has a clear answer when exceeded.
///
/// A value: `with_*` return a changed copy, the bare names read. Limits that can be
/// switched off are `Option`s (`None`: no limit), as on [`Mount`].
///
/// ```
/// use bus_core::Limits;
/// use std::time::Duration;
///
/// let limits = Limits::default()
///     .with_max_header_bytes(16 * 1024)
///     .with_max_in_flight(256)
///     .with_max_body(Some(64 << 20))
///     .with_timeout(Some(Duration::from_secs(10)));
/// assert_eq!(limits.max_in_flight(), 256);
/// assert_eq!(limits.max_body(), Some(64 << 20));
/// ```
#[derive(Clone, Debug)]
pub struct Limits {
    max_header_bytes: usize,
    max_in_flight: usize,
    max_body: Option<u64>,
    timeout: Option<Duration>,
    max_message: usize,
}

impl Default for Limits {
    /// 64 KiB of request line and headers, 16,384 requests in flight, 16 MiB request bodies,
    /// 30 s to the response head, 16 MiB WebSocket messages.
    fn default() -> Self {
        Limits {
            max_header_bytes: 64 * 1024,
            max_in_flight: 16 * 1024,
            max_body: Some(16 << 20),
            timeout: Some(Duration::from_secs(30)),
            max_message: 16 << 20,
        }
    }
}

impl Limits {
    /// Bytes of method, URI and headers (`name: value\r\n` each) a request may have. → 431
    pub fn with_max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// Requests running at once, streaming responses included, on the whole bus (at least
    /// 1, at most `u32::MAX`). → 503
    pub fn with_max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = requests.clamp(1, MAX_IN_FLIGHT);
        self
    }

    /// Default request body limit for mounts that set none (`None`: unlimited). → 413
    pub fn with_max_body(mut self, bytes: Option<u64>) -> Self {
        self.max_body = bytes;
        self
    }

    /// Default time to the response head for mounts that set none (`None`: no limit). → 504
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Default WebSocket message limit for mounts that set none (feature `ws`; at least 1).
    /// → close 1009
    pub fn with_max_message(mut self, bytes: usize) -> Self {
        self.max_message = bytes.max(1);
        self
    }

    /// The header limit in bytes.
    pub fn max_header_bytes(&self) -> usize {
        self.max_header_bytes
    }

    /// The in-flight limit.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// The default request body limit in bytes (`None`: unlimited).
    pub fn max_body(&self) -> Option<u64> {
        self.max_body
    }

    /// The default time to the response head (`None`: no limit).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The default WebSocket message limit in bytes.
    pub fn max_message(&self) -> usize {
        self.max_message
    }
}

/// The largest in-flight limit.
const MAX_IN_FLIGHT: usize = u32::MAX as usize;

/// Builds a [`Bus`].
///
/// ```
/// use bus_core::{Bus, Body, Mount, Policy};
///
/// let hello = tower::service_fn(|_req: http::Request<Body>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(Body::from("hello")))
/// });
/// let bus = Bus::builder()
///     .app_origin("app://localhost")
///     .mount("/hello", hello)
///     .build();
/// # drop(bus);
/// ```
#[derive(Debug, Default)]
pub struct BusBuilder {
    mounts: Vec<Mount>,
    app_origins: Vec<String>,
    limits: Limits,
    runtime: Option<Handle>,
    worker_threads: Option<usize>,
    cookies: Option<Option<CookieJar>>,
}

impl BusBuilder {
    /// Mounts a service at `prefix` with the bus's defaults; see [`Mount::new`].
    ///
    /// # Panics
    /// As [`Mount::new`].
    pub fn mount<S, B>(self, prefix: &str, service: S) -> Self
    where
        S: tower::Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.mount_with(Mount::new(prefix, service))
    }

    /// Adds a configured [`Mount`].
    pub fn mount_with(mut self, mount: Mount) -> Self {
        self.mounts.push(mount);
        self
    }

    /// Adds an origin of the app's own pages (`app://localhost`). Mounts without their own
    /// policy allow in-process callers and callers from these origins, and refuse everyone
    /// else; with no app origin at all they allow in-process callers only.
    pub fn app_origin(mut self, origin: &str) -> Self {
        self.app_origins.push(origin.to_owned());
        self
    }

    /// The cookie jar of the app's origins (see [`cookies`](crate::cookies)). Default: a
    /// new in-memory jar when the bus has an app origin; pass
    /// [`CookieJar::persistent`] to keep cookies across restarts, or share a jar between
    /// buses.
    pub fn cookie_jar(mut self, jar: CookieJar) -> Self {
        self.cookies = Some(Some(jar));
        self
    }

    /// No cookie jar: requests keep the `Cookie` headers they came with and responses
    /// their `Set-Cookie`, as before the bus kept cookies.
    pub fn without_cookies(mut self) -> Self {
        self.cookies = Some(None);
        self
    }

    /// Sets the limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Runs bridge work (sessions, blocking calls) on this runtime instead of a runtime
    /// the bus starts (lazily, on first use) and owns.
    pub fn runtime(mut self, handle: Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// Worker threads of the runtime the bus owns (default: 2).
    pub fn worker_threads(mut self, threads: usize) -> Self {
        self.worker_threads = Some(threads.max(1));
        self
    }

    /// Builds the bus.
    ///
    /// # Panics
    /// When two mounts have the same prefix, host and scheme.
    pub fn build(self) -> Bus {
        let default_policy = Policy::origins(&self.app_origins);
        let jar = match self.cookies {
            Some(jar) => jar,
            None if self.app_origins.is_empty() => None,
            None => Some(CookieJar::in_memory()),
        };
        let limits = self.limits;
        let mounts = self
            .mounts
            .into_iter()
            .map(|mut m| {
                m.policy.get_or_insert_with(|| default_policy.clone());
                m.max_body.get_or_insert(limits.max_body);
                m.timeout.get_or_insert(limits.timeout);
                m
            })
            .collect();
        let runtime = match self.runtime {
            Some(handle) => RuntimeSlot::Borrowed(handle),
            None => RuntimeSlot::Owned {
                threads: self.worker_threads.unwrap_or(2),
                runtime: Mutex::new(None),
                handle: OnceLock::new(),
            },
        };
        Bus {
            handle: BusHandle {
                inner: Arc::new(Inner {
                    routes: Routes::new(mounts),
                    gate: Arc::new(Gate {
                        active: AtomicUsize::new(0),
                        limit: limits.max_in_flight,
                        draining: AtomicBool::new(false),
                        idle: Notify::new(),
                    }),
                    limits,
                    shutdown: CancellationToken::new(),
                    shut_down: AtomicBool::new(false),
                    next_id: AtomicU64::new(1),
                    runtime,
                    jar,
                    app_origins: self
                        .app_origins
                        .iter()
                        .filter_map(|o| crate::caller::normalise_origin(o))
                        .collect(),
                }),
            },
        }
    }
}

enum RuntimeSlot {
    Borrowed(Handle),
    Owned {
        threads: usize,
        runtime: Mutex<Option<Runtime>>,
        handle: OnceLock<Handle>,
    },
}

struct Inner {
    routes: Routes,
    limits: Limits,
    gate: Arc<Gate>,
    shutdown: CancellationToken,
    /// Set by `shutdown` just before the token is cancelled.
    shut_down: AtomicBool,
    next_id: AtomicU64,
    runtime: RuntimeSlot,
    jar: Option<CookieJar>,
    /// The app's origins, normalised as [`Caller`] keeps its own.
    app_origins: Vec<String>,
}

/// Admission: the in-flight limit, and the drain a graceful shutdown waits for.
struct Gate {
    /// Requests admitted and not ended. A counter, not a semaphore: nothing waits for a
    /// permit (a request over the limit is refused at once), and releasing a semaphore's
    /// permit took its waiters' lock on every request (issue 16).
    active: AtomicUsize,
    limit: usize,
    /// Set by a graceful shutdown: no new request is admitted, and each one that ends
    /// wakes the drain.
    draining: AtomicBool,
    idle: Notify,
}

impl Gate {
    fn in_flight(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }
}

/// One admitted request; dropping it (when the response ends) lets the next one in.
struct InFlight {
    gate: Arc<Gate>,
}

impl InFlight {
    /// A place under the limit; [`BusError::Overloaded`] when there is none, and
    /// [`BusError::Closed`] when a graceful shutdown began meanwhile.
    fn admit(gate: &Arc<Gate>) -> Result<InFlight, BusError> {
        let mut active = gate.active.load(Ordering::Relaxed);
        loop {
            if active >= gate.limit {
                return Err(BusError::Overloaded { limit: gate.limit });
            }
            match gate.active.compare_exchange_weak(
                active,
                active + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => active = now,
            }
        }
        let permit = InFlight { gate: gate.clone() };
        // Paired with the fence in `shutdown_graceful`: either the drain sees this request
        // counted and waits for it, or this sees the drain begun and gives its place back
        // (the drop wakes the drain). Checking `draining` only before counting let a
        // request in after a drain had found the bus idle and shut it down.
        std::sync::atomic::fence(Ordering::SeqCst);
        if gate.draining.load(Ordering::Relaxed) {
            return Err(BusError::Closed);
        }
        Ok(permit)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gate.active.fetch_sub(1, Ordering::Release);
        // Paired with the fence in `shutdown_graceful`: either this end sees the drain
        // begun and wakes it, or the drain sees this count go down. Without both fences each
        // side could read the other's old value and the drain would sleep to its deadline.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.gate.draining.load(Ordering::Relaxed) {
            self.gate.idle.notify_waiters();
        }
    }
}

/// The in-process HTTP bus. Owning it keeps it running; dropping it shuts it down.
///
/// On drop, every request still in flight is answered with 503 "the bus is shut down"
/// (bridges turn that into error frames), new requests get the same, and the runtime the
/// bus owns (if any) is stopped without blocking. Nothing waits forever.
/// [`shutdown_graceful`](Self::shutdown_graceful) lets the requests in flight finish first.
///
/// Requests go through a [`BusHandle`] ([`handle`](Self::handle)): the cheap clonable
/// handle, and the [`tower::Service`], that callers, bridges and tasks keep.
pub struct Bus {
    handle: BusHandle,
}

impl Bus {
    /// Starts building a bus.
    pub fn builder() -> BusBuilder {
        BusBuilder::default()
    }

    /// A clonable handle to this bus. Handles do not keep the bus alive: once the `Bus`
    /// is dropped they answer 503.
    pub fn handle(&self) -> BusHandle {
        self.handle.clone()
    }

    /// Shuts the bus down now, as dropping it does: requests in flight are cut off (503,
    /// or their bodies end in an error), new ones are refused with 503.
    pub fn shutdown(&self) {
        self.handle.inner.shutdown();
    }

    /// Shuts the bus down gracefully: refuses new requests at once (503 "the bus is shut
    /// down"), lets the requests in flight — streaming response bodies included — run
    /// until they end or `grace` has passed, then shuts down as [`shutdown`](Self::shutdown)
    /// does, cutting off whatever is still running.
    ///
    /// Returns how many requests were still in flight when the grace period ran out (0:
    /// every one finished). Uses tokio's clock, so it must be awaited in a tokio runtime
    /// with time enabled.
    ///
    /// ```
    /// use bus_core::{Body, Bus};
    /// use std::time::Duration;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let slow = tower::service_fn(|_req: http::Request<Body>| async {
    ///     tokio::time::sleep(Duration::from_millis(50)).await;
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(Body::from("done")))
    /// });
    /// let bus = Bus::builder().mount("/slow", slow).build();
    /// let handle = bus.handle();
    /// let call = tokio::spawn(async move {
    ///     handle.call(http::Request::get("/slow").body(Body::empty()).unwrap()).await
    /// });
    /// tokio::time::sleep(Duration::from_millis(10)).await; // the request is in flight
    /// assert_eq!(bus.shutdown_graceful(Duration::from_secs(5)).await, 0);
    /// assert_eq!(call.await.unwrap().status(), 200);
    /// assert!(bus.handle().is_closed());
    /// # });
    /// ```
    pub async fn shutdown_graceful(&self, grace: Duration) -> usize {
        let inner = &self.handle.inner;
        let gate = &inner.gate;
        let deadline = tokio::time::Instant::now() + grace;
        gate.draining.store(true, Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::SeqCst); // see `InFlight::drop`
        let left = loop {
            let idle = gate.idle.notified();
            tokio::pin!(idle);
            // Registered before the count is read, so an end in between is not missed.
            idle.as_mut().enable();
            let left = gate.in_flight();
            if left == 0 || inner.is_shut_down() {
                break left;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                break gate.in_flight();
            }
        };
        inner.shutdown();
        left
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        self.handle.inner.shutdown();
    }
}

impl fmt::Debug for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.handle.fmt(f)
    }
}

impl Inner {
    /// Whether [`shutdown`](Self::shutdown) ran: one atomic load, where the token's own
    /// `is_cancelled` takes a lock (checked several times per request, issue 16).
    fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    fn shutdown(&self) {
        // The flag first: whoever the cancellation wakes sees it set.
        self.shut_down.store(true, Ordering::Release);
        self.shutdown.cancel();
        if let RuntimeSlot::Owned { runtime, .. } = &self.runtime {
            let taken = runtime.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(runtime) = taken {
                // Never blocks, so it is safe from any thread, async ones included. Tasks
                // still running are dropped; their guards send the errors.
                runtime.shutdown_background();
            }
        }
    }
}

/// A clonable handle to a [`Bus`]: calls requests and reaches the bus's runtime.
#[derive(Clone)]
pub struct BusHandle {
    inner: Arc<Inner>,
}

impl fmt::Debug for BusHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BusHandle")
            .field("mounts", &self.inner.routes)
            .field("limits", &self.inner.limits)
            .field("closed", &self.inner.is_shut_down())
            .field(
                "draining",
                &self.inner.gate.draining.load(Ordering::Relaxed),
            )
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

impl BusHandle {
    /// Sends a request through the bus and returns the response. Never fails: every error
    /// is a response whose status and body name the problem, with the [`BusError`] in its
    /// extensions as `Arc<BusError>`.
    ///
    /// The handler runs in the caller's task: no channel, no copy of the body. Dropping the
    /// returned future drops the handler's future (cancellation).
    ///
    /// Must be awaited inside a tokio runtime with time enabled (for the timeout).
    ///
    /// ```
    /// use bus_core::{Body, Bus};
    /// use http_body_util::BodyExt;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let hello = tower::service_fn(|req: http::Request<Body>| async move {
    ///     let text = format!("hello {}", req.uri().path());
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(Body::from(text)))
    /// });
    /// let bus = Bus::builder().mount("/hello", hello).build();
    /// let client = bus.handle();
    /// let response = client.call(http::Request::get("/hello/you").body(Body::empty()).unwrap()).await;
    /// assert_eq!(response.status(), 200);
    /// assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), "hello /you");
    ///
    /// let missing = client.call(http::Request::get("/nope").body(Body::empty()).unwrap()).await;
    /// assert_eq!(missing.status(), 404);
    /// # });
    /// ```
    pub fn call(&self, request: Request<Body>) -> impl Future<Output = Response<Body>> + Send + '_ {
        self.try_call(request)
            .map(|result| result.unwrap_or_else(BusError::into_response))
    }

    /// Sends a request on behalf of `caller`: the entry point for bridges. The caller
    /// replaces any [`Caller`] already in the request's extensions, so a request a bridge
    /// hands over always carries the identity the bridge proved — never the in-process
    /// trust that a request without a caller gets from [`call`](Self::call).
    ///
    /// ```
    /// use bus_core::{Body, Bus, Caller, Transport};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let api = tower::service_fn(|_req: http::Request<Body>| async {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(Body::from("secret")))
    /// });
    /// let bus = Bus::builder().app_origin("app://localhost").mount("/api", api).build();
    /// let client = bus.handle();
    /// let request = || http::Request::get("app://localhost/api").body(Body::empty()).unwrap();
    ///
    /// let page = Caller::new(Transport::Scheme).with_origin("app://localhost");
    /// assert_eq!(client.call_from(page, request()).await.status(), 200);
    /// // Nothing proven: anonymous, refused by a mount that is not public.
    /// let unknown = Caller::anonymous(Transport::Scheme);
    /// assert_eq!(client.call_from(unknown, request()).await.status(), 403);
    /// # });
    /// ```
    pub fn call_from(
        &self,
        caller: Caller,
        mut request: Request<Body>,
    ) -> impl Future<Output = Response<Body>> + Send + '_ {
        request.extensions_mut().insert(caller);
        self.call(request)
    }

    /// Like [`call`](Self::call), with the bus's own refusals as a [`BusError`].
    ///
    /// A response the handler produced is `Ok`, whatever its status.
    ///
    /// # Errors
    /// Every [`BusError`] variant, each for the reason its docs give.
    pub fn try_call(
        &self,
        request: Request<Body>,
    ) -> impl Future<Output = Result<Response<Body>, BusError>> + Send + '_ {
        Call {
            bus: self,
            state: CallState::Start(request),
        }
    }

    /// The span of one request (disabled unless a subscriber wants it).
    fn span(&self, request: &Request<Body>) -> Span {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        tracing::debug_span!(
            "bus.request",
            id,
            method = %request.method(),
            uri = %request.uri(),
            status = field::Empty,
            bytes = field::Empty,
            micros = field::Empty,
        )
    }

    /// A request a subscriber traces: the whole call in its span.
    async fn traced(&self, span: Span, request: Request<Body>) -> Result<Response<Body>, BusError> {
        let started = Instant::now();
        let mut request = Some(request);
        let result = async {
            let first = |cx: &mut Context<'_>| {
                Poll::Ready(request.take().map(|request| self.step(request, cx)))
            };
            match std::future::poll_fn(first).await.expect("stepped once") {
                Step::Done(result) => result,
                Step::Rest(rest) => rest.run(&self.inner).await,
            }
        }
        .instrument(span.clone())
        .await;
        self.settle(result, span, Some(started))
    }

    /// The response of a request the pipeline answered ([`step`](Self::step) and its
    /// rest): a buffered body lets its in-flight permit go now, a streaming one keeps it (and
    /// watches the shutdown) until it ends; a traced request records its outcome.
    fn settle(
        &self,
        result: Result<(Response<Body>, InFlight), BusError>,
        span: Span,
        started: Option<Instant>,
    ) -> Result<Response<Body>, BusError> {
        match result {
            Ok((mut response, permit)) => {
                let first = if response.body().is_buffered() {
                    None
                } else {
                    let (body, first) = whole_at_once(std::mem::take(response.body_mut()));
                    *response.body_mut() = body;
                    first
                };
                if response.body().is_buffered() {
                    if let Some(started) = started {
                        record(
                            &span,
                            response.status().as_u16(),
                            response.body().exact_len().unwrap_or(0),
                            started,
                        );
                    }
                    drop(permit);
                    Ok(response)
                } else {
                    let status = response.status().as_u16();
                    let closed = self.inner.shutdown.clone().cancelled_owned();
                    let declared = match &first {
                        Some(taken) => taken.hint.exact(),
                        None => response.body().exact_len(),
                    };
                    Ok(response.map(|body| {
                        Body::new(Tracked {
                            declared,
                            first,
                            inner: body,
                            closed,
                            permit: Some(permit),
                            span,
                            started,
                            status,
                            bytes: 0,
                        })
                    }))
                }
            }
            Err(err) => {
                if let Some(started) = started {
                    record(&span, err.status().as_u16(), 0, started);
                    tracing::debug!(parent: &span, error = %err, "refused");
                }
                Err(err)
            }
        }
    }

    /// Takes `request` as far as one poll of its handler (with `cx`) gets it: its
    /// answer, or what is left to run.
    fn step(&self, request: Request<Body>, cx: &mut Context<'_>) -> Step {
        match self.admit(request) {
            Err(err) => Step::Done(Err(err)),
            Ok(Admission::Cookies(cookies)) => Step::Rest(Rest::Cookies(cookies)),
            Ok(Admission::Handler(admitted)) => match admitted.start(cx) {
                Started::Answered(after, outcome) => Step::Done(after.finish(&self.inner, outcome)),
                Started::Failed(err) => Step::Done(Err(err)),
                Started::Waiting(waiting) => Step::Rest(Rest::Waiting(waiting)),
            },
        }
    }

    /// Answers `request` on this thread when its handler answers at its first poll (with
    /// `cx`); otherwise hands back what is left to run, boxed. For bridges that hand a
    /// request over from a thread that must not wait: the caller polls the rest once with
    /// `cx` too (a traced request is not started yet; a waiting handler's timer starts
    /// then), then hands it to a runtime.
    // Inlined into the port, its only caller: passing the request by value, and the answer
    // back, were `memcpy`s of them (issue 16).
    #[inline(always)]
    pub(crate) fn call_here(&self, request: Request<Body>, cx: &mut Context<'_>) -> Answer {
        let span = self.span(&request);
        if !span.is_disabled() {
            let bus = self.clone();
            return Answer::Later(Box::pin(async move {
                bus.traced(span, request)
                    .await
                    .unwrap_or_else(BusError::into_response)
            }));
        }
        match self.step(request, cx) {
            Step::Done(result) => Answer::Ready(
                self.settle(result, span, None)
                    .unwrap_or_else(BusError::into_response),
            ),
            Step::Rest(rest) => {
                let bus = self.clone();
                Answer::Later(Box::pin(async move {
                    let result = rest.run(&bus.inner).await;
                    bus.settle(result, span, None)
                        .unwrap_or_else(BusError::into_response)
                }))
            }
        }
    }

    /// Everything a request goes through before its handler is called: the bus open, the
    /// head's size, the path, the cookies, the route, the mount's policy and body limit,
    /// the in-flight limit. No `.await` in it, so no future carries its state.
    fn admit(&self, request: Request<Body>) -> Result<Admission, BusError> {
        let inner = &*self.inner;
        if inner.is_shut_down() || inner.gate.draining.load(Ordering::Acquire) {
            return Err(BusError::Closed);
        }
        let (mut parts, mut body) = request.into_parts();

        let size = header_bytes(&parts);
        if size > inner.limits.max_header_bytes {
            return Err(BusError::HeadersTooLarge {
                size,
                limit: inner.limits.max_header_bytes,
            });
        }
        if has_dot_segment(parts.uri.path()) {
            return Err(BusError::Malformed {
                what: "path",
                detail: format!("{} has a `.` or `..` segment", parts.uri.path()),
            });
        }
        // The app's documents get the app's cookies; nobody else gets or plants any. The
        // host and path they are keyed by are only worked out when a cookie is read or
        // stored: an empty jar and an answer without Set-Cookie cost nothing (issue 16).
        let caller = parts.extensions.get::<Caller>();
        let scope = match (&inner.jar, caller) {
            (Some(_), Some(caller)) if caller.has_origin_in(&inner.app_origins) => {
                cookies::Scope::of(&parts.uri, caller)
            }
            _ => None,
        };
        let from_rust = caller.is_none_or(|c| c.transport() == crate::Transport::InProcess);
        let frames = caller.is_some_and(|c| c.transport() == crate::Transport::Frames);
        if let (Some(jar), Some(scope)) = (&inner.jar, &scope) {
            cookies::strip_request_cookies(&mut parts.headers);
            if let Some(value) = jar.cookie_header_in(scope)
                && let Ok(value) = header::HeaderValue::from_str(&value)
            {
                parts.headers.insert(header::COOKIE, value);
            }
        }
        if parts.uri.path() == cookies::COOKIE_PATH && inner.jar.is_some() {
            let permit = InFlight::admit(&inner.gate)?;
            let host = scope.as_ref().map(cookies::Scope::host);
            return Ok(Admission::Cookies(CookieCall {
                host,
                parts,
                body,
                permit,
            }));
        }

        let Some(mount) = inner.routes.find(&parts.uri) else {
            return Err(BusError::NoRoute {
                method: parts.method,
                path: parts.uri.path().to_owned(),
            });
        };

        let policy = mount.policy.as_ref().expect("set at build");
        if let Err(refusal) = policy.check(caller.unwrap_or(in_process()), &parts) {
            return Err(BusError::Forbidden(refusal.0));
        }

        if let Some(limit) = mount.max_body.flatten() {
            let declared = body.exact_len().or_else(|| content_length(&parts));
            match declared {
                Some(size) if size > limit => return Err(BusError::BodyTooLarge { size, limit }),
                _ if body.is_buffered() => {}
                _ => body = Body::new(http_body_util::Limited::new(body, body_limit(limit))),
            }
        }

        let permit = InFlight::admit(&inner.gate)?;

        if mount.strip_prefix && mount.prefix != "/" {
            parts.uri = strip(std::mem::take(&mut parts.uri), &mount.prefix).map_err(|e| {
                BusError::Malformed {
                    what: "uri",
                    detail: e.to_string(),
                }
            })?;
        }
        Ok(Admission::Handler(Admitted {
            service: mount.service.clone(),
            request: Request::from_parts(parts, body),
            timeout: mount.timeout.flatten(),
            after: After {
                scope,
                frames,
                from_rust,
                permit,
            },
        }))
    }

    /// The runtime bridge work runs on: the one given to the builder, or the bus's own,
    /// started on first use.
    ///
    /// # Errors
    /// [`BusError::Closed`] once the bus is shut down.
    pub fn runtime(&self) -> Result<Handle, BusError> {
        if self.inner.is_shut_down() {
            return Err(BusError::Closed);
        }
        match &self.inner.runtime {
            RuntimeSlot::Borrowed(handle) => Ok(handle.clone()),
            RuntimeSlot::Owned {
                threads,
                runtime,
                handle,
            } => {
                if let Some(handle) = handle.get() {
                    return Ok(handle.clone());
                }
                let mut slot = runtime.lock().unwrap_or_else(|e| e.into_inner());
                if self.inner.is_shut_down() {
                    return Err(BusError::Closed);
                }
                if slot.is_none() {
                    let rt = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(*threads)
                        .thread_name("bus-worker")
                        .enable_all()
                        .build()
                        .map_err(|e| BusError::Handler(e.into()))?;
                    let _ = handle.set(rt.handle().clone());
                    *slot = Some(rt);
                }
                Ok(handle.get().expect("set above").clone())
            }
        }
    }

    /// Requests running now (their responses not yet fully sent).
    pub fn in_flight(&self) -> usize {
        self.inner.gate.in_flight()
    }

    /// Whether the bus is shut down: requests still in flight have been cut off. (While a
    /// [graceful shutdown](Bus::shutdown_graceful) drains, new requests are refused but
    /// this is still `false`.)
    pub fn is_closed(&self) -> bool {
        self.inner.is_shut_down()
    }

    /// Completes when the bus shuts down (as [`is_closed`](Self::is_closed) turns true).
    pub async fn closed(&self) {
        self.inner.shutdown.cancelled().await
    }

    /// The bus's limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The WebSocket message limit of the mount `uri` routes to (the bus's default when
    /// none does: the request will be refused anyway).
    #[cfg_attr(not(feature = "ws"), allow(dead_code))]
    pub(crate) fn max_message(&self, uri: &http::Uri) -> usize {
        self.inner
            .routes
            .find(uri)
            .and_then(|m| m.max_message)
            .unwrap_or(self.inner.limits.max_message)
    }
}

/// The bus as a [`tower::Service`], so tower and tower-http layers (tracing, compression,
/// `FollowRedirect`, timeouts, …) wrap it like any HTTP client or server.
///
/// It never fails and is always ready: every refusal, overload included, is a response
/// whose status names it (see [`call`](BusHandle::call)), so `Error` is [`Infallible`].
///
/// ```
/// use bus_core::{Body, Bus};
/// use tower::{Service, ServiceExt};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let hello = tower::service_fn(|_req: http::Request<Body>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(Body::from("hi")))
/// });
/// let bus = Bus::builder().mount("/hello", hello).build();
/// let mut service = bus.handle();
/// let request = http::Request::get("/hello").body(Body::empty()).unwrap();
/// let response = service.ready().await.unwrap().call(request).await.unwrap();
/// assert_eq!(response.status(), 200);
/// # });
/// ```
impl tower::Service<Request<Body>> for BusHandle {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> ResponseFuture {
        let bus = self.clone();
        ResponseFuture {
            inner: Box::pin(async move { Ok(bus.call(request).await) }),
        }
    }
}

/// The future of [`BusHandle`]'s [`tower::Service::call`]: the response, never an error.
pub struct ResponseFuture {
    inner: Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>,
}

impl Future for ResponseFuture {
    type Output = Result<Response<Body>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

/// The future of [`BusHandle::try_call`], written out: an `async fn` keeps its arguments
/// (the request: 264 bytes) in every state of its future and holds the futures it awaits
/// inline, which made a call's future 2 KiB that every caller moved and boxed (issue 16).
/// This one is the request, then (for a handler that waits) a box with the rest.
struct Call<'a> {
    bus: &'a BusHandle,
    state: CallState<'a>,
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

// The request is held until the first poll; boxing it would cost every call an allocation.
#[allow(clippy::large_enum_variant)]
enum CallState<'a> {
    Start(Request<Body>),
    Later(Boxed<'a, Result<Response<Body>, BusError>>),
    Done,
}

impl Future for Call<'_> {
    type Output = Result<Response<Body>, BusError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let bus = this.bus;
        if let CallState::Start(_) = this.state {
            let CallState::Start(request) = std::mem::replace(&mut this.state, CallState::Done)
            else {
                unreachable!("matched above")
            };
            let span = bus.span(&request);
            if span.is_disabled() {
                // Not traced (the usual case): no `Instrumented` wrapper, whose move of the
                // whole dispatch future cost ~1,300 instructions per request.
                match bus.step(request, cx) {
                    Step::Done(result) => return Poll::Ready(bus.settle(result, span, None)),
                    Step::Rest(rest) => {
                        this.state = CallState::Later(Box::pin(async move {
                            let result = rest.run(&bus.inner).await;
                            bus.settle(result, span, None)
                        }));
                    }
                }
            } else {
                this.state = CallState::Later(Box::pin(bus.traced(span, request)));
            }
        }
        match &mut this.state {
            CallState::Later(rest) => {
                let output = std::task::ready!(rest.as_mut().poll(cx));
                this.state = CallState::Done;
                Poll::Ready(output)
            }
            CallState::Start(_) | CallState::Done => {
                panic!("a bus call's future was polled after it completed")
            }
        }
    }
}

/// How far [`BusHandle::step`] took a request (a value passed on at once, never kept).
#[allow(clippy::large_enum_variant)]
enum Step {
    Done(Result<(Response<Body>, InFlight), BusError>),
    Rest(Rest),
}

/// What is left of a request whose answer did not come at the first poll.
enum Rest {
    Waiting(Waiting),
    Cookies(CookieCall),
}

impl Rest {
    async fn run(self, inner: &Inner) -> Result<(Response<Body>, InFlight), BusError> {
        match self {
            Rest::Waiting(waiting) => waiting.run(inner).await,
            Rest::Cookies(cookies) => Ok(cookies.run(inner).await),
        }
    }
}

/// What [`BusHandle::call_here`] gives: the response, or what is left to run for it.
pub(crate) enum Answer {
    Ready(Response<Body>),
    Later(Pin<Box<dyn Future<Output = Response<Body>> + Send>>),
}

/// A request [`BusHandle::admit`] let through.
enum Admission {
    Handler(Admitted),
    /// A page's `document.cookie` call, answered from the jar.
    Cookies(CookieCall),
}

struct CookieCall {
    host: Option<String>,
    parts: http::request::Parts,
    body: Body,
    permit: InFlight,
}

impl CookieCall {
    async fn run(self, inner: &Inner) -> (Response<Body>, InFlight) {
        let jar = inner.jar.as_ref().expect("admitted only with a jar");
        // Boxed: the jar's future must not grow the rest of every waiting handler.
        let document = cookies::document_api(jar, self.host.as_deref(), &self.parts, self.body);
        (Box::pin(document).await, self.permit)
    }
}

/// A request admitted to its mount, its handler not called yet.
struct Admitted {
    service: BoxedService,
    request: Request<Body>,
    timeout: Option<Duration>,
    after: After,
}

/// A handler's future, its panics caught.
type Handler = futures_util::future::CatchUnwind<
    AssertUnwindSafe<<BoxedService as Service<Request<Body>>>::Future>,
>;

/// What a handler came to: its answer or error, or its panic.
type Outcome = std::thread::Result<Result<Response<Body>, BoxError>>;

/// How far [`Admitted::start`] got with one poll.
enum Started {
    Answered(After, Outcome),
    Waiting(Waiting),
    Failed(BusError),
}

/// A request whose service was not ready, or whose handler has not answered yet.
// Boxed whole by whoever keeps it.
#[allow(clippy::large_enum_variant)]
enum Waiting {
    Unready(Admitted),
    Called {
        handler: Handler,
        timeout: Option<Duration>,
        after: After,
    },
}

impl Admitted {
    /// Polls the service's readiness and then the handler once, with `cx`.
    fn start(self, cx: &mut Context<'_>) -> Started {
        let Admitted {
            mut service,
            request,
            timeout,
            after,
        } = self;
        match ready(&mut service, cx) {
            Poll::Ready(Ok(Ok(()))) => {}
            Poll::Ready(Ok(Err(error))) => return Started::Failed(BusError::Handler(error)),
            Poll::Ready(Err(panic)) => return Started::Failed(caught(panic)),
            Poll::Pending => {
                return Started::Waiting(Waiting::Unready(Admitted {
                    service,
                    request,
                    timeout,
                    after,
                }));
            }
        }
        let mut handler = match call(&mut service, request) {
            Ok(handler) => handler,
            Err(err) => return Started::Failed(err),
        };
        match handler.poll_unpin(cx) {
            Poll::Ready(outcome) => Started::Answered(after, outcome),
            Poll::Pending => Started::Waiting(Waiting::Called {
                handler,
                timeout,
                after,
            }),
        }
    }
}

impl Waiting {
    async fn run(self, inner: &Inner) -> Result<(Response<Body>, InFlight), BusError> {
        let mut waiting = self;
        loop {
            match waiting {
                Waiting::Called {
                    handler,
                    timeout,
                    after,
                } => {
                    let outcome = bounded(handler, timeout, inner).await?;
                    return after.finish(inner, outcome);
                }
                Waiting::Unready(admitted) => {
                    // The same steps as at the first poll, with this task's context,
                    // until the service is ready: within the mount's timeout too, and cut
                    // off by the shutdown (the handler then has its own timeout from its
                    // first poll).
                    let timeout = admitted.timeout;
                    let mut slot = Some(admitted);
                    let started = std::future::poll_fn(|cx| {
                        match slot.take().expect("polled until ready").start(cx) {
                            Started::Waiting(Waiting::Unready(admitted)) => {
                                slot = Some(admitted);
                                Poll::Pending
                            }
                            started => Poll::Ready(started),
                        }
                    });
                    waiting = match bounded(started, timeout, inner).await? {
                        Started::Answered(after, outcome) => return after.finish(inner, outcome),
                        Started::Failed(err) => return Err(err),
                        Started::Waiting(waiting) => waiting,
                    };
                }
            }
        }
    }
}

/// A panic anywhere in the handler — readiness, call, its future — is an answer.
fn caught(panic: Box<dyn std::any::Any + Send>) -> BusError {
    BusError::Panicked(panic_message(&*panic))
}

fn ready(
    service: &mut BoxedService,
    cx: &mut Context<'_>,
) -> Poll<std::thread::Result<Result<(), BoxError>>> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| service.poll_ready(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
        Err(panic) => Poll::Ready(Err(panic)),
    }
}

/// Calls the handler. Its future is boxed by the mount and pinned here once.
fn call(service: &mut BoxedService, request: Request<Body>) -> Result<Handler, BusError> {
    let future = std::panic::catch_unwind(AssertUnwindSafe(|| service.call(request)));
    Ok(AssertUnwindSafe(future.map_err(caught)?).catch_unwind())
}

/// `future` within the mount's `timeout`, cut off by the bus's shutdown: the rest of a
/// handler that did not answer at its first poll, or the wait for a service that was not
/// ready.
async fn bounded<F: Future>(
    future: F,
    timeout: Option<Duration>,
    inner: &Inner,
) -> Result<F::Output, BusError> {
    let answer = async {
        match timeout {
            Some(limit) => tokio::time::timeout(limit, future)
                .await
                .map_err(|_| BusError::Timeout(limit)),
            None => Ok(future.await),
        }
    };
    tokio::select! {
        biased;
        outcome = answer => outcome,
        () = inner.shutdown.cancelled() => Err(BusError::Closed),
    }
}

/// What a handler's answer goes through before the caller gets it: its cookies.
struct After {
    scope: Option<cookies::Scope>,
    /// Whether the caller is a page on frames (it reads the cookie mirror).
    frames: bool,
    from_rust: bool,
    permit: InFlight,
}

impl After {
    fn finish(
        self,
        inner: &Inner,
        outcome: Outcome,
    ) -> Result<(Response<Body>, InFlight), BusError> {
        match outcome {
            Ok(Ok(mut response)) => {
                // A Set-Cookie is stored for the URL as the page asked for it (the scope
                // was taken before the mount's prefix was stripped).
                if let (Some(jar), Some(scope)) = (&inner.jar, &self.scope)
                    && response.headers().contains_key(header::SET_COOKIE)
                {
                    let host = scope.host();
                    jar.store_response_for(&host, scope.path(), response.headers());
                    // The page's document.cookie mirror, current before the page sees
                    // the response (frames: the shim reads and removes it).
                    if self.frames
                        && let Ok(mirror) = header::HeaderValue::from_str(&jar.mirror(&host))
                    {
                        response
                            .headers_mut()
                            .insert(cookies::MIRROR_HEADER, mirror);
                    }
                }
                if !self.from_rust && inner.jar.is_some() {
                    cookies::strip_set_cookie(response.headers_mut());
                }
                Ok((response, self.permit))
            }
            Ok(Err(error)) => Err(BusError::Handler(error)),
            Err(panic) => Err(BusError::Panicked(panic_message(&*panic))),
        }
    }
}

fn in_process() -> &'static Caller {
    static CALLER: OnceLock<Caller> = OnceLock::new();
    CALLER.get_or_init(Caller::in_process)
}

fn record(span: &Span, status: u16, bytes: u64, started: Instant) {
    span.record("status", status);
    span.record("bytes", bytes);
    span.record("micros", started.elapsed().as_micros() as u64);
}

/// A body limit for `http_body_util::Limited`, which counts in `usize`: saturated, so on a
/// 32-bit target (Android armv7, x86) a limit of 4 GiB or more means "as much as fits"
/// rather than wrapping to a small number (`1 << 32` would have become 0).
fn body_limit(limit: u64) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX)
}

fn header_bytes(parts: &http::request::Parts) -> usize {
    // The URI's length from its parts: formatting it would allocate on every request.
    let uri = &parts.uri;
    let uri_len = uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(1, |p| p.as_str().len());
    let line = parts.method.as_str().len() + uri_len + 12;
    parts.headers.iter().fold(line, |sum, (name, value)| {
        sum + name.as_str().len() + value.len() + 4
    })
}

fn content_length(parts: &http::request::Parts) -> Option<u64> {
    parts
        .headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// What a body of known length that is complete at once turns into: one buffer (or
/// nothing), with no polling, boxing or permit to keep (issue 16: a handler's string or
/// JSON answer, which axum and most frameworks hand over as a boxed body, was read
/// through the bus's wrapper and the framework's boxes). Else the body, and what its one
/// poll took, if anything.
///
/// Complete means all of the declared length in one data frame, and the body saying it
/// has ended; an end before the declared length (a producer dropped, maybe by the
/// shutdown) is given to [`Tracked`], which tells the two apart as it does for any body.
///
/// Polled once with a waker that does nothing: a body that is not ready has registered
/// it, and is polled again with the reader's own waker when read.
fn whole_at_once(mut body: Body) -> (Body, Option<Taken>) {
    let Some(len) = body.exact_len() else {
        return (body, None);
    };
    let hint = http_body::Body::size_hint(&body);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match http_body::Body::poll_frame(Pin::new(&mut body), &mut cx) {
        Poll::Pending => (body, None),
        Poll::Ready(None) if len == 0 => (Body::empty(), None),
        Poll::Ready(Some(Ok(frame)))
            if frame
                .data_ref()
                .is_some_and(|data| data.len() as u64 == len)
                && http_body::Body::is_end_stream(&body) =>
        {
            (Body::full(frame.into_data().unwrap_or_default()), None)
        }
        Poll::Ready(next) => (body, Some(Taken { next, hint })),
    }
}

/// What [`whole_at_once`] took from a body that was not complete: given first, and until
/// then the body's hint is the one from before it was taken.
struct Taken {
    next: Option<Result<Frame<Bytes>, BoxError>>,
    hint: SizeHint,
}

pin_project_lite::pin_project! {
    /// A streaming response body that holds its in-flight permit until it ends, records
    /// its size and duration on the request's span, and ends in an error if the bus shuts
    /// down first or if it ends before the length it declared.
    struct Tracked {
        // The exact length the body declared before any of it was read.
        declared: Option<u64>,
        // What `whole_at_once` took, given first.
        first: Option<Taken>,
        #[pin]
        inner: Body,
        #[pin]
        closed: WaitForCancellationFutureOwned,
        permit: Option<InFlight>,
        span: Span,
        started: Option<Instant>,
        status: u16,
        bytes: u64,
    }
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if this.permit.is_none() {
            return Poll::Ready(None); // ended (or cut off) already
        }
        // Data that is there is passed on; otherwise the shutdown is checked (and watched)
        // first: a producer dropped by it ends its channel, which must not be mistaken for
        // a complete body.
        let next = match this.first.take() {
            Some(taken) => Poll::Ready(taken.next),
            None => this.inner.poll_frame(cx),
        };
        let polled = match next {
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            other if this.closed.poll(cx).is_ready() => {
                drop(other);
                Poll::Ready(Some(Err(BusError::Closed.into())))
            }
            // An end short of the declared length is a cut, not a complete body: a reader
            // that trusted the length (hyper would not) would take a truncated body whole.
            Poll::Ready(None) if this.declared.is_some_and(|n| *this.bytes < n) => {
                let declared = this.declared.unwrap_or_default();
                Poll::Ready(Some(Err(format!(
                    "the response body ended after {} of the {declared} bytes it declared",
                    this.bytes
                )
                .into())))
            }
            other => other,
        };
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    *this.bytes += data.len() as u64;
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => {
                if let Some(started) = this.started.take() {
                    record(this.span, *this.status, *this.bytes, started);
                }
                this.permit.take();
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        // Not before the declared length has come: a reader that stops here would take a
        // cut for the whole body without polling for the error.
        self.first.is_none()
            && self.inner.is_end_stream()
            && self.declared.is_none_or(|n| self.bytes >= n)
    }

    fn size_hint(&self) -> SizeHint {
        match &self.first {
            Some(taken) => taken.hint,
            None => self.inner.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_limits_saturate_instead_of_wrapping() {
        assert_eq!(body_limit(0), 0);
        assert_eq!(body_limit(16 << 20), 16 << 20);
        assert_eq!(body_limit(u64::from(u32::MAX)), u32::MAX as usize);
        // On 32 bits these are usize::MAX; `as usize` made 0 and 1 of them.
        assert!(body_limit(1 << 32) >= u32::MAX as usize);
        assert!(body_limit((1 << 32) + 1) >= u32::MAX as usize);
        assert_eq!(body_limit(u64::MAX), usize::MAX);
    }

    /// A call's future is the request and a pointer, not the pipeline's state: every
    /// caller moves it, and bridges box it (issue 16: it was 2 KiB as an `async fn`).
    #[test]
    fn a_call_future_is_small() {
        let bus = Bus::builder().build();
        let handle = bus.handle();
        let request = || Request::new(Body::empty());
        let limit = std::mem::size_of::<Request<Body>>() + 32;
        assert!(std::mem::size_of_val(&handle.call(request())) <= limit);
        assert!(std::mem::size_of_val(&handle.try_call(request())) <= limit);
    }
}
