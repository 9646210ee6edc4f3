//! [`BusHandle::call_blocking`]: a request from a plain OS thread, with a response body
//! pulled chunk by chunk.
//!
//! This is the shape platform interception wants: Android's `shouldInterceptRequest` runs
//! on a WebView thread and answers with an `InputStream` that the engine pulls; iOS's
//! `WKURLSchemeHandler` can do the same from a worker thread. Pulling is the backpressure:
//! a chunk is produced only after the previous one was taken, so a page that stops reading
//! stops the producer. Dropping the [`BlockingBody`] cancels the handler.

use std::fmt;
use std::io;

use bytes::{Buf, Bytes};
use http::{Request, Response};
use http_body_util::BodyExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use crate::body::{Body, BoxError};
use crate::bus::BusHandle;
use crate::caller::Caller;
use crate::error::BusError;

impl BusHandle {
    /// Calls `request` on the bus's runtime on behalf of `caller` (as
    /// [`call_from`](BusHandle::call_from) does: any [`Caller`] already in the request is
    /// replaced) and blocks this thread until the response head is there. Errors are
    /// responses, as with [`call`](BusHandle::call).
    ///
    /// # Panics
    /// When called from inside an async runtime (it would block a worker thread).
    ///
    /// ```
    /// use bus_core::{Body, Bus, Caller};
    /// use std::io::Read;
    ///
    /// let hello = tower::service_fn(|_req: http::Request<Body>| async {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(Body::from("hi")))
    /// });
    /// let bus = Bus::builder().mount("/hello", hello).build();
    /// let request = http::Request::get("/hello").body(Body::empty()).unwrap();
    /// let response = bus.handle().call_blocking(Caller::in_process(), request);
    /// let mut text = String::new();
    /// response.into_body().read_to_string(&mut text).unwrap();
    /// assert_eq!(text, "hi");
    /// ```
    pub fn call_blocking(
        &self,
        caller: Caller,
        mut request: Request<Body>,
    ) -> Response<BlockingBody> {
        request.extensions_mut().insert(caller);
        let runtime = match self.runtime() {
            Ok(runtime) => runtime,
            Err(err) => return err.into_response().map(BlockingBody::buffered),
        };
        let (head_tx, head_rx) = oneshot::channel();
        let (chunk_tx, chunk_rx) = mpsc::channel(1);
        let bus = self.clone();
        let task = runtime.spawn(async move {
            let response = bus.call(request).await;
            let (parts, mut body) = response.into_parts();
            if head_tx.send(parts).is_err() {
                return;
            }
            while let Some(frame) = body.frame().await {
                let item = match frame {
                    Ok(frame) => match frame.into_data() {
                        Ok(data) if data.is_empty() => continue,
                        Ok(data) => Ok(data),
                        Err(_) => continue, // trailers are not carried
                    },
                    Err(e) => Err(e),
                };
                let failed = item.is_err();
                if chunk_tx.send(item).await.is_err() || failed {
                    return; // the reader is gone, or the body ended in an error
                }
            }
            // A producer dropped by a shutdown ends its channel: say so rather than let
            // the reader take a cut-off body for a complete one.
            if bus.is_closed() {
                let _ = chunk_tx.send(Err(BusError::Closed.into())).await;
            }
        });
        match head_rx.blocking_recv() {
            Ok(parts) => Response::from_parts(
                parts,
                BlockingBody {
                    rx: Some(chunk_rx),
                    current: Bytes::new(),
                    task: Some(task.abort_handle()),
                },
            ),
            // The task was dropped before answering: the runtime is shutting down.
            Err(_) => BusError::Closed.into_response().map(BlockingBody::buffered),
        }
    }
}

/// A response body read by blocking the current thread. Dropping it cancels the handler.
pub struct BlockingBody {
    rx: Option<mpsc::Receiver<Result<Bytes, BoxError>>>,
    current: Bytes,
    task: Option<AbortHandle>,
}

impl fmt::Debug for BlockingBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingBody")
            .field("buffered", &self.current.len())
            .field("streaming", &self.rx.is_some())
            .finish()
    }
}

impl BlockingBody {
    /// A body of bytes already in memory (used for the bus's own error responses).
    fn buffered(body: Body) -> Self {
        // Error bodies are always `Body::full`; take the bytes without polling.
        let bytes = futures_util::FutureExt::now_or_never(body.collect())
            .and_then(Result::ok)
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        BlockingBody {
            rx: None,
            current: bytes,
            task: None,
        }
    }

    /// Blocks until the next chunk; `None` at the end of the body.
    ///
    /// # Errors
    /// The body's error, when the handler's body failed midway.
    ///
    /// # Panics
    /// When called from inside an async runtime.
    pub fn next_chunk(&mut self) -> Option<Result<Bytes, BoxError>> {
        if !self.current.is_empty() {
            return Some(Ok(std::mem::take(&mut self.current)));
        }
        let next = self.rx.as_mut()?.blocking_recv();
        if !matches!(next, Some(Ok(_))) {
            self.rx = None;
        }
        next
    }
}

impl io::Read for BlockingBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.next_chunk() {
                None => return Ok(0),
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.current.len());
        self.current.copy_to_slice(&mut buf[..n]);
        Ok(n)
    }
}

impl Drop for BlockingBody {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
