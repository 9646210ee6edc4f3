//! The clients of the three paths, each asking the same `Router` for the same requests.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use bus_core::port::{Session, SessionConfig, encoded};
use bus_core::protocol::{Frame, decode, encode, encode_request_head, write_request_head};
use bus_core::{Body, BusHandle, Caller, FrameKind, Transport};
use bytes::Bytes;
use http::{HeaderValue, Request, Uri, header};
use http_body_util::{BodyExt, Either, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use crate::args::Handler;
use crate::handler::Bare;

/// A failed measurement, as a sentence naming the path and what went wrong.
pub(crate) type Res<T> = Result<T, String>;

/// The app's own origin: the bus's policy lets the framed page in by it.
pub(crate) const ORIGIN: &str = "app://localhost";

/// Reads a body to its end, counting the data bytes without touching them.
async fn drain<B>(mut body: B) -> Result<u64, B::Error>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    let mut n = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            n += data.len() as u64;
        }
    }
    Ok(n)
}

/// (a) The bus in process: `bus.call` in the caller's task.
#[derive(Clone, Debug)]
pub(crate) struct BusClient {
    bus: BusHandle,
    /// What each request carries (nothing, as Rust code's own calls, or a page's).
    extensions: Option<http::Extensions>,
}

impl BusClient {
    pub(crate) fn new(bus: BusHandle) -> Self {
        BusClient {
            bus,
            extensions: None,
        }
    }

    /// Each request carries what [`FramedClient`]'s session stamps on its page's requests:
    /// the same extensions, cloned whole per request as the session clones them.
    pub(crate) fn as_page(bus: BusHandle) -> Self {
        let mut extensions = http::Extensions::new();
        extensions.insert(page_caller());
        BusClient {
            bus,
            extensions: Some(extensions),
        }
    }

    /// `GET path` (e.g. `/tiny`); the number of body bytes received.
    pub(crate) async fn get(&self, uri: &Uri) -> Res<u64> {
        let mut request = Request::get(uri.clone())
            .body(Body::empty())
            .map_err(|e| format!("bus: building GET {uri}: {e}"))?;
        if let Some(extensions) = &self.extensions {
            // Cloned whole, as a session clones them.
            *request.extensions_mut() = extensions.clone();
        }
        let response = self.bus.call(request).await;
        if response.status() != 200 {
            return Err(format!("bus: GET {uri} answered {}", response.status()));
        }
        drain(response.into_body())
            .await
            .map_err(|e| format!("bus: GET {uri}: body failed: {e}"))
    }
}

/// The page the framed session is for: a main frame of the app's origin, by frames.
fn page_caller() -> Caller {
    Caller::new(Transport::Frames)
        .with_origin(ORIGIN)
        .with_frame(FrameKind::Main)
}

/// The URI a bus or framed request uses for `path`: the app's origin, as a WebView sends it.
pub(crate) fn app_uri(path: &str) -> Uri {
    format!("{ORIGIN}{path}")
        .parse()
        .expect("paths of this benchmark are valid")
}

/// (b) Serves `router` (and [`Bare`] at `/bare`, as the bus mounts it) with hyper's HTTP/1
/// server on `127.0.0.1:0`, on the runtime this is called in; returns the address.
pub(crate) async fn serve(router: Router) -> Res<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("hyper: binding 127.0.0.1:0: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("hyper: local address: {e}"))?;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            let router = router.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let router = router.clone();
                    async move {
                        if request.uri().path() == Handler::Service.route() {
                            let response = Bare.oneshot(request).await?;
                            return Ok::<_, Infallible>(response.map(Either::Right));
                        }
                        Ok(router.oneshot(request).await?.map(Either::Left))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

/// (b) A hyper HTTP/1 client on one kept-alive loopback connection.
#[derive(Debug)]
pub(crate) struct HyperClient {
    sender: SendRequest<Empty<Bytes>>,
    host: HeaderValue,
}

impl HyperClient {
    /// Connects (with `TCP_NODELAY`) and spawns the connection task on the current runtime.
    pub(crate) async fn connect(addr: SocketAddr) -> Res<HyperClient> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("hyper: connecting to {addr}: {e}"))?;
        tcp.set_nodelay(true)
            .map_err(|e| format!("hyper: TCP_NODELAY: {e}"))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| format!("hyper: handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let host = HeaderValue::from_str(&addr.to_string()).expect("an address is a valid value");
        Ok(HyperClient { sender, host })
    }

    /// `GET path` (origin-form, e.g. `/tiny`); the number of body bytes received.
    pub(crate) async fn get(&mut self, path: &Uri) -> Res<u64> {
        self.sender
            .ready()
            .await
            .map_err(|e| format!("hyper: connection lost: {e}"))?;
        let request = Request::get(path.clone())
            .header(header::HOST, self.host.clone())
            .body(Empty::new())
            .map_err(|e| format!("hyper: building GET {path}: {e}"))?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| format!("hyper: GET {path}: {e}"))?;
        if response.status() != 200 {
            return Err(format!("hyper: GET {path} answered {}", response.status()));
        }
        drain(response.into_body())
            .await
            .map_err(|e| format!("hyper: GET {path}: body failed: {e}"))
    }
}

/// How long the framed client waits for a frame before calling the run failed.
const FRAME_WAIT: Duration = Duration::from_secs(30);

/// (c) The framed port, driven as a bridge drives it: requests are encoded
/// `RequestHead`s fed to [`Session::receive`]; the session's outbound frames arrive encoded
/// on a channel and are decoded here; credit is granted back as the data is consumed, in
/// steps of a quarter window (as `bridge-js` does).
#[derive(Debug)]
pub(crate) struct FramedClient {
    session: Session,
    frames: crossbeam_channel::Receiver<Bytes>,
    next_stream: u32,
    window: u32,
    /// The frame being written.
    buf: Vec<u8>,
    /// Each frame in a `Bytes` of its own, handed over with `Session::receive`, rather
    /// than written into `buf` and handed over borrowed.
    pub(crate) own_buffers: bool,
}

/// One open stream's progress.
#[derive(Debug, Default)]
struct StreamState {
    received: u64,
    ungranted: u64,
}

impl FramedClient {
    /// Opens a session on `bus` for a main-frame page of the app's origin.
    pub(crate) fn open(bus: &BusHandle, window: u32) -> Res<FramedClient> {
        let (tx, frames) = crossbeam_channel::unbounded();
        let page = page_caller();
        let session = Session::new(
            bus,
            // As bridge-desktop's host runs it by default: a handler that answers at once
            // is polled on the thread that hands the request over, with no worker hop, and
            // a response complete at once comes as one frame.
            SessionConfig::new(page)
                .inline_first_poll(true)
                .whole_responses(true),
            encoded(move |bytes| {
                let _ = tx.send(bytes);
            }),
        )
        .map_err(|e| format!("framed: opening a session: {e}"))?;
        Ok(FramedClient {
            session,
            frames,
            next_stream: 1,
            window,
            buf: Vec::new(),
            own_buffers: false,
        })
    }

    /// Opens a stream with `GET uri`; returns its id.
    fn request(&mut self, uri: &str) -> Res<u32> {
        let stream = self.next_stream;
        self.next_stream = self.next_stream.checked_add(1).unwrap_or(1);
        // Written straight from the request's text, as the page's script writes its frames
        // (no `Frame` with a `String` per field made first).
        let handed = if self.own_buffers {
            self.session.receive(encode_request_head(
                stream,
                "GET",
                uri,
                &[],
                true,
                self.window,
            ))
        } else {
            // Into one buffer used again, handed over borrowed: as the iOS bridge hands
            // over the engine's message.
            self.buf.clear();
            write_request_head(&mut self.buf, stream, "GET", uri, &[], true, self.window);
            self.session.receive_slice(&self.buf)
        };
        handed.map_err(|e| format!("framed: GET {uri} refused: {e}"))?;
        Ok(stream)
    }

    fn next_frame(&self) -> Res<Frame> {
        // An answer made inline is queued before `receive` returns: taken without the
        // deadline (a clock read) a wait needs.
        let bytes = match self.frames.try_recv() {
            Ok(bytes) => Ok(bytes),
            Err(_) => self.frames.recv_timeout(FRAME_WAIT),
        }
        .map_err(|e| format!("framed: no frame from the session: {e}"))?;
        decode(bytes).map_err(|e| format!("framed: undecodable frame from the session: {e}"))
    }

    /// Handles one frame of an open stream; `true` when the stream ended.
    fn on_frame(&self, frame: Frame, state: &mut StreamState) -> Res<bool> {
        match frame {
            Frame::ResponseHead { status, stream, .. } => {
                if status != 200 {
                    return Err(format!("framed: stream {stream} answered {status}"));
                }
                Ok(false)
            }
            Frame::ResponseData { stream, data } => {
                let n = data.len() as u64;
                state.received += n;
                state.ungranted += n;
                if state.ungranted >= u64::from(self.window / 4).max(1) {
                    let bytes = state.ungranted as u32;
                    state.ungranted = 0;
                    self.session
                        .receive(encode(&Frame::Credit { stream, bytes }))
                        .map_err(|e| format!("framed: credit refused: {e}"))?;
                }
                Ok(false)
            }
            Frame::ResponseEnd { .. } => Ok(true),
            Frame::Response {
                status,
                stream,
                data,
                ..
            } => {
                if status != 200 {
                    return Err(format!("framed: stream {stream} answered {status}"));
                }
                state.received += data.len() as u64;
                Ok(true)
            }
            Frame::Error {
                stream,
                code,
                message,
            } => Err(format!(
                "framed: stream {stream} failed: {code:?}: {message}"
            )),
            other => Err(format!("framed: unexpected {} frame", other.name())),
        }
    }

    /// `GET uri` and wait for its end; the number of body bytes received.
    pub(crate) fn get(&mut self, uri: &str) -> Res<u64> {
        let stream = self.request(uri)?;
        let mut state = StreamState::default();
        loop {
            let frame = self.next_frame()?;
            if frame.stream() != stream {
                return Err(format!(
                    "framed: a frame for stream {} while only {stream} is open",
                    frame.stream()
                ));
            }
            if self.on_frame(frame, &mut state)? {
                return Ok(state.received);
            }
        }
    }

    /// `total` requests of `GET uri`, with `in_flight` streams open at a time (one page
    /// with that many concurrent fetches); the number of body bytes received.
    pub(crate) fn run(&mut self, uri: &str, in_flight: usize, total: u64) -> Res<u64> {
        let mut open: HashMap<u32, StreamState> = HashMap::with_capacity(in_flight);
        let (mut started, mut done, mut bytes) = (0u64, 0u64, 0u64);
        while started < total && open.len() < in_flight {
            open.insert(self.request(uri)?, StreamState::default());
            started += 1;
        }
        while done < total {
            let frame = self.next_frame()?;
            let stream = frame.stream();
            let state = open
                .get_mut(&stream)
                .ok_or_else(|| format!("framed: a frame for stream {stream}, which is not open"))?;
            if self.on_frame(frame, state)? {
                bytes += open.remove(&stream).map_or(0, |s| s.received);
                done += 1;
                if started < total {
                    open.insert(self.request(uri)?, StreamState::default());
                    started += 1;
                }
            }
        }
        Ok(bytes)
    }
}
