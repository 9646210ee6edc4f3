//! WebSocket upgrades over frames (feature `ws`): how a page's WebSocket reaches an
//! unchanged axum `WebSocketUpgrade` handler with no socket.
//!
//! axum takes hyper's `OnUpgrade` from the request's extensions, and hyper makes one only
//! inside its HTTP/1 server connection. So an upgrade request is answered by running that
//! connection over an in-memory [`tokio::io::duplex`]: hyper's client writes the handshake
//! into one end, the server end calls the bus (routing, policy, the caller's identity, the
//! head timeout: as for any request), and once the handler answers 101 both ends are
//! upgraded. tokio-tungstenite then speaks WebSocket on the client end, and a pump moves
//! messages between it and the stream's bodies as records ([`crate::websocket`]).
//!
//! Memory stays bounded both ways: the duplex holds [`DUPLEX_BYTES`], the pump one message
//! per direction, and the stream's credit does the rest. A page that stops reading stops the
//! pump, which stops reading the duplex, which makes the handler's `send` wait; a handler
//! that stops reading fills the duplex, which stops the pump taking the page's records,
//! which stops the credit the page needs to send more.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, protocol::CloseFrame, protocol::Role};

use crate::body::{Body, BodySender, SendError};
use crate::bus::BusHandle;
use crate::caller::Caller;
use crate::websocket::{self, Decoder, Message};

/// Bytes the in-memory connection buffers each way.
pub(crate) const DUPLEX_BYTES: usize = 64 * 1024;

/// Bytes tungstenite reads from the connection at a time on the bus's side. tungstenite
/// zero-fills its read buffer up to this size before *every* read, including the reads
/// that find nothing (its default, 128 KiB, was 96 % of the instructions of a 32-byte echo
/// through a session: ~650,000 of them, six 128 KiB `memset`s). A frame larger than this
/// still lands in one buffer reserved for its length, filled this many bytes per read.
const READ_BUFFER: usize = 16 * 1024;

/// How long the pump waits for the handler's side of a closing handshake it started.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Headers of the handshake the bus writes itself, whatever the page sent.
const OWN_HEADERS: [&str; 10] = [
    "host",
    "connection",
    "upgrade",
    "origin",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-accept",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
];

/// Whether a request asks for a WebSocket (`GET` with `upgrade: websocket`).
pub(crate) fn is_websocket<B>(request: &Request<B>) -> bool {
    request.method() == http::Method::GET
        && request
            .headers()
            .get_all(header::UPGRADE)
            .iter()
            .any(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// Answers a WebSocket request from a page: the handler's response as it is when it is
/// not a 101, else a 101 whose body carries the handler's messages as records, while the
/// request body's records go to the handler.
pub(crate) async fn connect(bus: &BusHandle, request: Request<Body>) -> Response<Body> {
    let max_message = bus.max_message(request.uri());
    let (parts, upload) = request.into_parts();

    let key = tungstenite::handshake::client::generate_key();
    let mut handshake = Request::get(
        parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned(),
    );
    {
        let headers = handshake.headers_mut().expect("builder is valid");
        for (name, value) in &parts.headers {
            if !OWN_HEADERS.contains(&name.as_str()) {
                headers.append(name, value.clone());
            }
        }
        let host = parts.uri.authority().map_or("localhost", |a| a.as_str());
        let host = HeaderValue::from_str(host).unwrap_or(HeaderValue::from_static("localhost"));
        headers.insert(header::HOST, host);
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        headers.insert(
            header::SEC_WEBSOCKET_KEY,
            HeaderValue::from_str(&key).expect("base64 is a valid value"),
        );
        // The engine's own WebSocket always sends the page's origin; ours is the one the
        // bridge verified, never one the page wrote.
        if let Some(origin) = parts.extensions.get::<Caller>().and_then(Caller::origin)
            && let Ok(origin) = HeaderValue::from_str(origin)
        {
            headers.insert(header::ORIGIN, origin);
        }
    }
    let handshake = handshake
        .body(Empty::<Bytes>::new())
        .expect("built from valid parts");

    let (client_io, server_io) = tokio::io::duplex(DUPLEX_BYTES);

    // The server end: each request it parses is the page's, routed by the bus with the
    // page's URI and extensions (its caller) plus hyper's `OnUpgrade`.
    let uri = parts.uri.clone();
    let extensions = parts.extensions.clone();
    let server_bus = bus.clone();
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        let (mut head, _empty) = request.into_parts();
        head.uri = uri.clone();
        head.extensions.extend(extensions.clone());
        let bus = server_bus.clone();
        async move { Ok::<_, Infallible>(bus.call(Request::from_parts(head, Body::empty())).await) }
    });
    let server = hyper::server::conn::http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(server_io), service)
        .with_upgrades();
    tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::debug!(error = %e, "in-memory WebSocket server connection ended");
        }
    });

    let (mut sender, client) =
        match hyper::client::conn::http1::handshake(TokioIo::new(client_io)).await {
            Ok(pair) => pair,
            Err(e) => return failure(format!("the in-memory connection failed: {e}")),
        };
    tokio::spawn(async move {
        if let Err(e) = client.with_upgrades().await {
            tracing::debug!(error = %e, "in-memory WebSocket client connection ended");
        }
    });
    let response = match sender.send_request(handshake).await {
        Ok(response) => response,
        Err(e) => return failure(format!("the WebSocket handshake failed: {e}")),
    };
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        // Not a WebSocket route, or refused: the page sees the status and fails the socket.
        return response.map(Body::new);
    }
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    if response
        .headers()
        .get(header::SEC_WEBSOCKET_ACCEPT)
        .is_none_or(|v| v.as_bytes() != accept.as_bytes())
    {
        return failure("the handler answered 101 without the right Sec-WebSocket-Accept".into());
    }
    let mut head = Response::builder().status(StatusCode::SWITCHING_PROTOCOLS);
    for (name, value) in response.headers() {
        if name != header::SEC_WEBSOCKET_EXTENSIONS {
            head = head.header(name, value);
        }
    }
    let upgraded = match hyper::upgrade::on(response).await {
        Ok(upgraded) => upgraded,
        Err(e) => return failure(format!("the WebSocket upgrade failed: {e}")),
    };
    let config = tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message));
    let socket =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Client, Some(config)).await;
    // Two chunks per message (record header, payload): four holds two messages.
    let (to_page, body) = Body::channel(4);
    tokio::spawn(pump(socket, upload, to_page, max_message));
    head.body(body).expect("headers came from a valid response")
}

fn failure(message: String) -> Response<Body> {
    tracing::debug!(%message, "WebSocket over frames");
    let mut response = Response::new(Body::from(message));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// Moves messages both ways until the WebSocket is closed.
async fn pump(socket: Socket, mut upload: Body, to_page: BodySender, max_message: usize) {
    let (mut sink, mut stream) = socket.split();
    // A close the bus started (a bad record, a message over the limit): sent to the page if
    // the handler's own close never comes.
    let our_close: Arc<Mutex<Option<Message>>> = Arc::default();
    // The reader asks the writer to close the handler's side (a message over the limit).
    let (close_tx, mut close_rx) = mpsc::channel::<CloseFrame>(1);
    // The writer tells the reader it started a closing handshake (or is gone).
    let (closing_tx, closing_rx) = oneshot::channel::<()>();

    let writer_close = Arc::clone(&our_close);
    let writer = async move {
        let mut decoder = Decoder::new(max_message);
        let frame = 'outer: loop {
            let chunk = tokio::select! {
                frame = close_rx.recv() => match frame {
                    Some(frame) => break Some(frame),
                    None => std::future::pending().await,
                },
                chunk = upload.frame() => chunk,
            };
            let data = match chunk {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => data,
                    Err(_) => continue,
                },
                // The page's side ended without a close: the page went away.
                None | Some(Err(_)) => {
                    break Some(close_frame(websocket::GOING_AWAY, "the page went away"));
                }
            };
            decoder.push(&data);
            // Messages of one chunk are fed together and flushed once.
            loop {
                match decoder.next_message() {
                    Ok(None) => {
                        if sink.flush().await.is_err() {
                            break 'outer None;
                        }
                        break;
                    }
                    Ok(Some(Message::Text(text))) => {
                        let text = tungstenite::Utf8Bytes::try_from(text)
                            .expect("the decoder checked UTF-8");
                        if sink.feed(tungstenite::Message::Text(text)).await.is_err() {
                            break 'outer None;
                        }
                    }
                    Ok(Some(Message::Binary(data))) => {
                        if sink.feed(tungstenite::Message::Binary(data)).await.is_err() {
                            break 'outer None;
                        }
                    }
                    Ok(Some(Message::Close { code, reason })) => {
                        if code == websocket::NO_STATUS {
                            let _ = sink.send(tungstenite::Message::Close(None)).await;
                            break 'outer None;
                        }
                        if code != 1000 && !(3000..=4999).contains(&code) {
                            let why = format!("the page may not close with code {code}");
                            *writer_close.lock().unwrap_or_else(|e| e.into_inner()) =
                                Some(close_message(websocket::PROTOCOL_ERROR, &why));
                            break 'outer Some(close_frame(websocket::PROTOCOL_ERROR, &why));
                        }
                        break 'outer Some(close_frame(code, &reason));
                    }
                    Err(e) => {
                        let why = e.to_string();
                        let why = truncate(&why, websocket::MAX_CLOSE_REASON);
                        *writer_close.lock().unwrap_or_else(|e| e.into_inner()) =
                            Some(close_message(e.close_code(), why));
                        break 'outer Some(close_frame(e.close_code(), why));
                    }
                }
            }
        };
        if let Some(frame) = frame {
            let _ = sink.send(tungstenite::Message::Close(Some(frame))).await;
        }
        let _ = closing_tx.send(());
        // Keep the sink: dropping it does not close the socket, but the reader may still
        // need the connection to flush the handler's close.
        std::future::pending::<()>().await;
    };

    let reader = async move {
        let deadline = async {
            let _ = closing_rx.await;
            tokio::time::sleep(CLOSE_TIMEOUT).await;
        };
        tokio::pin!(deadline);
        let mut closed = false;
        // Small messages that are ready together go to the page as one chunk (one frame),
        // not a frame per record: a burst of small messages is what WebSockets carry.
        let mut batch = Batch::default();
        let mut last_flush = Instant::now() - STREAMING;
        loop {
            let item = if batch.is_empty() {
                tokio::select! {
                    item = stream.next() => item,
                    () = &mut deadline => break,
                }
            } else {
                // Under a stream of messages (the last batch left moments ago), give the
                // handler's task a few turns to produce more before sending what is
                // gathered; a lone message (a reply in a conversation) goes at once.
                let turns = if last_flush.elapsed() < STREAMING {
                    YIELDS_BEFORE_FLUSH
                } else {
                    0
                };
                let mut ready = futures_util::FutureExt::now_or_never(stream.next());
                for _ in 0..turns {
                    if ready.is_some() {
                        break;
                    }
                    tokio::task::yield_now().await;
                    ready = futures_util::FutureExt::now_or_never(stream.next());
                }
                match ready {
                    Some(item) => item,
                    None => {
                        if batch.flush(&to_page).await.is_err() {
                            return; // the page is gone
                        }
                        last_flush = Instant::now();
                        continue;
                    }
                }
            };
            let message = match item {
                None => break,
                Some(Ok(tungstenite::Message::Text(text))) => Message::Text(Bytes::from(text)),
                Some(Ok(tungstenite::Message::Binary(data))) => Message::Binary(data),
                Some(Ok(tungstenite::Message::Close(frame))) => {
                    closed = true;
                    match frame {
                        Some(f) => close_message(f.code.into(), &f.reason),
                        None => close_message(websocket::NO_STATUS, ""),
                    }
                }
                Some(Ok(_)) => continue, // ping, pong: tungstenite answers pings itself
                Some(Err(tungstenite::Error::Capacity(e))) => {
                    let why = format!("a message from the handler is over the limit: {e}");
                    let why = truncate(&why, websocket::MAX_CLOSE_REASON).to_owned();
                    let _ = close_tx.try_send(close_frame(websocket::TOO_BIG, &why));
                    *our_close.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(close_message(websocket::TOO_BIG, &why));
                    break;
                }
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "WebSocket from the handler ended");
                    break;
                }
            };
            if batch.push(&to_page, &message).await.is_err() {
                return; // the page is gone
            }
        }
        if !closed {
            let ours = our_close.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(message) = ours
                && batch.push(&to_page, &message).await.is_err()
            {
                return;
            }
        }
        let _ = batch.flush(&to_page).await;
        // Dropping the sender ends the response body: the page sees `ResponseEnd`.
    };

    tokio::select! {
        () = reader => {}
        () = writer => {}
    }
}

/// Records on their way to the page: small ones gathered into one chunk of up to
/// [`BATCH_BYTES`], large ones sent as their header and payload (no copy).
#[derive(Default)]
struct Batch {
    buf: BytesMut,
}

/// Turns the reader gives other tasks before it sends a batch that could still grow.
const YIELDS_BEFORE_FLUSH: usize = 4;

/// A batch sent less than this after the previous one means messages are streaming.
const STREAMING: Duration = Duration::from_micros(300);

/// Largest chunk of gathered records.
const BATCH_BYTES: usize = 64 * 1024;

impl Batch {
    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    async fn push(&mut self, to_page: &BodySender, message: &Message) -> Result<(), SendError> {
        let header = message.header();
        let payload = message.payload();
        let len = header.len() + payload.len();
        if self.buf.len() + len > BATCH_BYTES {
            self.flush(to_page).await?;
        }
        if len <= BATCH_BYTES / 4 {
            self.buf.extend_from_slice(&header);
            self.buf.extend_from_slice(&payload);
            return Ok(());
        }
        to_page.send(header).await?;
        to_page.send(payload).await
    }

    async fn flush(&mut self, to_page: &BodySender) -> Result<(), SendError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        to_page.send(self.buf.split().freeze()).await
    }
}

fn close_frame(code: u16, reason: &str) -> CloseFrame {
    CloseFrame {
        code: code.into(),
        reason: reason.into(),
    }
}

fn close_message(code: u16, reason: &str) -> Message {
    Message::Close {
        code,
        reason: reason.to_owned(),
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
