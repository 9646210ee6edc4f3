//! Notes with photos: the page keeps its notes in PouchDB (the npm package, unmodified) in
//! a local IndexedDB database and syncs them live with `bus-couch`, a CouchDB-compatible
//! store over SQLite mounted on the bus — through the bus, no server, no socket. The host
//! writes a "server" note every few seconds (so the live pull shows) and prints the notes
//! the page writes as its own `_changes` long-poll sees them.
//!
//! Run: `cargo run -p bus-examples --bin notes` (a display is needed; with none, run it
//! under `xvfb-run`, or add `--auto`, which starts Xvfb itself). The store is
//! `target/notes-example/couch.sqlite3` and survives restarts. `--auto` starts from an
//! empty store, lets the page add a note with a photo, waits for two host notes to reach
//! the page, prints what the page saw, and exits (non-zero on failure).

use std::path::Path;
use std::time::{Duration, Instant};

use bridge_desktop::HostConfig;
use bus_core::{Bus, BusHandle, Mount};
use bus_couch::Couch;
use gtk::prelude::*;
use serde_json::{Value, json};
use testkit::pouch::call_db as call;
use wry::WebViewBuilderExtUnix;

const ORIGIN: &str = "app://localhost";
const HOST_NOTE_EVERY: Duration = Duration::from_secs(3);

/// A small SVG "photo" for the host's notes.
fn svg(n: u64) -> String {
    let hue = (n * 47) % 360;
    format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='320' height='200'><rect width='320' height='200' fill='hsl({hue},55%,60%)'/><circle cx='250' cy='60' r='30' fill='hsl({},70%,85%)'/><text x='20' y='120' font-family='sans-serif' font-size='26' fill='#fff'>host note #{n}</text></svg>",
        (hue + 40) % 360
    )
}

/// Writes a note every few seconds, as a backend would (a server push, a sync from elsewhere).
async fn host_writer(bus: BusHandle) {
    use base64::Engine as _;
    for n in 1u64.. {
        tokio::time::sleep(HOST_NOTE_EVERY).await;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut doc = json!({
            "text": format!("Server note #{n}, written by the host"),
            "from": "host",
            "created": now,
        });
        if n % 2 == 1 {
            doc["_attachments"] = json!({"photo": {
                "content_type": "image/svg+xml",
                "data": base64::engine::general_purpose::STANDARD.encode(svg(n)),
            }});
        }
        let (status, r) = call(&bus, "PUT", &format!("/notes/host-{now}"), Some(doc)).await;
        if status != 201 {
            eprintln!("host note {n} refused: {status} {r}");
        }
    }
}

/// Follows the store's `_changes` (long-poll, as PouchDB does) and prints the page's notes.
async fn host_reader(bus: BusHandle) {
    let mut since = Value::from("now");
    loop {
        let path = format!(
            "/notes/_changes?feed=longpoll&heartbeat=10000&include_docs=true&since={}",
            since
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| since.to_string())
        );
        let (status, r) = call(&bus, "GET", &path, None).await;
        if status != 200 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        for change in r["results"].as_array().into_iter().flatten() {
            let doc = &change["doc"];
            if doc["from"] == "page" {
                let photo = &doc["_attachments"]["photo"];
                println!(
                    "host: the page wrote {:?}{}",
                    doc["text"].as_str().unwrap_or(""),
                    if photo.is_object() {
                        format!(
                            " with a {}-byte {} photo",
                            photo["length"], photo["content_type"]
                        )
                    } else {
                        String::new()
                    }
                );
            }
        }
        since = r["last_seq"].clone();
    }
}

fn main() {
    let auto = std::env::args().any(|a| a == "--auto");
    if let Some(bad) = std::env::args().skip(1).find(|a| a != "--auto") {
        eprintln!("unknown argument {bad:?}; usage: notes [--auto]");
        std::process::exit(2);
    }
    if auto && let Err(e) = testkit::display::ensure() {
        eprintln!("{e}");
        std::process::exit(2);
    }
    if gtk::init().is_err() {
        eprintln!("no display: run under xvfb-run, or with --auto (which starts Xvfb)");
        std::process::exit(2);
    }
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/notes-example");
    if auto {
        let _ = std::fs::remove_dir_all(&data);
    }
    std::fs::create_dir_all(&data).expect("the data folder");
    let couch = Couch::open(data.join("couch.sqlite3")).expect("the store opens");
    println!(
        "store: {} (uuid {})",
        data.join("couch.sqlite3").display(),
        couch.uuid()
    );

    // The page's final report (`--auto`).
    let (report, reports) = testkit::report::mount(1 << 20);
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("notes");
    let bus = Bus::builder()
        .app_origin(ORIGIN)
        // The store: an API mount, reached by the app's own documents only.
        .mount_with(bus_couch::mount("/db", &couch))
        .mount_with(report)
        // The page, its script and PouchDB: public (what any document may load).
        .mount_with(
            Mount::new(
                "/vendor",
                tower_http::services::ServeDir::new(testkit::pouch::bundle_dir()),
            )
            .public(),
        )
        .mount_with(Mount::new("/", tower_http::services::ServeDir::new(assets)).public())
        .build();
    let handle = bus.handle();
    let rt = handle.runtime().expect("the bus runtime");
    rt.block_on(async {
        let (s, r) = call(&handle, "PUT", "/notes", None).await;
        if s != 201 && r["error"] != "file_exists" {
            panic!("cannot create the notes database: {s} {r}");
        }
    });
    rt.spawn(host_writer(handle.clone()));
    rt.spawn(host_reader(handle.clone()));

    let window = gtk::Window::new(gtk::WindowType::Toplevel);
    window.set_title("Notes — PouchDB synced through the bus");
    window.set_default_size(900, 700);
    let vbox = gtk::Box::new(gtk::Orientation::Vertical, 0);
    window.add(&vbox);
    let webview = wry::WebViewBuilder::new()
        .build_gtk(&vbox)
        .expect("a WebView");
    let host =
        bridge_desktop::attach(&webview, &handle, HostConfig::new(ORIGIN)).expect("attach the bus");
    window.show_all();
    window.connect_delete_event(|_, _| {
        gtk::main_quit();
        glib::Propagation::Proceed
    });
    host.load(if auto {
        "/index.html?auto"
    } else {
        "/index.html"
    });
    if !auto {
        println!(
            "the window is open: add notes (with photos); the host adds one every {HOST_NOTE_EVERY:?}"
        );
        gtk::main();
        return;
    }
    let started = Instant::now();
    let _wake = glib::timeout_add_local(Duration::from_millis(20), || glib::ControlFlow::Continue);
    let report = loop {
        glib::MainContext::default().iteration(true);
        if let Ok(r) = reports.try_recv() {
            break r;
        }
        if started.elapsed() > Duration::from_secs(90) {
            break json!({"ok": false, "error": "no report from the page within 90 s"});
        }
    };
    println!("page: {report:#}");
    let ok = report["ok"] == true
        && report["storedPhoto"].as_u64() == report["photoBytes"].as_u64()
        && report["hostNotes"].as_array().is_some_and(|h| h.len() >= 2);
    if ok {
        println!(
            "notes finished in {:.1} s: the page's note with its photo reached the store in {} ms, and {} host notes reached the page",
            started.elapsed().as_secs_f64(),
            report["reachedStoreMs"],
            report["hostNotes"].as_array().map_or(0, Vec::len)
        );
    } else {
        println!("notes FAILED");
        std::process::exit(1);
    }
}
