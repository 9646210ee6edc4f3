//! The `websocket` mode: in one real WebKitGTK WebView, the page's WebSocket through the
//! bus (the shim, frames, an unchanged axum handler) next to WebKit's own WebSocket to the
//! same handlers on a localhost server, round by round in one run
//! (`testkit/pages/websocket/bench.html`): round-trip latency and pipelined messages per
//! second for 32-byte and 64 KiB messages, and MB/s of 1 MiB binary messages. Before the
//! WebView, the same handler in Rust alone ([`rust_side`]): a framed port session driven
//! as a bridge drives it, next to a tokio-tungstenite client over loopback TCP, so the
//! bus's own share of a round trip is in the same report.

pub(crate) mod rust_side;

use std::time::Duration;

use bus_core::{Bus, Mount};
use serde_json::Value;

use crate::args::Options;
use crate::report::{Goal, Limit, Measurement, Report};
use crate::webview::view::View;

/// What each metric is, its unit, and whether more is better.
const METRICS: [(&str, &str, &str, bool); 6] = [
    ("rtt_32_ms", "round trip, 32 B text", "ms", false),
    ("rtt_64k_ms", "round trip, 64 KiB binary", "ms", false),
    (
        "rate_32_per_s",
        "pipelined echo, 32 B text",
        "messages/s",
        true,
    ),
    (
        "rate_64k_per_s",
        "pipelined echo, 64 KiB binary",
        "messages/s",
        true,
    ),
    (
        "echo_1m_mb_s",
        "pipelined echo, 1 MiB binary, each way",
        "MiB/s",
        true,
    ),
    ("push_1m_mb_s", "handler push, 1 MiB binary", "MiB/s", true),
];

/// A row without a goal: what a small `fetch` costs on each path's route (the bus's frames,
/// WebKit's HTTP to the localhost server) — the floor under a WebSocket round trip there.
const REFERENCE: (&str, &str, &str) = (
    "rtt_fetch_ms",
    "reference, not a WebSocket: round trip of a small fetch on the same route",
    "ms",
);

const RUST_SECTION: &str = "In Rust, no WebView: a framed port session (encoded frames, records, credit, as a bridge drives it) vs a tokio-tungstenite client over loopback TCP, same axum echo handler (median over rounds, min–max)";

const SECTION: &str =
    "WebSocket messages, the bus's vs WebKit's own to localhost (median over rounds, min–max)";

/// Runs the mode into `report`.
pub(crate) fn run(options: &Options, report: &mut Report) -> Result<(), String> {
    let rounds = options.rounds.unwrap_or(if options.quick { 2 } else { 5 });
    rust(rounds, report)?;
    gtk::init().map_err(|e| format!("GTK does not initialise: {e}"))?;

    let (report_mount, reports) = testkit::report::mount(1 << 20);
    let seen = testkit::websocket::Seen::default();
    let bus = Bus::builder()
        .app_origin(crate::webview::view::ORIGIN)
        .mount_with(report_mount)
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
    let page = view.wait_report(
        &reports,
        "ws-bench",
        Duration::from_secs(120 + 120 * rounds as u64),
        "the WebSocket benchmark",
    )?;
    drop(view);

    let results = &page["results"];
    report.settings = vec![
        ("rounds".into(), format!("{rounds}, the two paths alternating first round by round")),
        ("engine".into(), View::webkit_version()),
        ("user agent".into(), page["userAgent"].as_str().unwrap_or("").into()),
        ("page".into(), "testkit/pages/websocket/bench.html against the same axum WebSocketUpgrade handlers (testkit::websocket) on the bus and on a localhost server".into()),
    ];
    for (key, title, unit, higher_better) in METRICS {
        let mut m = Measurement::new(SECTION, key, title, unit, !higher_better);
        for path in ["bus", "localhost"] {
            let values = results[key][path]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default();
            m.push(path, values);
        }
        if m.paths.len() != 2 {
            return Err(format!("no values for {key}: {page}"));
        }
        let limit = if higher_better {
            Limit::AtLeast(1.0)
        } else {
            Limit::AtMost(1.0)
        };
        let than = if higher_better { "at least" } else { "at most" };
        report.goals.push(Goal::ratio(
            &format!("{title} through the bus: {than} localhost's"),
            Some(("bus".into(), m.of("bus").unwrap_or(f64::NAN))),
            Some(("localhost".into(), m.of("localhost").unwrap_or(f64::NAN))),
            &format!(" {unit}"),
            limit,
            "not measured",
        ));
        report.measurements.push(m);
    }
    let (key, title, unit) = REFERENCE;
    let mut m = Measurement::new(SECTION, key, title, unit, true);
    for path in ["bus", "localhost"] {
        let values = results[key][path]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        m.push(path, values);
    }
    report.measurements.push(m);
    Ok(())
}

/// The Rust-only rows: framed port vs tokio-tungstenite over loopback, round by round.
fn rust(rounds: usize, report: &mut Report) -> Result<(), String> {
    use rust_side::{FramedSocket, framed_rate, framed_rtt, tcp_open, tcp_rate, tcp_rtt};
    let seen = testkit::websocket::Seen::default();
    let bus = Bus::builder()
        .app_origin(crate::webview::view::ORIGIN)
        .mount_with(Mount::new("/wsd", testkit::websocket::router(seen.clone())).keep_prefix())
        .build();
    let local = testkit::serve_localhost(testkit::websocket::router(seen));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("a runtime: {e}"))?;
    let uri = format!("{}/wsd/echo?who=rust", crate::webview::view::ORIGIN);
    // (key, title, unit, size, count, rtt?)
    let rows: [(&str, &str, &str, usize, u32, bool); 4] = [
        (
            "rust_rtt_32_us",
            "round trip, 32 B text",
            "µs",
            32,
            2000,
            true,
        ),
        (
            "rust_rtt_64k_us",
            "round trip, 64 KiB binary",
            "µs",
            65536,
            300,
            true,
        ),
        (
            "rust_rate_32_per_s",
            "pipelined echo, 32 B text",
            "messages/s",
            32,
            20000,
            false,
        ),
        (
            "rust_echo_1m_mb_s",
            "pipelined echo, 1 MiB binary, each way",
            "MiB/s",
            1 << 20,
            64,
            false,
        ),
    ];
    let mut values = vec![(Vec::new(), Vec::new()); rows.len()];
    for round in 0..rounds {
        let mut framed = FramedSocket::open(&bus.handle(), crate::webview::view::ORIGIN, &uri)?;
        let mut tcp = runtime.block_on(tcp_open(local.addr, "/wsd/echo?who=rust"))?;
        for (i, &(key, _, _, size, count, is_rtt)) in rows.iter().enumerate() {
            let mut one = |framed_first: bool| -> Result<(), String> {
                for first in [framed_first, !framed_first] {
                    if first {
                        let v = if is_rtt {
                            framed_rtt(&mut framed, size, count)?
                        } else {
                            framed_rate(&mut framed, size, count)?
                        };
                        values[i].0.push(v);
                    } else {
                        let v = runtime.block_on(async {
                            if is_rtt {
                                tcp_rtt(&mut tcp, size, count).await
                            } else {
                                tcp_rate(&mut tcp, size, count).await
                            }
                        })?;
                        values[i].1.push(v);
                    }
                }
                Ok(())
            };
            one(round % 2 == 0)?;
            eprintln!(
                "websocket rust round {}/{rounds} {key}: framed {:.3}, tungstenite {:.3}",
                round + 1,
                values[i].0.last().copied().unwrap_or(f64::NAN),
                values[i].1.last().copied().unwrap_or(f64::NAN),
            );
        }
    }
    for ((key, title, unit, _, _, is_rtt), (framed, tcp)) in rows.into_iter().zip(values) {
        report.measurements.push(
            Measurement::new(RUST_SECTION, key, title, unit, is_rtt)
                .with("framed", framed)
                .with("tungstenite", tcp),
        );
    }
    Ok(())
}
