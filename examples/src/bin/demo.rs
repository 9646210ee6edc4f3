//! The demo: a small app served entirely from the bus into a real WebView (WebKitGTK via
//! wry) — a gallery of pictures and a movie from a folder (ServeDir), a JSON API (axum), a
//! form and a file upload, links between pages, a live panel with server push and the
//! latency of the bus next to a localhost server, and a chat over a WebSocket whose axum
//! handler is the one a server on a port would run, unchanged.
//!
//! Run: `./scripts/demo.sh` (installs what it needs; with no display it runs under Xvfb).
//! `--auto` tours every page by itself, saves screenshots, prints what happened, and exits;
//! without it the window stays open for you to click around.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Multipart, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use bridge_desktop::HostConfig;
use bus_core::{Body, Bus, Caller, Mount};
use bytes::Bytes;
use gtk::prelude::*;
use http::Request;
use tower::{Service, ServiceExt};
use webkit2gtk::WebViewExt;
use wry::WebViewBuilderExtUnix;

const ORIGIN: &str = "app://localhost";

#[derive(Clone)]
struct App {
    notes: Arc<Mutex<Vec<String>>>,
    pictures: PathBuf,
    twin_port: Option<u16>,
    reports: std::sync::mpsc::Sender<serde_json::Value>,
    /// The chat room: every line said in it, to every open socket.
    chat: tokio::sync::broadcast::Sender<String>,
}

fn api(app: App) -> Router {
    Router::new()
        .route(
            "/notes",
            get(|State(app): State<App>| async move { Json(app.notes.lock().unwrap().clone()) }),
        )
        .route(
            "/notes/form",
            post(
                |State(app): State<App>,
                 Form(form): Form<std::collections::HashMap<String, String>>| async move {
                    let text = form.get("text").cloned().unwrap_or_default();
                    app.notes.lock().unwrap().push(text);
                    Redirect::to("/index.html")
                },
            ),
        )
        .route(
            "/pictures",
            get(|State(app): State<App>| async move {
                let mut list: Vec<serde_json::Value> = std::fs::read_dir(&app.pictures)
                    .map(|d| {
                        d.flatten()
                            .map(|e| {
                                serde_json::json!({
                                    "file": e.file_name().to_string_lossy(),
                                    "bytes": e.metadata().map(|m| m.len()).unwrap_or(0),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                list.sort_by_key(|v| v["file"].as_str().unwrap_or("").to_owned());
                Json(list)
            }),
        )
        .route("/upload", post(upload))
        .route("/events", get(events))
        .route("/chat", get(chat))
        .route("/ping", get(|| async { "pong" }))
        .route(
            "/config",
            get(|State(app): State<App>| async move {
                Json(serde_json::json!({ "twin": app.twin_port }))
            }),
        )
        .route(
            "/demo-report",
            post(
                |State(app): State<App>, Json(v): Json<serde_json::Value>| async move {
                    let _ = app.reports.send(v);
                    "ok"
                },
            ),
        )
        .with_state(app)
}

async fn upload(mut form: Multipart) -> Response {
    let mut out = serde_json::Map::new();
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or("").to_owned();
        let file = field.file_name().map(str::to_owned);
        match field.bytes().await {
            Ok(data) => {
                let value = match file {
                    Some(f) => serde_json::json!({ "file": f, "bytes": data.len() }),
                    None => String::from_utf8_lossy(&data).into(),
                };
                out.insert(name, value);
            }
            Err(e) => {
                return (http::StatusCode::BAD_REQUEST, format!("bad upload: {e}\n"))
                    .into_response();
            }
        }
    }
    Json(out).into_response()
}

async fn events() -> Response {
    let (tx, body) = Body::channel(1);
    tokio::spawn(async move {
        let started = Instant::now();
        for id in 1.. {
            let line = format!(
                "id: {id}\nevent: tick\ndata: tick {id} at +{} ms\n\n",
                started.elapsed().as_millis()
            );
            if tx.send(Bytes::from(line)).await.is_err() {
                return; // the page went away: the stream's reader is gone
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    Response::builder()
        .header(http::header::CONTENT_TYPE, "text/event-stream")
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(axum::body::Body::new(body))
        .unwrap()
}

/// The chat's WebSocket: an ordinary axum handler (axum's `ws` feature), mounted on the bus
/// as it would be on a server. Each socket hears every line said in the room, and the host
/// says hello and counts ticks.
async fn chat(ws: WebSocketUpgrade, State(app): State<App>) -> Response {
    ws.on_upgrade(move |socket| chat_session(socket, app.chat))
}

async fn chat_session(mut socket: WebSocket, room: tokio::sync::broadcast::Sender<String>) {
    let mut heard = room.subscribe();
    let hello = format!(
        "host: hello! {} socket(s) in the room, and not one of them is a network socket",
        room.receiver_count()
    );
    if socket.send(Message::Text(hello.into())).await.is_err() {
        return;
    }
    let mut ticks = tokio::time::interval(Duration::from_millis(700));
    let mut tick = 0u32;
    loop {
        tokio::select! {
            message = socket.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    let _ = room.send(format!("page: {}", text.as_str()));
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            Ok(line) = heard.recv() => {
                if socket.send(Message::Text(line.into())).await.is_err() {
                    return;
                }
            }
            _ = ticks.tick() => {
                tick += 1;
                if socket.send(Message::Text(format!("host: tick {tick}").into())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Prints each request as it is answered: transport, method, path, status.
fn logged<S, B>(
    name: &'static str,
    inner: S,
) -> impl Service<
    Request<Body>,
    Response = http::Response<B>,
    Error = S::Error,
    Future = impl Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static
where
    S: Service<Request<Body>, Response = http::Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: 'static,
{
    tower::service_fn(move |req: Request<Body>| {
        let inner = inner.clone();
        let transport = req
            .extensions()
            .get::<Caller>()
            .map(|c| format!("{:?}", c.transport()))
            .unwrap_or_else(|| "InProcess".into());
        let line = format!("{} {name}{}", req.method(), req.uri().path());
        let started = Instant::now();
        async move {
            let response = inner.oneshot(req).await?;
            log_request(
                format!(
                    "{transport:<7} {line:<40} -> {}",
                    response.status().as_u16()
                ),
                started.elapsed(),
            );
            Ok(response)
        }
    })
}

/// A run of the same request answered the same way, printed as one line.
struct Run {
    key: String,
    at_ms: f64,
    times: Vec<Duration>,
}

static RUN: std::sync::Mutex<Option<Run>> = std::sync::Mutex::new(None);

/// Logs an answered request. Repeats of the previous one (the live page's ~200 pings) fold
/// into its line, printed with a count and timings when something else happens.
fn log_request(key: String, took: Duration) {
    let mut run = RUN.lock().unwrap_or_else(|e| e.into_inner());
    match run.as_mut() {
        Some(r) if r.key == key => r.times.push(took),
        _ => {
            if let Some(done) = run.take() {
                print_run(&done);
            }
            *run = Some(Run {
                key,
                at_ms: epoch().elapsed().as_secs_f64() * 1000.0,
                times: vec![took],
            });
        }
    }
}

/// Prints the pending run of requests, if any.
fn flush_log() {
    if let Some(done) = RUN.lock().unwrap_or_else(|e| e.into_inner()).take() {
        print_run(&done);
    }
}

fn print_run(run: &Run) {
    let mut times = run.times.clone();
    times.sort();
    if times.len() == 1 {
        println!(
            "  [bus] +{:>7.1} ms {} ({:?})",
            run.at_ms, run.key, times[0]
        );
    } else {
        println!(
            "  [bus] +{:>7.1} ms {} x{} (median {:?}, max {:?})",
            run.at_ms,
            run.key,
            times.len(),
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
}

/// When the demo started, for the request log's timestamps.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("demo")
}

/// The movie: generated once with GStreamer into the target directory (not committed).
fn movie() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/demo-media");
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join("movie.webm");
    if !path.exists() {
        println!("generating a 30 s WebM movie with GStreamer ...");
    }
    if let Err(e) = testkit::media::webm(&path, "ball") {
        eprintln!("no movie: {e}");
        return None;
    }
    Some(dir)
}

/// The localhost twin for the latency comparison: a separate process (so the host holds
/// no listener), serving `/api/ping` with CORS. Returns its port and the child.
fn start_twin() -> Option<(u16, std::process::Child)> {
    let mut child = std::process::Command::new(std::env::current_exe().ok()?)
        .arg("--twin")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take()?)
        .read_line(&mut line)
        .ok()?;
    Some((line.trim().parse().ok()?, child))
}

fn twin() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let router = Router::new()
            .route("/api/ping", get(|| async { "pong" }))
            .layer(axum::middleware::map_response(
                |mut r: Response| async move {
                    r.headers_mut().insert(
                        "access-control-allow-origin",
                        http::HeaderValue::from_static("*"),
                    );
                    r
                },
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", listener.local_addr().expect("addr").port());
        std::io::stdout().flush().ok();
        // Stop when the demo closes our stdin.
        tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            let _ = std::io::stdin().read_line(&mut sink);
            std::process::exit(0);
        });
        axum::serve(listener, router).await.ok();
    });
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--twin") {
        return twin();
    }
    let auto = args.iter().any(|a| a == "--auto");
    epoch();
    if let Some(bad) = args.iter().find(|a| *a != "--auto") {
        eprintln!("unknown argument {bad:?}; usage: demo [--auto]");
        std::process::exit(2);
    }
    if gtk::init().is_err() {
        eprintln!("no display: run ./scripts/demo.sh, which starts one under Xvfb");
        std::process::exit(2);
    }

    let (report_tx, reports) = std::sync::mpsc::channel();
    let twin = start_twin();
    let app = App {
        notes: Arc::new(Mutex::new(vec![
            "the bus has no port".into(),
            "pages, pictures and API all come from memory".into(),
        ])),
        pictures: assets().join("pictures"),
        twin_port: twin.as_ref().map(|(p, _)| *p),
        reports: report_tx,
        chat: tokio::sync::broadcast::channel(64).0,
    };
    let mut builder = Bus::builder()
        .app_origin(ORIGIN)
        .mount("/api", logged("/api", api(app.clone())))
        // Pages, pictures and the movie are public (what any document may load: a top-level
        // load and an <img> carry nothing that proves who asked); /api is not.
        .mount_with(
            Mount::new(
                "/media/pictures",
                logged(
                    "/media/pictures",
                    tower_http::services::ServeDir::new(assets().join("pictures")),
                ),
            )
            .public(),
        )
        .mount_with(
            Mount::new(
                "/",
                logged("", tower_http::services::ServeDir::new(assets())),
            )
            .public(),
        );
    if let Some(dir) = movie() {
        builder = builder.mount_with(
            Mount::new(
                "/media/movie.webm",
                logged(
                    "/media/movie.webm",
                    tower_http::services::ServeFile::new(dir.join("movie.webm")),
                ),
            )
            .public(),
        );
    }
    let bus = builder.build();

    let window = gtk::Window::new(gtk::WindowType::Toplevel);
    window.set_title("In-process HTTP bus demo");
    window.set_default_size(1024, 760);
    let vbox = gtk::Box::new(gtk::Orientation::Vertical, 0);
    window.add(&vbox);
    let webview = wry::WebViewBuilder::new()
        .build_gtk(&vbox)
        .expect("a WebView");
    let host = bridge_desktop::attach(&webview, &bus.handle(), HostConfig::new(ORIGIN))
        .expect("attach the bus");
    window.show_all();
    window.connect_delete_event(|_, _| {
        gtk::main_quit();
        glib::Propagation::Proceed
    });
    println!(
        "WebView: WebKitGTK (via wry), app origin {ORIGIN}; every request below went through the bus"
    );
    host.load("/index.html");

    if !auto {
        // Interactive: print reports as pages finish, until the window closes.
        glib::timeout_add_local(Duration::from_millis(100), move || {
            while let Ok(r) = reports.try_recv() {
                println!("page {}: {}", r["page"], r["lines"]);
            }
            glib::ControlFlow::Continue
        });
        gtk::main();
        return;
    }

    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/demo");
    std::fs::create_dir_all(&out_dir).ok();
    let tour: Rc<RefCell<VecDeque<&str>>> = Rc::new(RefCell::new(VecDeque::from([
        "home",
        "home-after-form",
        "gallery",
        "movie",
        "upload",
        "live",
        "chat",
    ])));
    let started = Instant::now();
    let failed = Rc::new(RefCell::new(Vec::<String>::new()));
    // Block in the main loop (a busy poll with sleeps would add its period to every
    // frame's round trip); this timer wakes it to look at the reports.
    let _wake = glib::timeout_add_local(Duration::from_millis(20), || glib::ControlFlow::Continue);
    loop {
        glib::MainContext::default().iteration(true);
        if let Ok(r) = reports.try_recv() {
            let page = r["page"].as_str().unwrap_or("?").to_owned();
            let step = tour.borrow_mut().pop_front();
            flush_log();
            println!("\n== page {page} ==");
            for line in r["lines"].as_array().into_iter().flatten() {
                println!("   {}", line.as_str().unwrap_or(""));
            }
            match step {
                Some("home") => {
                    println!("   (submitting the notes form: a real <form method=post>)");
                    host.webkit().evaluate_javascript(
                        "document.getElementById('note').value = 'typed into a form and POSTed'; document.forms[0].submit();",
                        None, None, gio::Cancellable::NONE, |_| {},
                    );
                }
                Some("home-after-form") => host.load("/gallery.html"),
                Some("gallery") => {
                    snapshot(host.webkit(), &out_dir.join("demo-gallery.png"));
                    host.load("/movie.html");
                }
                Some("movie") => host.load("/upload.html"),
                Some("upload") => host.load("/live.html"),
                Some("live") => {
                    snapshot(host.webkit(), &out_dir.join("demo.png"));
                    host.load("/chat.html");
                }
                Some("chat") => {
                    snapshot(host.webkit(), &out_dir.join("demo-chat.png"));
                    break;
                }
                _ => {}
            }
        }
        if started.elapsed() > Duration::from_secs(120) {
            failed
                .borrow_mut()
                .push(format!("the tour stalled; pages left: {:?}", tour.borrow()));
            break;
        }
    }
    let deadline = Instant::now() + Duration::from_millis(800);
    while Instant::now() < deadline {
        glib::MainContext::default().iteration(true);
    }

    let twin_pid = twin.as_ref().map(|(_, c)| c.id());
    let pids: Vec<u32> = testkit::sockets::process_tree(std::process::id())
        .into_iter()
        .filter(|p| Some(*p) != twin_pid)
        .collect();
    let listeners = testkit::sockets::listeners(&pids).unwrap_or_default();
    flush_log();
    println!("\n== no listener ==");
    println!(
        "   {} processes (this host and WebKit's children{}) hold {} listening sockets (read from /proc)",
        pids.len(),
        if twin_pid.is_some() {
            "; the localhost twin used only for the latency comparison excluded"
        } else {
            ""
        },
        listeners.len()
    );
    if !listeners.is_empty() {
        failed
            .borrow_mut()
            .push(format!("listening sockets: {listeners:?}"));
    }
    println!(
        "\nscreenshots: {}, {} and {}",
        out_dir.join("demo.png").display(),
        out_dir.join("demo-gallery.png").display(),
        out_dir.join("demo-chat.png").display()
    );
    if let Some((_, mut child)) = twin {
        let _ = child.kill();
    }
    let failed = failed.borrow();
    if failed.is_empty() {
        println!(
            "demo finished: every page loaded and reported through the bus in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    } else {
        println!("demo FAILED: {failed:?}");
        std::process::exit(1);
    }
}

fn snapshot(view: &webkit2gtk::WebView, path: &Path) {
    let done = Rc::new(RefCell::new(false));
    let flag = done.clone();
    let path = path.to_owned();
    view.snapshot(
        webkit2gtk::SnapshotRegion::Visible,
        webkit2gtk::SnapshotOptions::NONE,
        gio::Cancellable::NONE,
        move |result| {
            match result.map_err(|e| e.to_string()).and_then(|surface| {
                let mut file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
                surface.write_to_png(&mut file).map_err(|e| e.to_string())
            }) {
                Ok(()) => println!("   screenshot saved: {}", path.display()),
                Err(e) => println!("   screenshot failed: {e}"),
            }
            *flag.borrow_mut() = true;
        },
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !*done.borrow() && Instant::now() < deadline {
        glib::MainContext::default().iteration(true);
    }
}
