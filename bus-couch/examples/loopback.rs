//! TEST HARNESS ONLY: serves a `bus-couch` store over HTTP/1.1 on a loopback port, so
//! that PouchDB's own integration suite (node, `COUCH_HOST`) can run against the very
//! same tower service the bus mounts. The product never listens: apps mount the service
//! on the bus (`bus_couch::mount`), which has no socket at all.
//!
//! Run: `cargo run -p bus-couch --example loopback -- DATA_DIR [PORT]` (port 0 or none
//! picks a free one). It prints `listening on http://127.0.0.1:PORT` once bound and
//! serves until killed. `scripts/pouchdb-suite.sh` starts it.
//!
//! With `BUS_COUCH_TIMING=1`, every request's method, path, status and time to the
//! response head go to stderr (for profiling the suite or a replication).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Instant;

use bus_core::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tower::ServiceExt;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: loopback DATA_DIR [PORT]");
        std::process::exit(2);
    };
    let port: u16 = match args.next().map(|p| p.parse()) {
        None => 0,
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            eprintln!("PORT: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("{dir}: {e}");
        std::process::exit(1);
    }
    let couch = match bus_couch::Couch::open(std::path::Path::new(&dir).join("couch.sqlite3")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bus-couch: {e}");
            std::process::exit(1);
        }
    };
    let timing = std::env::var_os("BUS_COUCH_TIMING").is_some_and(|v| v != "0");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("a bound address");
        println!("listening on http://{addr}");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let service = couch.service();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                    let service = service.clone();
                    async move {
                        let started = Instant::now();
                        let line = timing.then(|| {
                            format!(
                                "{} {}",
                                req.method(),
                                req.uri().path_and_query().map_or("", |p| p.as_str())
                            )
                        });
                        let req = req.map(Body::new);
                        let resp = service.oneshot(req).await?;
                        if let Some(line) = line {
                            eprintln!(
                                "{line} -> {} in {:.2} ms",
                                resp.status().as_u16(),
                                started.elapsed().as_secs_f64() * 1e3
                            );
                        }
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
}
