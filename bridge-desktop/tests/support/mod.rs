//! A real WebKitGTK WebView behind a bus, driven from the test's main thread.
//!
//! Pages report what they observed by POSTing JSON to `/report` on the bus; the harness
//! pumps the GTK main loop until a report arrives.

#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod evil;

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bridge_desktop::{Host, HostConfig};
use bus_core::{Bus, BusBuilder, Mount};
use gtk::prelude::*;
use serde_json::Value;
use webkit2gtk::WebViewExt;
use wry::WebViewBuilderExtUnix;

pub const ORIGIN: &str = "app://localhost";

pub fn pages() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pages")
}

pub struct Harness {
    pub window: gtk::Window,
    pub webview: wry::WebView,
    pub host: Host,
    pub bus: Bus,
    pub counters: testkit::conformance::Counters,
    reports: mpsc::Receiver<Value>,
}

impl Harness {
    pub fn new(extra: impl FnOnce(BusBuilder) -> BusBuilder) -> Harness {
        Self::with_config(extra, HostConfig::new(ORIGIN))
    }

    pub fn with_config(
        extra: impl FnOnce(BusBuilder) -> BusBuilder,
        config: HostConfig,
    ) -> Harness {
        Self::with_wry(extra, config, |b| b)
    }

    /// Like [`Harness::with_config`], with the wry WebView built through `wry` first (the
    /// handlers an app may set on wry's builder before attaching).
    pub fn with_wry(
        extra: impl FnOnce(BusBuilder) -> BusBuilder,
        config: HostConfig,
        wry: impl for<'a> FnOnce(wry::WebViewBuilder<'a>) -> wry::WebViewBuilder<'a>,
    ) -> Harness {
        let (report, reports) = testkit::report::mount(16 << 20);
        let counters = testkit::conformance::Counters::default();
        let builder = Bus::builder()
            .app_origin(ORIGIN)
            .mount_with(report)
            .mount_with(testkit::conformance::mount(counters.clone()))
            .mount_with(
                // The pages and their assets: what any document may load (a top-level load
                // and an <img> carry nothing that proves who asked).
                Mount::new("/", tower_http::services::ServeDir::new(pages())).public(),
            );
        let bus = extra(builder).build();

        let window = gtk::Window::new(gtk::WindowType::Toplevel);
        window.set_default_size(1024, 720);
        let vbox = gtk::Box::new(gtk::Orientation::Vertical, 0);
        window.add(&vbox);
        let webview = wry(wry::WebViewBuilder::new())
            .build_gtk(&vbox)
            .expect("a WebView");
        let host = bridge_desktop::attach(&webview, &bus.handle(), config).expect("attach");
        window.show_all();
        Harness {
            window,
            webview,
            host,
            bus,
            counters,
            reports,
        }
    }

    pub fn load(&self, path: &str) {
        self.host.load(path);
    }

    /// Pumps the main loop until the page reports, or panics after `timeout`.
    pub fn report(&self, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(v) = self.reports.try_recv() {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "no report from the page within {timeout:?}"
            );
            pump(Duration::from_millis(5));
        }
    }

    /// Pumps the main loop until the page reports, or returns `None` after `timeout`.
    pub fn try_report(&self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(v) = self.reports.try_recv() {
                return Some(v);
            }
            pump(Duration::from_millis(5));
        }
        None
    }

    /// Pumps the main loop for `time`.
    pub fn wait(&self, time: Duration) {
        let deadline = Instant::now() + time;
        while Instant::now() < deadline {
            pump(Duration::from_millis(5));
        }
    }

    /// Runs `script` in the page's main world and returns its JSON result.
    pub fn eval(&self, script: &str) -> Value {
        self.eval_in(None, script)
    }

    /// Runs `script` in the script world `world` (the main world with `None`): what only
    /// the host can do, as bridge-desktop's relay runs in its own world.
    pub fn eval_in(&self, world: Option<&str>, script: &str) -> Value {
        let (tx, rx) = mpsc::channel();
        self.host.webkit().evaluate_javascript(
            &format!("JSON.stringify((() => {{ {script} }})())"),
            world,
            None,
            gio::Cancellable::NONE,
            move |result| {
                let _ = tx.send(result.map(|v| {
                    use javascriptcore::ValueExt;
                    v.to_str().to_string()
                }));
            },
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(r) = rx.try_recv() {
                let text = r.unwrap_or_else(|e| panic!("script failed: {e}"));
                return serde_json::from_str(&text).unwrap_or(Value::Null);
            }
            assert!(Instant::now() < deadline, "script did not finish");
            pump(Duration::from_millis(2));
        }
    }

    pub fn uri(&self) -> String {
        self.host
            .webkit()
            .uri()
            .map(|u| u.to_string())
            .unwrap_or_default()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.window.close();
        // Let WebKit tear the page down before the next test builds its own.
        let deadline = Instant::now() + Duration::from_millis(200);
        while Instant::now() < deadline {
            pump(Duration::from_millis(5));
        }
    }
}

/// Runs GTK/GLib events for up to about `max` (blocking in the main loop, not polling:
/// a poll with sleeps would add its period to every frame's round trip).
pub fn pump(max: Duration) {
    thread_local! {
        static WAKE: std::cell::OnceCell<glib::SourceId> = const { std::cell::OnceCell::new() };
    }
    // A timer that wakes the blocking iteration so callers can check their conditions.
    WAKE.with(|w| {
        w.get_or_init(|| {
            glib::timeout_add_local(Duration::from_millis(10), || glib::ControlFlow::Continue)
        });
    });
    let _ = max;
    glib::MainContext::default().iteration(true);
}

/// A minimal test runner for tests that must own the main thread (GTK).
pub fn run(tests: &[(&str, fn())]) {
    if let Err(e) = testkit::display::ensure() {
        eprintln!("{e}");
        std::process::exit(2);
    }
    gtk::init().expect("GTK initialises on the display");
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut failed = Vec::new();
    let mut ran = 0;
    for (name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(test);
        let took = started.elapsed();
        match outcome {
            Ok(()) => println!("test {name} ... ok ({took:.1?})"),
            Err(e) => {
                let message = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                println!("test {name} ... FAILED ({took:.1?}): {message}");
                failed.push(*name);
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        ran - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        println!("failed: {failed:?}");
        std::process::exit(1);
    }
}
