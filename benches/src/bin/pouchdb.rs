//! PouchDB replication side by side in one WebKitGTK WebView: `bus-couch` through the bus
//! against the design the seed describes, pouchdb-server (express-pouchdb + leveldown, from
//! npm) on localhost in its own process. The same page and PouchDB (npm, unmodified) push
//! 10,000 documents plus 20 × 1 MiB attachments to a fresh remote database of each, pull
//! them back into a fresh local one, and time live writes by the host (a write on the
//! backend until the page's `change` event), alternating the order each round.
//!
//! Run: `cargo run -p benches --release --bin pouchdb [-- --n 10000 --rounds 2 --json FILE]`
//! (installs pouchdb-server with `npm ci` in `benches/pouchdb-server` on first use; runs
//! under Xvfb when there is no display).
//!
//! Besides the page's timings it records bus-couch's own service time per round and
//! endpoint (request in to response head, long-polls left out), so a run says how much
//! of a replication is the store and how much the page and the bridge.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bus_core::{Body, Bus, BusHandle, Mount};
use bus_couch::Couch;
use gtk::prelude::*;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use wry::WebViewBuilderExtUnix;

const ORIGIN: &str = "app://localhost";

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A PUT to pouchdb-server over plain HTTP/1.1 (what a backend process would do).
fn put_localhost(port: u16, path: &str, body: &Value) -> u16 {
    let body = body.to_string();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("pouchdb-server");
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())
        .and_then(|()| s.write_all(body.as_bytes()))
        .expect("write");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

async fn put_bus(bus: &BusHandle, path: &str, body: &Value) -> u16 {
    let req = http::Request::put(format!("{ORIGIN}/db{path}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("a request");
    let resp = bus.call(req).await;
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    status
}

/// Count and milliseconds per (database, endpoint).
type Tally = BTreeMap<(String, String), (u64, f64)>;

/// bus-couch's service time per (database, endpoint).
#[derive(Clone, Default)]
struct ServiceTimes(Arc<Mutex<Tally>>);

impl ServiceTimes {
    fn add(&self, key: (String, String), ms: f64) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let e = m.entry(key).or_default();
        e.0 += 1;
        e.1 += ms;
    }

    /// `{endpoint: {count, ms}}` of one database, and the total ms.
    fn of(&self, db: &str) -> (Value, f64) {
        let m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = serde_json::Map::new();
        let mut total = 0.0;
        for ((d, endpoint), (count, ms)) in m.iter() {
            if d == db {
                out.insert(
                    endpoint.clone(),
                    json!({"count": count, "ms": (ms * 10.0).round() / 10.0}),
                );
                total += ms;
            }
        }
        (Value::Object(out), total)
    }
}

/// `(db, "METHOD endpoint")` of a request to the store (its path below the mount).
fn endpoint(req: &http::Request<Body>) -> Option<(String, String)> {
    let path = req.uri().path().trim_start_matches('/');
    let mut segs = path.split('/');
    let db = segs.next().unwrap_or("").to_owned();
    let what = match (segs.next(), segs.next()) {
        (None | Some(""), _) => "db",
        (Some("_local"), _) => "_local",
        (Some(s), _) if s.starts_with('_') => s,
        (Some(_), None | Some("")) => "doc",
        (Some(_), Some(_)) => "attachment",
    };
    let longpoll = req
        .uri()
        .query()
        .is_some_and(|q| q.contains("feed=longpoll") || q.contains("feed=continuous"));
    // A long-poll's time is mostly waiting for a commit: not the store's work.
    (!longpoll).then(|| (db, format!("{} {what}", req.method())))
}

fn median(v: &[u64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_unstable();
    if v.is_empty() {
        return f64::NAN;
    }
    let m = v.len() / 2;
    if v.len().is_multiple_of(2) {
        (v[m - 1] + v[m]) as f64 / 2.0
    } else {
        v[m] as f64
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (n, rounds) = (arg("--n", 10_000), arg("--rounds", 2));
    let json_out = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1))
        .cloned();
    if let Err(e) = testkit::display::ensure() {
        eprintln!("{e}");
        std::process::exit(2);
    }
    gtk::init().expect("GTK initialises");

    // The peer: pouchdb-server on localhost, in its own process.
    let peer_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pouchdb-server");
    if !peer_dir.join("node_modules/.bin/pouchdb-server").exists() {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&peer_dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "npm ci in {} failed", peer_dir.display());
    }
    let data = std::env::temp_dir().join(format!("pouchdb-bench-{}", std::process::id()));
    std::fs::create_dir_all(data.join("peer")).expect("a temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut peer = Command::new("node")
        .arg(peer_dir.join("node_modules/.bin/pouchdb-server"))
        .args(["--port", &port.to_string(), "--dir"])
        .arg(data.join("peer"))
        .args(["--no-color", "--level", "error"])
        // pouchdb-server writes config.json and log.txt into its working directory.
        .current_dir(data.join("peer"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("node runs pouchdb-server");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "pouchdb-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    let couch = Couch::open(data.join("couch.sqlite3")).expect("the store opens");
    let (report, reports) = testkit::report::mount(1 << 20);
    let page = tower::service_fn(|_r: http::Request<Body>| async {
        let mut r =
            http::Response::new(Body::from(include_str!("../../pouchdb-server/bench.html")));
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/html; charset=utf-8"),
        );
        Ok::<_, std::convert::Infallible>(r)
    });
    // The store's service, timed: the same `CouchService` `bus_couch::mount` mounts, with
    // the same mount settings (no bus body limit or timeout).
    let times = ServiceTimes::default();
    let timed = {
        let svc = couch.service();
        let times = times.clone();
        tower::service_fn(move |req: http::Request<Body>| {
            let mut svc = svc.clone();
            let times = times.clone();
            async move {
                let key = endpoint(&req);
                let started = Instant::now();
                let resp = tower::Service::call(&mut svc, req).await?;
                if let Some(key) = key {
                    times.add(key, started.elapsed().as_secs_f64() * 1e3);
                }
                Ok::<_, Infallible>(resp)
            }
        })
    };
    let bus = Bus::builder()
        .app_origin(ORIGIN)
        .mount_with(Mount::new("/db", timed).max_body(None).timeout(None))
        .mount_with(report)
        .mount_with(
            Mount::new(
                "/pouchdb-vendor",
                tower_http::services::ServeDir::new(testkit::pouch::bundle_dir()),
            )
            .public(),
        )
        .mount_with(Mount::new("/bench.html", page).public())
        .build();
    let handle = bus.handle();

    let window = gtk::Window::new(gtk::WindowType::Toplevel);
    window.set_default_size(800, 600);
    let vbox = gtk::Box::new(gtk::Orientation::Vertical, 0);
    window.add(&vbox);
    let webview = wry::WebViewBuilder::new()
        .build_gtk(&vbox)
        .expect("a WebView");
    let host = bridge_desktop::attach(&webview, &handle, bridge_desktop::HostConfig::new(ORIGIN))
        .expect("attach");
    window.show_all();
    host.load(&format!("/bench.html?n={n}&rounds={rounds}&port={port}"));
    println!(
        "PouchDB replication, {n} docs + 20 x 1 MiB attachments, {rounds} round(s); bus-couch over the bus vs pouchdb-server 4.2.0 on 127.0.0.1:{port}"
    );

    let _wake = glib::timeout_add_local(Duration::from_millis(20), || glib::ControlFlow::Continue);
    let started = Instant::now();
    let result = loop {
        glib::MainContext::default().iteration(true);
        if let Ok(r) = reports.try_recv() {
            if r["phase"] == "live-ready" {
                let db = r["db"].as_str().unwrap_or("").to_owned();
                let target = r["target"].as_str().unwrap_or("").to_owned();
                let h = handle.clone();
                // Ten writes 300 ms apart, off the GTK thread.
                std::thread::spawn(move || {
                    for k in 0..10 {
                        std::thread::sleep(Duration::from_millis(300));
                        let doc = json!({"t": now_ms(), "k": k});
                        let path = format!("/{db}/live-{k}");
                        let status = if target == "bus" {
                            h.runtime()
                                .expect("runtime")
                                .block_on(put_bus(&h, &path, &doc))
                        } else {
                            put_localhost(port, &path, &doc)
                        };
                        assert_eq!(status, 201, "{target} live write");
                    }
                });
                continue;
            }
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "the benchmark stalled"
        );
    };
    let _ = peer.kill();
    let _ = peer.wait();
    let _ = std::fs::remove_dir_all(&data);
    assert!(result["error"].is_null(), "{result:#}");
    println!(
        "  page alone (IndexedDB to IndexedDB, no backend): push {} ms  pull {} ms",
        result["localOnly"]["pushMs"], result["localOnly"]["pullMs"]
    );
    let rows = result["rounds"].as_array().cloned().unwrap_or_default();
    let mut rows = rows;
    for r in &mut rows {
        println!(
            "  round {} {:<9} push {:>6} ms  pull {:>6} ms  live {}",
            r["round"],
            r["target"].as_str().unwrap_or(""),
            r["pushMs"],
            r["pullMs"],
            r["liveMs"]
        );
        if r["target"] == "bus" {
            let db = r["db"].as_str().unwrap_or("").to_owned();
            let (endpoints, total) = times.of(&db);
            let phases = r["pushMs"].as_f64().unwrap_or(0.0) + r["pullMs"].as_f64().unwrap_or(0.0);
            println!(
                "      bus-couch service time {total:.0} ms ({:.0} % of push + pull): {endpoints}",
                100.0 * total / phases.max(1.0)
            );
            r["serviceMs"] = json!((total * 10.0).round() / 10.0);
            r["service"] = endpoints;
        }
    }
    let pick = |target: &str, key: &str| -> Vec<u64> {
        rows.iter()
            .filter(|r| r["target"] == target)
            .filter_map(|r| r[key].as_u64())
            .collect()
    };
    let live = |target: &str| -> Vec<u64> {
        rows.iter()
            .filter(|r| r["target"] == target)
            .flat_map(|r| r["liveMs"].as_array().cloned().unwrap_or_default())
            .filter_map(|v| v.as_u64())
            .collect()
    };
    let (bp, lp) = (
        median(&pick("bus", "pushMs")),
        median(&pick("localhost", "pushMs")),
    );
    let (bl, ll) = (
        median(&pick("bus", "pullMs")),
        median(&pick("localhost", "pullMs")),
    );
    let (bv, lv) = (median(&live("bus")), median(&live("localhost")));
    println!(
        "median push: bus {bp} ms, localhost {lp} ms → {:.2}x faster",
        lp / bp
    );
    println!(
        "median pull: bus {bl} ms, localhost {ll} ms → {:.2}x faster",
        ll / bl
    );
    println!(
        "median live latency: bus {bv} ms, localhost {lv} ms → {:.2}x",
        bv / lv
    );
    let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
    let goals = json!({
        "push >= 2x faster": {"ratio": lp / bp, "result": verdict(lp / bp >= 2.0)},
        "pull >= 2x faster": {"ratio": ll / bl, "result": verdict(ll / bl >= 2.0)},
        "live latency <= 0.5x": {"ratio": bv / lv, "result": verdict(bv / lv <= 0.5)},
    });
    for (goal, g) in goals.as_object().into_iter().flatten() {
        println!(
            "goal {goal}: {} ({:.2}x)",
            g["result"].as_str().unwrap_or(""),
            g["ratio"].as_f64().unwrap_or(f64::NAN)
        );
    }
    if let Some(path) = json_out {
        let report = json!({
            "bench": "pouchdb",
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "machine": machine(),
            "n": n,
            "attachments": "20 x 1 MiB",
            "page_alone_ms": result["localOnly"],
            "rounds": rows,
            "median": {
                "push_ms": {"bus": bp, "localhost": lp},
                "pull_ms": {"bus": bl, "localhost": ll},
                "live_ms": {"bus": bv, "localhost": lv},
            },
            "goals": goals,
        });
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&report).expect("JSON") + "\n",
        )
        .unwrap_or_else(|e| panic!("writing {path}: {e}"));
        println!("JSON written to {path}");
    }
}

/// What the run ran on: CPU model and count, memory, kernel, load at the end.
fn machine() -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')))
        .map(|(_, m)| m.trim().to_owned());
    let cpus = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let mem_kib: Option<u64> = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.split_whitespace().next()?.parse().ok());
    json!({
        "cpu": model,
        "cpus": cpus,
        "mem_gib": mem_kib.map(|k| (k as f64 / 1048576.0 * 10.0).round() / 10.0),
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "loadavg_at_end": read("/proc/loadavg").split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    })
}
