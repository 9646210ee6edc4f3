//! Chromium as a stand-in for Android WebView, driving bridge-android's [`AndroidHost`]
//! exactly as its JNI layer does: the same public calls, from plain threads. Test tooling
//! (`publish = false`): bridge-android's tests depend on it; no app build ever does.
//!
//! The real browser (`/usr/lib/chromium/chromium`, headless) is driven over
//! `--remote-debugging-pipe` (fds 3 and 4, no TCP port). CDP plays the Android APIs:
//!
//! | Android | CDP here |
//! |---|---|
//! | `shouldInterceptRequest` → `WebResourceResponse` | `Fetch.enable` + `Fetch.requestPaused` → [`AndroidHost::intercept`] → `Fetch.fulfillRequest` (or `Fetch.continueRequest` for `None`); `postData` is ignored, as Android never sees it |
//! | `shouldOverrideUrlLoading` (every frame's navigations but `loadUrl`'s and POSTs) | a paused `Document` request the host's [`AndroidHost::allows_navigation`] refuses fails with `Aborted` (a cancelled navigation: no error page); `data:`, `blob:` and `about:` loads are not network requests and are not seen |
//! | `addJavascriptInterface` / `addWebMessageListener` (string in) | `Runtime.addBinding` + `Runtime.bindingCalled`, the caller checked by its execution context (origin, main frame, default world) → [`AndroidHost::open_session`] |
//! | `evaluateJavascript` (strings out) | `Runtime.evaluate` in the session's execution context, of [`FrameSession::take_script`] |
//! | `addDocumentStartJavaScript` | `Page.addScriptToEvaluateOnNewDocument` (the shim; it stands down outside the app's top frame) |
//!
//! What it cannot emulate: `Fetch.fulfillRequest` takes the whole body at once, so
//! streamed responses, time to first byte, backpressure and mid-stream cancel on the
//! interception path are not what Android does (the body is read whole, then fulfilled).
//! Numbers measured here measure CDP, not Android.
//!
//! # Layout
//! - this file: [`Emulator`] and its builder (starting Chromium, the CDP events that play
//!   the Android APIs, [`Record`]s of what happened).
//! - `cdp`: the raw CDP client over the two pipes.
//! - `script`: the document-start script ([`shim_script`]).

mod cdp;
mod script;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use command_fds::{CommandFdExt, FdMapping};
use serde_json::{Value, json};

use bridge_android::host::{AndroidHost, FrameSession, InterceptedRequest};
use cdp::{Cdp, Event};
pub use script::{BUNDLE, shim_script};

/// Where Debian's `chromium` package puts the real binary (`/usr/bin/chromium` is a
/// wrapper script that adds flags).
pub const CHROMIUM: &str = "/usr/lib/chromium/chromium";

/// The binding the page calls with base64 frames (plays `addJavascriptInterface`).
pub const BINDING: &str = "__inprocBusSend";

/// Why the emulator failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The Chromium binary is not there.
    #[error("no Chromium at {0}: apt-get install chromium")]
    NoChromium(PathBuf),
    /// Starting Chromium failed.
    #[error("cannot start Chromium: {0}")]
    Spawn(#[source] std::io::Error),
    /// A CDP command failed.
    #[error("CDP {method} failed: {message}")]
    Cdp {
        /// The command.
        method: String,
        /// The browser's message.
        message: String,
    },
    /// A CDP command got no reply in time.
    #[error("CDP {0}: no reply in time")]
    Timeout(String),
    /// The browser is gone.
    #[error("the browser closed its debugging pipe")]
    Closed,
    /// A page script threw.
    #[error("the page threw: {0}")]
    Script(String),
}

/// What happened, for tests to check.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Record {
    /// A request of the app origin, answered by [`AndroidHost::intercept`].
    Intercepted {
        /// The method.
        method: String,
        /// The URL.
        url: String,
        /// The status the host answered.
        status: u16,
        /// Whether the engine said it was the main frame's document.
        main_frame: bool,
        /// Whether the engine had a request body, which was dropped (Android never sees one).
        body_dropped: bool,
    },
    /// A navigation of a frame the host's navigation policy refused
    /// ([`AndroidHost::allows_navigation`], what `shouldOverrideUrlLoading` asks): its
    /// document request failed with `Aborted`: cancelled, no error page.
    NavigationRefused {
        /// The URL.
        url: String,
        /// Whether it was the main frame's.
        main_frame: bool,
    },
    /// A request the host returned `None` for: left to the browser.
    Continued {
        /// The URL.
        url: String,
    },
    /// A request answered by a test's foreign-origin handler.
    Foreign {
        /// The URL.
        url: String,
        /// The status answered.
        status: u16,
    },
    /// A frame session opened for an execution context.
    SessionOpened {
        /// The execution context.
        context: i64,
        /// Its origin.
        origin: String,
    },
    /// A binding call the host refused (no session for that caller).
    BindingRefused {
        /// The execution context that called.
        context: i64,
        /// Its origin as the browser reports it (empty when unknown).
        origin: String,
        /// The host's reason.
        reason: String,
    },
}

/// A request answered by [`AndroidHost::intercept`]: a [`Record::Intercepted`] as a
/// struct, for tests to filter ([`Emulator::intercepted`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Intercepted {
    /// The method.
    pub method: String,
    /// The URL.
    pub url: String,
    /// The status the host answered.
    pub status: u16,
    /// Whether the engine said it was the main frame's document.
    pub main_frame: bool,
    /// Whether the engine had a request body, which was dropped.
    pub body_dropped: bool,
}

/// A response from a test's stand-in for another origin (served without the bus).
#[derive(Clone, Debug)]
pub struct ForeignResponse {
    /// Status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// Body.
    pub body: Vec<u8>,
}

type ForeignHandler = Arc<dyn Fn(&InterceptedRequest) -> ForeignResponse + Send + Sync>;

/// Configures and starts an [`Emulator`].
pub struct EmulatorBuilder {
    host: AndroidHost,
    chromium: PathBuf,
    foreign: Vec<(url::Origin, ForeignHandler)>,
    script: Option<String>,
    args: Vec<String>,
    reachable: Vec<String>,
    timeout: Duration,
}

impl fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorBuilder")
            .field("host", &self.host)
            .field("chromium", &self.chromium)
            .field("foreign", &self.foreign.len())
            .field("args", &self.args)
            .finish_non_exhaustive()
    }
}

impl EmulatorBuilder {
    /// The Chromium binary (default: `$INPROC_BUS_CHROMIUM`, else [`CHROMIUM`]).
    pub fn chromium(mut self, path: impl Into<PathBuf>) -> Self {
        self.chromium = path.into();
        self
    }

    /// Serves another origin (`https://evil.invalid`) from `handler`, through `Fetch`
    /// like the app origin but never through the bus: a test's stand-in for the web.
    ///
    /// # Panics
    /// When `origin` is not a URL.
    pub fn foreign_origin<F>(mut self, origin: &str, handler: F) -> Self
    where
        F: Fn(&InterceptedRequest) -> ForeignResponse + Send + Sync + 'static,
    {
        let parsed = url::Url::parse(origin)
            .unwrap_or_else(|e| panic!("not an origin: {origin}: {e}"))
            .origin();
        self.foreign.push((parsed, Arc::new(handler)));
        self
    }

    /// Replaces the document-start script (default: [`shim_script`] for the host's origin).
    pub fn script(mut self, script: impl Into<String>) -> Self {
        self.script = Some(script.into());
        self
    }

    /// Lets the browser reach `host` (an IP literal such as `127.0.0.1`, or a name) over
    /// the network: by default nothing resolves, so that a request that escapes
    /// interception fails. A test's real foreign origin (a server on loopback) needs it;
    /// allow it with [`AndroidHost::allow_navigation_to`] too, for its pages to load.
    pub fn reachable_host(mut self, host: impl Into<String>) -> Self {
        self.reachable.push(host.into());
        self
    }

    /// Adds a command-line flag for Chromium.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// How long a CDP command may take (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Starts Chromium and attaches to a fresh page.
    ///
    /// # Errors
    /// [`EmulatorError::NoChromium`] when the binary is missing; the others when the
    /// browser cannot be started or set up.
    pub fn start(self) -> Result<Emulator, EmulatorError> {
        Emulator::start(self)
    }
}

/// A running headless Chromium whose app origin is answered by an [`AndroidHost`].
/// Dropping it closes the browser.
pub struct Emulator {
    shared: Arc<Shared>,
    child: Child,
    threads: Vec<JoinHandle<()>>,
    dir: tempfile::TempDir,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("pid", &self.child.id())
            .field("profile", &self.dir.path())
            .field("host", &self.shared.host)
            .finish_non_exhaustive()
    }
}

struct Context {
    origin: String,
    frame: String,
    is_default: bool,
}

struct Shared {
    cdp: Cdp,
    host: AndroidHost,
    timeout: Duration,
    session: OnceLock<String>,
    main_frame: OnceLock<String>,
    /// The URL of a load the host itself started ([`Emulator::navigate`], Android's
    /// `loadUrl`), which `shouldOverrideUrlLoading` is not asked about.
    loading: Mutex<Option<url::Url>>,
    contexts: Mutex<HashMap<i64, Context>>,
    frames: Mutex<HashMap<i64, Arc<FrameSession>>>,
    foreign: Vec<(url::Origin, ForeignHandler)>,
    records: Mutex<Vec<Record>>,
    deliver: Mutex<mpsc::Sender<i64>>,
    stopping: AtomicBool,
}

fn missing(method: &str, field: &str) -> EmulatorError {
    EmulatorError::Cdp {
        method: method.into(),
        message: format!("no {field} in the reply"),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Emulator {
    /// Starts configuring an emulator for `host`.
    pub fn builder(host: AndroidHost) -> EmulatorBuilder {
        EmulatorBuilder {
            host,
            chromium: std::env::var_os("INPROC_BUS_CHROMIUM")
                .map_or_else(|| PathBuf::from(CHROMIUM), PathBuf::from),
            foreign: Vec::new(),
            script: None,
            args: Vec::new(),
            reachable: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }

    fn start(config: EmulatorBuilder) -> Result<Emulator, EmulatorError> {
        if !config.chromium.is_file() {
            return Err(EmulatorError::NoChromium(config.chromium));
        }
        let dir = tempfile::Builder::new()
            .prefix("bridge-android-chromium-")
            .tempdir()
            .map_err(EmulatorError::Spawn)?;
        let log =
            std::fs::File::create(dir.path().join("chromium.log")).map_err(EmulatorError::Spawn)?;
        // Commands go to the child's fd 3, replies come from its fd 4. std's pipes are
        // close-on-exec, so the child gets exactly the two ends mapped below.
        let (commands_in, commands_out) = std::io::pipe().map_err(EmulatorError::Spawn)?;
        let (replies_in, replies_out) = std::io::pipe().map_err(EmulatorError::Spawn)?;
        let profile = dir.path().join("profile");
        let mut command = Command::new(&config.chromium);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-pipe",
                // Android WebView keeps a page's iframes in its renderer (no site
                // isolation): so does this, and the page's CDP session sees them all.
                "--disable-site-isolation-trials",
                // Nothing resolves: a request that escapes interception fails at once,
                // as it would for `.invalid` on a device, and no DNS socket is opened
                // (without it, the network service held connected UDP sockets to the
                // resolver even though `Fetch` answered every request). Hosts a test
                // made reachable are excluded (IP literals open no resolver socket).
            ])
            .arg(
                std::iter::once("--host-resolver-rules=MAP * ~NOTFOUND".to_owned())
                    .chain(config.reachable.iter().map(|h| format!("EXCLUDE {h}")))
                    .collect::<Vec<_>>()
                    .join(", "),
            )
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(&config.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        command
            .fd_mappings(vec![
                FdMapping {
                    parent_fd: commands_in.into(),
                    child_fd: 3,
                },
                FdMapping {
                    parent_fd: replies_out.into(),
                    child_fd: 4,
                },
            ])
            .map_err(|e| EmulatorError::Spawn(std::io::Error::other(e)))?;
        let child = command.spawn().map_err(EmulatorError::Spawn)?;
        drop(command); // closes our copies of the child's ends: EOF when it exits

        let (deliver_tx, deliver_rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            cdp: Cdp::new(commands_out),
            host: config.host,
            timeout: config.timeout,
            session: OnceLock::new(),
            main_frame: OnceLock::new(),
            loading: Mutex::new(None),
            contexts: Mutex::new(HashMap::new()),
            frames: Mutex::new(HashMap::new()),
            foreign: config.foreign,
            records: Mutex::new(Vec::new()),
            deliver: Mutex::new(deliver_tx),
            stopping: AtomicBool::new(false),
        });
        // From here on, dropping `emulator` (an early return) closes the browser.
        let mut emulator = Emulator {
            shared,
            child,
            threads: Vec::new(),
            dir,
        };
        let shared = Arc::clone(&emulator.shared);
        emulator.threads.push(
            std::thread::Builder::new()
                .name("cdp-reader".into())
                .spawn(move || {
                    let events = Arc::clone(&shared);
                    shared
                        .cdp
                        .read_loop(replies_in, move |event| events.on_event(event));
                    // The browser is gone: close every session.
                    lock(&shared.frames).clear();
                })
                .map_err(EmulatorError::Spawn)?,
        );
        let shared = Arc::clone(&emulator.shared);
        emulator.threads.push(
            std::thread::Builder::new()
                .name("cdp-deliver".into())
                .spawn(move || shared.deliver_loop(deliver_rx))
                .map_err(EmulatorError::Spawn)?,
        );
        let script = config
            .script
            .unwrap_or_else(|| shim_script(emulator.shared.host.origin(), BINDING));
        if let Err(e) = emulator.attach(&script) {
            let log = emulator.log_tail();
            emulator.shutdown();
            return Err(match e {
                EmulatorError::Closed => EmulatorError::Cdp {
                    method: "startup".into(),
                    message: format!("the browser exited; its log ends with:\n{log}"),
                },
                other => other,
            });
        }
        Ok(emulator)
    }

    fn attach(&mut self, script: &str) -> Result<(), EmulatorError> {
        let s = &self.shared;
        let target = s.call("Target.createTarget", json!({ "url": "about:blank" }), None)?;
        let target = target["targetId"]
            .as_str()
            .ok_or_else(|| missing("Target.createTarget", "targetId"))?
            .to_owned();
        let attached = s.call(
            "Target.attachToTarget",
            json!({ "targetId": target, "flatten": true }),
            None,
        )?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or_else(|| missing("Target.attachToTarget", "sessionId"))?
            .to_owned();
        // A page target's main frame has the target's id.
        let _ = s.main_frame.set(target);
        let _ = s.session.set(session.clone());
        let on = Some(session.as_str());
        s.call("Page.enable", json!({}), on)?;
        s.call("Runtime.enable", json!({}), on)?;
        s.call("Runtime.addBinding", json!({ "name": BINDING }), on)?;
        s.call(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": script }),
            on,
        )?;
        s.call(
            "Fetch.enable",
            json!({ "patterns": [{ "urlPattern": "*", "requestStage": "Request" }] }),
            on,
        )?;
        Ok(())
    }

    /// Navigates the page to `url` and waits for the navigation to be committed.
    ///
    /// # Errors
    /// The browser's error (e.g. `net::ERR_NAME_NOT_RESOLVED` for a URL nobody answered).
    pub fn navigate(&self, url: &str) -> Result<(), EmulatorError> {
        *lock(&self.shared.loading) = url::Url::parse(url).ok();
        let result = self
            .shared
            .call_page("Page.navigate", json!({ "url": url }))?;
        match result.get("errorText").and_then(Value::as_str) {
            Some(error) if !error.is_empty() => Err(EmulatorError::Cdp {
                method: "Page.navigate".into(),
                message: format!("{url}: {error}"),
            }),
            _ => Ok(()),
        }
    }

    /// Evaluates `expression` in the main frame's page world (awaiting a promise) and
    /// returns its value as JSON.
    ///
    /// # Errors
    /// [`EmulatorError::Script`] when it throws.
    pub fn evaluate(&self, expression: &str) -> Result<Value, EmulatorError> {
        let result = self.shared.call_page(
            "Runtime.evaluate",
            json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
        )?;
        if let Some(details) = result.get("exceptionDetails") {
            let text = details["exception"]["description"]
                .as_str()
                .or_else(|| details["text"].as_str())
                .unwrap_or("an exception")
                .to_owned();
            return Err(EmulatorError::Script(text));
        }
        Ok(result["result"]["value"].clone())
    }

    /// Evaluates `expression` until it is truthy (page changes are asynchronous), or
    /// `timeout` passes; returns its last value. Errors while a page is loading count as
    /// falsy.
    pub fn wait_for(&self, expression: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.evaluate(expression).unwrap_or(Value::Null);
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy || Instant::now() >= deadline {
                return value;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A PNG of what the page shows now.
    ///
    /// # Errors
    /// The browser's error.
    pub fn screenshot(&self) -> Result<Vec<u8>, EmulatorError> {
        let shot = self
            .shared
            .call_page("Page.captureScreenshot", json!({ "format": "png" }))?;
        let data = shot["data"].as_str().unwrap_or("");
        BASE64.decode(data).map_err(|e| EmulatorError::Cdp {
            method: "Page.captureScreenshot".into(),
            message: e.to_string(),
        })
    }

    /// What happened so far.
    pub fn records(&self) -> Vec<Record> {
        lock(&self.shared.records).clone()
    }

    /// The requests answered by interception so far ([`Record::Intercepted`]), in order.
    pub fn intercepted(&self) -> Vec<Intercepted> {
        lock(&self.shared.records)
            .iter()
            .filter_map(|r| match r {
                Record::Intercepted {
                    method,
                    url,
                    status,
                    main_frame,
                    body_dropped,
                } => Some(Intercepted {
                    method: method.clone(),
                    url: url.clone(),
                    status: *status,
                    main_frame: *main_frame,
                    body_dropped: *body_dropped,
                }),
                _ => None,
            })
            .collect()
    }

    /// The browser process's id (its renderers and helpers are its descendants).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of the browser's stderr, for failure messages.
    pub fn log_tail(&self) -> String {
        let text =
            std::fs::read_to_string(self.dir.path().join("chromium.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// The profile directory (deleted on drop).
    pub fn profile(&self) -> &Path {
        self.dir.path()
    }

    fn shutdown(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.shared.cdp.send("Browser.close", json!({}), None);
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if matches!(self.child.try_wait(), Ok(None)) {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
        // The reader ends at EOF (the browser is gone), the delivery thread on this flag.
        self.shared.stopping.store(true, Ordering::Release);
        lock(&self.shared.frames).clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Shared {
    fn call(
        &self,
        method: &str,
        params: Value,
        session: Option<&str>,
    ) -> Result<Value, EmulatorError> {
        self.cdp.call(method, params, session, self.timeout)
    }

    fn call_page(&self, method: &str, params: Value) -> Result<Value, EmulatorError> {
        let session = self.session.get().ok_or(EmulatorError::Closed)?;
        self.call(method, params, Some(session))
    }

    fn record(&self, record: Record) {
        lock(&self.records).push(record);
    }

    /// Runs on the reader thread: quick work only; interception gets its own thread.
    fn on_event(self: &Arc<Self>, event: Event) {
        if event.session.as_deref() != self.session.get().map(String::as_str) {
            return;
        }
        let p = &event.params;
        match event.method.as_str() {
            "Runtime.executionContextCreated" => {
                let c = &p["context"];
                if let Some(id) = c["id"].as_i64() {
                    lock(&self.contexts).insert(
                        id,
                        Context {
                            origin: c["origin"].as_str().unwrap_or("").to_owned(),
                            frame: c["auxData"]["frameId"].as_str().unwrap_or("").to_owned(),
                            is_default: c["auxData"]["isDefault"].as_bool().unwrap_or(false),
                        },
                    );
                }
            }
            "Runtime.executionContextDestroyed" => {
                if let Some(id) = p["executionContextId"].as_i64() {
                    lock(&self.contexts).remove(&id);
                    // Dropping the session cancels its streams: the document is gone.
                    lock(&self.frames).remove(&id);
                }
            }
            "Runtime.executionContextsCleared" => {
                lock(&self.contexts).clear();
                lock(&self.frames).clear();
            }
            "Runtime.bindingCalled" if p["name"] == BINDING => {
                let (Some(context), Some(payload)) =
                    (p["executionContextId"].as_i64(), p["payload"].as_str())
                else {
                    return;
                };
                self.binding_called(context, payload);
            }
            "Fetch.requestPaused" => {
                let shared = Arc::clone(self);
                let params = event.params;
                // `intercept` blocks until the handler answers: never on the reader.
                let spawned = std::thread::Builder::new()
                    .name("cdp-intercept".into())
                    .spawn(move || shared.request_paused(&params));
                if let Err(e) = spawned {
                    tracing::error!("no thread for an intercepted request: {e}");
                }
            }
            _ => {}
        }
    }

    /// `addJavascriptInterface`'s call, with what the platform knows of the caller.
    fn binding_called(self: &Arc<Self>, context: i64, payload: &str) {
        let existing = lock(&self.frames).get(&context).cloned();
        let session = match existing {
            Some(s) => s,
            None => {
                let (origin, main) = match lock(&self.contexts).get(&context) {
                    Some(c) => (
                        c.origin.clone(),
                        c.is_default && Some(&c.frame) == self.main_frame.get(),
                    ),
                    None => (String::new(), false),
                };
                let tx = lock(&self.deliver).clone();
                let opened = self.host.open_session(&origin, main, move || {
                    let _ = tx.send(context);
                });
                match opened {
                    Ok(s) => {
                        let s = Arc::new(s);
                        lock(&self.frames).insert(context, Arc::clone(&s));
                        self.record(Record::SessionOpened { context, origin });
                        s
                    }
                    Err(refused) => {
                        tracing::warn!(context, %origin, "binding call refused: {refused}");
                        self.record(Record::BindingRefused {
                            context,
                            origin,
                            reason: refused.to_string(),
                        });
                        return;
                    }
                }
            }
        };
        if let Err(e) = session.receive(payload) {
            tracing::debug!(context, "frame refused: {e}");
        }
    }

    /// Delivers outbound frames, one `Runtime.evaluate` per batch, pinned to the context
    /// of the session (a newer document never gets an older one's frames).
    fn deliver_loop(&self, rx: mpsc::Receiver<i64>) {
        loop {
            let context = match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(context) => context,
                Err(mpsc::RecvTimeoutError::Timeout) if !self.stopping.load(Ordering::Acquire) => {
                    continue;
                }
                Err(_) => return,
            };
            let session = lock(&self.frames).get(&context).cloned();
            let Some(script) = session.and_then(|s| s.take_script()) else {
                continue;
            };
            if let Some(page) = self.session.get() {
                self.cdp.send(
                    "Runtime.evaluate",
                    json!({ "expression": script, "contextId": context }),
                    Some(page),
                );
            }
        }
    }

    fn request_paused(&self, p: &Value) {
        let Some(id) = p["requestId"].as_str() else {
            return;
        };
        let r = &p["request"];
        let headers = r["headers"]
            .as_object()
            .map(|h| {
                h.iter()
                    .map(|(n, v)| (n.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let request = InterceptedRequest {
            method: r["method"].as_str().unwrap_or("GET").to_owned(),
            url: r["url"].as_str().unwrap_or("").to_owned(),
            headers,
            is_main_frame: p["resourceType"] == "Document"
                && p["frameId"].as_str() == self.main_frame.get().map(String::as_str),
            has_gesture: false,
            is_redirect: false,
        };
        // shouldOverrideUrlLoading: Android asks it for every navigation of a frame, top or
        // sub, but for the app's own loadUrl and for POSTs. A refused one is cancelled.
        let document = p["resourceType"] == "Document";
        if document && !request.method.eq_ignore_ascii_case("POST") {
            let own_load = request.is_main_frame && {
                let mut loading = lock(&self.loading);
                let own = loading.is_some()
                    && url::Url::parse(&request.url).ok().as_ref() == loading.as_ref();
                if own {
                    *loading = None;
                }
                own
            };
            if !own_load && !self.host.allows_navigation(&request.url) {
                tracing::warn!(url = %request.url, "navigation refused by the policy");
                self.record(Record::NavigationRefused {
                    url: request.url.clone(),
                    main_frame: request.is_main_frame,
                });
                self.cdp.send(
                    "Fetch.failRequest",
                    json!({ "requestId": id, "errorReason": "Aborted" }),
                    self.session.get().map(String::as_str),
                );
                return;
            }
        }
        // Android's shouldInterceptRequest never sees a body: neither does the host here.
        let body_dropped =
            r["hasPostData"].as_bool().unwrap_or(false) || r.get("postData").is_some();

        let origin = url::Url::parse(&request.url).map(|u| u.origin()).ok();
        if let Some((_, handler)) = self
            .foreign
            .iter()
            .find(|(o, _)| Some(o) == origin.as_ref())
        {
            let answer = handler(&request);
            self.record(Record::Foreign {
                url: request.url.clone(),
                status: answer.status,
            });
            self.fulfil(
                id,
                answer.status,
                "OK",
                vec![("content-type".into(), answer.content_type)],
                &answer.body,
            );
            return;
        }
        let Some(response) = self.host.intercept(&request) else {
            self.record(Record::Continued { url: request.url });
            self.cdp.send(
                "Fetch.continueRequest",
                json!({ "requestId": id }),
                self.session.get().map(String::as_str),
            );
            return;
        };
        self.record(Record::Intercepted {
            method: request.method.clone(),
            url: request.url.clone(),
            status: response.status,
            main_frame: request.is_main_frame,
            body_dropped,
        });
        // What Android's WebResourceResponse gets: one value per header name.
        let headers: Vec<(String, String)> = response.header_map().into_iter().collect();
        let (status, reason) = (response.status, response.reason.clone());
        // CDP fulfils with the whole body at once: read it all (Android would stream it).
        match response.body.read_all() {
            Ok(body) => self.fulfil(id, status, &reason, headers, &body),
            Err(e) => {
                tracing::debug!(url = %request.url, "response body failed: {e}");
                self.cdp.send(
                    "Fetch.failRequest",
                    json!({ "requestId": id, "errorReason": "Failed" }),
                    self.session.get().map(String::as_str),
                );
            }
        }
    }

    fn fulfil(
        &self,
        id: &str,
        status: u16,
        reason: &str,
        headers: Vec<(String, String)>,
        body: &[u8],
    ) {
        let headers: Vec<Value> = headers
            .into_iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect();
        let result = self.call_page(
            "Fetch.fulfillRequest",
            json!({
                "requestId": id,
                "responseCode": status,
                "responsePhrase": reason,
                "responseHeaders": headers,
                "body": BASE64.encode(body),
            }),
        );
        if let Err(e) = result {
            tracing::debug!("fulfilling {id} failed: {e}");
        }
    }
}
