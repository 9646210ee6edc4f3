//! One real WebKitGTK WebView attached to the bus (`bridge_desktop::attach`), showing the
//! benchmark page, driven from the GTK main thread.
//!
//! The main loop always *blocks* (`iteration(true)`), woken by a timer and by the report
//! handler: polling with sleeps would add the sleep to every frame round trip, since the
//! relay's messages and the scheme's reads are handled on this thread.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bridge_desktop::{Host, HostConfig};
use bus_core::BusHandle;
use gtk::prelude::*;
use serde_json::Value;
use webkit2gtk::WebViewExt;
use wry::WebViewBuilderExtUnix;

/// The app origin the bus answers.
pub(crate) const ORIGIN: &str = "app://localhost";

/// Reports POSTed by the page to `/report`, as parsed JSON.
pub(crate) type Reports = mpsc::Receiver<Value>;

/// A window with a WebView attached to the bus.
pub(crate) struct View {
    window: gtk::Window,
    // Kept alive with the window; dropped after the host.
    _webview: wry::WebView,
    host: Host,
    /// Why the web process ended, when it did.
    terminated: Rc<RefCell<Option<String>>>,
    /// The last error `evaluate_javascript` gave for a command (named if no answer comes).
    send_error: Rc<RefCell<Option<String>>>,
    next_id: u64,
}

impl std::fmt::Debug for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View").finish_non_exhaustive()
    }
}

/// Makes sure the main loop wakes at least every 50 ms (deadlines, memory samples).
fn ensure_wake_timer() {
    thread_local! {
        static WAKE: std::cell::OnceCell<glib::SourceId> = const { std::cell::OnceCell::new() };
    }
    WAKE.with(|w| {
        w.get_or_init(|| {
            glib::timeout_add_local(Duration::from_millis(50), || glib::ControlFlow::Continue)
        });
    });
}

/// Runs one blocking iteration of the GTK main loop.
pub(crate) fn pump() {
    ensure_wake_timer();
    glib::MainContext::default().iteration(true);
}

/// Runs the main loop for `time`.
pub(crate) fn pump_for(time: Duration) {
    let deadline = Instant::now() + time;
    while Instant::now() < deadline {
        pump();
    }
}

impl View {
    /// Opens a window, attaches the bus and loads `page` (a path of the app origin).
    pub(crate) fn open(bus: &BusHandle, page: &str) -> Result<View, String> {
        let window = gtk::Window::new(gtk::WindowType::Toplevel);
        window.set_default_size(800, 600);
        window.set_title("inproc-http-bus: WebView benchmark");
        let vbox = gtk::Box::new(gtk::Orientation::Vertical, 0);
        window.add(&vbox);
        let webview = wry::WebViewBuilder::new()
            .build_gtk(&vbox)
            .map_err(|e| format!("cannot create a WebKitGTK WebView: {e}"))?;
        let host = bridge_desktop::attach(&webview, bus, HostConfig::new(ORIGIN))
            .map_err(|e| format!("cannot attach the bus to the WebView: {e}"))?;
        let terminated = Rc::new(RefCell::new(None));
        let flag = terminated.clone();
        host.webkit()
            .connect_web_process_terminated(move |_, reason| {
                *flag.borrow_mut() = Some(format!("{reason:?}"));
            });
        window.show_all();
        host.load(page);
        Ok(View {
            window,
            _webview: webview,
            host,
            terminated,
            send_error: Rc::new(RefCell::new(None)),
            next_id: 1,
        })
    }

    fn check_alive(&self) -> Result<(), String> {
        match self.terminated.borrow().as_ref() {
            Some(reason) => Err(format!(
                "WebKit's web process ended ({reason}) during the benchmark"
            )),
            None => Ok(()),
        }
    }

    /// Waits for the report whose `id` is `id`, pumping the main loop; reports with other
    /// ids (late answers of an earlier command) are skipped.
    pub(crate) fn wait_report(
        &self,
        reports: &Reports,
        id: &str,
        timeout: Duration,
        what: &str,
    ) -> Result<Value, String> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Ok(report) = reports.try_recv() {
                if report["id"] == id {
                    if report["ok"] == true {
                        return Ok(report);
                    }
                    return Err(format!(
                        "{what}: the page reported an error: {}",
                        report["error"].as_str().unwrap_or("(no message)")
                    ));
                }
            }
            self.check_alive()?;
            if Instant::now() >= deadline {
                let hint = self
                    .send_error
                    .borrow()
                    .as_ref()
                    .map(|e| format!(" (evaluate_javascript said: {e})"))
                    .unwrap_or_default();
                return Err(format!(
                    "{what}: no answer from the page within {} s{hint}",
                    timeout.as_secs()
                ));
            }
            pump();
        }
    }

    /// Sends `command` (a JSON object) to the page without waiting; returns its id.
    pub(crate) fn send(&mut self, mut command: Value) -> String {
        let id = format!("c{}", self.next_id);
        self.next_id += 1;
        command["id"] = Value::String(id.clone());
        let script = format!("void window.__bench.run({command})");
        // The callback only reports the script's completion value. WebKit sometimes answers
        // "Unsupported result type" for it while the web process is flooded, though the
        // command runs; what matters is the page's report, so an error is only kept.
        let slot = self.send_error.clone();
        *slot.borrow_mut() = None;
        self.host.webkit().evaluate_javascript(
            &script,
            None,
            None,
            gio::Cancellable::NONE,
            move |result| {
                if let Err(e) = result {
                    *slot.borrow_mut() = Some(e.to_string());
                }
            },
        );
        id
    }

    /// Sends `command` and waits for its report.
    pub(crate) fn command(
        &mut self,
        reports: &Reports,
        command: Value,
        timeout: Duration,
    ) -> Result<Value, String> {
        let what = format!(
            "{} on {}",
            command["kind"].as_str().unwrap_or("?"),
            command["path"].as_str().unwrap_or("the page")
        );
        let id = self.send(command);
        self.wait_report(reports, &id, timeout, &what)
    }

    /// Mean wall time of `n` sequential `evaluate_javascript` calls in the page's main
    /// world, waited for one by one, in microseconds: the host -> page -> host hop every
    /// frames delivery makes. `script(i)` is the `i`-th script.
    pub(crate) fn eval_round_trip_us(
        &self,
        n: usize,
        script: impl Fn(usize) -> String,
    ) -> Result<f64, String> {
        let scripts: Vec<String> = (0..n).map(script).collect();
        let started = Instant::now();
        for script in &scripts {
            let done = Rc::new(RefCell::new(None));
            let slot = done.clone();
            self.host.webkit().evaluate_javascript(
                script,
                None,
                None,
                gio::Cancellable::NONE,
                move |result| {
                    *slot.borrow_mut() = Some(result.map(drop).map_err(|e| e.to_string()));
                },
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Some(result) = done.borrow_mut().take() {
                    result.map_err(|e| format!("evaluate_javascript failed: {e}"))?;
                    break;
                }
                self.check_alive()?;
                if Instant::now() > deadline {
                    return Err("evaluate_javascript did not finish within 10 s".into());
                }
                pump();
            }
        }
        Ok(started.elapsed().as_secs_f64() * 1e6 / n as f64)
    }

    /// Which carrier the page's relay has: the web process extension's socket, when its
    /// function is in the relay's world and its socket has come.
    pub(crate) fn relay_has_socket(&self) -> Result<bool, String> {
        let done = Rc::new(RefCell::new(None));
        let slot = done.clone();
        // Throws (an error result) when there is no socket.
        self.host.webkit().evaluate_javascript(
            "if (!(typeof __inprocBusWire === 'function' && __inprocBusWire(0) === true)) throw new Error('no socket'); true",
            Some(bridge_desktop::channel::WORLD),
            None,
            gio::Cancellable::NONE,
            move |result| *slot.borrow_mut() = Some(result.is_ok()),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(has) = done.borrow_mut().take() {
                return Ok(has);
            }
            self.check_alive()?;
            if Instant::now() > deadline {
                return Err("evaluate_javascript did not finish within 10 s".into());
            }
            pump();
        }
    }

    /// WebKitGTK's version, as the package manager (or pkg-config) reports it.
    pub(crate) fn webkit_version() -> String {
        let run = |program: &str, args: &[&str]| {
            std::process::Command::new(program)
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        run(
            "dpkg-query",
            &["-W", "-f", "${Version}", "libwebkit2gtk-4.1-0"],
        )
        .map(|v| format!("WebKitGTK {v} (Debian package)"))
        .or_else(|| {
            run("pkg-config", &["--modversion", "webkit2gtk-4.1"]).map(|v| format!("WebKitGTK {v}"))
        })
        .unwrap_or_else(|| "WebKitGTK (version unknown)".into())
    }
}

impl Drop for View {
    fn drop(&mut self) {
        self.window.close();
        // Let WebKit tear the page (and its processes) down before anything else runs.
        pump_for(Duration::from_millis(300));
    }
}
