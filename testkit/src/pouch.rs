//! PouchDB (npm, unmodified) in a real engine, replicating with `bus-couch` through the
//! bus: the page (`pages/pouchdb.html`), its mounts, the host's side of the live phase, and
//! the checks both hosts' tests make on its report.
//!
//! The page runs phases — pull of documents the host wrote, push of `n` documents,
//! attachments (SHA-256 compared after a round trip, and a `Range` read), conflicts made on
//! both sides, deletions both ways, filtered replication by selector (checked against
//! PouchDB's own in-memory matcher) and by doc ids, a cancelled replication resumed from its
//! checkpoint, and live `sync` (a page write reaching the store, a host write reaching the
//! page) ended with `cancel()`.

use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bus_core::{Body, BusBuilder, BusHandle, Mount};
use bus_couch::{Couch, CouchService};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sha2::Digest;
use tokio::sync::watch;

/// The page, as HTML.
pub const PAGE: &str = include_str!("../pages/pouchdb.html");

/// Builds PouchDB's bundle (`bus-couch/pouchdb/build.sh`: `npm ci` of the pinned packages
/// when needed, then esbuild) and returns the folder holding `pouchdb.js`.
///
/// # Panics
/// When the build fails (no node/npm, no registry), with its output.
pub fn bundle_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bus-couch/pouchdb");
    let out = std::process::Command::new("sh")
        .arg(dir.join("build.sh"))
        .output()
        .expect("sh runs");
    assert!(
        out.status.success() && dir.join("dist/pouchdb.js").is_file(),
        "building PouchDB's bundle failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("dist")
}

/// The store's service behind a switch, as a host restarting would have it: while stopped,
/// requests get 503 (JSON, as CouchDB answers when it is unavailable), and stopping ends
/// every response still streaming (their bodies fail, as a dropped connection would).
#[derive(Clone, Debug)]
pub struct Restartable {
    service: Arc<Mutex<Option<CouchService>>>,
    generation: watch::Sender<u64>,
}

impl Restartable {
    /// Serving `couch`.
    pub fn new(couch: &Couch) -> Restartable {
        Restartable {
            service: Arc::new(Mutex::new(Some(couch.service()))),
            generation: watch::channel(0).0,
        }
    }

    /// The host goes down: in-flight responses fail, new requests get 503.
    pub fn stop(&self) {
        *self.service.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.generation.send_modify(|g| *g += 1);
    }

    /// The host is back, serving `couch` (reopened from the same file).
    pub fn start(&self, couch: &Couch) {
        *self.service.lock().unwrap_or_else(|e| e.into_inner()) = Some(couch.service());
    }
}

impl tower::Service<http::Request<Body>> for Restartable {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let service = self
            .service
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut generation = self.generation.subscribe();
        Box::pin(async move {
            let Some(mut service) = service else {
                let mut r = http::Response::new(Body::from(
                    json!({"error": "unavailable", "reason": "the host is restarting"}).to_string(),
                ));
                *r.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                return Ok(r);
            };
            let response = tower::Service::call(&mut service, req).await?;
            if response.body().exact_len().is_some() {
                return Ok(response);
            }
            let (parts, mut body) = response.into_parts();
            let (tx, out) = Body::channel(4);
            generation.borrow_and_update();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        frame = body.frame() => match frame {
                            Some(Ok(frame)) => {
                                if let Ok(data) = frame.into_data()
                                    && tx.send(data).await.is_err()
                                {
                                    return;
                                }
                            }
                            Some(Err(e)) => return tx.abort(e).await,
                            None => return,
                        },
                        _ = generation.changed() => return tx.abort("the host restarted").await,
                        // The reader left (a cancelled fetch): drop the store's body now.
                        () = tx.closed() => return,
                    }
                }
            });
            Ok(http::Response::from_parts(parts, out))
        })
    }
}

/// Mounts the page at `/pouchdb.html` and PouchDB at `/pouchdb-vendor` (public: static
/// files any document may load), and the store at `/db` (an API mount with the bus's
/// default policy: the app's own documents only; limits as [`bus_couch::mount`]'s).
pub fn mount(builder: BusBuilder, couch: &Restartable) -> BusBuilder {
    let page = crate::clients::html_page(PAGE);
    builder
        .mount_with(
            Mount::new(
                "/pouchdb-vendor",
                tower_http::services::ServeDir::new(bundle_dir()),
            )
            .public(),
        )
        .mount_with(Mount::new("/pouchdb.html", page).public())
        .mount_with(
            Mount::new("/db", couch.clone())
                .max_body(None)
                .timeout(None),
        )
}

/// Calls the store mounted at `/db` (`path` is under it: `/notes/_bulk_docs`) from Rust,
/// with `body` as JSON, and returns the status and the JSON answer (`null` when it is
/// none). For the tests and the notes example.
///
/// # Panics
/// When `method` or `path` cannot make a request.
pub async fn call_db(
    bus: &BusHandle,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(format!("app://localhost/db{path}"))
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("a request");
    let resp = bus.call(req).await;
    let status = resp.status().as_u16();
    let bytes = body_bytes(resp).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Creates database `db` with `n` documents `srv-0..` written by the host, for the page's
/// pull phase.
///
/// # Panics
/// When the store refuses.
pub async fn seed(bus: &BusHandle, db: &str, n: usize) {
    let (s, r) = call_db(bus, "PUT", &format!("/{db}"), None).await;
    assert_eq!(s, 201, "{r}");
    let docs: Vec<Value> = (0..n)
        .map(|i| json!({"_id": format!("srv-{i}"), "type": "server", "i": i, "nested": {"k": i % 5}, "tags": ["t1"]}))
        .collect();
    let (s, r) = call_db(
        bus,
        "POST",
        &format!("/{db}/_bulk_docs"),
        Some(json!({"docs": docs})),
    )
    .await;
    assert_eq!(s, 201, "{r}");
}

/// The host's write of the live phase: `live-from-host` with the time it was written, in
/// milliseconds since the epoch (the page measures its arrival against it).
///
/// # Panics
/// When the store refuses.
pub async fn host_write(bus: &BusHandle, db: &str) {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let (s, r) = call_db(
        bus,
        "PUT",
        &format!("/{db}/live-from-host"),
        Some(json!({"t": t, "from": "host"})),
    )
    .await;
    assert_eq!(s, 201, "{r}");
}

/// SHA-256 (hex) of the attachment `file.bin` of `doc`, read through the bus.
pub async fn attachment_sha(bus: &BusHandle, db: &str, doc: &str) -> String {
    let req = http::Request::get(format!("app://localhost/db/{db}/{doc}/file.bin"))
        .body(Body::empty())
        .expect("a request");
    let bytes = body_bytes(bus.call(req).await).await;
    crate::conformance::hex(&sha2::Sha256::digest(&bytes))
}

/// The whole body of `response` (empty if it failed midway).
async fn body_bytes(response: http::Response<Body>) -> bytes::Bytes {
    response
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default()
}

/// Waits until `couch` has no `_changes` feed left (the live sync's long-poll ended).
///
/// # Panics
/// After `within` with feeds still open.
pub fn assert_feeds_end(couch: &Couch, within: Duration, mut pump: impl FnMut()) {
    let deadline = Instant::now() + within;
    while couch.open_feeds() != 0 {
        assert!(
            Instant::now() < deadline,
            "{} _changes feed(s) still open {within:?} after cancel()",
            couch.open_feeds()
        );
        pump();
    }
}

/// The host's side of the restart phase: stops the store, waits `down`, reopens it from
/// `path` and writes `rs-host` into `db`; returns the new instance.
///
/// # Panics
/// When the store cannot be reopened or refuses the write.
pub async fn restart(
    switch: &Restartable,
    path: &std::path::Path,
    bus: &BusHandle,
    db: &str,
    down: Duration,
) -> Couch {
    switch.stop();
    tokio::time::sleep(down).await;
    let couch = Couch::open(path).expect("the store reopens");
    switch.start(&couch);
    let (s, r) = call_db(
        bus,
        "PUT",
        &format!("/{db}/rs-host"),
        Some(json!({"from": "host", "after": "restart"})),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    couch
}

/// Checks the page's final report; `seeded` documents were written by the host, `n` pushed
/// by the page, `big` the extra attachment size (0: none).
///
/// # Panics
/// On the first difference, with the whole report.
pub fn check(r: &Value, seeded: u64, n: u64) {
    assert!(r["error"].is_null(), "{r:#}");
    assert!(
        r["failed"].is_null(),
        "phases failed: {}\n{r:#}",
        r["failed"]
    );
    assert_eq!(r["env"]["indexedDB"], "object", "{r:#}");
    let adapter = r["env"]["adapter"].as_str().unwrap_or("");
    assert!(
        adapter == "idb" || adapter == "indexeddb",
        "a local IndexedDB database: {r:#}"
    );
    assert_eq!(r["pull"]["ok"], true, "{r:#}");
    assert_eq!(r["pull"]["docs_written"], seeded, "{r:#}");
    assert_eq!(r["pull"]["local"], seeded, "{r:#}");
    assert_eq!(r["push"]["docs_written"], n, "{r:#}");
    assert_eq!(r["push"]["remote"], seeded + n, "{r:#}");
    for f in r["attachments"]["files"].as_array().expect("files") {
        assert_eq!(
            f["pulledSha"], f["sha"],
            "attachment of {} bytes pulled back: {r:#}",
            f["size"]
        );
        assert_eq!(
            f["remoteSha"], f["sha"],
            "attachment of {} bytes read from the store: {r:#}",
            f["size"]
        );
        assert_eq!(f["remoteLength"], f["size"], "{r:#}");
        assert_eq!(
            f["remoteDigest"], f["localDigest"],
            "the store's digest is PouchDB's: {r:#}"
        );
    }
    let range = &r["attachments"]["range"];
    assert_eq!(range["status"], 206, "{r:#}");
    assert_eq!(range["equal"], true, "{r:#}");
    let before = &r["conflicts"]["before"];
    assert_eq!(
        before["localRev"], before["remoteRev"],
        "both sides pick the same winner: {r:#}"
    );
    assert_eq!(before["localV"], before["remoteV"], "{r:#}");
    assert_eq!(before["localConflicts"], before["remoteConflicts"], "{r:#}");
    assert_eq!(
        before["localConflicts"].as_array().map(Vec::len),
        Some(1),
        "{r:#}"
    );
    let after = &r["conflicts"]["after"];
    assert_eq!(after["localRev"], after["remoteRev"], "{r:#}");
    assert_eq!(after["remoteConflicts"], json!([]), "{r:#}");
    assert_eq!(
        r["deletions"]["remoteErr"],
        json!({"status": 404, "reason": "deleted"}),
        "{r:#}"
    );
    assert_eq!(r["deletions"]["localErr"]["status"], 404, "{r:#}");
    let sel = &r["filtered"]["selector"];
    assert_eq!(
        sel["got"], sel["ref"],
        "the store's selector picks what PouchDB's matcher picks: {r:#}"
    );
    assert!(
        sel["got"].as_array().is_some_and(|g| !g.is_empty()),
        "{r:#}"
    );
    assert_eq!(
        r["filtered"]["docIds"]["got"],
        json!(["p-00003", "srv-1"]),
        "{r:#}"
    );
    let resume = &r["resume"];
    let (first, read, total) = (
        resume["first"].as_u64().unwrap_or(0),
        resume["secondRead"].as_u64().unwrap_or(u64::MAX),
        resume["total"].as_u64().unwrap_or(0),
    );
    assert_eq!(total, 300, "{r:#}");
    assert!(
        (75..300).contains(&first),
        "the first run stopped part way: {r:#}"
    );
    assert!(
        read <= 300 - first + 25,
        "the second run resumed from the checkpoint: {r:#}"
    );
    assert!(r["live"]["pull"]["ms"].is_u64(), "{r:#}");
    if !r["restart"].is_null() {
        let rs = &r["restart"];
        assert_eq!(rs["sawOutage"], 503, "{r:#}");
        assert_eq!(
            rs["pushed"], 20,
            "the writes made while the host was down arrived: {r:#}"
        );
        assert_eq!(rs["hostDoc"], "restart", "{r:#}");
    }
}

/// How an engine's test drives the page: everything [`sync_phases`] needs that differs
/// between engines.
pub trait Page {
    /// Loads `path` (`/pouchdb.html?…`) of the app origin in the engine.
    fn load(&self, path: &str);
    /// The page's next report, or `None` after `timeout` (running the engine's loop
    /// meanwhile, if it has one).
    fn try_report(&self, timeout: Duration) -> Option<Value>;
    /// What the page has logged so far (its `#log` element's text).
    fn log(&self) -> String;
    /// Lets `time` pass, running the engine's loop if it has one.
    fn wait(&self, time: Duration);
}

/// The expression that reads the page's log (evaluate it in the page).
pub const LOG_EXPRESSION: &str =
    "document.getElementById('log') && document.getElementById('log').textContent";

/// A fresh directory for a test's store, removed on drop.
#[derive(Debug)]
pub struct StoreDir(PathBuf);

impl StoreDir {
    /// `bus-couch-<name>-<pid>` in the temp directory, emptied.
    ///
    /// # Panics
    /// When it cannot be created.
    pub fn new(name: &str) -> StoreDir {
        let dir = std::env::temp_dir().join(format!("bus-couch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temp dir");
        StoreDir(dir)
    }

    /// The store's file in it.
    pub fn store(&self) -> PathBuf {
        self.0.join("couch.sqlite3")
    }
}

impl Drop for StoreDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The page's next report within `within`; every 20 s without one, prints what the page
/// has logged so far.
///
/// # Panics
/// After `within` with no report.
pub fn next_report(page: &impl Page, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if let Some(r) = page.try_report(left.min(Duration::from_secs(20))) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "no report from the page within {within:?}"
        );
        eprintln!("still waiting for the page; its log:\n{}", page.log());
    }
}

/// The whole run both engines' tests make: seeds 50 host documents into `notes` of the
/// store at `path` (open as `couch`, served through `switch` on `bus`), loads the page with
/// `n` documents to push and an extra attachment of `big` bytes (0: none), plays the
/// host's side of the live and restart phases, then [`check`]s the report, compares each
/// attachment's SHA-256 with the store's bytes, waits for the live sync's feed to end and
/// checks the store's integrity. `within`: how long the page may take for each report.
///
/// # Panics
/// On any failed check.
pub fn sync_phases(
    page: &impl Page,
    bus: &BusHandle,
    (switch, path, couch): (&Restartable, &std::path::Path, Couch),
    (n, big): (u64, u64),
    within: Duration,
) {
    let rt = bus.runtime().expect("the bus runtime");
    let seeded = 50;
    rt.block_on(seed(bus, "notes", seeded));
    let started = Instant::now();
    page.load(&format!("/pouchdb.html?db=notes&n={n}&big={big}&restart=1"));
    let mut couch = couch;
    let mut r = next_report(page, within);
    if r["phase"] == "live-ready" {
        rt.block_on(host_write(bus, "notes"));
        r = next_report(page, within);
    }
    if r["phase"] == "restart-ready" {
        // Down for 1.5 s; the engine's loop keeps running meanwhile (the store is off it).
        let back = rt.spawn({
            let (switch, path, bus) = (switch.clone(), path.to_owned(), bus.clone());
            async move { restart(&switch, &path, &bus, "notes", Duration::from_millis(1500)).await }
        });
        while !back.is_finished() {
            page.wait(Duration::from_millis(10));
        }
        couch = rt.block_on(back).expect("the restart ran");
        r = next_report(page, within);
    }
    println!("phases (ms): {}", r["phases"]);
    println!(
        "push {n} docs: {} ms; attachments push {} ms, pull {} ms; live: page→store {} ms, host→page {} ms",
        r["push"]["ms"],
        r["attachments"]["pushMs"],
        r["attachments"]["pullMs"],
        r["live"]["pushMs"],
        r["live"]["pull"]["ms"]
    );
    check(&r, seeded as u64, n);
    // The bytes the page hashed are the bytes the store holds.
    for f in r["attachments"]["files"].as_array().expect("files") {
        let sha = rt.block_on(attachment_sha(bus, "notes", &format!("att-{}", f["size"])));
        assert_eq!(
            Value::String(sha),
            f["sha"],
            "attachment of {} bytes",
            f["size"]
        );
    }
    // cancel() ended the live sync's long-poll handler.
    assert_feeds_end(&couch, Duration::from_secs(5), || {
        page.wait(Duration::from_millis(10))
    });
    assert_eq!(couch.integrity_check().expect("integrity_check runs"), "ok");
    println!("whole run {:.1?}", started.elapsed());
}
