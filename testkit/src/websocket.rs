//! The WebSocket differential suite's app side: axum `WebSocketUpgrade` handlers under
//! `/wsd/...`, written as for a hyper server on a port, mounted unchanged both on the bus
//! and on a localhost twin ([`crate::serve_localhost`]); and the suite's page
//! ([`pages`]: `index.html` + `suite.js`), which runs every case against both and
//! reports where they differ.
//!
//! Handlers log what they see (`{who} open`, `{who} close {code} {reason}`, `{who} gone`)
//! to a shared [`Seen`], so a test can check what reached them, from which run (`?who=`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Deserialize;

/// What the handlers saw, in order.
#[derive(Clone, Debug, Default)]
pub struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    /// Appends a line.
    pub fn push(&self, line: String) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }

    /// Everything seen so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Lines that start with `who` (`who` then a space).
    pub fn of(&self, who: &str) -> Vec<String> {
        let prefix = format!("{who} ");
        self.lines()
            .into_iter()
            .filter(|l| l.starts_with(&prefix))
            .collect()
    }
}

/// The suite's page and script, served to the app's pages (mount at `/wsd-pages`).
pub fn pages() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pages/websocket")
}

#[derive(Deserialize)]
struct Params {
    #[serde(default)]
    who: String,
    #[serde(default)]
    n: usize,
    #[serde(default)]
    size: usize,
}

/// The handlers. Routes are absolute (`/wsd/...`): mount at `/` with `keep_prefix`, or
/// serve as is.
pub fn router(seen: Seen) -> Router {
    Router::new()
        .route("/wsd/echo", get(echo))
        .route("/wsd/push", get(push))
        .route("/wsd/close-after", get(close_after))
        .route("/wsd/stall", get(stall))
        .route("/wsd/flood", get(flood))
        .route("/wsd/plain", get(|| async { "not a websocket" }))
        .route(
            "/wsd/seen",
            get(|State(seen): State<Seen>| async move { axum::Json(seen.lines()) }),
        )
        .with_state(seen)
}

/// Echoes every message; answers a close by reading on (tungstenite replies to it).
async fn echo(
    ws: WebSocketUpgrade,
    Query(p): Query<Params>,
    State(seen): State<Seen>,
) -> impl IntoResponse {
    ws.protocols(["chat", "superchat"])
        .on_upgrade(move |mut socket: WebSocket| async move {
            seen.push(format!("{} open", p.who));
            let mut closed = false;
            while let Some(message) = socket.recv().await {
                match message {
                    Ok(Message::Close(frame)) => {
                        seen.push(close_line(&p.who, frame.as_ref()));
                        closed = true;
                    }
                    Ok(Message::Ping(_) | Message::Pong(_)) => {}
                    Ok(m) => {
                        if socket.send(m).await.is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            if !closed {
                seen.push(format!("{} gone", p.who));
            }
        })
}

/// Sends `n` messages (text `i` when `size` is 0, else `size` bytes starting with `i` as
/// u32 LE), then closes with 4001 "done".
async fn push(
    ws: WebSocketUpgrade,
    Query(p): Query<Params>,
    State(seen): State<Seen>,
) -> impl IntoResponse {
    ws.on_upgrade(move |mut socket: WebSocket| async move {
        seen.push(format!("{} open", p.who));
        for i in 0..p.n {
            let message = if p.size == 0 {
                Message::Text(i.to_string().into())
            } else {
                let mut data = vec![(i % 251) as u8; p.size.max(4)];
                data[..4].copy_from_slice(&(i as u32).to_le_bytes());
                Message::Binary(data.into())
            };
            if socket.send(message).await.is_err() {
                seen.push(format!("{} gone", p.who));
                return;
            }
        }
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: 4001,
                reason: "done".into(),
            })))
            .await;
        while let Some(Ok(_)) = socket.recv().await {}
        seen.push(format!("{} pushed {}", p.who, p.n));
    })
}

/// Sends `n` binary messages of `size` bytes as fast as the socket takes them, logging
/// `{who} sent {i}` after each, then closes with 4001 "done".
async fn flood(
    ws: WebSocketUpgrade,
    Query(p): Query<Params>,
    State(seen): State<Seen>,
) -> impl IntoResponse {
    ws.on_upgrade(move |mut socket: WebSocket| async move {
        let data = bytes::Bytes::from(vec![7u8; p.size.max(1)]);
        for i in 1..=p.n {
            if socket.send(Message::Binary(data.clone())).await.is_err() {
                seen.push(format!("{} gone", p.who));
                return;
            }
            seen.push(format!("{} sent {i}", p.who));
        }
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: 4001,
                reason: "done".into(),
            })))
            .await;
        while let Some(Ok(_)) = socket.recv().await {}
    })
}

/// Echoes the first message, then closes with 4002 "server says bye".
async fn close_after(
    ws: WebSocketUpgrade,
    Query(p): Query<Params>,
    State(seen): State<Seen>,
) -> impl IntoResponse {
    ws.on_upgrade(move |mut socket: WebSocket| async move {
        seen.push(format!("{} open", p.who));
        if let Some(Ok(m)) = socket.recv().await {
            let _ = socket.send(m).await;
        }
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: 4002,
                reason: "server says bye".into(),
            })))
            .await;
        while let Some(Ok(_)) = socket.recv().await {}
    })
}

/// Accepts, then reads nothing for 20 s: what the page sends stays with it.
async fn stall(
    ws: WebSocketUpgrade,
    Query(p): Query<Params>,
    State(seen): State<Seen>,
) -> impl IntoResponse {
    ws.on_upgrade(move |socket: WebSocket| async move {
        seen.push(format!("{} open", p.who));
        tokio::time::sleep(Duration::from_secs(20)).await;
        drop(socket);
    })
}

fn close_line(who: &str, frame: Option<&CloseFrame>) -> String {
    match frame {
        Some(f) => format!("{who} close {} {}", f.code, f.reason),
        None => format!("{who} close none"),
    }
}
