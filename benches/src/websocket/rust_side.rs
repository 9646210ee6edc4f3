//! The WebSocket path in Rust alone, no WebView: a page's side of a framed port session
//! (encoded frames fed to `Session::receive`, records encoded and decoded as bridge-js
//! does, credit granted back in quarter-window steps) reaching the same axum echo handler
//! that a tokio-tungstenite client reaches over loopback TCP (`TCP_NODELAY`), one run.
//! What the bus's own share of a WebView round trip is, and what a socket costs in Rust.

use std::time::{Duration, Instant};

use bus_core::port::{Session, SessionConfig, encoded};
use bus_core::protocol::{Frame, INITIAL_UPLOAD_WINDOW, decode, encode};
use bus_core::websocket::{Decoder, Message};
use bus_core::{BusHandle, Caller, FrameKind, Transport};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite;

/// The page's response window per socket (bridge-js's `WS_WINDOW`).
const WINDOW: u32 = 4 << 20;
/// The largest piece of upload the client sends as one frame (bridge-js's chunk).
const CHUNK: usize = 64 * 1024;
const WAIT: Duration = Duration::from_secs(30);

type Res<T> = Result<T, String>;

/// A page's WebSocket over a framed session, driven from the calling thread.
pub(crate) struct FramedSocket {
    session: Session,
    frames: crossbeam_channel::Receiver<Bytes>,
    stream: u32,
    credit: u64,
    ungranted: u64,
    decoder: Decoder,
}

impl FramedSocket {
    /// Opens `uri` (an app URI of a WebSocket route) on a new session of `bus`.
    pub(crate) fn open(bus: &BusHandle, origin: &str, uri: &str) -> Res<FramedSocket> {
        let (tx, frames) = crossbeam_channel::unbounded();
        let page = Caller::new(Transport::Frames)
            .with_origin(origin)
            .with_frame(FrameKind::Main);
        let session = Session::new(
            bus,
            SessionConfig::new(page).inline_first_poll(true),
            encoded(move |bytes| {
                let _ = tx.send(bytes);
            }),
        )
        .map_err(|e| format!("framed: opening a session: {e}"))?;
        let mut socket = FramedSocket {
            session,
            frames,
            stream: 1,
            credit: u64::from(INITIAL_UPLOAD_WINDOW),
            ungranted: 0,
            decoder: Decoder::new(usize::MAX),
        };
        let h = |n: &str, v: &'static str| (n.to_owned(), Bytes::from_static(v.as_bytes()));
        socket.feed(&Frame::RequestHead {
            stream: 1,
            method: "GET".into(),
            uri: uri.into(),
            headers: vec![
                h("upgrade", "websocket"),
                h("connection", "upgrade"),
                h("sec-websocket-version", "13"),
            ],
            end_stream: false,
            window: WINDOW,
        })?;
        loop {
            match socket.next_frame()? {
                Frame::ResponseHead { status: 101, .. } => return Ok(socket),
                Frame::ResponseHead { status, .. } => {
                    return Err(format!("framed: {uri} answered {status}, not 101"));
                }
                Frame::Credit { bytes, .. } => socket.credit += u64::from(bytes),
                other => return Err(format!("framed: unexpected {} frame", other.name())),
            }
        }
    }

    fn feed(&self, frame: &Frame) -> Res<()> {
        self.session
            .receive(encode(frame))
            .map_err(|e| format!("framed: frame refused: {e}"))
    }

    fn next_frame(&self) -> Res<Frame> {
        let bytes = self
            .frames
            .recv_timeout(WAIT)
            .map_err(|e| format!("framed: no frame from the session: {e}"))?;
        decode(bytes).map_err(|e| format!("framed: undecodable frame: {e}"))
    }

    /// Handles one frame from the bus (blocking until there is one).
    fn pump(&mut self) -> Res<()> {
        match self.next_frame()? {
            Frame::Credit { bytes, .. } => self.credit += u64::from(bytes),
            Frame::ResponseData { data, .. } => {
                self.decoder.push(&data);
                self.ungranted += data.len() as u64;
                if self.ungranted >= u64::from(WINDOW / 4) {
                    let bytes = self.ungranted as u32;
                    self.ungranted = 0;
                    self.feed(&Frame::Credit {
                        stream: self.stream,
                        bytes,
                    })?;
                }
            }
            other => return Err(format!("framed: unexpected {} frame", other.name())),
        }
        Ok(())
    }

    /// Sends one message's record within the upload credit, in pieces of at most
    /// [`CHUNK`]; handles the bus's frames while it waits for credit.
    pub(crate) fn send(&mut self, message: &Message) -> Res<()> {
        let mut record = message.encode();
        while !record.is_empty() {
            while self.credit == 0 {
                self.pump()?;
            }
            let n = record.len().min(CHUNK).min(self.credit as usize);
            self.credit -= n as u64;
            let data = record.split_to(n);
            self.feed(&Frame::RequestData {
                stream: self.stream,
                data,
            })?;
        }
        Ok(())
    }

    /// The next message from the handler.
    pub(crate) fn recv(&mut self) -> Res<Message> {
        loop {
            if let Some(m) = self
                .decoder
                .next_message()
                .map_err(|e| format!("framed: bad record: {e}"))?
            {
                return Ok(m);
            }
            self.pump()?;
        }
    }

    /// Messages already decodable or whose frames are queued, without blocking.
    fn try_recv(&mut self) -> Res<Option<Message>> {
        loop {
            if let Some(m) = self
                .decoder
                .next_message()
                .map_err(|e| format!("framed: bad record: {e}"))?
            {
                return Ok(Some(m));
            }
            if self.frames.is_empty() {
                return Ok(None);
            }
            self.pump()?;
        }
    }
}

fn message(size: usize) -> Message {
    if size <= 64 {
        Message::Text(Bytes::from(vec![b'x'; size]))
    } else {
        Message::Binary(Bytes::from((0..size).map(|i| i as u8).collect::<Vec<_>>()))
    }
}

/// µs per sequential echo of `size`-byte messages over the framed socket.
pub(crate) fn framed_rtt(socket: &mut FramedSocket, size: usize, count: u32) -> Res<f64> {
    let m = message(size);
    for _ in 0..count.min(50) {
        socket.send(&m)?;
        socket.recv()?;
    }
    let started = Instant::now();
    for _ in 0..count {
        socket.send(&m)?;
        let got = socket.recv()?;
        if got.payload().len() != size {
            return Err(format!(
                "framed: echo of {} bytes, not {size}",
                got.payload().len()
            ));
        }
    }
    Ok(started.elapsed().as_secs_f64() * 1e6 / f64::from(count))
}

/// Messages per second of `count` pipelined echoes over the framed socket.
pub(crate) fn framed_rate(socket: &mut FramedSocket, size: usize, count: u32) -> Res<f64> {
    let m = message(size);
    let started = Instant::now();
    let mut got = 0;
    for _ in 0..count {
        socket.send(&m)?;
        while socket.try_recv()?.is_some() {
            got += 1;
        }
    }
    while got < count {
        socket.recv()?;
        got += 1;
    }
    Ok(f64::from(count) / started.elapsed().as_secs_f64())
}

type Tcp = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A tokio-tungstenite client of `ws://{addr}{path}` (`TCP_NODELAY`).
pub(crate) async fn tcp_open(addr: std::net::SocketAddr, path: &str) -> Res<Tcp> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("tcp: connect: {e}"))?;
    tcp.set_nodelay(true)
        .map_err(|e| format!("tcp: nodelay: {e}"))?;
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}{path}"), tcp)
        .await
        .map_err(|e| format!("tcp: handshake: {e}"))?;
    Ok(ws)
}

fn tmessage(size: usize) -> tungstenite::Message {
    match message(size) {
        Message::Text(t) => tungstenite::Message::Text(t.try_into().expect("ASCII")),
        m => tungstenite::Message::Binary(m.payload()),
    }
}

/// µs per sequential echo over loopback TCP.
pub(crate) async fn tcp_rtt(ws: &mut Tcp, size: usize, count: u32) -> Res<f64> {
    let m = tmessage(size);
    let once = async |ws: &mut Tcp| -> Res<()> {
        ws.send(m.clone())
            .await
            .map_err(|e| format!("tcp: send: {e}"))?;
        match ws.next().await {
            Some(Ok(got)) if got.len() == size => Ok(()),
            other => Err(format!("tcp: echo: {other:?}")),
        }
    };
    for _ in 0..count.min(50) {
        once(ws).await?;
    }
    let started = Instant::now();
    for _ in 0..count {
        once(ws).await?;
    }
    Ok(started.elapsed().as_secs_f64() * 1e6 / f64::from(count))
}

/// Messages per second of `count` pipelined echoes over loopback TCP.
pub(crate) async fn tcp_rate(ws: &mut Tcp, size: usize, count: u32) -> Res<f64> {
    let m = tmessage(size);
    let (mut tx, mut rx) = ws.split();
    let started = Instant::now();
    let sending = async {
        for _ in 0..count {
            tx.feed(m.clone())
                .await
                .map_err(|e| format!("tcp: send: {e}"))?;
        }
        tx.flush().await.map_err(|e| format!("tcp: flush: {e}"))
    };
    let receiving = async {
        for _ in 0..count {
            match rx.next().await {
                Some(Ok(_)) => {}
                other => return Err(format!("tcp: echo: {other:?}")),
            }
        }
        Ok(())
    };
    let (a, b) = tokio::join!(sending, receiving);
    a?;
    b?;
    Ok(f64::from(count) / started.elapsed().as_secs_f64())
}
