//! [`Session`]: the synchronous, thread-safe port through which a bridge drives the bus
//! with [`Frame`]s.
//!
//! A bridge opens one session per page (per document load) with the [`Caller`] it has
//! verified for that page, then feeds it every frame the page sends — as bytes
//! ([`Session::receive`]) or already decoded ([`Session::handle`]) — from whatever thread it
//! is on: a JNI thread, a C caller, the GTK main thread. Neither call blocks or needs a
//! tokio runtime in the caller. Frames for the page leave through a [`FrameSink`]: a
//! callback, or a channel ([`Session::with_channel`], read with a [`FrameReceiver`]).
//!
//! Each request is a stream, run as a task on the bus's runtime. Response bodies are sent
//! only within the credit the page grants (`window` in the head, then `Credit` frames), so
//! a paused page holds its producer back and one large stream cannot flood the others.
//! Request bodies are accepted within the credit the bus grants (an initial
//! [`INITIAL_UPLOAD_WINDOW`], then `Credit` as the handler reads), so a slow handler holds
//! the page's upload back.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvError, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::BodyExt;
use tokio::runtime::Handle;
use tokio::sync::{Notify, mpsc};
use tokio::task::AbortHandle;

use crate::body::{Body, BoxError};
use crate::bus::{Answer, BusHandle};
use crate::caller::{Caller, Transport};
use crate::error::BusError;
use crate::protocol::{self, ErrorCode, Frame, INITIAL_UPLOAD_WINDOW, MAX_DATA, SESSION_STREAM};

/// Where a session's outbound frames go. Called from the bus's worker threads and from the
/// thread that called [`Session::receive`]; it must not block for long.
pub trait FrameSink: Send + Sync + 'static {
    /// Delivers one frame to the page.
    fn send(&self, frame: Frame);

    /// Delivers a whole response to the page as one `Response` frame
    /// ([`SessionConfig::whole_responses`]): its status and headers from `head`, its body
    /// `data`. By default the [`Frame`] is made (header names and values copied out of the
    /// map) and given to [`send`](Self::send); the sink [`encoded`] makes encodes it
    /// straight from the head instead. A sink that wraps another should pass this on too,
    /// or the inner sink's way is lost (the frame it gets is the same either way).
    fn send_response(&self, stream: u32, head: &http::response::Parts, data: Bytes) {
        self.send(Frame::Response {
            stream,
            status: head.status.as_u16(),
            headers: wire_headers(&head.headers),
            data,
        });
    }
}

impl<F> FrameSink for F
where
    F: Fn(Frame) + Send + Sync + 'static,
{
    fn send(&self, frame: Frame) {
        self(frame)
    }
}

/// A [`FrameSink`] that encodes each frame and hands the bytes to a callback.
///
/// ```
/// use bus_core::port::encoded;
/// let sink = encoded(|bytes: bytes::Bytes| println!("{} bytes for the page", bytes.len()));
/// # let _ = sink;
/// ```
pub fn encoded<F>(deliver: F) -> impl FrameSink
where
    F: Fn(Bytes) + Send + Sync + 'static,
{
    Encoded(deliver)
}

/// [`encoded`]'s sink.
struct Encoded<F>(F);

impl<F> FrameSink for Encoded<F>
where
    F: Fn(Bytes) + Send + Sync + 'static,
{
    fn send(&self, frame: Frame) {
        (self.0)(protocol::encode(&frame));
    }

    fn send_response(&self, stream: u32, head: &http::response::Parts, data: Bytes) {
        (self.0)(protocol::encode_response(
            stream,
            head.status,
            &head.headers,
            &data,
        ));
    }
}

/// How a session treats its page.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    caller: Caller,
    max_streams: usize,
    upload_window: u32,
    inline_first_poll: bool,
    whole_responses: bool,
    credit_idle: Option<Duration>,
}

/// How long a response waits for the page's credit by default before the stream is ended
/// ([`SessionConfig::credit_idle_timeout`]).
pub const CREDIT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

impl SessionConfig {
    /// A session for a page the bridge identified as `caller` (its transport is recorded
    /// as [`Transport::Frames`] whatever it was).
    pub fn new(caller: Caller) -> Self {
        let caller = Caller::new(Transport::Frames)
            .with_frame(caller.frame())
            .with_origin(caller.origin().unwrap_or("null"));
        SessionConfig {
            caller,
            max_streams: 256,
            upload_window: INITIAL_UPLOAD_WINDOW,
            inline_first_poll: false,
            whole_responses: false,
            credit_idle: Some(CREDIT_IDLE_TIMEOUT),
        }
    }

    /// How long a response with data to send may wait for the page's credit before its
    /// stream is ended with `Error BodyFailed` and the handler's body dropped (default
    /// [`CREDIT_IDLE_TIMEOUT`]; `None` waits for ever). A page that opens streams and never
    /// reads them would otherwise hold them, and their handlers, until the session ends.
    pub fn credit_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.credit_idle = timeout;
        self
    }

    /// Whether a new stream's task is polled once on the thread that passed its
    /// `RequestHead` to [`Session::receive`] (or [`Session::handle`]), inside the bus
    /// runtime's context, before the runtime's workers take it (default: no). A handler
    /// that answers at once then has its frames handed to the sink on that thread, before
    /// `receive` returns, with no hop to a worker and back. The handler's code up to its
    /// first `.await` runs on that thread: turn it on only where that is acceptable (a
    /// host's main thread that would otherwise wait for the answer anyway).
    ///
    /// Off by default, though it saves two cross-thread wake-ups per request, because it
    /// changes two things a bridge may rely on: a handler that blocks before its first
    /// `.await` (a synchronous SQLite call) blocks the thread that called `receive`, and
    /// the sink is called back inside `receive`, which a host that holds its own lock
    /// around `receive` (or a C ABI that promised frames from the bus's threads) must be
    /// ready for. bridge-desktop's host turns it on for the GTK main thread.
    ///
    /// A request without a body whose whole answer is ready at that first poll (and goes
    /// as one frame, [`whole_responses`](Self::whole_responses)) is an open stream only
    /// while its handler runs: no credit or task is made for it.
    pub fn inline_first_poll(mut self, inline: bool) -> Self {
        self.inline_first_poll = inline;
        self
    }

    /// Whether a response whose body is complete at once (the handler's body has all of it
    /// at its first poll, within the page's window and [`MAX_DATA`]) goes as one
    /// [`Frame::Response`] instead of `ResponseHead`, `ResponseData` and `ResponseEnd`
    /// (default: no). One frame is one message across the bridge and one for the page to
    /// decode; turn it on where the page's decoder knows the frame (bridge-js does).
    pub fn whole_responses(mut self, whole: bool) -> Self {
        self.whole_responses = whole;
        self
    }

    /// Bytes of request body the page may send on a new stream before the bus grants more
    /// with `Credit` (default [`INITIAL_UPLOAD_WINDOW`], at least 1). Smaller holds a page's
    /// uploads closer to what the handlers have read; larger saves round trips.
    pub fn upload_window(mut self, bytes: u32) -> Self {
        self.upload_window = bytes.max(1);
        self
    }

    /// Streams open at once (default 256); one more gets `Error TooManyStreams`.
    pub fn max_streams(mut self, streams: usize) -> Self {
        self.max_streams = streams.max(1);
        self
    }

    /// The caller every request of this session carries.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }
}

/// The frames a session made with [`Session::with_channel`] sends to its page, in order.
///
/// Blocking reads like [`std::sync::mpsc::Receiver`]'s, with its error types; usable from
/// any thread (it is `Send + Sync`), and an iterator that ends when the session is gone and
/// every frame was read. Unbounded, and bounded in practice: body data is only sent within
/// the credit the page grants.
pub struct FrameReceiver {
    rx: crossbeam_channel::Receiver<Frame>,
}

impl FrameReceiver {
    /// Waits for the next frame.
    ///
    /// # Errors
    /// [`RecvError`] once the session is gone and every frame was read.
    pub fn recv(&self) -> Result<Frame, RecvError> {
        self.rx.recv().map_err(|_| RecvError)
    }

    /// Waits up to `timeout` for the next frame.
    ///
    /// # Errors
    /// [`RecvTimeoutError::Timeout`] when none came in time,
    /// [`RecvTimeoutError::Disconnected`] once the session is gone and every frame was
    /// read.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Frame, RecvTimeoutError> {
        self.rx.recv_timeout(timeout).map_err(|e| match e {
            crossbeam_channel::RecvTimeoutError::Timeout => RecvTimeoutError::Timeout,
            crossbeam_channel::RecvTimeoutError::Disconnected => RecvTimeoutError::Disconnected,
        })
    }

    /// The next frame if one is there, without waiting.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] when none is there, [`TryRecvError::Disconnected`] once
    /// the session is gone and every frame was read.
    pub fn try_recv(&self) -> Result<Frame, TryRecvError> {
        self.rx.try_recv().map_err(|e| match e {
            crossbeam_channel::TryRecvError::Empty => TryRecvError::Empty,
            crossbeam_channel::TryRecvError::Disconnected => TryRecvError::Disconnected,
        })
    }

    /// The frames there now, without waiting.
    pub fn try_iter(&self) -> impl Iterator<Item = Frame> + '_ {
        self.rx.try_iter()
    }

    /// Frames waiting to be read.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether no frame is waiting.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

impl Iterator for FrameReceiver {
    type Item = Frame;

    /// Waits for the next frame; `None` once the session is gone and every frame was read.
    fn next(&mut self) -> Option<Frame> {
        self.rx.recv().ok()
    }
}

impl fmt::Debug for FrameReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameReceiver")
            .field("waiting", &self.rx.len())
            .finish()
    }
}

/// A frame the session refused; the same problem was sent to the page as an `Error` frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("stream {stream}: {code:?}: {message}")]
pub struct Rejected {
    /// The stream the error was reported on (0 for the session).
    pub stream: u32,
    /// The error code sent.
    pub code: ErrorCode,
    /// The message sent.
    pub message: String,
}

/// The port: one page's connection to the bus. See the [module docs](self).
///
/// `Session` is `Send + Sync`; share it (e.g. in an `Arc`) between the threads that
/// receive frames. Dropping it (or [`close`](Self::close)) cancels every open stream.
///
/// ```
/// use bus_core::{Body, Bus, Caller, FrameKind, Transport};
/// use bus_core::port::{Session, SessionConfig};
/// use bus_core::protocol::Frame;
///
/// let hello = tower::service_fn(|_req: http::Request<Body>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(Body::from("hi")))
/// });
/// let bus = Bus::builder().app_origin("app://localhost").mount("/hello", hello).build();
/// let page = Caller::new(Transport::Frames).with_origin("app://localhost").with_frame(FrameKind::Main);
/// let (session, frames) = Session::with_channel(&bus.handle(), SessionConfig::new(page)).unwrap();
///
/// // Any thread, no runtime needed:
/// session.handle(Frame::RequestHead {
///     stream: 1, method: "GET".into(), uri: "/hello".into(),
///     headers: vec![], end_stream: true, window: 65536,
/// }).unwrap();
/// assert!(matches!(frames.recv().unwrap(), Frame::ResponseHead { status: 200, .. }));
/// assert!(matches!(frames.recv().unwrap(), Frame::ResponseData { ref data, .. } if data == "hi"));
/// assert!(matches!(frames.recv().unwrap(), Frame::ResponseEnd { stream: 1 }));
/// ```
pub struct Session {
    shared: Arc<Shared>,
}

struct Shared {
    bus: BusHandle,
    runtime: Handle,
    config: SessionConfig,
    /// The extensions of every request: the page's [`Caller`]. Cloned whole, which makes
    /// the map at its size at once (issue 16: inserting into an empty one grew it).
    extensions: http::Extensions,
    /// The page's origin's parts, when it has one.
    own: Option<OwnOrigin>,
    sink: Box<dyn FrameSink>,
    streams: Mutex<HashMap<u32, Stream, StreamIds>>,
    /// Ids of streams closed lately: body frames the page sent before it learnt of the end
    /// are dropped quietly rather than answered with an error that would overtake the end.
    recently_closed: Mutex<RecentlyClosed>,
    closed: AtomicBool,
}

struct Stream {
    /// `None` once the page sent `RequestEnd` (or the head had `end_stream`).
    upload: Option<Upload>,
    /// `None` while the stream is answered on the receiving thread
    /// ([`Shared::answer_inline`]): nothing has been sent for it, so nothing is credited.
    credit: Option<Arc<Credit>>,
    task: Option<AbortHandle>,
}

struct Upload {
    tx: mpsc::UnboundedSender<Chunk>,
    /// Bytes the page may still send before the next `Credit` from us.
    allowed: u64,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("caller", &self.shared.config.caller)
            .field("open_streams", &self.shared.lock().len())
            .field("closed", &self.shared.closed.load(Ordering::Relaxed))
            .finish()
    }
}

impl Session {
    /// Opens a session whose outbound frames go to `sink`.
    ///
    /// # Errors
    /// [`BusError::Closed`] when the bus is shut down.
    pub fn new(
        bus: &BusHandle,
        config: SessionConfig,
        sink: impl FrameSink,
    ) -> Result<Session, BusError> {
        let mut extensions = http::Extensions::new();
        extensions.insert(config.caller.clone());
        let own = OwnOrigin::of(&config.caller);
        Ok(Session {
            shared: Arc::new(Shared {
                bus: bus.clone(),
                runtime: bus.runtime()?,
                config,
                extensions,
                own,
                sink: Box::new(sink),
                streams: Mutex::new(HashMap::with_hasher(StreamIds::new())),
                recently_closed: Mutex::new(RecentlyClosed::default()),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// Opens a session whose outbound frames arrive, decoded, on a channel: read them
    /// from any thread with the [`FrameReceiver`].
    ///
    /// # Errors
    /// [`BusError::Closed`] when the bus is shut down.
    pub fn with_channel(
        bus: &BusHandle,
        config: SessionConfig,
    ) -> Result<(Session, FrameReceiver), BusError> {
        // Unbounded is bounded in practice: body data is only sent within the page's credit.
        let (tx, rx) = crossbeam_channel::unbounded();
        let session = Session::new(bus, config, move |frame| {
            let _ = tx.send(frame);
        })?;
        Ok((session, FrameReceiver { rx }))
    }

    /// Receives one encoded frame from the page. Never blocks, never panics.
    ///
    /// # Errors
    /// [`Rejected`] when the frame is refused; the page got the same as an `Error` frame
    /// and every other stream goes on.
    pub fn receive(&self, bytes: Bytes) -> Result<(), Rejected> {
        if in_scratch(&bytes) {
            self.read(crate::scratch::copy(&bytes))
        } else {
            self.read(bytes)
        }
    }

    /// Receives one encoded frame that the bridge holds in memory of its own (an engine's
    /// message, a buffer it reuses): copied, then as [`receive`](Self::receive). A small
    /// request head is copied without an allocation of its own, where a `Bytes` made for
    /// [`receive`](Self::receive) is one.
    ///
    /// # Errors
    /// As [`receive`](Self::receive).
    pub fn receive_slice(&self, frame: &[u8]) -> Result<(), Rejected> {
        if frame.len() > protocol::MAX_FRAME {
            // Refused as `receive` refuses it, without copying it first.
            let e = protocol::DecodeError::TooLarge(frame.len());
            return Err(self.shared.reject(SESSION_STREAM, e.code(), e.to_string()));
        }
        self.read(if in_scratch(frame) {
            crate::scratch::copy(frame)
        } else {
            Bytes::copy_from_slice(frame)
        })
    }

    /// [`receive`](Self::receive) of a frame whose buffer may be sliced.
    fn read(&self, bytes: Bytes) -> Result<(), Rejected> {
        // A request head is read in place: its method, URI and header names become the
        // request's without a `String` each (issue 16).
        match protocol::decode_head(&bytes) {
            Some(Ok(head)) => {
                let shared = &self.shared;
                if shared.closed.load(Ordering::Acquire) || shared.bus.is_closed() {
                    return Err(shared.reject(
                        head.stream,
                        ErrorCode::Shutdown,
                        "the bus is shut down",
                    ));
                }
                let request = build_request(
                    shared.own.as_ref(),
                    head.method,
                    bytes.slice_ref(head.uri.as_bytes()),
                    head.headers
                        .into_iter()
                        .map(|(name, value)| (name, bytes.slice(value))),
                );
                shared.open(
                    head.stream,
                    request,
                    head.uri.len(),
                    head.end_stream,
                    head.window,
                )
            }
            Some(Err(e)) => Err(self.shared.reject(SESSION_STREAM, e.code(), e.to_string())),
            None => match protocol::decode(bytes) {
                Ok(frame) => self.handle(frame),
                Err(e) => Err(self.shared.reject(SESSION_STREAM, e.code(), e.to_string())),
            },
        }
    }

    /// Receives one decoded frame from the page. Never blocks, never panics.
    ///
    /// # Errors
    /// As [`receive`](Self::receive).
    pub fn handle(&self, frame: Frame) -> Result<(), Rejected> {
        let shared = &self.shared;
        if shared.closed.load(Ordering::Acquire) || shared.bus.is_closed() {
            return Err(shared.reject(frame.stream(), ErrorCode::Shutdown, "the bus is shut down"));
        }
        match frame {
            Frame::RequestHead {
                stream,
                method,
                uri,
                headers,
                end_stream,
                window,
            } => {
                let uri_len = uri.len();
                let request = build_request(
                    shared.own.as_ref(),
                    &method,
                    Bytes::from(uri),
                    headers.into_iter(),
                );
                shared.open(stream, request, uri_len, end_stream, window)
            }
            Frame::RequestData { stream, data } => shared.upload(stream, Some(data)),
            Frame::RequestEnd { stream } => shared.upload(stream, None),
            Frame::Credit { stream, bytes } => {
                // Credit for a stream that already ended is a normal race: ignore it.
                if let Some(credit) = shared.lock().get(&stream).and_then(|s| s.credit.as_ref()) {
                    credit.add(bytes);
                }
                Ok(())
            }
            Frame::Cancel { stream } => {
                // Cancelling a stream that already ended is a normal race: ignore it.
                if let Some(s) = shared.close(stream) {
                    s.abort();
                }
                Ok(())
            }
            other => Err(shared.fail(
                other.stream(),
                ErrorCode::Protocol,
                format!(
                    "{} frames go from the bus to the page, not back",
                    other.name()
                ),
            )),
        }
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        self.shared.lock().len()
    }

    /// Cancels every open stream and refuses further frames (with `Error Shutdown`).
    /// Called on drop; bridges call it when the page goes away.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        let streams = std::mem::take(&mut *self.shared.lock());
        for (_, stream) in streams {
            stream.abort();
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}

impl Stream {
    fn abort(self) {
        // Mark it closed first: a task already past its last await must not send more.
        if let Some(credit) = &self.credit {
            credit.close();
        }
        if let Some(task) = self.task {
            task.abort();
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Stream, StreamIds>> {
        // A panic while holding this lock cannot leave the map inconsistent (every update
        // is a single insert or remove), so a poisoned lock is still usable.
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes an open stream, remembering its id as closed first (so a frame that finds
    /// it gone from the map also finds it among the closed).
    fn close(&self, stream: u32) -> Option<Stream> {
        self.recently_closed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(stream);
        self.lock().remove(&stream)
    }

    /// Answers a stream the bus will not open with a small plain-text response, and
    /// counts it closed (so body frames the page already sent for it are dropped quietly).
    /// The text goes only if the page's `window` takes it whole.
    fn answer_here(&self, stream: u32, status: http::StatusCode, text: String, window: u32) {
        self.recently_closed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(stream);
        self.sink.send(Frame::ResponseHead {
            stream,
            status: status.as_u16(),
            headers: vec![(
                "content-type".into(),
                Bytes::from_static(b"text/plain; charset=utf-8"),
            )],
        });
        if text.len() <= window as usize {
            self.sink.send(Frame::ResponseData {
                stream,
                data: Bytes::from(text),
            });
        }
        self.sink.send(Frame::ResponseEnd { stream });
    }

    fn was_closed(&self, stream: u32) -> bool {
        self.recently_closed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(stream)
    }

    fn reject(&self, stream: u32, code: ErrorCode, message: impl Into<String>) -> Rejected {
        let message = message.into();
        tracing::debug!(stream, ?code, %message, "frame rejected");
        self.sink.send(Frame::error(stream, code, message.clone()));
        Rejected {
            stream,
            code,
            message,
        }
    }

    /// Fails an open stream: its task is dropped and the page gets `Error`.
    fn fail(&self, stream: u32, code: ErrorCode, message: String) -> Rejected {
        if let Some(s) = self.close(stream) {
            s.abort();
        }
        self.reject(stream, code, message)
    }

    /// Opens `stream` for `request` (as [`build_request`] made it from a head whose URI was
    /// `uri_len` bytes long).
    fn open(
        self: &Arc<Self>,
        stream: u32,
        request: Result<Request<()>, String>,
        uri_len: usize,
        end_stream: bool,
        window: u32,
    ) -> Result<(), Rejected> {
        if stream == SESSION_STREAM {
            return Err(self.reject(stream, ErrorCode::StreamIdInUse, "stream id 0 is reserved"));
        }
        let request = match request {
            Ok(request) => request,
            Err(_) if uri_len > MAX_URI => {
                // Valid HTTP, just longer than `http::Uri` takes: an HTTP answer the page
                // can read, as a server would give, not a transport error.
                let message = format!(
                    "the URI is {uri_len} bytes long; the bus takes URIs of up to {MAX_URI} bytes\n"
                );
                self.answer_here(stream, http::StatusCode::URI_TOO_LONG, message, window);
                return Ok(());
            }
            Err(message) => return Err(self.reject(stream, ErrorCode::InvalidHead, message)),
        };
        let (mut parts, ()) = request.into_parts();
        parts.extensions = self.extensions.clone();

        let mut streams = self.lock();
        let full = streams.len() >= self.config.max_streams;
        let entry = match streams.entry(stream) {
            Entry::Vacant(entry) if !full => entry,
            Entry::Vacant(_) => {
                drop(streams);
                return Err(self.reject(
                    stream,
                    ErrorCode::TooManyStreams,
                    format!(
                        "this session already has {} open streams",
                        self.config.max_streams
                    ),
                ));
            }
            Entry::Occupied(_) => {
                drop(streams);
                // The page lost track of its own stream: close it, so both sides agree that
                // every `Error` on an open stream closes it.
                return Err(self.fail(
                    stream,
                    ErrorCode::StreamIdInUse,
                    format!("stream {stream} is already open"),
                ));
            }
        };
        if end_stream && self.config.inline_first_poll {
            // Entered without credit or task: a Cancel, a duplicate head or body frames
            // from another thread find it, as they would any open stream.
            entry.insert(Stream {
                upload: None,
                credit: None,
                task: None,
            });
            drop(streams);
            self.answer_inline(stream, Request::from_parts(parts, Body::empty()), window);
            return Ok(());
        }
        let (upload, body) = if end_stream {
            (None, Body::empty())
        } else {
            let (tx, rx) = mpsc::unbounded_channel();
            let body = Body::new(UploadBody {
                rx,
                session: Arc::downgrade(self),
                stream,
                ended: false,
            });
            let upload = Upload {
                tx,
                allowed: u64::from(self.config.upload_window),
            };
            (Some(upload), body)
        };
        let request = Request::from_parts(parts, body);
        let credit = Arc::new(Credit::new(window));
        // The entry goes in before the task can run: `run_stream` removes it when it ends.
        entry.insert(Stream {
            upload,
            credit: Some(Arc::clone(&credit)),
            task: None,
        });
        drop(streams);
        let handle = if self.config.inline_first_poll {
            // Boxed where it is made: the stream's future is kilobytes, and every move of
            // it on the way to its first poll is a `memcpy` (issue 16).
            let task = Box::pin(run_stream(Arc::clone(self), stream, request, credit));
            let what = format_args!("the handler of stream {stream}");
            match crate::bridge::poll_boxed_here_then_spawn(&self.runtime, task, &what) {
                Some(handle) => handle,
                None => return Ok(()),
            }
        } else {
            let task = run_stream(Arc::clone(self), stream, request, credit);
            self.runtime.spawn(task).abort_handle()
        };
        match self.lock().get_mut(&stream) {
            Some(entry) => entry.task = Some(handle),
            // Closed meanwhile (cancelled, the session closed): its credit is closed, so
            // the task sends nothing more; stop it.
            None => handle.abort(),
        }
        Ok(())
    }

    /// Answers a request without a body on this thread when its handler and its body are
    /// ready at once and the body fits one frame: one `Response` frame, and no credit or
    /// task is ever made for it (issue 16: a framed tiny GET had cost 2.85 times
    /// `bus.call`). Otherwise the stream gets its credit, its head and the data at hand are
    /// sent from here, and the rest is left to the runtime.
    ///
    /// The stream is entered (without credit) before this is called, so frames for it
    /// from other threads meanwhile are handled as for any open stream; one that closes it
    /// (a `Cancel`, a protocol error) leaves this answer unsent. Nothing is sent for it
    /// before its credit exists, so no `Credit` from the page can miss it.
    fn answer_inline(self: &Arc<Self>, stream: u32, request: Request<Body>, window: u32) {
        // Ends the stream with an error if this unwinds before the answer is settled.
        let guard = Guard::new(Arc::clone(self), stream);
        let whole = self.config.whole_responses;
        let what = format_args!("the handler of stream {stream}");
        // A whole answer is sent from inside, so what comes out is small: the answer moved
        // out of the closure and then out of `run_here` was two `memcpy`s of a response
        // per request (issue 16).
        // The request stays in this frame (the closure holds a reference to it): a closure
        // holding the request itself was moved, request and all, into `run_here` and again
        // to be called.
        let mut request = Some(request);
        let request = &mut request;
        let inline = crate::bridge::run_here(&self.runtime, &what, move |cx| {
            let request = request.take().expect("taken once");
            let response = match respond_here(&self.bus, request, cx) {
                Answer::Ready(response) => response,
                // Polled once here too, as the whole call was before: a traced request, a
                // cookie call or a WebSocket handshake still runs on this thread up to its
                // first wait, and a waiting handler's timer starts from here.
                Answer::Later(mut call) => match call.as_mut().poll(cx) {
                    Poll::Ready(response) => response,
                    Poll::Pending => return Inline::Later(guard, call),
                },
            };
            let (parts, mut body) = response.into_parts();
            let first = if whole {
                match http_body::Body::poll_frame(Pin::new(&mut body), cx) {
                    Poll::Ready(None) if !self.bus.is_closed() => {
                        self.send_whole(guard, &parts, Bytes::new());
                        return Inline::Sent;
                    }
                    Poll::Ready(Some(Ok(frame))) if frame.is_data() => {
                        let data = frame.into_data().unwrap_or_default();
                        if http_body::Body::is_end_stream(&body)
                            && data.len() <= MAX_DATA
                            && data.len() <= window as usize
                        {
                            self.send_whole(guard, &parts, data);
                            return Inline::Sent;
                        }
                        Some(Some(Ok(http_body::Frame::data(data))))
                    }
                    Poll::Ready(other) => Some(other),
                    Poll::Pending => None,
                }
            } else {
                None
            };
            Inline::Streaming(guard, Box::new((parts, body, first)))
        });
        match inline {
            Inline::Sent => {}
            Inline::Later(mut guard, call) => {
                let credit = Arc::new(Credit::new(window));
                if self.credit_inline(&mut guard, &credit) {
                    self.run_entered(
                        stream,
                        &credit,
                        resume(guard, call, Arc::clone(&credit)),
                        false,
                    );
                }
            }
            Inline::Streaming(mut guard, answered) => {
                let (parts, body, first) = *answered;
                let credit = Arc::new(Credit::new(window));
                if !self.credit_inline(&mut guard, &credit) {
                    return;
                }
                let task = {
                    let credit = Arc::clone(&credit);
                    async move {
                        let mut guard = guard;
                        send_response(&mut guard, parts, body, credit, first).await;
                    }
                };
                // Its head and what data is ready go out from here.
                self.run_entered(stream, &credit, task, true);
            }
        }
    }

    /// Ends a stream answered inline with its whole response, if it is still open. Its id
    /// is not kept among the recently closed: that is for body frames the page sent before
    /// it learnt of the end, and a request without a body has none.
    fn send_whole(&self, mut guard: Guard, parts: &http::response::Parts, data: Bytes) {
        guard.done = true;
        let stream = guard.stream;
        if self.lock().remove(&stream).is_some() {
            self.sink.send_response(stream, parts, data);
        }
    }

    /// Gives a stream answered inline its `credit`; `false` (and the guard disarmed) when
    /// it was closed meanwhile, and its answer is not to be sent.
    fn credit_inline(&self, guard: &mut Guard, credit: &Arc<Credit>) -> bool {
        match self.lock().get_mut(&guard.stream) {
            Some(entry) if entry.credit.is_none() => {
                entry.credit = Some(Arc::clone(credit));
                true
            }
            _ => {
                guard.done = true;
                false
            }
        }
    }

    /// Runs `task` for the entered `stream` whose credit is `credit`: polled once here
    /// first when `here`, then on the runtime.
    fn run_entered<T>(&self, stream: u32, credit: &Arc<Credit>, task: T, here: bool)
    where
        T: Future<Output = ()> + Send + 'static,
    {
        let handle = if here {
            let what = format_args!("the handler of stream {stream}");
            match crate::bridge::poll_boxed_here_then_spawn(&self.runtime, Box::pin(task), &what) {
                Some(handle) => handle,
                None => return,
            }
        } else {
            self.runtime.spawn(task).abort_handle()
        };
        match self.lock().get_mut(&stream) {
            // Still this stream (not one the page opened with the same id since).
            Some(entry)
                if entry
                    .credit
                    .as_ref()
                    .is_some_and(|c| Arc::ptr_eq(c, credit)) =>
            {
                entry.task = Some(handle);
            }
            // Ended or closed meanwhile: a closed stream's credit is closed, so its task
            // sends nothing more; stop it.
            _ => handle.abort(),
        }
    }

    fn upload(&self, stream: u32, data: Option<Bytes>) -> Result<(), Rejected> {
        let mut streams = self.lock();
        let Some(entry) = streams.get_mut(&stream) else {
            drop(streams);
            if self.was_closed(stream) {
                // It crossed the stream's end (or its cancel) on the way: nothing to do.
                return Ok(());
            }
            return Err(self.reject(
                stream,
                ErrorCode::UnknownStream,
                format!("no open stream {stream} for request body data"),
            ));
        };
        let Some(upload) = entry.upload.as_mut() else {
            drop(streams);
            return Err(self.fail(
                stream,
                ErrorCode::Protocol,
                format!("request body data on stream {stream} after its end"),
            ));
        };
        match data {
            None => {
                // The body ends only here: a sender dropped without this (the stream
                // cancelled or closed) fails the body rather than end it short.
                let _ = upload.tx.send(Chunk::End);
                entry.upload = None;
                Ok(())
            }
            Some(data) => {
                let len = data.len() as u64;
                if len > upload.allowed {
                    let allowed = upload.allowed;
                    drop(streams);
                    return Err(self.fail(
                        stream,
                        ErrorCode::FlowControl,
                        format!(
                            "{len} bytes of request body sent with only {allowed} bytes of credit"
                        ),
                    ));
                }
                upload.allowed -= len;
                if upload.tx.send(Chunk::Data(data)).is_err() {
                    // The handler dropped the body without reading it all: take the
                    // bytes and give the credit straight back, so the page can finish.
                    upload.allowed += len;
                    drop(streams);
                    if len > 0 {
                        self.sink.send(Frame::Credit {
                            stream,
                            bytes: len as u32,
                        });
                    }
                }
                Ok(())
            }
        }
    }

    /// The handler read `n` bytes of the request body: grant the page as much again.
    fn consumed(&self, stream: u32, n: usize) {
        let mut streams = self.lock();
        if let Some(upload) = streams.get_mut(&stream).and_then(|s| s.upload.as_mut()) {
            upload.allowed += n as u64;
            drop(streams);
            self.sink.send(Frame::Credit {
                stream,
                bytes: n as u32,
            });
        }
    }

    fn finish(&self, stream: u32, last: Frame) {
        // Remove first, and send only if it was still ours to close: a stream cancelled or
        // failed meanwhile has had its last word.
        if self.close(stream).is_some() {
            self.sink.send(last);
        }
    }

    /// Ends `stream` with the whole response in one frame ([`SessionConfig::whole_responses`]).
    fn finish_whole(&self, stream: u32, head: &http::response::Parts, data: Bytes) {
        // As `finish`.
        if self.close(stream).is_some() {
            self.sink.send_response(stream, head, data);
        }
    }
}

/// The scheme and authority of the session's own origin, parsed once: a page's requests
/// mostly go to its own origin, and their URIs are then made from these and the path
/// alone (issue 16: parsing the scheme and authority again, and boxing a custom scheme
/// anew, was ~300 of the framed port's instructions per request).
#[derive(Debug)]
struct OwnOrigin {
    /// `scheme://authority`, exactly as a URI of this origin starts.
    prefix: Box<str>,
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
}

impl OwnOrigin {
    /// The parts of `caller`'s origin, when it has one in the `scheme://authority` form.
    fn of(caller: &Caller) -> Option<OwnOrigin> {
        let origin = caller.origin()?;
        let parts = origin.parse::<Uri>().ok()?.into_parts();
        let (scheme, authority) = (parts.scheme?, parts.authority?);
        let prefix = format!("{scheme}://{authority}");
        // Only an origin that prints back as itself (a caller's origin is lower case, with
        // no path): else a prefix match would not mean the same scheme and authority.
        (prefix == origin).then(|| OwnOrigin {
            prefix: prefix.into(),
            scheme,
            authority,
        })
    }

    /// `uri` parsed, when it is `prefix` followed by an absolute path: the result is the
    /// one `Uri::from_maybe_shared` gives (its path and query are checked the same way).
    /// `None` for any other URI, which is parsed whole.
    fn parse(&self, uri: &Bytes) -> Option<Result<Uri, http::uri::InvalidUri>> {
        let rest = uri.strip_prefix(self.prefix.as_bytes())?;
        if rest.first() != Some(&b'/') || uri.len() > MAX_URI {
            return None;
        }
        let path = match http::uri::PathAndQuery::from_maybe_shared(uri.slice(self.prefix.len()..))
        {
            Ok(path) => path,
            Err(e) => return Some(Err(e)),
        };
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path);
        // Never refused (a scheme, an authority and a path make a URI); parsed whole if it
        // were.
        Uri::from_parts(parts).ok().map(Ok)
    }
}

/// Whether `frame` is read from a copy in the thread's scratch buffer: a request head of
/// up to [`MAX_PIECE`](crate::scratch::MAX_PIECE) bytes. Its URI and header values are then
/// slices sharing the scratch chunk's reference count, where slicing the bridge's own
/// buffer made `bytes` allocate one for it (issue 16). A request's head lives as long as
/// its stream (at most [`SessionConfig::max_streams`] per session, each keeping at most one
/// chunk); body data, which may wait in a stream's queue for as long as its credit allows,
/// keeps a buffer of its own, so a byte held keeps no more than itself.
fn in_scratch(frame: &[u8]) -> bool {
    frame.len() <= crate::scratch::MAX_PIECE && protocol::is_request_head(frame)
}

/// The longest URI `http::Uri` takes (`u16::MAX - 1` bytes); longer ones are refused.
const MAX_URI: usize = u16::MAX as usize - 1;

/// The request of a head: `uri` is the head's own bytes (a slice of the frame or the
/// decoded `String`'s buffer: no copy), header values likewise.
fn build_request<N: AsRef<str>>(
    own: Option<&OwnOrigin>,
    method: &str,
    uri: Bytes,
    headers: impl ExactSizeIterator<Item = (N, Bytes)>,
) -> Result<Request<()>, String> {
    let method =
        Method::from_bytes(method.as_bytes()).map_err(|_| format!("invalid method {method:?}"))?;
    let parsed = match own.and_then(|own| own.parse(&uri)) {
        Some(parsed) => parsed,
        None => Uri::from_maybe_shared(uri.clone()),
    };
    let uri = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            return Err(format!(
                "invalid URI {:?}: {e}",
                String::from_utf8_lossy(&uri)
            ));
        }
    };
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    let map = request.headers_mut();
    map.reserve(headers.len());
    for (name, value) in headers {
        let name = name.as_ref();
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("invalid header name {name:?}"))?;
        let value = HeaderValue::from_maybe_shared(value)
            .map_err(|_| format!("invalid value for header {name:?}"))?;
        map.append(header, value);
    }
    Ok(request)
}

/// What a stream answered inline left to do after its handler's first poll.
enum Inline {
    /// Its whole response went out from the calling thread.
    Sent,
    /// The handler waits: the rest runs on the runtime.
    Later(
        Guard,
        Pin<Box<dyn Future<Output = http::Response<Body>> + Send>>,
    ),
    /// Answered, with a body to stream (boxed: a tiny answer never takes this way, and the
    /// box keeps the enum small to move).
    Streaming(Guard, Box<StreamingAnswer>),
}

/// A response's head, its body, and the body's first frame when it was taken already.
type StreamingAnswer = (
    http::response::Parts,
    Body,
    Option<Option<Result<http_body::Frame<Bytes>, BoxError>>>,
);

/// Sends an `Error` frame if the stream's task is dropped before it finished — which only
/// happens when the runtime shuts down (a cancelled stream is removed first, and sends
/// nothing).
struct Guard {
    shared: Arc<Shared>,
    stream: u32,
    done: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.done && self.shared.close(self.stream).is_some() {
            self.shared.sink.send(Frame::error(
                self.stream,
                ErrorCode::Shutdown,
                "the bus shut down before the response was complete",
            ));
        }
    }
}

impl Guard {
    fn new(shared: Arc<Shared>, stream: u32) -> Self {
        Guard {
            shared,
            stream,
            done: false,
        }
    }
}

/// The bus's response to `request` (a WebSocket handshake goes to the upgrade).
async fn respond(bus: BusHandle, request: Request<Body>) -> http::Response<Body> {
    #[cfg(feature = "ws")]
    if crate::upgrade::is_websocket(&request) {
        // Boxed: the upgrade's state must not grow every request's future.
        return Box::pin(crate::upgrade::connect(&bus, request)).await;
    }
    bus.call(request).await
}

/// The bus's response to `request` when its handler answers at its first poll (with
/// `cx`), else what is left to run for it (a WebSocket handshake goes to the upgrade).
// Inlined: a call passing the request by value was a `memcpy` of it (issue 16).
#[inline(always)]
fn respond_here(bus: &BusHandle, request: Request<Body>, cx: &mut Context<'_>) -> Answer {
    #[cfg(feature = "ws")]
    if crate::upgrade::is_websocket(&request) {
        let bus = bus.clone();
        return Answer::Later(Box::pin(async move {
            crate::upgrade::connect(&bus, request).await
        }));
    }
    bus.call_here(request, cx)
}

/// The stream's headers as the wire carries them.
fn wire_headers(headers: &http::HeaderMap) -> Vec<protocol::WireHeader> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), Bytes::copy_from_slice(v.as_bytes())))
        .collect()
}

/// A stream's task: the request's answer, sent within the page's credit.
async fn run_stream(shared: Arc<Shared>, stream: u32, request: Request<Body>, credit: Arc<Credit>) {
    let mut guard = Guard::new(shared, stream);
    let response = respond(guard.shared.bus.clone(), request).await;
    let (parts, body) = response.into_parts();
    send_response(&mut guard, parts, body, credit, None).await;
}

/// The task of a stream whose handler was polled once on the bridge's thread and waits.
/// The guard comes in made, so a task dropped unpolled (a runtime shutting down) still
/// ends the stream with an error.
async fn resume(
    mut guard: Guard,
    call: Pin<Box<dyn Future<Output = http::Response<Body>> + Send>>,
    credit: Arc<Credit>,
) {
    let (parts, body) = call.await.into_parts();
    send_response(&mut guard, parts, body, credit, None).await;
}

/// Sends a response: whole in one frame when the session takes that and the body is
/// complete at once, else its head and then its body within the page's credit. `first` is
/// the body's first frame when it was taken already (and found not to make a whole
/// response).
async fn send_response(
    guard: &mut Guard,
    parts: http::response::Parts,
    mut body: Body,
    credit: Arc<Credit>,
    mut first: Option<Option<Result<http_body::Frame<Bytes>, BoxError>>>,
) {
    let stream = guard.stream;
    let shared = Arc::clone(&guard.shared);
    let shared = &shared;
    if credit.is_closed() {
        return;
    }
    // A body complete at once goes in the same frame as the head, when the page takes that.
    if first.is_none() && shared.config.whole_responses {
        let ready = std::future::poll_fn(|cx| {
            Poll::Ready(http_body::Body::poll_frame(Pin::new(&mut body), cx))
        });
        if let Poll::Ready(next) = ready.await {
            match next {
                None if !shared.bus.is_closed() => {
                    guard.done = true;
                    return shared.finish_whole(stream, &parts, Bytes::new());
                }
                Some(Ok(frame)) if frame.is_data() => {
                    let data = frame.into_data().unwrap_or_default();
                    if http_body::Body::is_end_stream(&body)
                        && data.len() <= MAX_DATA
                        && credit.window.try_take_all(data.len())
                    {
                        guard.done = true;
                        return shared.finish_whole(stream, &parts, data);
                    }
                    first = Some(Some(Ok(http_body::Frame::data(data))));
                }
                other => first = Some(other),
            }
        }
    }
    shared.sink.send(Frame::ResponseHead {
        stream,
        status: parts.status.as_u16(),
        headers: wire_headers(&parts.headers),
    });
    let cut_off = || {
        Frame::error(
            stream,
            ErrorCode::Shutdown,
            "the bus shut down before the response was complete",
        )
    };
    let last = 'body: loop {
        if shared.bus.is_closed() {
            break cut_off();
        }
        // A frame that is there is taken at once; only a body that waits is raced against
        // the shutdown (no watch is set up per frame otherwise).
        let next = match first.take() {
            // The frame the head waited for (`whole_responses`).
            Some(next) => Poll::Ready(next),
            None => {
                std::future::poll_fn(|cx| {
                    Poll::Ready(http_body::Body::poll_frame(Pin::new(&mut body), cx))
                })
                .await
            }
        };
        let next = match next {
            Poll::Ready(next) => next,
            Poll::Pending => tokio::select! {
                // Shutdown first: a producer dropped by the shutdown ends its channel,
                // which must not be mistaken for a complete body.
                biased;
                () = shared.bus.closed() => break cut_off(),
                next = body.frame() => next,
            },
        };
        match next {
            None if shared.bus.is_closed() => break cut_off(),
            None => break Frame::ResponseEnd { stream },
            Some(Err(e)) => {
                break Frame::error(
                    stream,
                    ErrorCode::BodyFailed,
                    format!("response body failed: {e}"),
                );
            }
            Some(Ok(frame)) => {
                let Ok(mut data) = frame.into_data() else {
                    continue; // trailers are not carried
                };
                while !data.is_empty() {
                    let want = data.len().min(MAX_DATA);
                    let n = match shared.config.credit_idle {
                        // Credit at hand: no timer.
                        _ if let Some(n) = credit.window.try_take(want) => n,
                        Some(idle) => match tokio::time::timeout(idle, credit.take(want)).await {
                            Ok(n) => n,
                            Err(_) => {
                                break 'body Frame::error(
                                    stream,
                                    ErrorCode::BodyFailed,
                                    format!(
                                        "the page granted no credit for {} s: the stream was ended",
                                        idle.as_secs_f32()
                                    ),
                                );
                            }
                        },
                        None => credit.take(want).await,
                    };
                    let chunk = data.split_to(n);
                    if credit.is_closed() {
                        return;
                    }
                    shared.sink.send(Frame::ResponseData {
                        stream,
                        data: chunk,
                    });
                }
            }
        }
    };
    guard.done = true;
    shared.finish(stream, last);
}

/// The last [`RecentlyClosed::CAPACITY`] closed stream ids.
#[derive(Default)]
struct RecentlyClosed {
    order: std::collections::VecDeque<u32>,
    ids: std::collections::HashSet<u32, StreamIds>,
}

/// Hashes stream ids for the session's maps: one multiply with a per-process random key
/// instead of SipHash's rounds (the ids are the page's, so the key stays secret; the
/// multiply's high half is folded in, so ids that differ only in high bits still spread).
#[derive(Clone, Copy)]
struct StreamIds(u64);

impl StreamIds {
    fn new() -> Self {
        static KEY: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let key = *KEY.get_or_init(|| {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one(0x5eed_u32) | 1
        });
        StreamIds(key)
    }
}

impl Default for StreamIds {
    fn default() -> Self {
        StreamIds::new()
    }
}

impl std::hash::BuildHasher for StreamIds {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(self.0)
    }
}

struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u32(u32::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        let product = u128::from(self.0 ^ u64::from(n)) * 0x9E37_79B9_7F4A_7C15_u128;
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl RecentlyClosed {
    const CAPACITY: usize = 4096;

    fn insert(&mut self, stream: u32) {
        if self.ids.insert(stream) {
            self.order.push_back(stream);
            if self.order.len() > Self::CAPACITY
                && let Some(old) = self.order.pop_front()
            {
                self.ids.remove(&old);
            }
        }
    }

    fn contains(&self, stream: u32) -> bool {
        self.ids.contains(&stream)
    }
}

/// Flow-control credit for one direction of one stream: how many body bytes the reader
/// has allowed the writer to send, like an HTTP/2 window.
///
/// The reader [`grant`](Self::grant)s bytes as it consumes; the writer
/// [`take`](Self::take)s up to what it wants to send, waiting while there is none. Made for
/// one waiting writer; grants may come from any thread. Bridges that stream to a platform
/// with their own callbacks (the C ABI for iOS) use it to honour their consumer's pace.
///
/// ```
/// use bus_core::port::CreditWindow;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let window = CreditWindow::new(10);
/// assert_eq!(window.take(64).await, 10);
/// window.grant(5);
/// assert_eq!(window.take(3).await, 3);
/// assert_eq!(window.take(64).await, 2);
/// # });
/// ```
#[derive(Debug)]
pub struct CreditWindow {
    available: Mutex<u64>,
    notify: Notify,
}

impl CreditWindow {
    /// A window that allows `initial` bytes before the first grant.
    pub fn new(initial: u32) -> Self {
        CreditWindow {
            available: Mutex::new(u64::from(initial)),
            notify: Notify::new(),
        }
    }

    /// Allows `bytes` more (totals saturate at `u64::MAX`).
    pub fn grant(&self, bytes: u32) {
        if bytes == 0 {
            return;
        }
        let mut available = self.available.lock().unwrap_or_else(|e| e.into_inner());
        *available = available.saturating_add(u64::from(bytes));
        drop(available);
        // One waiter; a stored permit covers a grant that comes before the wait.
        self.notify.notify_one();
    }

    /// Takes exactly `n` bytes of credit if there are that many.
    fn try_take_all(&self, n: usize) -> bool {
        let mut available = self.available.lock().unwrap_or_else(|e| e.into_inner());
        if *available < n as u64 {
            return false;
        }
        *available -= n as u64;
        true
    }

    /// Takes between 1 and `max` bytes of credit if there is any now.
    fn try_take(&self, max: usize) -> Option<usize> {
        let mut available = self.available.lock().unwrap_or_else(|e| e.into_inner());
        if *available == 0 {
            return None;
        }
        let n = (*available).min(max as u64);
        *available -= n;
        Some(n as usize)
    }

    /// Takes between 1 and `max` bytes of credit, waiting until there is some.
    pub async fn take(&self, max: usize) -> usize {
        loop {
            {
                let mut available = self.available.lock().unwrap_or_else(|e| e.into_inner());
                if *available > 0 {
                    let n = (*available).min(max as u64);
                    *available -= n;
                    return n as usize;
                }
            }
            self.notify.notified().await;
        }
    }
}

/// Response credit of one stream, and whether the stream was closed from outside its task
/// (cancel, error, session close).
///
/// The flag closes a race: aborting a task takes effect at its next await, so a task that
/// was already running could otherwise send a frame after the page was told the stream
/// ended. It is checked before every send; a page ignores frames for streams it closed.
struct Credit {
    window: CreditWindow,
    closed: AtomicBool,
}

impl Credit {
    fn new(initial: u32) -> Self {
        Credit {
            window: CreditWindow::new(initial),
            closed: AtomicBool::new(false),
        }
    }

    fn add(&self, bytes: u32) {
        self.window.grant(bytes);
    }

    async fn take(&self, max: usize) -> usize {
        self.window.take(max).await
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// The request body of a framed request: chunks from `RequestData`, with credit granted
/// back to the page as the handler reads them.
struct UploadBody {
    rx: mpsc::UnboundedReceiver<Chunk>,
    session: Weak<Shared>,
    stream: u32,
    /// The page's `RequestEnd` came: the body is complete.
    ended: bool,
}

/// What the port hands a request body: the page's data, or its `RequestEnd`.
enum Chunk {
    Data(Bytes),
    End,
}

impl http_body::Body for UploadBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Chunk::Data(chunk))) => {
                if let Some(session) = self.session.upgrade() {
                    session.consumed(self.stream, chunk.len());
                }
                Poll::Ready(Some(Ok(http_body::Frame::data(chunk))))
            }
            Poll::Ready(Some(Chunk::End)) => {
                self.ended = true;
                Poll::Ready(None)
            }
            // The stream closed before the page's end (a Cancel, an error, the session
            // closing): a handler must not take what came as the whole body.
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(Some(Err(format!(
                    "the request body of stream {} was cut off: the stream closed before the page ended it",
                    self.stream
                )
                .into())))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller::FrameKind;

    /// A URI made from the session's origin's parts is the one a whole parse makes, and
    /// anything but the origin followed by an absolute path is left to the whole parse.
    #[test]
    fn own_origin_uris_are_the_ones_a_whole_parse_makes() {
        for origin in [
            "app://localhost",
            "https://example.com:8443",
            "http://127.0.0.1",
        ] {
            let caller = Caller::new(Transport::Frames)
                .with_origin(origin)
                .with_frame(FrameKind::Main);
            let own = OwnOrigin::of(&caller).expect("an origin of scheme and authority");
            for rest in [
                "/",
                "/a/b?c=d&e",
                "//double",
                "/x#fragment",
                "/%2e%2e/secret",
                "/?",
                "/bad path",
                "/\u{7f}",
                "/é",
            ] {
                let uri = Bytes::from(format!("{origin}{rest}"));
                let whole = Uri::from_maybe_shared(uri.clone());
                let fast = own.parse(&uri).expect("taken by the fast path");
                match (&whole, &fast) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!(a, b, "{uri:?}");
                        assert_eq!(a.to_string(), b.to_string(), "{uri:?}");
                        assert_eq!(a.scheme(), b.scheme());
                        assert_eq!(a.authority(), b.authority());
                        assert_eq!(a.path_and_query(), b.path_and_query());
                    }
                    (Err(_), Err(_)) => {}
                    _ => panic!("{uri:?}: whole parse {whole:?}, fast path {fast:?}"),
                }
            }
            for other in [
                origin.to_owned(),
                format!("{origin}?q"),
                format!("{origin}:1/x"),
                format!("{origin}evil/x"),
                format!("{origin}@evil/x"),
                format!("{}/x", origin.to_uppercase()),
                "/relative".to_owned(),
                format!("{origin}/{}", "a".repeat(MAX_URI)),
            ] {
                assert!(own.parse(&Bytes::from(other.clone())).is_none(), "{other}");
            }
        }
        // An origin that does not print back as itself is never a prefix to match.
        for caller in [
            Caller::new(Transport::Frames),
            Caller::new(Transport::Frames).with_origin("null"),
        ] {
            assert!(OwnOrigin::of(&caller).is_none());
        }
    }
}
