//! The request body of a request started from C: a bounded queue that a host thread
//! pushes chunks into ([`Upload::write`]) and the handler reads as an [`http_body::Body`]
//! ([`UploadBody`]).
//!
//! The queue holds at most [`QUEUE_BYTES`] (one chunk of any allowed size always fits
//! into an empty queue). When it is full, a write waits up to its timeout for the handler
//! to read, then answers [`Error::WouldBlock`]: a handler that stops reading stops the
//! host's pump, and no chunk is copied before there is room for it.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bus_core::BoxError;
use bytes::Bytes;

use crate::error::Error;

/// Bytes queued between the host and the handler before writes wait (256 KiB, the same
/// as the frame protocol's initial upload window).
pub(crate) const QUEUE_BYTES: usize = 256 * 1024;

/// The writing side, shared by the request's registry entry.
#[derive(Debug)]
pub(crate) struct Upload {
    state: Mutex<State>,
    room: Condvar,
}

#[derive(Debug, Default)]
struct State {
    chunks: VecDeque<Bytes>,
    queued: usize,
    /// The host called end: no more writes.
    ended: bool,
    /// The handler dropped the body, or the request was cancelled: writes are refused.
    closed: bool,
    reader: Option<Waker>,
}

/// The handler's side: the request's body.
#[derive(Debug)]
pub(crate) struct UploadBody {
    upload: Arc<Upload>,
}

impl Upload {
    /// A new queue and the body that reads it.
    pub(crate) fn new() -> (Arc<Upload>, UploadBody) {
        let upload = Arc::new(Upload {
            state: Mutex::new(State::default()),
            room: Condvar::new(),
        });
        let body = UploadBody {
            upload: Arc::clone(&upload),
        };
        (upload, body)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Updates under this lock are single assignments and queue operations that do not
        // panic midway: a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Copies `chunk` into the queue, waiting up to `timeout` for room.
    ///
    /// A zero `timeout` never waits. Called from a thread that runs async code (a bus
    /// worker, e.g. from inside a response callback), it never waits either: blocking
    /// there could stall the very handler that would make room.
    ///
    /// # Errors
    /// [`Error::InvalidState`] after [`end`](Self::end); [`Error::Closed`] when the
    /// handler no longer reads the body (it answered without it, or the request was
    /// cancelled); [`Error::WouldBlock`] when there was no room in time.
    pub(crate) fn write(&self, chunk: &[u8], timeout: Duration) -> Result<(), Error> {
        let timeout = if tokio::runtime::Handle::try_current().is_ok() {
            Duration::ZERO
        } else {
            timeout
        };
        let deadline = Instant::now().checked_add(timeout);
        let mut state = self.lock();
        loop {
            if state.ended {
                return Err(Error::InvalidState("the request body was already ended"));
            }
            if state.closed {
                return Err(Error::Closed(
                    "the handler no longer reads the request body (it answered, or the request was cancelled)",
                ));
            }
            if chunk.is_empty() {
                return Ok(());
            }
            if state.queued == 0 || state.queued + chunk.len() <= QUEUE_BYTES {
                state.queued += chunk.len();
                state.chunks.push_back(Bytes::copy_from_slice(chunk));
                if let Some(reader) = state.reader.take() {
                    reader.wake();
                }
                return Ok(());
            }
            let now = Instant::now();
            let left = match deadline {
                Some(deadline) if deadline > now => deadline - now,
                // `None`: a timeout so long it overflows; wait in long steps.
                None => Duration::from_secs(3600),
                Some(_) => {
                    return Err(Error::WouldBlock(
                        "the request body queue is full: the handler has not read it yet",
                    ));
                }
            };
            state = self
                .room
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Ends the body: the handler reads what is queued, then the end.
    ///
    /// # Errors
    /// [`Error::InvalidState`] when it was already ended. Ending a body the handler no
    /// longer reads is not an error (the two race).
    pub(crate) fn end(&self) -> Result<(), Error> {
        let mut state = self.lock();
        if state.ended {
            return Err(Error::InvalidState("the request body was already ended"));
        }
        state.ended = true;
        if let Some(reader) = state.reader.take() {
            reader.wake();
        }
        drop(state);
        self.room.notify_all();
        Ok(())
    }

    /// Refuses further writes and wakes writers waiting for room (a cancelled request).
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.chunks.clear();
        state.queued = 0;
        if let Some(reader) = state.reader.take() {
            reader.wake();
        }
        drop(state);
        self.room.notify_all();
    }

    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.lock().queued
    }
}

impl http_body::Body for UploadBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let upload = &self.upload;
        let mut state = upload.lock();
        if let Some(chunk) = state.chunks.pop_front() {
            state.queued -= chunk.len();
            drop(state);
            upload.room.notify_all();
            return Poll::Ready(Some(Ok(http_body::Frame::data(chunk))));
        }
        if state.closed {
            return Poll::Ready(Some(Err("the request was cancelled".into())));
        }
        if state.ended {
            return Poll::Ready(None);
        }
        state.reader = Some(cx.waker().clone());
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        let state = self.upload.lock();
        state.ended && state.chunks.is_empty()
    }
}

impl Drop for UploadBody {
    fn drop(&mut self) {
        self.upload.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn a_full_queue_holds_the_writer_back_until_the_handler_reads() {
        let (upload, body) = Upload::new();
        let chunk = vec![1u8; 100 * 1024];
        upload.write(&chunk, Duration::ZERO).unwrap();
        upload.write(&chunk, Duration::ZERO).unwrap();
        let err = upload.write(&chunk, Duration::ZERO).unwrap_err();
        assert!(matches!(err, Error::WouldBlock(_)));
        let started = Instant::now();
        let err = upload.write(&chunk, Duration::from_millis(50)).unwrap_err();
        assert!(matches!(err, Error::WouldBlock(_)));
        assert!(started.elapsed() >= Duration::from_millis(45));
        assert_eq!(upload.queued(), 200 * 1024);

        // A reader on another thread makes room: the waiting write goes through.
        let reader = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let bytes = rt.block_on(async move { body.collect().await.unwrap().to_bytes() });
            bytes.len()
        });
        upload.write(&chunk, Duration::from_secs(10)).unwrap();
        upload.end().unwrap();
        assert!(matches!(upload.end(), Err(Error::InvalidState(_))));
        assert!(matches!(
            upload.write(b"x", Duration::ZERO),
            Err(Error::InvalidState(_))
        ));
        assert_eq!(reader.join().unwrap(), 300 * 1024);
    }

    #[test]
    fn a_dropped_body_closes_the_queue_and_wakes_the_writer() {
        let (upload, body) = Upload::new();
        upload
            .write(&vec![0u8; QUEUE_BYTES], Duration::ZERO)
            .unwrap();
        let dropper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            drop(body);
        });
        let err = upload.write(b"more", Duration::from_secs(10)).unwrap_err();
        assert!(matches!(err, Error::Closed(_)));
        dropper.join().unwrap();
        assert!(
            upload.end().is_ok(),
            "ending a body nobody reads is a race, not a bug"
        );
    }

    #[test]
    fn writes_never_wait_on_a_runtime_thread() {
        let (upload, _body) = Upload::new();
        upload
            .write(&vec![0u8; QUEUE_BYTES], Duration::ZERO)
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let started = Instant::now();
        let result = rt.block_on(async { upload.write(b"x", Duration::from_secs(10)) });
        assert!(matches!(result, Err(Error::WouldBlock(_))));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
