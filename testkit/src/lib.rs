//! Test support shared by the hosts' end-to-end tests.
//!
//! # Layout
//! - [`conformance`]: the `/conf` routes the bridge-js conformance suite runs against,
//!   mounted both on the bus and on a real localhost server ([`serve_localhost`]), so the
//!   same cases can run through the shim and through the browser's own fetch/XHR.
//! - [`clients`]: axios and ky, unmodified, against those routes.
//! - [`sockets`]: listening sockets of a set of processes, read from `/proc`.
//! - [`display`]: an Xvfb display for WebView tests when none is set.
//! - [`hostile`]: the hostile-page suite's app side (API and probe mounts, checks).
//! - [`media`]: test movies made with GStreamer on the spot.
//! - [`pouch`]: PouchDB (npm) in the page, replicating with `bus-couch` through the bus.
//! - [`websocket`]: the WebSocket differential suite's handlers and page.
//! - [`workers`]: the Web Worker suite's routes, pages and checks (issue 15).
//! - [`report`]: the `/report` mount test pages POST their results to.

pub mod clients;
pub mod conformance;
pub mod cookies;
pub mod display;
pub mod hostile;
pub mod media;
pub mod pouch;
pub mod report;
pub mod sockets;
pub mod spa;
pub mod websocket;
pub mod workers;

use std::net::SocketAddr;

/// A localhost HTTP/1.1 server for `router`, for side-by-side comparisons only. It stops
/// when the guard drops.
#[derive(Debug)]
pub struct LocalServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Serves `router` on `127.0.0.1:0` from its own thread and runtime.
///
/// # Panics
/// When no loopback port can be bound.
pub fn serve_localhost(router: axum::Router) -> LocalServer {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind loopback");
            addr_tx
                .send(listener.local_addr().expect("local addr"))
                .ok();
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .ok();
        });
    });
    LocalServer {
        addr: addr_rx
            .recv()
            .expect("the server thread reports its address"),
        stop: Some(stop),
        thread: Some(thread),
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
