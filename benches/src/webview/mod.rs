//! The `webview` mode: a real WebKitGTK WebView (through `bridge_desktop::attach`, under
//! Xvfb when there is no display) shows a benchmark page served by the bus, and measures
//! in one run, side by side, the page's requests over the bus's frames, over the bus's
//! `app://` scheme, and to the same router on a localhost server.
//!
//! The host sends commands to the page (`evaluate_javascript`); the page times them with
//! `performance.now()` and POSTs the result to `/report` on the bus. Paths are interleaved
//! round by round, their order rotated each round. CPU time per thread group comes from
//! `/proc` around each command, memory from the RSS of the host and WebKit's processes.
//!
//! With `--tauri`, the Tauri 2 peer app (`benches/tauri-peer`, see [`tauri`]) is built and
//! run as a child: its page runs the same workloads over Tauri's invoke, Channel and
//! URI-scheme protocol and over the same localhost server, and its paths take their turn
//! in the same rounds as the bus's.

pub(crate) mod extension;
pub(crate) mod procs;
pub(crate) mod report;
pub(crate) mod server;
pub(crate) mod tauri;
pub(crate) mod view;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bus_core::{Bus, Mount};
use serde_json::{Value, json};

use crate::args::{Options, size_label};
use crate::report::{Measurement, Report, mib, sig};
use procs::{CpuSample, Group};
use report::WebPath;
use tauri::Peer;
use view::{ORIGIN, Reports, View, pump};

const MIB: u64 = 1 << 20;

/// The sections of the mode's tables.
const PAGE: &str = "Measured in the page (median over rounds, min–max)";
const HOLD: &str = "Paused stream: the page reads the first chunk of a 1 GiB download, then nothing (RSS growth of the host and WebKit's processes at the peak, MiB)";
const CPU: &str = "CPU time by thread group (ms, all rounds summed; /proc, 10 ms ticks), and the frames the page saw";
const COMPONENTS: &str = "The frames path's components, measured alone";

/// How much and how often to measure.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) rounds: usize,
    pub(crate) seq_n: u64,
    pub(crate) seq_batch: u64,
    pub(crate) par_n: u64,
    /// Batches of `par_n` run back to back per round: the value is their mean, so the 1 ms
    /// clock is a tenth of a millisecond on it (one batch took 5-8 ms).
    pub(crate) par_batches: u64,
    pub(crate) down_bytes: u64,
    pub(crate) up_bytes: u64,
    pub(crate) busy_big: u64,
    pub(crate) busy_k: u64,
    pub(crate) busy_settle_ms: u64,
    pub(crate) busy_limit_ms: u64,
    /// Whether the native path runs `busy`: its small GETs wait behind the whole stream
    /// (WebKit reads scheme streams on the host's main thread), a minute or more a round.
    pub(crate) native_busy: bool,
    pub(crate) hold_bytes: u64,
    pub(crate) hold_min: Duration,
    pub(crate) hold_max: Duration,
    /// The hold ends early once the growth moved less than `stable_bytes` in `stable_for`.
    pub(crate) stable_for: Duration,
    pub(crate) stable_bytes: i64,
}

impl Plan {
    pub(crate) fn new(options: &Options) -> Plan {
        let quick = options.quick;
        Plan {
            rounds: options.rounds.unwrap_or(if quick { 2 } else { 5 }),
            seq_n: 1000,
            seq_batch: 100,
            par_n: 100,
            par_batches: 10,
            down_bytes: 64 * MIB,
            up_bytes: 16 * MIB,
            busy_big: 1 << 30,
            busy_k: 100,
            busy_settle_ms: 200,
            busy_limit_ms: 10_000,
            native_busy: !quick,
            hold_bytes: 1 << 30,
            hold_min: Duration::from_secs(if quick { 3 } else { 5 }),
            hold_max: Duration::from_secs(if quick { 15 } else { 30 }),
            stable_for: Duration::from_secs(if quick { 2 } else { 3 }),
            stable_bytes: 2 * MIB as i64,
        }
    }

    pub(crate) fn describe(&self, local: &str) -> Vec<(String, String)> {
        vec![
            (
                "rounds".into(),
                format!(
                    "{} per measurement, after one untimed round of the same workload on every path; paths interleaved, their order rotated each round",
                    self.rounds
                ),
            ),
            (
                "timing".into(),
                "performance.now() in the page (1 ms steps in WebKitGTK): short things are timed as batches".into(),
            ),
            (
                "sequential".into(),
                format!(
                    "{} small GETs (12-byte body read with arrayBuffer()) per path per round, timed in batches of {}; the value is the mean per request",
                    self.seq_n, self.seq_batch
                ),
            ),
            (
                "parallel".into(),
                format!(
                    "{} small GETs started at once (Promise.all), time until the last body is read; {} such batches back to back per path per round, the value is their mean",
                    self.par_n, self.par_batches
                ),
            ),
            (
                "download".into(),
                format!(
                    "{} read to its end with body.getReader(), nothing kept; MB/s = 10^6 bytes/s; the frames path uses the shim's default 1 MiB window",
                    size_label(self.down_bytes)
                ),
            ),
            (
                "upload".into(),
                format!(
                    "{} from one Uint8Array (made before the clock starts), POSTed; the handler counts the bytes and answers the count",
                    size_label(self.up_bytes)
                ),
            ),
            (
                "busy".into(),
                format!(
                    "{} sequential small GETs idle, then up to {} while a {} download on the same path is read (starting {} ms after it), stopping early if the download ends or after {} s{}",
                    self.busy_k,
                    self.busy_k,
                    size_label(self.busy_big),
                    self.busy_settle_ms,
                    self.busy_limit_ms / 1000,
                    if self.native_busy {
                        ""
                    } else {
                        "; not on the native path (--quick)"
                    }
                ),
            ),
            (
                "memory".into(),
                format!(
                    "a fresh WebView per path; the page opens a {} download, reads its first chunk and holds the reader; the sum of VmRSS of the host and WebKit's processes is sampled every 250 ms for {}-{} s (until it moves less than {} MiB in {} s); growth from just before the request",
                    size_label(self.hold_bytes),
                    self.hold_min.as_secs(),
                    self.hold_max.as_secs(),
                    self.stable_bytes >> 20,
                    self.stable_for.as_secs()
                ),
            ),
            ("localhost".into(), local.into()),
        ]
    }
}

/// Bus, router, localhost twin and WebView for one run.
struct Rig {
    bus: Bus,
    reports: Reports,
    counters: server::Counters,
    local: testkit::LocalServer,
    page: String,
    host_pid: u32,
}

/// What the CPU table accumulates per (measurement, path).
#[derive(Default)]
struct CpuAcc {
    wall_ms: f64,
    cpu: BTreeMap<Group, f64>,
    frames: [u64; 5],
}

/// Runs the mode into `report`: display, GTK, the WebView, the measurements, the goals.
pub(crate) fn run(options: &Options, report: &mut Report) -> Result<(), String> {
    // Built before anything is measured, so a build that fails costs no measuring time.
    extension::build()?;
    let peer_binary = if options.tauri {
        Some(tauri::build()?)
    } else {
        None
    };
    gtk::init().map_err(|e| {
        format!(
            "GTK cannot start on display {:?}: {e}",
            std::env::var("DISPLAY").unwrap_or_default()
        )
    })?;

    let plan = Plan::new(options);
    let rig = Rig::new()?;
    let engine = format!(
        "{}, via wry 0.57 and bridge-desktop; display {}",
        View::webkit_version(),
        std::env::var("DISPLAY").unwrap_or_default()
    );
    eprintln!("engine: {engine}");
    report.settings = plan.describe(&format!(
        "http://{} (axum 0.8 on hyper 1, in this process)",
        rig.local.addr
    ));
    report.settings.push(("engine".into(), engine));

    let before = children(rig.host_pid);
    let mut view = View::open(&rig.bus.handle(), &rig.page)?;
    let ready = view
        .wait_report(
            &rig.reports,
            "ready",
            Duration::from_secs(60),
            "loading the benchmark page",
        )
        .map_err(|e| format!("{e} (is WebKit able to start its web process here?)"))?;
    if ready["shim"] != true {
        return Err(
            "the benchmark page has no bridge-js shim: the frames path cannot be measured".into(),
        );
    }
    // The frames path as a user's app has it: with the web process extension, whose
    // socket the relay uses when it is there (bridge-desktop finds it next to this binary).
    if !view.relay_has_socket()? {
        return Err(format!(
            "the page's relay has no web process extension socket: build it next to this binary ({}), e.g. `cargo build --release -p bridge-desktop-webext`",
            bridge_desktop::socket::LIBRARY
        ));
    }
    report.settings.push((
        "relay carrier".into(),
        "the web process extension's socketpair (bridge-desktop-webext), as bridge-desktop uses it when the library is next to the executable".into(),
    ));
    let agent = ready["user_agent"].as_str().unwrap_or("");
    report.settings.push(("user agent".into(), agent.into()));
    for p in WebPath::ALL {
        report
            .settings
            .push((format!("path {}", p.name()), p.describe().into()));
    }

    // The peer is a child of this process, so the CPU samples below include it (as "other"
    // and WebKit's groups); it is closed before the memory measurements.
    let mut peer = match &peer_binary {
        Some(binary) => {
            eprintln!("starting the Tauri 2 peer");
            let peer = Peer::start(binary, &format!("http://{}", rig.local.addr))?;
            let info = &peer.info;
            eprintln!(
                "Tauri peer: Tauri {}, invoke by {}",
                info.version, info.transport
            );
            report.settings.push((
                "tauri peer".into(),
                format!(
                    "Tauri {} ({}): its own page in the same engine, driven over stdin, its paths interleaved round by round with the bus's; invoke travelled by {}",
                    info.version, info.binary, info.transport
                ),
            ));
            for p in WebPath::TAURI {
                report
                    .settings
                    .push((format!("path {}", p.name()), p.describe().into()));
            }
            Some(peer)
        }
        None => None,
    };
    report.settings.extend(report::not_measured(options.tauri));
    if !plan.native_busy {
        report.settings.push((
            "not measured: bus, native scheme, small GETs while 1 GiB is read".into(),
            "skipped by --quick: WebKit reads scheme streams on the host's main thread, so a small native GET waits behind the whole 1 GiB (a minute or more per round here); a full run measures it".into(),
        ));
    }

    warm_up(&plan, &mut view, &rig, peer.as_mut())?;
    let mut cpu: BTreeMap<(String, WebPath), CpuAcc> = BTreeMap::new();
    measure_all(&plan, &mut view, &rig, peer.as_mut(), report, &mut cpu)?;
    if let Some(peer) = peer.take() {
        peer.close();
    }
    let components = components(&mut view, &rig)?;
    close_view(view, rig.host_pid, &before);
    let mut hold = [
        ("hold/peak", "growth at the peak"),
        ("hold/host", "the host's share"),
        ("hold/webkit", "WebKit's share"),
        ("hold/produced", "produced by the handler meanwhile"),
        ("hold/seconds", "held and sampled (s)"),
    ]
    .map(|(key, title)| Measurement::new(HOLD, key, title, "", true));
    for path in WebPath::ALL {
        for (m, x) in hold.iter_mut().zip(memory(&plan, &rig, path)?) {
            m.push(path.name(), vec![x]);
        }
    }
    report.measurements.extend(hold);
    cpu_rows(report, cpu);
    report.measurements.extend(components);
    report::check_goals(report);
    Ok(())
}

/// The CPU table: per measurement, the thread groups that used any, and the frames.
fn cpu_rows(report: &mut Report, cpu: BTreeMap<(String, WebPath), CpuAcc>) {
    let keys: Vec<String> = report
        .measurements
        .iter()
        .filter(|m| m.section == PAGE && !m.key.ends_with("_ratio"))
        .map(|m| m.key.clone())
        .collect();
    for key in keys {
        let mut row = |name: &str, title: &str, f: &dyn Fn(&CpuAcc) -> f64| {
            let mut m = Measurement::new(
                CPU,
                &format!("cpu/{key}/{name}"),
                &format!("{key}: {title}"),
                "",
                true,
            );
            for ((_, path), acc) in cpu.iter().filter(|((k, _), _)| *k == key) {
                m.push(path.name(), vec![f(acc)]);
            }
            if m.paths.iter().any(|p| p.value.median != 0.0) {
                report.measurements.push(m);
            }
        };
        row("wall", "the page's wall time", &|a| a.wall_ms);
        for g in Group::ALL {
            row(&g.label().replace(' ', "_"), g.label(), &|a| {
                a.cpu.get(&g).copied().unwrap_or(0.0)
            });
        }
        for (i, name, title) in [
            (0, "frames_in", "frames in"),
            (3, "frames_out", "frames out"),
            (2, "deliveries", "deliveries"),
        ] {
            row(name, title, &|a| a.frames[i] as f64);
        }
    }
}

impl Rig {
    fn new() -> Result<Rig, String> {
        // The main loop blocks until an event: wake it to look at each report.
        let (report, reports) =
            testkit::report::mount_waking(16 << 20, || glib::MainContext::default().wakeup());
        let counters = server::Counters::default();
        let router = server::router(counters.clone());
        let bus = Bus::builder()
            .app_origin(ORIGIN)
            .mount_with(report)
            .mount_with(
                // Public: the page itself comes from this router, and a top-level load
                // carries nothing that proves who asked (the routes have no side effects).
                Mount::new("/", router.clone())
                    .public()
                    .keep_prefix()
                    .max_body(None)
                    .timeout(None),
            )
            .build();
        // `serve_localhost` panics when it cannot bind 127.0.0.1: say so instead.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let local = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            testkit::serve_localhost(router)
        }));
        std::panic::set_hook(hook);
        let local = local.map_err(|_| {
            "cannot start the localhost server: no port on 127.0.0.1 could be bound".to_owned()
        })?;
        let page = format!("/bench.html?local=http://{}", local.addr);
        Ok(Rig {
            bus,
            reports,
            counters,
            local,
            page,
            host_pid: std::process::id(),
        })
    }
}

/// The paths measuring `key` in `round`: the bus page's, then (with the Tauri peer) the
/// peer's that run it, rotated by one each round.
fn rotated(round: usize, key: &str, tauri: bool) -> Vec<WebPath> {
    let mut order: Vec<WebPath> = WebPath::ALL
        .into_iter()
        .chain(WebPath::TAURI.into_iter().filter(|_| tauri))
        .filter(|p| p.runs(key))
        .collect();
    let n = order.len();
    order.rotate_left(round % n);
    order
}

/// Runs `command` on `path`: in the bus's page, or in the Tauri peer's.
fn run_on(
    path: WebPath,
    command: &Value,
    view: &mut View,
    rig: &Rig,
    peer: Option<&mut Peer>,
    timeout: Duration,
) -> Result<Value, String> {
    let mut command = command.clone();
    command["path"] = json!(path.peer_name());
    if !path.is_tauri() {
        return view.command(&rig.reports, command, timeout);
    }
    let peer = peer.ok_or_else(|| format!("{} needs the Tauri peer (--tauri)", path.name()))?;
    if command["kind"] == "down" {
        // The Channel's chunk: the bus's handler streams 64 KiB slices too.
        command["chunk"] = json!(64 << 10);
    }
    peer.command(&command, timeout)
}

/// Connections, caches, JIT, and the memory big transfers touch first (a run's first
/// 16 MiB upload on the scheme was its slowest): everything warm before the clock starts,
/// each path doing once what it will be timed doing.
fn warm_up(
    plan: &Plan,
    view: &mut View,
    rig: &Rig,
    mut peer: Option<&mut Peer>,
) -> Result<(), String> {
    eprintln!("warming up every path");
    let t = Duration::from_secs(60);
    let tauri = peer.is_some();
    let paths = WebPath::ALL
        .into_iter()
        .chain(WebPath::TAURI.into_iter().filter(|_| tauri));
    for path in paths {
        for command in [
            json!({"kind": "seq", "n": 100, "batch": 100}),
            json!({"kind": "par", "n": plan.par_n, "batches": 1}),
            json!({"kind": "down", "bytes": plan.down_bytes}),
            json!({"kind": "up", "bytes": plan.up_bytes}),
        ] {
            if path.runs(command["kind"].as_str().unwrap_or("")) {
                run_on(path, &command, view, rig, peer.as_deref_mut(), t)?;
            }
        }
    }
    Ok(())
}

/// The frames path's steps, each measured alone.
fn components(view: &mut View, rig: &Rig) -> Result<Vec<Measurement>, String> {
    eprintln!("measuring the frames path's components alone");
    let eval_round_trip_us = view.eval_round_trip_us(200, |_| "0".into())?;
    // A delivery of one 64 KiB frame is a new script holding its base64 as a literal.
    let literal = base64::engine::general_purpose::STANDARD.encode(vec![0xa5u8; 64 << 10]);
    let eval_frame_us = view.eval_round_trip_us(100, |i| format!("void \"{i:08}{literal}\""))?;
    let frame = vec![0x5au8; MIB as usize];
    let started = Instant::now();
    let mut chars = 0;
    for _ in 0..64 {
        chars += base64::engine::general_purpose::STANDARD
            .encode(&frame)
            .len();
    }
    let host_base64_mb_s = 64.0 * MIB as f64 / started.elapsed().as_secs_f64() / 1e6;
    std::hint::black_box(chars);
    let bytes = 16 * MIB;
    let events = 20_000u64;
    let r = view.command(
        &rig.reports,
        json!({"kind": "components", "bytes": bytes, "events": events}),
        Duration::from_secs(60),
    )?;
    let n = 2000u64;
    let split = view.command(
        &rig.reports,
        json!({"kind": "trace", "n": n}),
        Duration::from_secs(60),
    )?;
    let us = |key: &str| num(&split, key).map(|ms| ms * 1e3);
    let rate = |ms: &Value| bytes as f64 / (ms.as_f64().unwrap_or(f64::NAN).max(0.5) / 1e3) / 1e6;
    let native = if r["native_base64"] == true {
        "the engine's Uint8Array.toBase64/fromBase64"
    } else {
        "bridge-js's JS fallback"
    };
    let rows = [
        (
            "eval_round_trip",
            "evaluate_javascript no-op, host -> page -> host".to_owned(),
            "µs",
            eval_round_trip_us,
        ),
        (
            "eval_frame",
            "evaluate_javascript of a new script holding one 64 KiB frame as base64".into(),
            "µs",
            eval_frame_us,
        ),
        (
            "host_base64",
            "host base64 encode, 1 MiB frames".into(),
            "MB/s",
            host_base64_mb_s,
        ),
        (
            "page_to_base64",
            format!("page toBase64 ({native})"),
            "MB/s",
            rate(&r["to_base64_ms"]),
        ),
        (
            "page_from_base64",
            format!("page fromBase64 ({native})"),
            "MB/s",
            rate(&r["from_base64_ms"]),
        ),
        (
            "page_dispatch",
            "page CustomEvent dispatch, short string detail, one listener".into(),
            "µs",
            r["dispatch_ms"].as_f64().unwrap_or(f64::NAN) * 1e3 / events as f64,
        ),
        (
            "split_send",
            format!("small GET by frames (mean of {n}): fetch() -> request frame out"),
            "µs",
            us("send_ms")?,
        ),
        (
            "split_send_relay",
            "... of which the relay's: the event reaching its world, its postMessage".into(),
            "µs",
            us("relay_ms")?,
        ),
        (
            "split_round_trip",
            "... -> first answer frame in (relay post, host main thread, bus, reply back)".into(),
            "µs",
            us("round_trip_ms")?,
        ),
        (
            "split_receive",
            "... -> body read".into(),
            "µs",
            us("receive_ms")?,
        ),
        (
            "split_receive_response",
            "... of which until fetch() resolves (the frame decoded, the Response made)".into(),
            "µs",
            us("response_ms")?,
        ),
        ("split_total", "... in all".into(), "µs", us("total_ms")?),
    ];
    Ok(rows
        .into_iter()
        .map(|(key, title, unit, v)| {
            Measurement::new(COMPONENTS, &format!("components/{key}"), &title, unit, true)
                .with("frames", vec![v])
        })
        .collect())
}

/// The host's child processes (and theirs) that are alive.
fn children(host: u32) -> BTreeSet<u32> {
    procs::rss_by_pid(host)
        .into_keys()
        .filter(|p| *p != host)
        .collect()
}

/// Closes `view` and waits until the processes it started (those not in `before`) are
/// gone, so the next measurement's memory does not include a page being torn down.
fn close_view(view: View, host: u32, before: &BTreeSet<u32>) {
    let mine: Vec<u32> = children(host).difference(before).copied().collect();
    drop(view);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let alive = children(host);
        if !mine.iter().any(|p| alive.contains(p)) {
            return;
        }
        if Instant::now() >= deadline {
            eprintln!(
                "note: WebKit processes {:?} still alive 20 s after their page closed",
                mine.iter()
                    .filter(|p| alive.contains(p))
                    .collect::<Vec<_>>()
            );
            return;
        }
        view::pump_for(Duration::from_millis(100));
    }
}

/// A number the page reported, or an error naming it.
fn num(report: &Value, key: &str) -> Result<f64, String> {
    report[key]
        .as_f64()
        .ok_or_else(|| format!("the page's report has no number {key:?}: {report}"))
}

/// One round's value from the page's report, and a second series' value if any.
type ValueOf<'a> = &'a dyn Fn(&Value) -> Result<(f64, Option<f64>), String>;

/// One measurement over every round and path.
struct Spec<'a> {
    key: &'a str,
    title: &'a str,
    unit: &'a str,
    lower_is_better: bool,
    command: Value,
    timeout: Duration,
    /// The value of one round from the page's report; `Some(extra)` for a second series.
    value: ValueOf<'a>,
    /// The progress line's text for one round.
    show: &'a dyn Fn(&Value, f64, Option<f64>) -> String,
}

fn measure_all(
    plan: &Plan,
    view: &mut View,
    rig: &Rig,
    mut peer: Option<&mut Peer>,
    report: &mut Report,
    cpu: &mut BTreeMap<(String, WebPath), CpuAcc>,
) -> Result<(), String> {
    let seq_n = plan.seq_n as f64;
    let seq_value = move |r: &Value| -> Result<(f64, Option<f64>), String> {
        let batches = r["batches_ms"]
            .as_array()
            .ok_or_else(|| format!("no batches in {r}"))?;
        let total: f64 = batches.iter().filter_map(Value::as_f64).sum();
        Ok((total / seq_n, None))
    };
    let seq_show = |_: &Value, v: f64, _: Option<f64>| format!("{} ms per request", sig(v));
    let ms_value = |r: &Value| -> Result<(f64, Option<f64>), String> { Ok((num(r, "ms")?, None)) };
    let ms_show = |_: &Value, v: f64, _: Option<f64>| format!("{} ms", sig(v));
    let down_bytes = plan.down_bytes as f64;
    let down_value = move |r: &Value| -> Result<(f64, Option<f64>), String> {
        let ms = num(r, "ms")?.max(1.0);
        Ok((down_bytes / (ms / 1e3) / 1e6, None))
    };
    let down_show = |r: &Value, v: f64, _: Option<f64>| {
        format!(
            "{} MB/s ({} ms)",
            sig(v),
            sig(r["ms"].as_f64().unwrap_or(f64::NAN))
        )
    };
    let busy_value = |r: &Value| -> Result<(f64, Option<f64>), String> {
        let idle = num(r, "idle_ms")? / num(r, "idle_n")?.max(1.0);
        let n = num(r, "busy_n")?;
        if n < 1.0 {
            return Err(format!(
                "no small GET finished while the big download ran: {r}"
            ));
        }
        let busy = num(r, "busy_ms")? / n;
        Ok((busy, Some(busy / idle.max(1e-3))))
    };
    let busy_show = |r: &Value, v: f64, ratio: Option<f64>| {
        format!(
            "{} ms per request during the stream ({} requests, {} MiB of it read meanwhile{}), idle {} ms: {}x",
            sig(v),
            r["busy_n"],
            sig(r["big_read_during"].as_f64().unwrap_or(0.0) / MIB as f64),
            if r["big_done_early"] == true {
                "; the stream ended first"
            } else {
                ""
            },
            sig(r["idle_ms"].as_f64().unwrap_or(f64::NAN) / r["idle_n"].as_f64().unwrap_or(1.0)),
            sig(ratio.unwrap_or(f64::NAN))
        )
    };

    let specs = [
        Spec {
            key: "seq",
            title: "small GET, sequential, mean per request",
            unit: "ms",
            lower_is_better: true,
            command: json!({"kind": "seq", "n": plan.seq_n, "batch": plan.seq_batch}),
            timeout: Duration::from_secs(120),
            value: &seq_value,
            show: &seq_show,
        },
        Spec {
            key: "par",
            title: "100 small GETs in parallel, total",
            unit: "ms",
            lower_is_better: true,
            command: json!({"kind": "par", "n": plan.par_n, "batches": plan.par_batches}),
            timeout: Duration::from_secs(60),
            value: &ms_value,
            show: &ms_show,
        },
        Spec {
            key: "down",
            title: "64 MiB download",
            unit: "MB/s",
            lower_is_better: false,
            command: json!({"kind": "down", "bytes": plan.down_bytes}),
            timeout: Duration::from_secs(120),
            value: &down_value,
            show: &down_show,
        },
        Spec {
            key: "up",
            title: "16 MiB upload",
            unit: "ms",
            lower_is_better: true,
            command: json!({"kind": "up", "bytes": plan.up_bytes}),
            timeout: Duration::from_secs(120),
            value: &ms_value,
            show: &ms_show,
        },
        Spec {
            key: "busy",
            title: "small GET while 1 GiB is read, mean",
            unit: "ms",
            lower_is_better: true,
            command: json!({
                "kind": "busy",
                "big": plan.busy_big,
                "k": plan.busy_k,
                "settle_ms": plan.busy_settle_ms,
                "limit_ms": plan.busy_limit_ms,
            }),
            timeout: Duration::from_secs(120),
            value: &busy_value,
            show: &busy_show,
        },
    ];
    for spec in &specs {
        let mut values: BTreeMap<WebPath, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
        // One untimed round of this workload on every path first. The first run after
        // another workload pays for what that one left: after the 64 MiB downloads, the
        // first 16 MiB upload took 50-100 ms where the next took 22-27, with 18,500 minor
        // page faults in the WebProcess and 12,000 in the host's (WebKit's UI side) against
        // 4,400 and 250 (/proc/PID/stat, 2 ms samples). Round 1 starts with `frames` on
        // every workload, so it paid that every time. (The busy workload is a ratio to idle
        // within one run.)
        let warm = usize::from(spec.key != "busy");
        for pass in 0..warm + plan.rounds {
            let round = pass.saturating_sub(warm);
            for path in rotated(round, spec.key, peer.is_some()) {
                if spec.key == "busy" && path == WebPath::Native && !plan.native_busy {
                    continue;
                }
                let before = CpuSample::take(rig.host_pid);
                let r = run_on(
                    path,
                    &spec.command,
                    view,
                    rig,
                    peer.as_deref_mut(),
                    spec.timeout,
                )?;
                if pass < warm {
                    continue;
                }
                let after = CpuSample::take(rig.host_pid);
                let (value, extra) = (spec.value)(&r)
                    .map_err(|e| format!("{} on {}: {e}", spec.key, path.name()))?;
                eprintln!(
                    "{:<5} round {}/{} {:<15}: {}",
                    spec.key,
                    round + 1,
                    plan.rounds,
                    path.name(),
                    (spec.show)(&r, value, extra)
                );
                let entry = values.entry(path).or_default();
                entry.0.push(value);
                if let Some(extra) = extra {
                    entry.1.push(extra);
                }
                let acc = cpu.entry((spec.key.to_owned(), path)).or_default();
                acc.wall_ms += r["wall_ms"].as_f64().unwrap_or(0.0);
                for (group, ms) in before.until(&after) {
                    *acc.cpu.entry(group).or_insert(0.0) += ms;
                }
                for (i, k) in ["in", "inChars", "deliveries", "out", "outChars"]
                    .iter()
                    .enumerate()
                {
                    acc.frames[i] += r["frames"][k].as_u64().unwrap_or(0);
                }
            }
        }
        let mut main =
            Measurement::new(PAGE, spec.key, spec.title, spec.unit, spec.lower_is_better);
        let ratio_title = format!("{}, ratio to idle", spec.title.trim_end_matches(", mean"));
        let ratio_key = format!("{}_ratio", spec.key);
        let mut extra = Measurement::new(PAGE, &ratio_key, &ratio_title, "x", true);
        for (path, (v, e)) in values {
            main.push(path.name(), v);
            extra.push(path.name(), e);
        }
        report.measurements.push(main);
        if !extra.paths.is_empty() {
            report.measurements.push(extra);
        }
    }
    Ok(())
}

/// Host + WebKit memory while a fresh page holds a big download paused on `path`: growth
/// at the peak, the host's and WebKit's shares of it, the bytes produced meanwhile (MiB),
/// and how long it was held (s).
fn memory(plan: &Plan, rig: &Rig, path: WebPath) -> Result<[f64; 5], String> {
    let before = children(rig.host_pid);
    let mut view = View::open(&rig.bus.handle(), &rig.page)?;
    view.wait_report(
        &rig.reports,
        "ready",
        Duration::from_secs(60),
        "loading a fresh page",
    )?;
    // Let the new processes settle (first paint, JIT, caches).
    view::pump_for(Duration::from_millis(1500));
    let host = rig.host_pid;
    let base = procs::rss_by_pid(host);
    let produced_before = rig.counters.produced();
    let live_before = rig.counters.live();
    let started = Instant::now();
    let id = view.send(json!({"kind": "hold", "path": path.name(), "bytes": plan.hold_bytes}));
    let mut held = false;
    let mut peak = (i64::MIN, 0i64, 0i64);
    let mut history: Vec<(Instant, i64)> = Vec::new();
    let mut next_sample = Instant::now();
    loop {
        if !held {
            // The page answers once it has read the first chunk.
            while let Ok(r) = rig.reports.try_recv() {
                if r["id"] == id.as_str() {
                    if r["ok"] != true {
                        return Err(format!(
                            "holding a stream on {}: {}",
                            path.name(),
                            r["error"]
                        ));
                    }
                    held = true;
                }
            }
        }
        let now = Instant::now();
        if now >= next_sample {
            next_sample = now + Duration::from_millis(250);
            let rss = procs::rss_by_pid(host);
            let (h, k) = procs::growth(host, &base, &rss);
            if h + k > peak.0 {
                peak = (h + k, h, k);
            }
            history.push((now, h + k));
            let elapsed = now - started;
            if !held && elapsed > Duration::from_secs(60) {
                return Err(format!(
                    "holding a stream on {}: the page did not get its first chunk within 60 s",
                    path.name()
                ));
            }
            let window: Vec<i64> = history
                .iter()
                .filter(|(t, _)| now.duration_since(*t) <= plan.stable_for)
                .map(|(_, g)| *g)
                .collect();
            let stable = elapsed >= plan.hold_min
                && history
                    .first()
                    .is_some_and(|(t, _)| now.duration_since(*t) >= plan.stable_for)
                && window
                    .iter()
                    .max()
                    .zip(window.iter().min())
                    .is_some_and(|(hi, lo)| hi - lo < plan.stable_bytes);
            if held && (stable || elapsed >= plan.hold_max) {
                break;
            }
        }
        pump();
    }
    let held_seconds = started.elapsed().as_secs_f64();
    let produced = rig.counters.produced() - produced_before;
    eprintln!(
        "memory {:<9}: +{} MiB at peak (host {} MiB, WebKit {} MiB); the handler produced {} MiB in {} s",
        path.name(),
        sig(mib(peak.0 as f64)),
        sig(mib(peak.1 as f64)),
        sig(mib(peak.2 as f64)),
        sig(mib(produced as f64)),
        sig(held_seconds)
    );
    // Cancel the held stream; a page drowning in buffered bytes may not answer in time, and
    // closing the page cancels it too.
    if let Err(e) = view.command(
        &rig.reports,
        json!({"kind": "release"}),
        Duration::from_secs(10),
    ) {
        eprintln!("note: {e}; closing the page instead");
    }
    close_view(view, rig.host_pid, &before);
    // The cancel (or the page going away) must reach the handler: its producer is dropped.
    let deadline = Instant::now() + Duration::from_secs(20);
    while rig.counters.live() > live_before && Instant::now() < deadline {
        view::pump_for(Duration::from_millis(50));
    }
    if rig.counters.live() > live_before {
        eprintln!(
            "warning: the {} stream's producer was still alive 20 s after the page closed",
            path.name()
        );
    }
    Ok([
        mib(peak.0 as f64),
        mib(peak.1 as f64),
        mib(peak.2 as f64),
        mib(produced as f64),
        held_seconds,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_rotate_each_round() {
        assert_eq!(rotated(0, "seq", false), WebPath::ALL);
        assert_eq!(
            rotated(1, "seq", false),
            [WebPath::Native, WebPath::Localhost, WebPath::Frames]
        );
        assert_eq!(rotated(3, "busy", false), WebPath::ALL);
    }

    #[test]
    fn tauri_paths_interleave_with_the_bus_paths() {
        use WebPath::*;
        assert_eq!(
            rotated(0, "seq", true),
            [
                Frames,
                Native,
                Localhost,
                TauriInvoke,
                TauriScheme,
                TauriLocalhost
            ]
        );
        assert_eq!(
            rotated(2, "down", true),
            [
                Localhost,
                TauriInvoke,
                TauriChannel,
                TauriScheme,
                TauriLocalhost,
                Frames,
                Native
            ]
        );
        // Tauri runs no "busy" workload: the bus's paths only.
        assert_eq!(rotated(1, "busy", true), rotated(1, "busy", false));
    }

    #[test]
    fn quick_plans_are_shorter_and_keep_the_issue_sizes() {
        let full = Plan::new(&Options::default());
        let quick = Plan::new(&Options {
            quick: true,
            ..Options::default()
        });
        assert!(quick.rounds < full.rounds);
        assert!(quick.hold_max < full.hold_max);
        assert!(full.native_busy && !quick.native_busy);
        for p in [&full, &quick] {
            assert_eq!(p.seq_n, 1000);
            assert_eq!(p.par_n, 100);
            assert_eq!(p.par_batches, 10);
            assert_eq!(p.down_bytes, 64 << 20);
            assert_eq!(p.up_bytes, 16 << 20);
            assert_eq!(p.hold_bytes, 1 << 30);
            assert_eq!(p.busy_big, 1 << 30);
        }
        assert_eq!(
            Plan::new(&Options {
                rounds: Some(7),
                ..Options::default()
            })
            .rounds,
            7
        );
        assert!(full.describe("x").iter().any(|(k, _)| k == "memory"));
    }
}
