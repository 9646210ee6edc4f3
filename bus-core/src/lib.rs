//! An in-process HTTP bus: the replacement for the localhost server of a hybrid app.
//!
//! Requests are [`http::Request<Body>`](http::Request) and responses
//! [`http::Response<Body>`](http::Response); handlers are [`tower::Service`]s, so an axum
//! `Router` or tower-http's `ServeDir` mounts unchanged. No socket is ever opened: Rust
//! callers call the bus directly ([`BusHandle::call`]), and WebView bridges reach it
//! through a [`Session`](port::Session) (frames, see [`protocol`]) or
//! [`BusHandle::call_blocking`] (platform interception).
//!
//! ```
//! use axum::{Json, Router, extract::Path, routing::get};
//! use bus_core::{Body, Bus};
//! use http_body_util::BodyExt;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let api = Router::new().route(
//!     "/items/{id}",
//!     get(|Path(id): Path<u32>| async move { Json(serde_json::json!({ "id": id })) }),
//! );
//! // The owner: dropping it shuts the bus down.
//! let bus = Bus::builder().app_origin("app://localhost").mount("/api", api).build();
//! // What callers keep: clonable, and a `tower::Service`.
//! let client = bus.handle();
//!
//! let request = http::Request::get("app://localhost/api/items/7").body(Body::empty()).unwrap();
//! let response = client.call(request).await;
//! assert_eq!(response.status(), 200);
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, r#"{"id":7}"#);
//! # });
//! ```
//!
//! # Layout
//!
//! - [`body`]: [`Body`] (empty, one buffer, a bounded channel with backpressure, or any
//!   boxed body) and [`BodySender`].
//! - `bus`: [`Bus`] (the owner; dropping it shuts down, [`Bus::shutdown_graceful`] drains
//!   first), [`BusHandle`] (clonable, a [`tower::Service`]; the call pipeline: limits,
//!   routing, policy, timeout, cancellation, tracing), [`BusBuilder`], [`Limits`].
//! - `route`: [`Mount`] (a service at a path prefix, with its policy and limits) and the
//!   routing table.
//! - `caller`: [`Caller`] (who sent a request, set by bridges only) and [`Policy`].
//! - [`cookies`]: [`CookieJar`], the app origin's cookies, attached and stored by the
//!   dispatch for the app's callers on every path, and `document.cookie`'s reserved path.
//! - `error`: [`BusError`], every refusal with its HTTP status.
//! - [`protocol`]: the wire [`Frame`](protocol::Frame)s and their codec (`docs/PROTOCOL.md`).
//! - [`port`]: [`Session`](port::Session), the synchronous thread-safe port bridges drive
//!   with frames, with per-stream credit flow control.
//! - [`bridge`]: the rest of the bridges' plumbing
//!   ([`poll_here_then_spawn`](bridge::poll_here_then_spawn), a first poll on the thread a
//!   request arrived on; [`Registry`](bridge::Registry), the handles a foreign side holds).
//! - `blocking`: [`BusHandle::call_blocking`] and [`BlockingBody`], for platform threads
//!   that pull response bodies.
//! - [`websocket`]: the message records a WebSocket's stream carries after its 101.
//! - `upgrade` (feature `ws`): a page's WebSocket request answered by hyper's HTTP/1 server
//!   connection over an in-memory duplex, so an unchanged axum `WebSocketUpgrade` handler
//!   runs; tokio-tungstenite speaks to it and a pump moves the records.
//!
//! # Caveats
//! - Trailers are not carried over frames or [`BlockingBody`].
//! - The timeout covers the response head only; a streaming body may run for longer.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod blocking;
pub mod body;
pub mod bridge;
mod bus;
mod caller;
pub mod cookies;
mod error;
pub mod port;
pub mod protocol;
mod route;
mod scratch;
#[cfg(feature = "ws")]
mod upgrade;
pub mod websocket;

pub use blocking::BlockingBody;
pub use body::{Body, BodySender, BoxError};
pub use bus::{Bus, BusBuilder, BusHandle, Limits, ResponseFuture};
pub use caller::{Caller, FrameKind, Policy, Refusal, Transport};
pub use cookies::CookieJar;
pub use error::BusError;
pub use route::Mount;
