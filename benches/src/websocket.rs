//! The `websocket` mode: in one real WebKitGTK WebView, the page's WebSocket through the
//! bus (the shim, frames, an unchanged axum handler) next to WebKit's own WebSocket to the
//! same handlers on a localhost server, round by round in one run
//! (`testkit/pages/websocket/bench.html`): round-trip latency and pipelined messages per
//! second for 32-byte and 64 KiB messages, and MB/s of 1 MiB binary messages.

use std::path::Path;
use std::time::Duration;

use bus_core::{Bus, Mount};
use serde_json::{Value, json};

use crate::stats::median;
use crate::webview::view::View;

/// What each metric is, and whether more is better.
const METRICS: [(&str, &str, bool); 6] = [
    ("rtt_32_ms", "round trip, 32 B text (ms)", false),
    ("rtt_64k_ms", "round trip, 64 KiB binary (ms)", false),
    (
        "rate_32_per_s",
        "pipelined echo, 32 B text (messages/s)",
        true,
    ),
    (
        "rate_64k_per_s",
        "pipelined echo, 64 KiB binary (messages/s)",
        true,
    ),
    (
        "echo_1m_mb_s",
        "pipelined echo, 1 MiB binary (MiB/s each way)",
        true,
    ),
    ("push_1m_mb_s", "handler push, 1 MiB binary (MiB/s)", true),
];

/// Runs the benchmark with `rounds` rounds; writes JSON to `json` if given.
pub(crate) fn run(rounds: usize, json: Option<&Path>) -> Result<(), String> {
    testkit::display::ensure()?;
    gtk::init().map_err(|e| format!("GTK does not initialise: {e}"))?;

    let (report, reports) = testkit::report::mount(1 << 20);
    let seen = testkit::websocket::Seen::default();
    let bus = Bus::builder()
        .app_origin(crate::webview::view::ORIGIN)
        .mount_with(report)
        .mount_with(Mount::new("/wsd", testkit::websocket::router(seen.clone())).keep_prefix())
        .mount_with(
            Mount::new(
                "/wsd-pages",
                tower_http::services::ServeDir::new(testkit::websocket::pages()),
            )
            .public(),
        )
        .build();
    let local = testkit::serve_localhost(testkit::websocket::router(seen));
    let page = format!(
        "/wsd-pages/bench.html?port={}&rounds={rounds}",
        local.addr.port()
    );
    let view = View::open(&bus.handle(), &page)?;
    let report = view.wait_report(
        &reports,
        "ws-bench",
        Duration::from_secs(120 + 120 * rounds as u64),
        "the WebSocket benchmark",
    )?;
    drop(view);

    let results = &report["results"];
    println!(
        "WebSocket in WebKitGTK ({}), {rounds} rounds, medians (min-max):",
        View::webkit_version()
    );
    println!(
        "{:<48} {:>22} {:>22} {:>8}",
        "", "bus", "localhost", "bus/lo"
    );
    let mut rows = Vec::new();
    for (key, label, higher_better) in METRICS {
        let values = |path: &str| -> Vec<f64> {
            results[key][path]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default()
        };
        let (bus, lo) = (values("bus"), values("localhost"));
        let (Some(mb), Some(ml)) = (median(&bus), median(&lo)) else {
            return Err(format!("no values for {key}: {report}"));
        };
        let span = |v: &[f64]| {
            let med = median(v).unwrap_or(f64::NAN);
            let min = v.iter().copied().fold(f64::INFINITY, f64::min);
            let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            format!("{} ({}-{})", fmt(med), fmt(min), fmt(max))
        };
        let ratio = mb / ml;
        println!(
            "{label:<48} {:>22} {:>22} {:>7.2}x{}",
            span(&bus),
            span(&lo),
            ratio,
            if (higher_better && ratio >= 1.0) || (!higher_better && ratio <= 1.0) {
                ""
            } else {
                " (goal missed)"
            }
        );
        rows.push(json!({
            "metric": key, "label": label, "higher_is_better": higher_better,
            "bus": bus, "localhost": lo, "bus_median": mb, "localhost_median": ml,
            "ratio": ratio,
        }));
    }
    if let Some(path) = json {
        let doc = json!({ "rounds": rounds, "user_agent": report["userAgent"], "rows": rows });
        std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap_or_default())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

fn fmt(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}
