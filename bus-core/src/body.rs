//! [`Body`]: the one body type that crosses the bus, in requests and responses.
//!
//! A body is empty, a single [`Bytes`] (moved by reference, never copied), a bounded
//! channel of chunks fed by a [`BodySender`] (a slow reader slows the writer), or any
//! other [`http_body::Body`] boxed. It implements [`http_body::Body`] with
//! `Data = Bytes` and `Error = BoxError`, so axum, tower-http and hyper accept it as is.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use tokio::sync::mpsc;

/// The error type of bodies on the bus: any error, boxed.
///
/// It is a plain box (not a wrapper) on purpose: extractors such as axum's look inside it
/// with `downcast` (for instance for [`http_body_util::LengthLimitError`], which axum turns
/// into 413), and a wrapper would hide the original error from them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A request or response body on the bus.
///
/// ```
/// use bus_core::Body;
/// use http_body_util::BodyExt;
///
/// # tokio_test_block_on(async {
/// let (tx, body) = Body::channel(4);
/// tokio::spawn(async move {
///     tx.send("hello ".into()).await.unwrap();
///     tx.send("world".into()).await.unwrap();
/// });
/// let bytes = body.collect().await.unwrap().to_bytes();
/// assert_eq!(bytes, "hello world");
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
pub struct Body {
    kind: Kind,
}

enum Kind {
    Empty,
    Full(Option<Bytes>),
    Channel {
        rx: mpsc::Receiver<Result<Bytes, BoxError>>,
        len: Option<u64>,
    },
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

impl Body {
    /// An empty body.
    pub const fn empty() -> Self {
        Body { kind: Kind::Empty }
    }

    /// A body of one buffer, handed over by reference (no copy).
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Body::empty();
        }
        Body {
            kind: Kind::Full(Some(bytes)),
        }
    }

    /// Wraps any [`http_body::Body`] whose data is [`Bytes`].
    ///
    /// A `Body` is returned unchanged rather than boxed twice, and tower-http/hyper's
    /// `Full<Bytes>` and `Empty<Bytes>` become a single buffer or nothing (no box, and the
    /// bus knows the response is complete without polling it).
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let body = match try_downcast::<Body, B>(body) {
            Ok(body) => return body,
            Err(body) => body,
        };
        let body = match try_downcast::<http_body_util::Full<Bytes>, B>(body) {
            Ok(mut full) => {
                // `Full` is always ready: this poll never waits and never registers a waker.
                let frame = futures_util::FutureExt::now_or_never(http_body_util::BodyExt::frame(
                    &mut full,
                ));
                return match frame {
                    Some(Some(Ok(frame))) => Body::full(frame.into_data().unwrap_or_default()),
                    _ => Body::empty(),
                };
            }
            Err(body) => body,
        };
        let body = match try_downcast::<http_body_util::Empty<Bytes>, B>(body) {
            Ok(_) => return Body::empty(),
            Err(body) => body,
        };
        Body {
            kind: Kind::Boxed(UnsyncBoxBody::new(http_body_util::BodyExt::map_err(
                body,
                Into::into,
            ))),
        }
    }

    /// A streaming body fed by the returned [`BodySender`].
    ///
    /// At most `capacity` chunks wait between writer and reader (minimum 1): when they are
    /// all waiting, [`BodySender::send`] waits too. That is the backpressure that keeps a
    /// large body from ever being held in memory whole. When the reader drops the body,
    /// the sender sees [`BodySender::is_closed`] and its sends fail.
    pub fn channel(capacity: usize) -> (BodySender, Body) {
        Self::channel_inner(capacity, None)
    }

    /// Like [`Body::channel`], for a body whose total length is known in advance.
    ///
    /// The length is reported through [`http_body::Body::size_hint`]; the sender must then
    /// send exactly that many bytes. A response body the bus hands on that ends short of
    /// it (the sender dropped early) ends in an error for its reader, not in an end.
    pub fn channel_with_len(capacity: usize, len: u64) -> (BodySender, Body) {
        Self::channel_inner(capacity, Some(len))
    }

    fn channel_inner(capacity: usize, len: Option<u64>) -> (BodySender, Body) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            BodySender { tx },
            Body {
                kind: Kind::Channel { rx, len },
            },
        )
    }

    /// The exact length of this body when it is known without reading it.
    pub fn exact_len(&self) -> Option<u64> {
        http_body::Body::size_hint(self).exact()
    }

    /// Whether this body is a single in-memory buffer or empty (no polling needed).
    pub(crate) fn is_buffered(&self) -> bool {
        matches!(self.kind, Kind::Empty | Kind::Full(_))
    }
}

/// Moves `value` into `Target` if it is one; used to avoid boxing a `Body` in a `Body`.
fn try_downcast<Target: 'static, T: 'static>(value: T) -> Result<Target, T> {
    let mut slot = Some(value);
    match (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<Target>>() {
        Some(target) => Ok(target.take().expect("slot is filled")),
        None => Err(slot.expect("slot is filled")),
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Empty => "Empty",
            Kind::Full(_) => "Full",
            Kind::Channel { .. } => "Channel",
            Kind::Boxed(_) => "Boxed",
        };
        f.debug_struct("Body")
            .field("kind", &kind)
            .field("size_hint", &http_body::Body::size_hint(self))
            .finish()
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Channel { rx, len } => rx.poll_recv(cx).map(|chunk| {
                chunk.map(|chunk| {
                    chunk.map(|data| {
                        // The hint is of what is left (http_body's contract).
                        if let Some(left) = len {
                            *left = left.saturating_sub(data.len() as u64);
                        }
                        Frame::data(data)
                    })
                })
            }),
            Kind::Boxed(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Full(bytes) => bytes.is_none(),
            Kind::Channel { .. } => false,
            Kind::Boxed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Channel { len: Some(n), .. } => SizeHint::with_exact(*n),
            Kind::Channel { len: None, .. } => SizeHint::default(),
            Kind::Boxed(body) => body.size_hint(),
        }
    }
}

macro_rules! from_full {
    ($($t:ty),*) => {$(
        impl From<$t> for Body {
            fn from(value: $t) -> Self {
                Body::full(value)
            }
        }
    )*};
}
from_full!(Bytes, Vec<u8>, String, &'static str, &'static [u8]);

impl From<()> for Body {
    fn from(_: ()) -> Self {
        Body::empty()
    }
}

/// The writing half of [`Body::channel`].
///
/// Usable from async code ([`send`](Self::send)) and from plain OS threads
/// ([`blocking_send`](Self::blocking_send)), so a JNI or C thread can feed a request body.
#[derive(Clone)]
pub struct BodySender {
    tx: mpsc::Sender<Result<Bytes, BoxError>>,
}

impl fmt::Debug for BodySender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodySender")
            .field("closed", &self.tx.is_closed())
            .finish()
    }
}

/// A chunk that could not be sent because the body's reader is gone; the chunk is handed back.
#[derive(Debug, thiserror::Error)]
#[error("the body's reader was dropped")]
pub struct SendError(pub Bytes);

impl BodySender {
    /// Sends one chunk, waiting while the channel is full.
    ///
    /// # Errors
    /// [`SendError`] with the chunk when the reader dropped the body.
    pub async fn send(&self, chunk: Bytes) -> Result<(), SendError> {
        self.tx.send(Ok(chunk)).await.map_err(|e| {
            SendError(e.0.unwrap_or_default()) // always Ok: we sent Ok
        })
    }

    /// Sends one chunk from a thread that is not running async code, blocking while the
    /// channel is full.
    ///
    /// # Errors
    /// [`SendError`] with the chunk when the reader dropped the body.
    ///
    /// # Panics
    /// When called from inside an async runtime (it would block a worker thread).
    pub fn blocking_send(&self, chunk: Bytes) -> Result<(), SendError> {
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|e| SendError(e.0.unwrap_or_default()))
    }

    /// Sends one chunk if there is room now.
    ///
    /// # Errors
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], each with the chunk.
    pub fn try_send(&self, chunk: Bytes) -> Result<(), TrySendError> {
        self.tx.try_send(Ok(chunk)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(c) => TrySendError::Full(c.unwrap_or_default()),
            mpsc::error::TrySendError::Closed(c) => TrySendError::Closed(c.unwrap_or_default()),
        })
    }

    /// Ends the body with an error: the reader gets `error` after the chunks already sent.
    ///
    /// Dropping every sender instead ends the body normally.
    pub async fn abort(self, error: impl Into<BoxError>) {
        let _ = self.tx.send(Err(error.into())).await;
    }

    /// Like [`abort`](Self::abort), from a thread that is not running async code.
    pub fn blocking_abort(self, error: impl Into<BoxError>) {
        let _ = self.tx.blocking_send(Err(error.into()));
    }

    /// Whether the reader dropped the body (a cancelled request, a closed page).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Waits until the reader drops the body.
    pub async fn closed(&self) {
        self.tx.closed().await
    }
}

/// Why [`BodySender::try_send`] did not send; the chunk is handed back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrySendError {
    /// The channel holds `capacity` chunks already.
    #[error("the body channel is full")]
    Full(Bytes),
    /// The reader dropped the body.
    #[error("the body's reader was dropped")]
    Closed(Bytes),
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;
    use http_body_util::BodyExt;

    /// `size_hint` is of what is left to read, as http_body asks, also for a channel.
    #[tokio::test]
    async fn a_channel_of_known_length_hints_what_is_left() {
        let (tx, mut body) = Body::channel_with_len(2, 10);
        tx.try_send(Bytes::from_static(b"hello")).unwrap();
        assert_eq!(body.size_hint().exact(), Some(10));
        body.frame().await.unwrap().unwrap();
        assert_eq!(body.size_hint().exact(), Some(5));
        tx.try_send(Bytes::from_static(b"world")).unwrap();
        body.frame().await.unwrap().unwrap();
        assert_eq!(body.size_hint().exact(), Some(0));
    }

    #[tokio::test]
    async fn full_body_is_moved_not_copied() {
        let data = Bytes::from(vec![7u8; 1024]);
        let ptr = data.as_ptr();
        let mut body = Body::full(data);
        assert_eq!(body.size_hint().exact(), Some(1024));
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap().as_ptr(), ptr);
        assert!(body.is_end_stream());
    }

    #[tokio::test]
    async fn a_body_is_not_boxed_twice() {
        let body = Body::new(Body::full("x"));
        assert!(matches!(body.kind, Kind::Full(_)));
        let body = Body::new(http_body_util::Full::new(Bytes::from_static(b"x")));
        assert!(matches!(body.kind, Kind::Full(Some(ref b)) if b == "x"));
        let body = Body::new(http_body_util::Empty::<Bytes>::new());
        assert!(matches!(body.kind, Kind::Empty));
        let body = Body::new(http_body_util::StreamBody::new(
            futures_util::stream::empty::<Result<http_body::Frame<Bytes>, std::convert::Infallible>>(
            ),
        ));
        assert!(matches!(body.kind, Kind::Boxed(_)));
    }

    #[tokio::test]
    async fn channel_applies_backpressure_and_reports_close() {
        let (tx, body) = Body::channel(2);
        tx.try_send(Bytes::from_static(b"a")).unwrap();
        tx.try_send(Bytes::from_static(b"b")).unwrap();
        assert!(matches!(
            tx.try_send(Bytes::from_static(b"c")),
            Err(TrySendError::Full(_))
        ));
        drop(body);
        assert!(tx.is_closed());
        let err = tx.send(Bytes::from_static(b"d")).await.unwrap_err();
        assert_eq!(err.0, "d");
    }

    #[tokio::test]
    async fn abort_reaches_the_reader_after_earlier_chunks() {
        let (tx, mut body) = Body::channel(4);
        tx.send(Bytes::from_static(b"ok")).await.unwrap();
        tx.abort("disk on fire").await;
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, "ok");
        let err = body.frame().await.unwrap().unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
    }
}
