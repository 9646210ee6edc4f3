//! The WebSocket differential suite's app side: axum `WebSocketUpgrade` handlers under
//! `/wsd/...`, written as for a hyper server on a port, mounted unchanged both on the bus
//! and on a localhost twin ([`crate::serve_localhost`]); and the suite's page
//! ([`pages`]: `index.html` + `suite.js`), which runs every case against both and
//! reports where they differ; and the back/forward-cache case (`bfcache.html`, `away.html`,
//! checked by [`check_bfcache`]), which both engines' tests drive through history.
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
        close_and_drain(&mut socket, 4001, "done").await;
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
        close_and_drain(&mut socket, 4001, "done").await;
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
        close_and_drain(&mut socket, 4002, "server says bye").await;
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

/// Closes `socket` with `code` and `reason`, then reads until the page's answer ends it.
async fn close_and_drain(socket: &mut WebSocket, code: u16, reason: &str) {
    let close = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(close))).await;
    while let Some(Ok(_)) = socket.recv().await {}
}

fn close_line(who: &str, frame: Option<&CloseFrame>) -> String {
    match frame {
        Some(f) => format!("{who} close {} {}", f.code, f.reason),
        None => format!("{who} close none"),
    }
}

/// Whether the handler of `who` saw its socket end (a close, or the connection gone).
pub fn ended(seen: &Seen, who: &str) -> bool {
    seen.of(who)
        .iter()
        .any(|l| l.contains(" close ") || l.ends_with(" gone"))
}

/// What the handler of `who` saw, without the name and the close reason (each side words
/// its reason its own way): `["open", "close 1001"]`.
pub fn handler_events(seen: &Seen, who: &str) -> Vec<String> {
    seen.of(who)
        .iter()
        .map(|l| l.split(' ').skip(1).take(2).collect::<Vec<_>>().join(" "))
        .collect()
}

/// The handlers' names `pages/websocket/bfcache.html` uses for its first sockets, and for
/// the ones it opens after coming back.
pub const BFCACHE_WHO: [&str; 2] = ["bf-native", "bf-bus"];
/// See [`BFCACHE_WHO`].
pub const BFCACHE_AGAIN: [&str; 2] = ["bf2-native", "bf2-bus"];

/// Checks a back/forward-cache round trip of `pages/websocket/bfcache.html` against the
/// engine's own WebSocket, and returns a summary of what the engine did. The test loads
/// the page (`open` is its first report), navigates to `away.html` (`away`), goes back
/// through history (`back`), and waits until both first handlers ended ([`ended`]).
///
/// Checked: before leaving, both sockets echoed; after coming back, if the page was
/// restored from the cache, both old sockets are CLOSED with the same events (the bus's
/// as the engine's: error, then close 1006 not clean, in both engines measured), in the
/// same place relative to the page's `pageshow` and with the same readyState there; if
/// the page was loaded fresh instead, that it was a history navigation. Either way new
/// sockets of both kinds open and echo, and each handler saw the same thing for its
/// first socket (open, then close with the same code).
///
/// # Panics
/// When a check fails.
pub fn check_bfcache(
    open: &serde_json::Value,
    away: &serde_json::Value,
    back: &serde_json::Value,
    seen: &Seen,
) -> String {
    use serde_json::json;
    let echoed = json!({ "events": ["open", "message hi"], "readyState": 1 });
    assert_eq!(open["phase"], "open", "{open}");
    assert_eq!(
        open["first"]["native"], echoed,
        "the engine's socket: {open}"
    );
    assert_eq!(open["first"]["bus"], echoed, "the bus's socket: {open}");
    assert_eq!(away["phase"], "away", "{away}");
    assert_eq!(back["phase"], "back", "{back}");
    assert_eq!(
        back["fresh"]["native"], echoed,
        "a new engine socket: {back}"
    );
    assert_eq!(back["fresh"]["bus"], echoed, "a new bus socket: {back}");

    let restored = back["restored"] == true;
    let mut engine = String::new();
    if restored {
        assert_eq!(
            back["settled"], true,
            "every old socket had its close: {back}"
        );
        let (native, bus) = (&back["old"]["native"], &back["old"]["bus"]);
        assert_eq!(native["readyState"], 3, "{back}");
        assert_eq!(bus["readyState"], 3, "{back}");
        assert_eq!(
            bus["events"], native["events"],
            "the restored page's old bus socket and the engine's saw different events: {back}"
        );
        let last = native["events"].as_array().and_then(|e| e.last());
        assert!(
            last.and_then(|e| e.as_str())
                .is_some_and(|e| e.starts_with("close ")),
            "{back}"
        );
        // Where the close came relative to the page's own pageshow listener, and what
        // readyState that listener found.
        let timeline: Vec<&str> = back["timeline"]
            .as_array()
            .map(|t| t.iter().filter_map(|l| l.as_str()).collect())
            .unwrap_or_default();
        let shown = timeline
            .iter()
            .position(|l| l.starts_with("pageshow true"))
            .unwrap_or_else(|| panic!("no pageshow after the restore: {back}"));
        let side = |who: &str| -> &str {
            let prefix = format!("bf {who} close");
            match timeline.iter().position(|l| l.starts_with(&prefix)) {
                Some(i) if i < shown => "before pageshow",
                Some(_) => "after pageshow",
                None => "never",
            }
        };
        assert_eq!(
            side("bus"),
            side("native"),
            "the close events came elsewhere than the engine's: {timeline:?}"
        );
        let state = |who: &str| -> String {
            timeline[shown]
                .split(' ')
                .find_map(|w| w.strip_prefix(&format!("{who}=")))
                .unwrap_or("?")
                .to_owned()
        };
        assert_eq!(
            state("bus"),
            state("native"),
            "readyState in the page's pageshow listener: {timeline:?}"
        );
        engine = format!(
            "restored from the cache; in pageshow readyState {}, then {} {}",
            state("native"),
            native["events"]
                .as_array()
                .map(|e| e[2..]
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default(),
            side("native"),
        );
    } else {
        assert_eq!(
            back["navigationType"], "back_forward",
            "not restored, so the page must have been loaded again by history: {back}"
        );
        engine.push_str("not kept in the cache: loaded again");
    }

    let [native_who, bus_who] = BFCACHE_WHO;
    let (native_saw, bus_saw) = (
        handler_events(seen, native_who),
        handler_events(seen, bus_who),
    );
    assert_eq!(
        native_saw.first().map(String::as_str),
        Some("open"),
        "{:?}",
        seen.lines()
    );
    assert_eq!(
        bus_saw,
        native_saw,
        "the handlers saw different ends: {:?}",
        seen.lines()
    );
    for who in BFCACHE_AGAIN {
        assert!(
            !seen.of(who).is_empty(),
            "{who} never opened: {:?}",
            seen.lines()
        );
    }
    format!("{engine}; each handler saw {native_saw:?}")
}

/// Checks the differential page's report (`pages/websocket/index.html?port=…`), the same
/// for every engine: every case ran for the engine's own WebSocket (`native`), the bus's
/// absolute URL (`bus`) and a relative one, all observed the same (differences printed
/// first), at least 15 cases, and each run reached the handlers (`seen`).
///
/// # Panics
/// On the first failed check, with the report.
pub fn check_report(r: &serde_json::Value, seen: &Seen) {
    assert!(r["error"].is_null(), "{r}");
    println!("{} cases; timings (ms): {}", r["cases"], r["timings"]);
    for result in r["results"].as_array().into_iter().flatten() {
        if result["agree"] != true {
            println!(
                "DIFFERS {}:\n  native:   {}\n  bus:      {}\n  relative: {}",
                result["name"],
                result["observed"]["native"],
                result["observed"]["bus"],
                result["observed"]["relative"]
            );
        }
        for who in ["native", "bus", "relative"] {
            assert!(
                result["observed"][who]["failed"].is_null(),
                "{} failed for {who}: {}",
                result["name"],
                result["observed"][who]["failed"]
            );
        }
    }
    assert!(r["cases"].as_u64().unwrap_or(0) >= 15, "{r}");
    assert_eq!(
        r["differences"],
        serde_json::json!([]),
        "bus and engine differ"
    );
    // Both runs reached the same handlers.
    assert!(!seen.of("native-api").is_empty() && !seen.of("bus-api").is_empty());
    assert!(!seen.of("relative-api").is_empty());
}

/// Checks the foreign page's report (`pages/websocket/foreign.html`): none of a sandboxed
/// iframe's four WebSockets (`ws:`, `wss:`, relative, the app's scheme) reached a handler
/// or opened.
///
/// # Panics
/// On the first failed check.
pub fn check_foreign(r: &serde_json::Value, seen: &Seen) {
    println!("foreign iframe saw: {}", r["results"]);
    for who in ["foreign-ws", "foreign-wss", "foreign-rel", "foreign-app"] {
        assert!(
            seen.of(who).is_empty(),
            "{who} reached a handler: {:?}",
            seen.lines()
        );
    }
    let results = r["results"].as_object().cloned().unwrap_or_default();
    assert_eq!(results.len(), 4, "{r}");
    for (url, events) in results {
        let events = events.as_array().cloned().unwrap_or_default();
        assert!(
            !events.iter().any(|e| e == "open"),
            "{url} opened from a foreign document: {events:?}"
        );
    }
}
