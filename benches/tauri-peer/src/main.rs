//! `tauri-peer`: the Tauri 2 peer of `benches webview`. A Tauri app whose page
//! (`dist/index.html`) runs the benchmark's workloads over Tauri's own ways in — `invoke`
//! with raw `ipc::Response` answers and raw request bodies, a `Channel` of raw chunks, a
//! URI-scheme protocol — and over a localhost server given on the command line, in the same
//! WebKitGTK (through wry) as the bus's benchmark.
//!
//! ```text
//! tauri-peer --local http://127.0.0.1:PORT --driven     # commands on stdin, one JSON line each
//! tauri-peer --local http://127.0.0.1:PORT --rounds 2   # runs the workloads itself
//! ```
//!
//! Driven (what `benches webview --tauri` does): the first stdout line is the page's
//! `ready` report (with Tauri's version and the IPC transport seen); then each JSON command
//! read from stdin (`{"kind":"seq","path":"tauri-invoke","n":1000,"batch":100}`) runs in the
//! page and its report is printed as one JSON line. End of input ends the app (status 0).
//! Standalone (`--rounds N`): every workload on every path, paths interleaved round by
//! round, then one JSON object with every round's value. Any failure — bad arguments
//! (status 2), a page error or a timeout (status 1) — is one `tauri-peer: error: ...` line on
//! stderr.

use std::borrow::Cow;
use std::io::{BufRead, Write};
use std::sync::OnceLock;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tauri::http;
use tauri::ipc::{Channel, InvokeBody, InvokeResponseBody, Request, Response};
use tauri::{AppHandle, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

/// The small answer: the same 12 bytes as the bus's `/bench/tiny`.
const TINY: &[u8] = b"hello, world";
/// The largest download served (the benchmark's is 64 MiB).
const MAX_DOWNLOAD: usize = 64 << 20;
/// The default channel chunk: the bus's handler streams 64 KiB slices too.
const CHANNEL_CHUNK: usize = 64 << 10;
/// How long one command may take before the peer gives up.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(180);

/// The bytes every download is a prefix of, made once: handlers slice it, never fill it.
fn source() -> &'static [u8] {
    static SOURCE: OnceLock<Box<[u8]>> = OnceLock::new();
    SOURCE.get_or_init(|| (0..MAX_DOWNLOAD).map(|i| (i % 251) as u8).collect())
}

fn check_size(n: usize) -> Result<(), String> {
    if n > MAX_DOWNLOAD {
        return Err(format!(
            "{n} bytes asked for; this peer serves at most {MAX_DOWNLOAD}"
        ));
    }
    Ok(())
}

/// `invoke('tiny')`: 12 bytes as a raw `ipc::Response` (an `ArrayBuffer` in the page, no
/// JSON). A synchronous command: Tauri runs it on the main thread, where the IPC request
/// arrives, with no hop to its async runtime.
#[tauri::command]
fn tiny() -> Response {
    Response::new(TINY.to_vec())
}

/// `invoke('bytes', {n})`: `n` bytes as one raw `ipc::Response` (Tauri takes a `Vec`, so
/// this copies them once out of the source).
#[tauri::command]
fn bytes(n: usize) -> Result<Response, String> {
    check_size(n)?;
    Ok(Response::new(source()[..n].to_vec()))
}

/// `invoke('upload', uint8array)`: the raw request body, counted. A JSON body would mean
/// the bytes did not travel raw (Tauri's postMessage fallback sends them as a JSON array).
#[tauri::command]
fn upload(request: Request<'_>) -> Result<u64, String> {
    match request.body() {
        InvokeBody::Raw(body) => Ok(body.len() as u64),
        InvokeBody::Json(_) => Err("upload: the body arrived as JSON, not as raw bytes".into()),
    }
}

/// `invoke('stream', {n, chunk, onChunk})`: `n` bytes sent on a channel as raw chunks of
/// `chunk` bytes (each a `Vec`: a copy out of the source). Async, so the sends run on
/// Tauri's runtime as a streaming command would.
#[tauri::command]
async fn stream(
    n: usize,
    chunk: Option<usize>,
    on_chunk: Channel<InvokeResponseBody>,
) -> Result<(), String> {
    check_size(n)?;
    let chunk = chunk.unwrap_or(CHANNEL_CHUNK).max(1);
    let source = source();
    let mut offset = 0;
    while offset < n {
        let end = (offset + chunk).min(n);
        on_chunk
            .send(InvokeResponseBody::Raw(source[offset..end].to_vec()))
            .map_err(|e| format!("channel send failed at byte {offset}: {e}"))?;
        offset = end;
    }
    Ok(())
}

/// `invoke('transport')`: how this very call arrived. Tauri's custom-protocol IPC (a fetch
/// to `ipc://localhost/<command>`) carries `Tauri-Callback` as an HTTP header; its
/// postMessage fallback does not.
#[tauri::command]
fn transport(request: Request<'_>) -> String {
    if request.headers().contains_key("tauri-callback") {
        "custom protocol (ipc://localhost, fetch)".into()
    } else {
        "postMessage (window.ipc)".into()
    }
}

/// Where the page's reports go.
struct Reports(Sender<Value>);

/// `invoke('report', {value})`: the page's result of a command, after its clock stopped.
#[tauri::command]
fn report(value: Value, reports: tauri::State<'_, Reports>) {
    let _ = reports.0.send(value);
}

/// A response of the `bench://` scheme with the headers every answer carries.
fn scheme_response(status: u16, body: Cow<'static, [u8]>) -> http::Response<Cow<'static, [u8]>> {
    http::Response::builder()
        .status(status)
        .header("access-control-allow-origin", "*")
        .header("access-control-allow-methods", "GET, POST, OPTIONS")
        .header("access-control-allow-headers", "*")
        .header("cache-control", "no-store")
        .header("content-type", "application/octet-stream")
        .body(body)
        .unwrap_or_else(|_| http::Response::new(Cow::Borrowed(b"".as_slice())))
}

/// The `bench://localhost` routes: the same as the bus's router. Answered at once, on the
/// main thread where the request arrives (the handlers do no work worth a thread).
fn scheme(request: &http::Request<Vec<u8>>) -> http::Response<Cow<'static, [u8]>> {
    let path = request.uri().path();
    let text = |status, text: String| scheme_response(status, Cow::Owned(text.into_bytes()));
    match (request.method().as_str(), path) {
        ("OPTIONS", _) => scheme_response(204, Cow::Borrowed(b"".as_slice())),
        ("GET", "/bench/tiny") => scheme_response(200, Cow::Borrowed(TINY)),
        ("GET", p) if p.starts_with("/bench/bytes/") => {
            match p["/bench/bytes/".len()..].parse::<usize>() {
                // A borrowed slice: wry copies it once into a GBytes for WebKit.
                Ok(n) if n <= MAX_DOWNLOAD => scheme_response(200, Cow::Borrowed(&source()[..n])),
                Ok(n) => text(413, format!("{n} bytes: at most {MAX_DOWNLOAD}")),
                Err(_) => text(400, format!("{p}: not a byte count")),
            }
        }
        ("POST", "/bench/upload") => text(200, request.body().len().to_string()),
        (method, p) => text(404, format!("no route for {method} {p}")),
    }
}

/// What the command line asked for.
#[derive(Debug, PartialEq)]
struct Args {
    local: String,
    mode: Mode,
}

#[derive(Debug, PartialEq)]
enum Mode {
    /// Commands from stdin, reports to stdout.
    Driven,
    /// Every workload, this many rounds, one JSON object at the end.
    Standalone { rounds: usize },
}

const USAGE: &str = "usage: tauri-peer --local http://127.0.0.1:PORT (--driven | --rounds N)";

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut local = None;
    let mut mode = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--local" => {
                let v = value()?;
                let ok = v
                    .strip_prefix("http://")
                    .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'));
                if !ok {
                    return Err(format!(
                        "--local {v:?}: expected http://HOST:PORT with no path"
                    ));
                }
                local = Some(v);
            }
            "--driven" if inline.is_none() => mode = Some(Mode::Driven),
            "--rounds" => {
                let v = value()?;
                let rounds = v
                    .parse::<usize>()
                    .ok()
                    .filter(|r| (1..=50).contains(r))
                    .ok_or_else(|| {
                        format!("--rounds {v:?}: expected a whole number from 1 to 50")
                    })?;
                mode = Some(Mode::Standalone { rounds });
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    Ok(Args {
        local: local.ok_or("--local is required")?,
        mode: mode.ok_or("one of --driven or --rounds N is required")?,
    })
}

/// With no `DISPLAY`, re-runs this program under `xvfb-run` (as the benchmark does) and
/// exits with its status.
fn ensure_display() -> Result<(), String> {
    if std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty()) {
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let status = std::process::Command::new("xvfb-run")
        .args(["-a", "-s", "-nolisten tcp -screen 0 1280x800x24"])
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .status()
        .map_err(|e| format!("no DISPLAY, and xvfb-run could not start ({e})"))?;
    std::process::exit(status.code().unwrap_or(1));
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("tauri-peer: error: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = ensure_display() {
        eprintln!("tauri-peer: error: {e}");
        std::process::exit(1);
    }
    let (tx, rx) = mpsc::channel();
    let rx = std::sync::Mutex::new(Some(rx));
    let Args { local, mode } = args;
    let result = tauri::Builder::default()
        .manage(Reports(tx))
        .invoke_handler(tauri::generate_handler![
            tiny, bytes, upload, stream, transport, report
        ])
        .register_asynchronous_uri_scheme_protocol("bench", |_context, request, responder| {
            responder.respond(scheme(&request));
        })
        .setup(move |app| {
            let window =
                WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into()))
                    .title("inproc-http-bus: the Tauri 2 peer")
                    .inner_size(800.0, 600.0)
                    .initialization_script(format!("window.__BENCH_LOCAL = {};", json!(local)))
                    .build()?;
            let reports = rx
                .lock()
                .ok()
                .and_then(|mut r| r.take())
                .ok_or("setup ran twice")?;
            let app = app.handle().clone();
            std::thread::spawn(move || {
                let code = match drive(&window, &reports, &mode) {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("tauri-peer: error: {e}");
                        1
                    }
                };
                exit(&app, code);
            });
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("tauri-peer: error: the Tauri app did not start: {e}");
        std::process::exit(1);
    }
}

/// Ends the app with `code` (Tauri exits the process when its event loop ends).
fn exit(app: &AppHandle, code: i32) {
    let _ = std::io::stdout().flush();
    app.exit(code);
    // If the event loop does not end promptly, end the process anyway.
    std::thread::sleep(Duration::from_secs(10));
    std::process::exit(code);
}

/// Sends commands to the page and passes its reports on.
struct Page<'a> {
    window: &'a WebviewWindow,
    reports: &'a Receiver<Value>,
    next_id: u64,
}

impl Page<'_> {
    /// Waits for the report `id`; reports of other ids (late answers) are skipped.
    fn wait(&self, id: &str, timeout: Duration, what: &str) -> Result<Value, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.reports.recv_timeout(left) {
                Ok(report) if report["id"] == id => return Ok(report),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "{what}: no report from the page within {} s",
                        timeout.as_secs()
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("{what}: the app stopped taking reports"));
                }
            }
        }
    }

    /// Runs `command` in the page and returns its report (which may say `ok: false`).
    fn run(&mut self, mut command: Value) -> Result<Value, String> {
        let id = format!("c{}", self.next_id);
        self.next_id += 1;
        command["id"] = json!(id);
        let what = format!(
            "{} on {}",
            command["kind"].as_str().unwrap_or("?"),
            command["path"].as_str().unwrap_or("?")
        );
        self.window
            .eval(format!("void window.__bench.run({command})"))
            .map_err(|e| format!("{what}: eval failed: {e}"))?;
        self.wait(&id, COMMAND_TIMEOUT, &what)
    }
}

fn drive(window: &WebviewWindow, reports: &Receiver<Value>, mode: &Mode) -> Result<(), String> {
    let mut page = Page {
        window,
        reports,
        next_id: 1,
    };
    let mut ready = page
        .wait("ready", Duration::from_secs(60), "loading the page")
        .map_err(|e| format!("{e} (did the page load, with withGlobalTauri on?)"))?;
    ready["tauri"] = json!(tauri::VERSION);
    match mode {
        Mode::Driven => driven(&mut page, ready),
        Mode::Standalone { rounds } => standalone(&mut page, ready, *rounds),
    }
}

/// One JSON line per command read from stdin.
fn driven(page: &mut Page<'_>, ready: Value) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    let mut line_out = |v: &Value| -> Result<(), String> {
        writeln!(out, "{v}")
            .and_then(|()| out.flush())
            .map_err(|e| format!("writing to stdout: {e}"))
    };
    line_out(&ready)?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let command: Value = serde_json::from_str(&line)
            .map_err(|e| format!("command {line:?} is not JSON: {e}"))?;
        if !command.is_object() {
            return Err(format!("command {line:?} is not a JSON object"));
        }
        let report = page.run(command)?;
        line_out(&report)?;
        if report["ok"] != true {
            return Err(format!(
                "{} on {}: {}",
                report["kind"].as_str().unwrap_or("?"),
                report["path"].as_str().unwrap_or("?"),
                report["error"].as_str().unwrap_or("(no message)")
            ));
        }
    }
    Ok(())
}

/// Which paths run which workload.
fn paths_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "down" => &["tauri-invoke", "tauri-channel", "tauri-scheme", "localhost"],
        _ => &["tauri-invoke", "tauri-scheme", "localhost"],
    }
}

/// The workloads of the benchmark, run here, paths interleaved and rotated round by round.
fn standalone(page: &mut Page<'_>, ready: Value, rounds: usize) -> Result<(), String> {
    let commands = [
        json!({"kind": "seq", "n": 1000, "batch": 100}),
        json!({"kind": "par", "n": 100}),
        json!({"kind": "down", "bytes": 64u64 << 20, "chunk": CHANNEL_CHUNK}),
        json!({"kind": "up", "bytes": 16u64 << 20}),
    ];
    let run = |page: &mut Page<'_>, command: &Value, path: &str| -> Result<Value, String> {
        let mut c = command.clone();
        c["path"] = json!(path);
        let r = page.run(c)?;
        if r["ok"] != true {
            return Err(format!(
                "{} on {path}: {}",
                command["kind"].as_str().unwrap_or("?"),
                r["error"].as_str().unwrap_or("(no message)")
            ));
        }
        Ok(r)
    };
    eprintln!("tauri-peer: warming up every path");
    for command in &commands {
        for path in paths_of(command["kind"].as_str().unwrap_or("")) {
            let mut warm = command.clone();
            if warm["kind"] == "seq" {
                warm["n"] = json!(100);
            }
            run(page, &warm, path)?;
        }
    }
    let mut results = Vec::new();
    for command in &commands {
        let kind = command["kind"].as_str().unwrap_or("");
        let mut order = paths_of(kind).to_vec();
        for round in 0..rounds {
            for path in &order {
                let r = run(page, command, path)?;
                let (value, unit) = match kind {
                    "seq" => {
                        let total: f64 = r["batches_ms"]
                            .as_array()
                            .map(|b| b.iter().filter_map(Value::as_f64).sum())
                            .unwrap_or(f64::NAN);
                        (total / 1000.0, "ms per request")
                    }
                    "down" => (
                        (64u64 << 20) as f64
                            / (r["ms"].as_f64().unwrap_or(f64::NAN).max(1.0) / 1e3)
                            / 1e6,
                        "MB/s",
                    ),
                    _ => (r["ms"].as_f64().unwrap_or(f64::NAN), "ms"),
                };
                eprintln!(
                    "tauri-peer: {kind:<4} round {}/{rounds} {path:<13}: {value:.3} {unit}",
                    round + 1
                );
                results.push(json!({"kind": kind, "path": path, "round": round + 1, "value": value, "unit": unit}));
            }
            order.rotate_left(1);
        }
    }
    println!("{}", json!({"ready": ready, "results": results}));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Args, String> {
        parse_args(
            &line
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn arguments() {
        assert_eq!(
            args("--local http://127.0.0.1:80 --driven").unwrap(),
            Args {
                local: "http://127.0.0.1:80".into(),
                mode: Mode::Driven
            }
        );
        assert_eq!(
            args("--rounds=3 --local=http://127.0.0.1:8").unwrap().mode,
            Mode::Standalone { rounds: 3 }
        );
        assert!(
            args("--driven")
                .unwrap_err()
                .contains("--local is required")
        );
        assert!(
            args("--local http://x/y --driven")
                .unwrap_err()
                .contains("no path")
        );
        assert!(
            args("--local https://x --driven")
                .unwrap_err()
                .contains("http://HOST:PORT")
        );
        assert!(
            args("--local http://x")
                .unwrap_err()
                .contains("--driven or --rounds")
        );
        assert!(
            args("--local http://x --rounds 0")
                .unwrap_err()
                .contains("1 to 50")
        );
        assert!(args("--local").unwrap_err().contains("needs a value"));
        assert!(
            args("--local http://x --fast")
                .unwrap_err()
                .contains("\"--fast\"")
        );
    }

    #[test]
    fn the_scheme_serves_the_bus_routes() {
        let get = |uri: &str| http::Request::get(uri).body(Vec::new()).unwrap();
        let r = scheme(&get("bench://localhost/bench/tiny"));
        assert_eq!((r.status().as_u16(), r.body().len()), (200, 12));
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        let r = scheme(&get("bench://localhost/bench/bytes/70000"));
        assert_eq!((r.status().as_u16(), r.body().len()), (200, 70000));
        assert_eq!(
            scheme(&get("bench://localhost/bench/bytes/x")).status(),
            400
        );
        assert_eq!(
            scheme(&get("bench://localhost/bench/bytes/999999999")).status(),
            413
        );
        assert_eq!(scheme(&get("bench://localhost/nope")).status(), 404);
        let up = http::Request::post("bench://localhost/bench/upload")
            .body(vec![1u8; 1000])
            .unwrap();
        assert_eq!(&scheme(&up).body()[..], b"1000");
    }
}
