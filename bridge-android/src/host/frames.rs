//! Frames for the shim over Android's string-only bridges: base64 strings in
//! (`WebMessageListener.onPostMessage` / a `JavascriptInterface` method), base64 strings
//! out (`JavaScriptReplyProxy.postMessage` / `evaluateJavascript`).
//!
//! Also the host side of form submissions: a `POST` stream whose `RequestHead` carries
//! the [`STASH_REQUEST`] marker (a pseudo-header no `fetch` or XHR can set) has its response kept in the stash instead of sent to the page, which
//! gets the token and navigates to `GET <origin>/__bus/result/<token>`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bus_core::port::{Rejected, Session, SessionConfig};
use bus_core::protocol::{self, ErrorCode, Frame, WireHeader};
use bus_core::{Caller, FrameKind, Transport};
use bytes::{Bytes, BytesMut};

use super::stash::{Entry, new_token};
use super::{AndroidHost, DELIVER_GLOBAL, Inner, STASH_HEADER, STASH_REQUEST};

/// Why a page may not open a frame session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRefused {
    /// The page is not of the app origin.
    #[error("frames are accepted only from {app}; this page is {page}")]
    ForeignOrigin {
        /// The page's origin as the platform reported it.
        page: String,
        /// The app origin.
        app: String,
    },
    /// The page is a subframe, even of the app origin.
    #[error("frames are accepted only from the main frame of {app}, not from a subframe")]
    NotMainFrame {
        /// The app origin.
        app: String,
    },
    /// The bus is shut down.
    #[error("the bus is shut down")]
    Closed,
}

/// A message from the page that the session refused. The page was told too (an `Error`
/// frame), so the bridge has nothing more to do than perhaps log it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The message is not base64.
    #[error("a frame message that is not base64: {0}")]
    NotBase64(String),
    /// The session refused the frame.
    #[error(transparent)]
    Rejected(#[from] Rejected),
}

/// One page's (one document's) frame connection to the bus. `Send + Sync`: feed it from
/// whatever thread the platform delivers messages on. Dropping it (or [`close`](Self::close))
/// cancels every open stream; open a new one for each document.
///
/// Outbound frames wait in an outbox; the `notify` callback given to
/// [`AndroidHost::open_session`] says when to come and take them, so everything queued by
/// then goes in one delivery: [`take_script`](Self::take_script) for `evaluateJavascript`,
/// [`take_outbound`](Self::take_outbound) for a port's `postMessage` (one message each).
pub struct FrameSession {
    session: Session,
    outbox: Arc<Outbox>,
    diverts: Arc<Diverts>,
    origin: String,
}

impl fmt::Debug for FrameSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameSession")
            .field("origin", &self.origin)
            .field("session", &self.session)
            .field("waiting", &self.outbox.lock().len())
            .finish()
    }
}

impl AndroidHost {
    /// Opens a frame session for a page, given what the platform reports about it: its
    /// origin and whether it is the main frame (androidx `WebMessageListener.onPostMessage`
    /// has both; CDP has the execution context's). Only the app origin's main frame gets
    /// one. Every request of the session carries the caller `Frames`, app origin, `Main`.
    ///
    /// `notify` is called (from any thread, with no lock held) each time the outbox goes
    /// from empty to not empty; the bridge then takes what is waiting — on Android, post
    /// one task to the UI thread that calls [`FrameSession::take_script`] and
    /// `evaluateJavascript`s it. It must not block.
    ///
    /// # Errors
    /// [`SessionRefused`] for other origins, subframes, and a bus that is shut down.
    pub fn open_session<N>(
        &self,
        page_origin: &str,
        is_main_frame: bool,
        notify: N,
    ) -> Result<FrameSession, SessionRefused>
    where
        N: Fn() + Send + Sync + 'static,
    {
        let app = &self.inner.origin;
        if !self.is_app_origin(page_origin) {
            return Err(SessionRefused::ForeignOrigin {
                page: page_origin.to_owned(),
                app: app.clone(),
            });
        }
        if !is_main_frame {
            return Err(SessionRefused::NotMainFrame { app: app.clone() });
        }
        let caller = Caller::new(Transport::Frames)
            .with_origin(app)
            .with_frame(FrameKind::Main);
        let outbox = Arc::new(Outbox {
            queue: Mutex::new(Vec::new()),
            notify: Box::new(notify),
        });
        let diverts = Arc::new(Diverts {
            streams: Mutex::new(HashMap::new()),
            host: Arc::clone(&self.inner),
        });
        let sink = {
            let outbox = Arc::clone(&outbox);
            let diverts = Arc::clone(&diverts);
            move |frame: Frame| diverts.outbound(frame, &outbox)
        };
        // A response complete at once goes as one frame (the shim decodes `Response`).
        let config = SessionConfig::new(caller).whole_responses(true);
        let session =
            Session::new(&self.inner.bus, config, sink).map_err(|_| SessionRefused::Closed)?;
        Ok(FrameSession {
            session,
            outbox,
            diverts,
            origin: app.clone(),
        })
    }
}

impl FrameSession {
    /// Receives one frame from the page, as base64. Never blocks.
    ///
    /// # Errors
    /// [`FrameError`] when the frame was refused; the page got an `Error` frame for it and
    /// every other stream goes on.
    pub fn receive(&self, message: &str) -> Result<(), FrameError> {
        match BASE64.decode(message.trim()) {
            Ok(bytes) => self.receive_bytes(Bytes::from(bytes)),
            Err(e) => {
                let text = format!("a frame message that is not base64: {e}");
                let frame = Frame::error(protocol::SESSION_STREAM, ErrorCode::Malformed, &text);
                if self.outbox.enqueue(vec![frame]) {
                    (self.outbox.notify)();
                }
                Err(FrameError::NotBase64(e.to_string()))
            }
        }
    }

    /// Receives one frame from the page, as bytes (a port that carries binary).
    ///
    /// # Errors
    /// As [`receive`](Self::receive).
    pub fn receive_bytes(&self, bytes: Bytes) -> Result<(), FrameError> {
        let frame = match protocol::decode(bytes.clone()) {
            Ok(frame) => frame,
            // Let the session report it, with the code every implementation agrees on.
            Err(_) => return Ok(self.session.receive(bytes)?),
        };
        let frame = match frame {
            Frame::RequestHead {
                stream,
                method,
                uri,
                mut headers,
                end_stream,
                window,
            } if stream != protocol::SESSION_STREAM
                && headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case(STASH_REQUEST)) =>
            {
                // The marker is never a header the handler sees. It diverts only a POST
                // (a form submission); on anything else it is dropped and the answer goes
                // to the page as usual.
                headers.retain(|(n, _)| !n.eq_ignore_ascii_case(STASH_REQUEST));
                if !method.eq_ignore_ascii_case("POST") {
                    return Ok(self.session.handle(Frame::RequestHead {
                        stream,
                        method,
                        uri,
                        headers,
                        end_stream,
                        window,
                    })?);
                }
                self.diverts.start(stream);
                // The page reads none of this body: the stash grants the credit, enough
                // for the largest result it keeps (and one byte more, to notice a bigger one).
                let room = self
                    .diverts
                    .host
                    .stash
                    .limits()
                    .max_entry_bytes
                    .saturating_add(1);
                Frame::RequestHead {
                    stream,
                    method,
                    uri,
                    headers,
                    end_stream,
                    window: window.max(u32::try_from(room).unwrap_or(u32::MAX)),
                }
            }
            Frame::Cancel { stream } => {
                self.diverts.forget(stream);
                Frame::Cancel { stream }
            }
            other => other,
        };
        Ok(self.session.handle(frame)?)
    }

    /// Takes every frame waiting for the page, base64-encoded, in order.
    pub fn take_outbound(&self) -> Vec<String> {
        std::mem::take(&mut *self.outbox.lock())
    }

    /// Takes every frame waiting for the page as one script for `evaluateJavascript` /
    /// `Runtime.evaluate` (see [`delivery_script`]); `None` when nothing waits.
    pub fn take_script(&self) -> Option<String> {
        let frames = self.take_outbound();
        (!frames.is_empty()).then(|| delivery_script(&self.origin, &frames))
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        self.session.open_streams()
    }

    /// Cancels every open stream and refuses further frames (the page went away).
    pub fn close(&self) {
        self.session.close();
        self.diverts.clear();
        self.outbox.lock().clear();
    }
}

/// A script that hands `frames` (base64) to the page's `bindingTransport` global
/// ([`DELIVER_GLOBAL`]), several per call — but only if the document is still of
/// `app_origin`: `evaluateJavascript` runs in whatever document the main frame shows
/// now, which may be a foreign page that defined the same global to catch our frames.
pub fn delivery_script(app_origin: &str, frames: &[String]) -> String {
    let origin = app_origin.trim_end_matches('/');
    let size: usize = frames.iter().map(|f| f.len() + 3).sum();
    let mut script = String::with_capacity(size + 160);
    script.push_str("if(location.origin===");
    script.push_str(&bus_shim::js_string(origin));
    script.push_str("&&typeof globalThis.");
    script.push_str(DELIVER_GLOBAL);
    script.push_str("===\"function\"){");
    for group in frames.chunks(512) {
        script.push_str("globalThis.");
        script.push_str(DELIVER_GLOBAL);
        script.push('(');
        for (i, frame) in group.iter().enumerate() {
            if i > 0 {
                script.push(',');
            }
            // Frames are base64 the host made (A-Z a-z 0-9 + / =): nothing in them can end
            // a double-quoted literal, and escaping megabytes of them would cost.
            script.push('"');
            script.push_str(frame);
            script.push('"');
        }
        script.push_str(");");
    }
    script.push('}');
    script
}

/// Frames waiting for the page, and who to tell.
struct Outbox {
    queue: Mutex<Vec<String>>,
    notify: Box<dyn Fn() + Send + Sync>,
}

impl Outbox {
    fn lock(&self) -> MutexGuard<'_, Vec<String>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues frames; true when the queue was empty before (the caller notifies, with no
    /// lock held).
    fn enqueue(&self, frames: Vec<Frame>) -> bool {
        if frames.is_empty() {
            return false;
        }
        let encoded: Vec<String> = frames
            .iter()
            .map(|f| BASE64.encode(protocol::encode(f)))
            .collect();
        let mut queue = self.lock();
        let was_empty = queue.is_empty();
        queue.extend(encoded);
        was_empty
    }
}

/// Streams whose response goes to the stash rather than to the page.
struct Diverts {
    streams: Mutex<HashMap<u32, Divert>>,
    host: Arc<Inner>,
}

enum Divert {
    AwaitHead,
    Collect {
        status: u16,
        headers: Vec<WireHeader>,
        body: BytesMut,
    },
    /// A redirect: its head went to the page (the shim follows it); the body is dropped.
    Redirect,
    /// Over a limit: the page got an `Error`; everything else is dropped.
    Dead,
}

impl Diverts {
    fn lock(&self) -> MutexGuard<'_, HashMap<u32, Divert>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start(&self, stream: u32) {
        let old = self.lock().insert(stream, Divert::AwaitHead);
        self.release(old);
    }

    fn forget(&self, stream: u32) {
        let old = self.lock().remove(&stream);
        self.release(old);
    }

    fn clear(&self) {
        let all = std::mem::take(&mut *self.lock());
        for (_, d) in all {
            self.release(Some(d));
        }
    }

    fn release(&self, divert: Option<Divert>) {
        if let Some(Divert::Collect { body, .. }) = divert {
            self.host.stash.release(body.len());
        }
    }

    /// A frame from the bus: to the page, or into the stash.
    fn outbound(&self, frame: Frame, outbox: &Outbox) {
        let out = {
            let mut streams = self.lock();
            match streams.get_mut(&frame.stream()) {
                None => vec![frame],
                Some(_) => self.step(&mut streams, frame),
            }
        };
        // A stream's head, data and end come from one task, one after the other: they
        // keep their order without holding the lock while they are encoded.
        if outbox.enqueue(out) {
            (outbox.notify)();
        }
    }

    fn step(&self, streams: &mut HashMap<u32, Divert>, frame: Frame) -> Vec<Frame> {
        let stream = frame.stream();
        if let Frame::Response {
            status,
            headers,
            data,
            ..
        } = frame
        {
            // A whole response (`whole_responses`) is what its three frames say: the
            // redirect and stash logic below takes them one by one.
            let mut out = self.step(
                streams,
                Frame::ResponseHead {
                    stream,
                    status,
                    headers,
                },
            );
            for next in [
                Frame::ResponseData { stream, data },
                Frame::ResponseEnd { stream },
            ] {
                if streams.contains_key(&stream) {
                    out.extend(self.step(streams, next));
                }
            }
            return out;
        }
        let stash = &self.host.stash;
        let state = streams.get_mut(&stream).expect("checked by the caller");
        match (state, frame) {
            (_, credit @ Frame::Credit { .. }) => vec![credit], // for the page's upload
            (
                state @ Divert::AwaitHead,
                Frame::ResponseHead {
                    status, headers, ..
                },
            ) => {
                let redirect = matches!(status, 301 | 302 | 303 | 307 | 308)
                    && headers.iter().any(|(n, _)| n == "location");
                if redirect {
                    *state = Divert::Redirect;
                    vec![Frame::ResponseHead {
                        stream,
                        status,
                        headers,
                    }]
                } else {
                    *state = Divert::Collect {
                        status,
                        headers,
                        body: BytesMut::new(),
                    };
                    vec![]
                }
            }
            (state @ Divert::Collect { .. }, Frame::ResponseData { data, .. }) => {
                let Divert::Collect { body, .. } = state else {
                    unreachable!("matched above")
                };
                let limit = stash.limits().max_entry_bytes;
                let fits = body.len() + data.len() <= limit && stash.reserve(data.len());
                if fits {
                    body.extend_from_slice(&data);
                    return vec![];
                }
                let held = body.len();
                *state = Divert::Dead;
                stash.release(held);
                vec![Frame::error(
                    stream,
                    ErrorCode::BodyFailed,
                    format!(
                        "the answer to this form is over the result stash's room ({limit} bytes per result, {} in all)",
                        stash.limits().max_total_bytes
                    ),
                )]
            }
            (Divert::Collect { .. }, Frame::ResponseEnd { .. }) => {
                let Some(Divert::Collect {
                    status,
                    mut headers,
                    body,
                }) = streams.remove(&stream)
                else {
                    unreachable!("matched above")
                };
                match new_token() {
                    Ok(token) => {
                        stash.insert(
                            token.clone(),
                            Entry {
                                status,
                                headers: headers.clone(),
                                body: body.freeze(),
                            },
                        );
                        headers.push((STASH_HEADER.to_owned(), Bytes::from(token)));
                        vec![
                            Frame::ResponseHead {
                                stream,
                                status,
                                headers,
                            },
                            Frame::ResponseEnd { stream },
                        ]
                    }
                    Err(e) => {
                        stash.release(body.len());
                        vec![Frame::error(
                            stream,
                            ErrorCode::Internal,
                            format!("no random token for the form result: {e}"),
                        )]
                    }
                }
            }
            (Divert::Redirect | Divert::Dead, Frame::ResponseData { .. }) => vec![],
            (Divert::Dead, Frame::ResponseEnd { .. } | Frame::Error { .. }) => {
                streams.remove(&stream);
                vec![]
            }
            (_, last @ (Frame::ResponseEnd { .. } | Frame::Error { .. })) => {
                let old = streams.remove(&stream);
                self.release(old);
                vec![last]
            }
            (_, other) => vec![other],
        }
    }
}

impl Drop for Diverts {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delivery_script_checks_the_document_first() {
        let s = delivery_script("https://app.invalid", &["AQ==".into(), "Ag==".into()]);
        assert_eq!(
            s,
            "if(location.origin===\"https://app.invalid\"&&typeof globalThis.__inprocBusDeliver===\"function\"){globalThis.__inprocBusDeliver(\"AQ==\",\"Ag==\");}"
        );
        let many: Vec<String> = (0..1000).map(|_| "AQ==".to_owned()).collect();
        assert_eq!(
            delivery_script("https://app.invalid", &many)
                .matches("__inprocBusDeliver(")
                .count(),
            2
        );
    }
}
