//! The results of a `webview` run, its goals and its table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::machine::Machine;
use crate::report::{Goal, Status, as_map, sig, write_goals};
use crate::stats::Spread;
use crate::webview::procs::Group;

/// The ways a request can travel: the bus's page's three, and the Tauri 2 peer's four
/// (`--tauri`), measured in the peer's own page in the same engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum WebPath {
    /// The page's `fetch` (the shim's default route): frames over the relay to a session.
    Frames,
    /// WebKit's own fetch to `app://`: the scheme handler, the response through a pipe.
    Native,
    /// WebKit's own fetch to the same router on `http://127.0.0.1:PORT`.
    Localhost,
    /// Tauri's `invoke` with a raw `ipc::Response` answer / a raw request body.
    TauriInvoke,
    /// A Tauri `Channel` of raw chunks (downloads only).
    TauriChannel,
    /// Tauri's URI-scheme protocol (`register_asynchronous_uri_scheme_protocol`), fetched.
    TauriScheme,
    /// The same localhost server fetched from the Tauri peer's page: its own baseline.
    TauriLocalhost,
}

impl WebPath {
    /// The bus page's paths.
    pub(crate) const ALL: [WebPath; 3] = [WebPath::Frames, WebPath::Native, WebPath::Localhost];
    /// The bus's paths, in the order goals list them.
    pub(crate) const BUS: [WebPath; 2] = [WebPath::Frames, WebPath::Native];
    /// The Tauri peer's paths.
    pub(crate) const TAURI: [WebPath; 4] = [
        WebPath::TauriInvoke,
        WebPath::TauriChannel,
        WebPath::TauriScheme,
        WebPath::TauriLocalhost,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            WebPath::Frames => "frames",
            WebPath::Native => "native",
            WebPath::Localhost => "localhost",
            WebPath::TauriInvoke => "tauri-invoke",
            WebPath::TauriChannel => "tauri-channel",
            WebPath::TauriScheme => "tauri-scheme",
            WebPath::TauriLocalhost => "tauri-localhost",
        }
    }

    /// Whether the Tauri peer's page measures this.
    pub(crate) fn is_tauri(self) -> bool {
        WebPath::TAURI.contains(&self)
    }

    /// The path's name in the peer's page (its localhost is just `localhost` there).
    pub(crate) fn peer_name(self) -> &'static str {
        match self {
            WebPath::TauriLocalhost => "localhost",
            other => other.name(),
        }
    }

    /// Whether the path runs the measurement `key` (the peer runs the four workloads the
    /// issue names; its Channel only downloads).
    pub(crate) fn runs(self, key: &str) -> bool {
        match self {
            // WebKitGTK's scheme handler reads no fetch bodies: a Blob-backed one crashes
            // the host and no header page script could set proves a body is not one.
            WebPath::Native => key != "up",
            WebPath::Frames | WebPath::Localhost => true,
            WebPath::TauriChannel => key == "down",
            _ => matches!(key, "seq" | "par" | "down" | "up"),
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            WebPath::Frames => {
                "bus, frames: the page's fetch (bridge-js shim, its default route) -> base64 frames as DOM events -> isolated-world relay -> script message handler on the host's main thread -> port::Session -> bus; answers batched per main-loop turn into the reply to one of two postMessages the relay keeps outstanding (a handler registered with reply)"
            }
            WebPath::Native => {
                "bus, native scheme: WebKit's own fetch (InprocBusBridge.installation().originals.fetch) -> app:// scheme handler -> bus; the response streams through a 1 MiB pipe that WebKit reads on the host's main thread; no uploads: the host reads a scheme request body only for a native form submission (a Blob-backed body crashes WebKitGTK and no header proves a body is not one)"
            }
            WebPath::Localhost => {
                "localhost: WebKit's own fetch -> http://127.0.0.1:PORT, the same axum Router served by hyper in this process (testkit::serve_localhost, 2 workers), CORS permissive, HTTP/1.1 keep-alive"
            }
            WebPath::TauriInvoke => {
                "Tauri 2, invoke: window.__TAURI__.core.invoke -> Tauri's IPC custom protocol (a fetch POST to ipc://localhost/<command>, WebKit's scheme handler on the peer's main thread) -> a synchronous #[tauri::command] on the main thread; small and download answers are raw tauri::ipc::Response bytes (an ArrayBuffer, no JSON; the download one Response of the whole body), the upload a raw request body (a Uint8Array argument, InvokeBody::Raw)"
            }
            WebPath::TauriChannel => {
                "Tauri 2, Channel: an async command sends the download on a tauri::ipc::Channel as raw 64 KiB chunks; each chunk of 1 KiB or more is queued and announced by an eval, and the page fetches it with its own invoke (plugin:__TAURI_CHANNEL__|fetch); downloads only"
            }
            WebPath::TauriScheme => {
                "Tauri 2, URI-scheme protocol: fetch bench://localhost/... -> register_asynchronous_uri_scheme_protocol handler, answered at once on the main thread; a whole response body in memory (wry copies it into a GBytes; no streaming), request bodies read by wry in 1 KiB reads"
            }
            WebPath::TauriLocalhost => {
                "localhost, from the Tauri peer's page: the same server and router as localhost, so the peer's numbers carry their own baseline, measured in the same rounds"
            }
        }
    }
}

/// The Tauri 2 peer as it ran.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub(crate) struct TauriPeer {
    /// `tauri::VERSION` as the peer reports it.
    pub(crate) version: String,
    /// How the peer's `invoke` calls travelled (custom protocol or postMessage).
    pub(crate) transport: String,
    pub(crate) user_agent: String,
    pub(crate) binary: String,
}

/// One measurement's per-round values on one path.
#[derive(Debug, serde::Serialize)]
pub(crate) struct PathValues {
    pub(crate) path: WebPath,
    pub(crate) value: Spread,
}

/// A measurement: what, its unit, whether lower is better, and each path's rounds.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Measurement {
    /// A key for code (`seq`, `par`, `down`, `up`, `busy`, `busy_ratio`).
    pub(crate) key: String,
    pub(crate) title: String,
    pub(crate) unit: String,
    pub(crate) lower_is_better: bool,
    pub(crate) paths: Vec<PathValues>,
}

impl Measurement {
    pub(crate) fn of(&self, path: WebPath) -> Option<f64> {
        self.paths
            .iter()
            .find(|p| p.path == path)
            .map(|p| p.value.median)
    }

    /// The best of the bus's paths: (path, value).
    pub(crate) fn best_bus(&self) -> Option<(WebPath, f64)> {
        self.best_of(&WebPath::BUS)
    }

    /// The best of Tauri's own paths (not its localhost baseline): (path, value).
    pub(crate) fn best_tauri(&self) -> Option<(WebPath, f64)> {
        self.best_of(&[
            WebPath::TauriInvoke,
            WebPath::TauriChannel,
            WebPath::TauriScheme,
        ])
    }

    fn best_of(&self, paths: &[WebPath]) -> Option<(WebPath, f64)> {
        paths
            .iter()
            .filter_map(|p| Some((*p, self.of(*p)?)))
            .filter(|(_, v)| v.is_finite())
            .reduce(|a, b| {
                let better = if self.lower_is_better {
                    b.1 < a.1
                } else {
                    b.1 > a.1
                };
                if better { b } else { a }
            })
    }
}

/// Host + WebKit memory while the page holds a big download open, reading nothing.
#[derive(Debug, serde::Serialize)]
pub(crate) struct MemoryRow {
    pub(crate) path: WebPath,
    pub(crate) stream_bytes: u64,
    /// Peak of (host growth + WebKit processes' growth) while held.
    pub(crate) peak_growth_bytes: i64,
    /// The host's and WebKit's shares at that peak.
    pub(crate) host_growth_bytes: i64,
    pub(crate) webkit_growth_bytes: i64,
    /// Bytes the handler produced meanwhile (what left the bus or the server).
    pub(crate) produced_bytes: u64,
    /// How long the stream was held and sampled.
    pub(crate) held_seconds: f64,
    /// Processes summed (host + WebKit's).
    pub(crate) processes: usize,
}

/// CPU time per thread group over all rounds of one measurement on one path, and the
/// frames the page saw.
#[derive(Debug, serde::Serialize)]
pub(crate) struct CpuRow {
    pub(crate) key: String,
    pub(crate) path: WebPath,
    /// The page's wall time for the commands, summed.
    pub(crate) wall_ms: f64,
    pub(crate) cpu_ms: BTreeMap<Group, f64>,
    pub(crate) frames_in: u64,
    pub(crate) frames_out: u64,
    pub(crate) deliveries: u64,
    pub(crate) base64_chars_in: u64,
    pub(crate) base64_chars_out: u64,
}

/// What the frames path's steps cost on their own, measured in this run.
#[derive(Debug, Default, serde::Serialize)]
pub(crate) struct Components {
    /// Host → page → host: a no-op `evaluate_javascript`, waited for (µs).
    pub(crate) eval_round_trip_us: f64,
    /// The same with a new script each time holding a 64 KiB frame's base64 as a string
    /// literal, as a delivery does (µs).
    pub(crate) eval_frame_us: f64,
    /// The host's base64 encoder on 1 MiB frames (MB/s).
    pub(crate) host_base64_mb_s: f64,
    /// The page's `toBase64` / `fromBase64` (bridge-js: the engine's own when present).
    pub(crate) page_to_base64_mb_s: f64,
    pub(crate) page_from_base64_mb_s: f64,
    pub(crate) page_native_base64: bool,
    /// One `CustomEvent` with a short string detail, dispatched to one listener (µs).
    pub(crate) page_dispatch_us: f64,
    /// A frames small GET split in three, seen from the page (µs, means over many
    /// requests): fetch() to its frame leaving, to the first answer frame arriving, to the
    /// body read.
    pub(crate) frames_send_us: f64,
    pub(crate) frames_round_trip_us: f64,
    pub(crate) frames_receive_us: f64,
    /// Requests the split was averaged over, and their mean total.
    pub(crate) frames_split_requests: u64,
    pub(crate) frames_total_us: f64,
}

/// Something the issue compares against that this run did not measure.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Unmeasured {
    pub(crate) name: String,
    pub(crate) note: String,
}

/// Everything a `webview` run measured. Serialised as the `--json` output.
#[derive(Debug, Default, serde::Serialize)]
pub(crate) struct WebviewReport {
    pub(crate) machine: Machine,
    pub(crate) mode: String,
    pub(crate) quick: bool,
    pub(crate) webkit: String,
    pub(crate) user_agent: String,
    #[serde(serialize_with = "as_map")]
    pub(crate) settings: Vec<(String, String)>,
    pub(crate) measurements: Vec<Measurement>,
    pub(crate) memory: Vec<MemoryRow>,
    pub(crate) cpu: Vec<CpuRow>,
    pub(crate) components: Option<Components>,
    pub(crate) not_measured: Vec<Unmeasured>,
    /// The Tauri 2 peer, when `--tauri` ran it.
    pub(crate) tauri: Option<TauriPeer>,
    pub(crate) goals: Vec<Goal>,
}

/// The memory budget of the paused-stream goal.
pub(crate) const MEMORY_BUDGET: i64 = 64 << 20;

pub(crate) fn mib(bytes: i64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// What of the peers this run did not measure: Tauri 2 entirely without `--tauri`,
/// and with it what its peer app does not run.
pub(crate) fn peers(tauri: bool) -> Vec<Unmeasured> {
    let native_upload = Unmeasured {
        name: "bus, native scheme, uploads".into(),
        note: "not measured: the host reads a scheme request body only for a native form submission (WebKitGTK 2.50 crashes on a Blob-backed body, and no header page script could set proves a body is not one); fetch/XHR bodies go as frames".into(),
    };
    if !tauri {
        return vec![
            native_upload,
            Unmeasured {
                name: "Tauri 2".into(),
                note: "not measured in this run (run with --tauri to build and measure the Tauri 2 peer; no numbers are given for it)"
                    .into(),
            },
        ];
    }
    vec![
        native_upload,
        Unmeasured {
            name: "Tauri 2, small GETs while 1 GiB is read".into(),
            note: "not measured (the peer runs the four workloads the issue names for Tauri: sequential and parallel small requests, download, upload)".into(),
        },
        Unmeasured {
            name: "Tauri 2, paused 1 GiB stream".into(),
            note: "not measured: Tauri's invoke and URI-scheme answers are whole bodies in memory (a 1 GiB answer is 1 GiB held before the first byte), and a Channel has no backpressure".into(),
        },
        Unmeasured {
            name: "Tauri 2 Channel, small requests and uploads".into(),
            note: "not measured: a Channel carries Rust -> page messages only; small requests go through invoke".into(),
        },
    ]
}

impl WebviewReport {
    pub(crate) fn measurement(&self, key: &str) -> Option<&Measurement> {
        self.measurements.iter().find(|m| m.key == key)
    }

    fn memory_of(&self, path: WebPath) -> Option<&MemoryRow> {
        self.memory.iter().find(|m| m.path == path)
    }

    /// Every path's value of `m`, for a goal's detail: `frames 0.61 ms, native ...`.
    fn all_paths(m: &Measurement, unit: &str) -> String {
        WebPath::ALL
            .iter()
            .map(|p| match m.of(*p) {
                Some(v) => format!("{} {}{unit}", p.name(), sig(v)),
                None => format!("{} not measured", p.name()),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Checks the four goals against what this report holds.
    pub(crate) fn check_goals(&mut self) {
        let mut goals = Vec::new();
        // (key, goal, unit, threshold, ratio must be at most the threshold)
        let ratio_goals = [
            (
                "seq",
                "small-request latency via the bus: at most 0.5x localhost (sequential small GETs, mean per request)",
                " ms",
                0.5,
                true,
            ),
            (
                "down",
                "64 MiB download via the bus: at least 1.2x localhost throughput",
                " MB/s",
                1.2,
                false,
            ),
            (
                "up",
                "16 MiB upload via the bus: at most 0.8x localhost time",
                " ms",
                0.8,
                true,
            ),
        ];
        for (key, goal, unit, threshold, at_most) in ratio_goals {
            let goal = goal.to_owned();
            let found = self.measurement(key).and_then(|m| {
                let (best, value) = m.best_bus()?;
                let local = m.of(WebPath::Localhost).filter(|v| *v > 0.0)?;
                Some((m, best, value, local))
            });
            goals.push(match found {
                Some((m, best, value, local)) => {
                    let ratio = value / local;
                    let pass = if at_most {
                        ratio <= threshold
                    } else {
                        ratio >= threshold
                    };
                    Goal {
                        goal,
                        status: if pass { Status::Pass } else { Status::Miss },
                        measured: Some(ratio),
                        detail: format!(
                            "{}x: best bus path {} {}{unit} / localhost {}{unit}; every path: {}",
                            sig(ratio),
                            best.name(),
                            sig(value),
                            sig(local),
                            Self::all_paths(m, unit)
                        ),
                    }
                }
                None => Goal {
                    goal,
                    status: Status::NotMeasured,
                    measured: None,
                    detail: "not measured".into(),
                },
            });
        }

        let goal =
            "paused 1 GiB stream: host + WebKit memory growth at most 64 MiB (best bus path)"
                .to_owned();
        let best = WebPath::BUS
            .iter()
            .filter_map(|p| self.memory_of(*p))
            .min_by_key(|m| m.peak_growth_bytes);
        goals.push(match best {
            Some(best) => {
                let every = WebPath::ALL
                    .iter()
                    .map(|p| match self.memory_of(*p) {
                        Some(m) => format!(
                            "{} {} MiB ({} MiB produced)",
                            p.name(),
                            sig(mib(m.peak_growth_bytes)),
                            sig(mib(m.produced_bytes as i64))
                        ),
                        None => format!("{} not measured", p.name()),
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                Goal {
                    goal,
                    status: if best.peak_growth_bytes <= MEMORY_BUDGET {
                        Status::Pass
                    } else {
                        Status::Miss
                    },
                    measured: Some(mib(best.peak_growth_bytes)),
                    detail: format!(
                        "{} MiB: best bus path {}; every path: {every}",
                        sig(mib(best.peak_growth_bytes)),
                        best.path.name()
                    ),
                }
            }
            None => Goal {
                goal,
                status: Status::NotMeasured,
                measured: None,
                detail: "not measured".into(),
            },
        });
        goals.push(self.tauri_goal());
        self.goals = goals;
    }

    /// Issue 7: "small-request latency <= 0.8x Tauri's invoke", the best bus path against
    /// the peer's invoke, both measured in the same rounds.
    fn tauri_goal(&self) -> Goal {
        let goal = "small-request latency via the bus: at most 0.8x Tauri 2's invoke (sequential small requests, mean per request)".to_owned();
        let found = self.measurement("seq").and_then(|m| {
            let (best, value) = m.best_bus()?;
            let invoke = m.of(WebPath::TauriInvoke).filter(|v| *v > 0.0)?;
            Some((m, best, value, invoke))
        });
        let Some((m, best, value, invoke)) = found else {
            return Goal {
                goal,
                status: Status::NotMeasured,
                measured: None,
                detail: if self.tauri.is_some() {
                    "not measured: the Tauri peer gave no invoke latency".into()
                } else {
                    "not measured: Tauri 2 was not run (pass --tauri)".into()
                },
            };
        };
        let ratio = value / invoke;
        let value_of = |p: WebPath| match m.of(p) {
            Some(v) => format!("{} {} ms", p.name(), sig(v)),
            None => format!("{} not measured", p.name()),
        };
        Goal {
            goal,
            status: if ratio <= 0.8 {
                Status::Pass
            } else {
                Status::Miss
            },
            measured: Some(ratio),
            detail: format!(
                "{}x: best bus path {} {} ms / tauri-invoke {} ms; {}; baselines: {} (bus page), {} (Tauri page)",
                sig(ratio),
                best.name(),
                sig(value),
                sig(invoke),
                value_of(WebPath::TauriScheme),
                value_of(WebPath::Localhost),
                value_of(WebPath::TauriLocalhost),
            ),
        }
    }

    /// What was compared: the title of the table and the chart.
    pub(crate) fn title(&self) -> &'static str {
        if self.tauri.is_some() {
            "WebView: the bus by frames and by its scheme vs localhost and Tauri 2"
        } else {
            "WebView: the bus by frames and by its scheme vs localhost"
        }
    }

    /// The final table, as printed.
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(w, "\n=== {}, one run ===", self.title());
        let _ = writeln!(w, "machine: {}", self.machine.summary());
        let _ = writeln!(w, "engine: {}", self.webkit);
        let _ = writeln!(w, "user agent: {}", self.user_agent);
        let _ = writeln!(w, "started: {}", self.machine.started_utc);
        for (k, v) in &self.settings {
            let _ = writeln!(w, "  {k}: {v}");
        }
        let _ = writeln!(w, "\nPaths");
        for p in WebPath::ALL {
            let _ = writeln!(w, "  {:<10} {}", p.name(), p.describe());
        }
        if let Some(t) = &self.tauri {
            let _ = writeln!(
                w,
                "\nTauri {} peer ({}): its own page in the same engine, driven over stdin, its paths interleaved round by round with the bus's; invoke travelled by {}",
                t.version, t.binary, t.transport
            );
            for p in WebPath::TAURI {
                let _ = writeln!(w, "  {:<16} {}", p.name(), p.describe());
            }
        }

        if !self.measurements.is_empty() {
            let _ = writeln!(
                w,
                "\nMeasured in the page (median over rounds, min-max in brackets)"
            );
            let _ = writeln!(
                w,
                "  {:<50} {:>20} {:>20} {:>20}   best bus / localhost",
                "measurement", "frames", "native", "localhost"
            );
            for m in &self.measurements {
                let cell = |p: WebPath| {
                    m.paths.iter().find(|v| v.path == p).map_or_else(
                        || "-".to_owned(),
                        |v| {
                            format!(
                                "{} ({}-{})",
                                sig(v.value.median),
                                sig(v.value.min),
                                sig(v.value.max)
                            )
                        },
                    )
                };
                let ratio = match (m.best_bus(), m.of(WebPath::Localhost)) {
                    (Some((best, v)), Some(local)) if local > 0.0 && m.key != "busy_ratio" => {
                        format!("{}x ({})", sig(v / local), best.name())
                    }
                    _ => String::new(),
                };
                let _ = writeln!(
                    w,
                    "  {:<50} {:>20} {:>20} {:>20}   {ratio}",
                    format!("{} ({})", m.title, m.unit),
                    cell(WebPath::Frames),
                    cell(WebPath::Native),
                    cell(WebPath::Localhost),
                );
            }
        }

        if self
            .measurements
            .iter()
            .any(|m| m.paths.iter().any(|v| v.path.is_tauri()))
        {
            let _ = writeln!(
                w,
                "\nTauri 2 peer, measured in its page in the same rounds (median over rounds, min-max in brackets)"
            );
            let _ = writeln!(
                w,
                "  {:<50} {:>20} {:>20} {:>20} {:>20}   best bus / best Tauri   best Tauri / its localhost",
                "measurement", "tauri-invoke", "tauri-channel", "tauri-scheme", "tauri-localhost"
            );
            for m in self
                .measurements
                .iter()
                .filter(|m| m.paths.iter().any(|v| v.path.is_tauri()))
            {
                let cell = |p: WebPath| {
                    m.paths.iter().find(|v| v.path == p).map_or_else(
                        || "-".to_owned(),
                        |v| {
                            format!(
                                "{} ({}-{})",
                                sig(v.value.median),
                                sig(v.value.min),
                                sig(v.value.max)
                            )
                        },
                    )
                };
                let (vs_bus, vs_local) = match m.best_tauri() {
                    Some((tauri, t)) if t > 0.0 => (
                        m.best_bus().map_or_else(String::new, |(bus, b)| {
                            format!("{}x ({} / {})", sig(b / t), bus.name(), tauri.name())
                        }),
                        m.of(WebPath::TauriLocalhost)
                            .filter(|l| *l > 0.0)
                            .map_or_else(String::new, |l| {
                                format!("{}x ({})", sig(t / l), tauri.name())
                            }),
                    ),
                    _ => (String::new(), String::new()),
                };
                let _ = writeln!(
                    w,
                    "  {:<50} {:>20} {:>20} {:>20} {:>20}   {:<23} {vs_local}",
                    format!("{} ({})", m.title, m.unit),
                    cell(WebPath::TauriInvoke),
                    cell(WebPath::TauriChannel),
                    cell(WebPath::TauriScheme),
                    cell(WebPath::TauriLocalhost),
                    vs_bus,
                );
            }
        }

        if !self.memory.is_empty() {
            let _ = writeln!(
                w,
                "\nPaused stream: the page reads the first chunk of a 1 GiB download, then nothing (RSS growth, host + WebKit processes)"
            );
            let _ = writeln!(
                w,
                "  {:<10} {:>12} {:>12} {:>12} {:>14} {:>8} {:>10}",
                "path", "peak growth", "host", "WebKit", "produced", "held s", "processes"
            );
            for m in &self.memory {
                let _ = writeln!(
                    w,
                    "  {:<10} {:>12} {:>12} {:>12} {:>14} {:>8} {:>10}",
                    m.path.name(),
                    format!("{} MiB", sig(mib(m.peak_growth_bytes))),
                    format!("{} MiB", sig(mib(m.host_growth_bytes))),
                    format!("{} MiB", sig(mib(m.webkit_growth_bytes))),
                    format!("{} MiB", sig(mib(m.produced_bytes as i64))),
                    sig(m.held_seconds),
                    m.processes
                );
            }
        }

        if !self.cpu.is_empty() {
            let _ = writeln!(
                w,
                "\nCPU time by thread (ms, all rounds summed; /proc, 10 ms ticks) and frames the page saw"
            );
            let _ = write!(w, "  {:<6} {:<15} {:>9}", "meas.", "path", "wall");
            for g in Group::ALL {
                let _ = write!(w, " {:>13}", g.label());
            }
            let _ = writeln!(w, " {:>9} {:>9} {:>10}", "frames in", "out", "deliveries");
            for row in &self.cpu {
                let _ = write!(
                    w,
                    "  {:<6} {:<15} {:>9.0}",
                    row.key,
                    row.path.name(),
                    row.wall_ms
                );
                for g in Group::ALL {
                    let _ = write!(w, " {:>13.0}", row.cpu_ms.get(&g).copied().unwrap_or(0.0));
                }
                let _ = writeln!(
                    w,
                    " {:>9} {:>9} {:>10}",
                    row.frames_in, row.frames_out, row.deliveries
                );
            }
        }

        if let Some(c) = &self.components {
            let _ = writeln!(w, "\nComponents of the frames path, measured alone");
            let _ = writeln!(
                w,
                "  evaluate_javascript no-op, host -> page -> host: {} us (how frames reached the page before replies)",
                sig(c.eval_round_trip_us)
            );
            let _ = writeln!(
                w,
                "  evaluate_javascript of a new script holding one 64 KiB frame as base64: {} us ({} MB/s of frame bytes)",
                sig(c.eval_frame_us),
                sig(65536.0 / c.eval_frame_us)
            );
            let _ = writeln!(
                w,
                "  host base64 encode (1 MiB frames): {} MB/s",
                sig(c.host_base64_mb_s)
            );
            let _ = writeln!(
                w,
                "  page toBase64: {} MB/s, fromBase64: {} MB/s ({})",
                sig(c.page_to_base64_mb_s),
                sig(c.page_from_base64_mb_s),
                if c.page_native_base64 {
                    "the engine's Uint8Array.toBase64/fromBase64"
                } else {
                    "bridge-js's JS fallback: the engine has no Uint8Array.toBase64/fromBase64"
                }
            );
            let _ = writeln!(
                w,
                "  page CustomEvent dispatch (short string detail, one listener): {} us",
                sig(c.page_dispatch_us)
            );
            let _ = writeln!(
                w,
                "  a frames small GET from the page (mean of {}, {} us in all): fetch() -> request frame out {} us; -> first answer frame in {} us (relay post, host main thread, bus, reply back); -> body read {} us",
                c.frames_split_requests,
                sig(c.frames_total_us),
                sig(c.frames_send_us),
                sig(c.frames_round_trip_us),
                sig(c.frames_receive_us)
            );
        }

        let _ = writeln!(w, "\nNot measured");
        for u in &self.not_measured {
            let _ = writeln!(w, "  {}: {}", u.name, u.note);
        }

        write_goals(w, &self.goals);
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn m(key: &str, lower: bool, values: [f64; 3]) -> Measurement {
        Measurement {
            key: key.into(),
            title: key.into(),
            unit: "u".into(),
            lower_is_better: lower,
            paths: WebPath::ALL
                .iter()
                .zip(values)
                .map(|(p, v)| PathValues {
                    path: *p,
                    value: Spread::of(vec![v * 0.9, v, v * 1.1]).unwrap(),
                })
                .collect(),
        }
    }

    /// A report with every section filled.
    pub(crate) fn sample() -> WebviewReport {
        let mut r = WebviewReport {
            mode: "webview".into(),
            webkit: "WebKitGTK 2.50.6".into(),
            settings: vec![("rounds".into(), "3".into())],
            measurements: vec![
                // frames, native, localhost
                m("seq", true, [0.6, 0.4, 1.0]), // best native 0.4x: PASS
                m("par", true, [30.0, 20.0, 25.0]),
                m("down", false, [80.0, 110.0, 100.0]), // best 1.1x: MISS
                m("up", true, [300.0, 150.0, 200.0]),   // best 0.75x: PASS
                m("busy_ratio", true, [1.5, 40.0, 1.2]),
            ],
            not_measured: peers(false),
            components: Some(Components {
                eval_round_trip_us: 250.0,
                eval_frame_us: 400.0,
                host_base64_mb_s: 1500.0,
                page_to_base64_mb_s: 900.0,
                page_from_base64_mb_s: 700.0,
                page_native_base64: true,
                page_dispatch_us: 2.0,
                frames_send_us: 90.0,
                frames_round_trip_us: 300.0,
                frames_receive_us: 150.0,
                frames_split_requests: 1000,
                frames_total_us: 540.0,
            }),
            ..WebviewReport::default()
        };
        for (path, growth) in [
            (WebPath::Frames, 3i64 << 20),
            (WebPath::Native, 1000 << 20),
            (WebPath::Localhost, 1010 << 20),
        ] {
            r.memory.push(MemoryRow {
                path,
                stream_bytes: 1 << 30,
                peak_growth_bytes: growth,
                host_growth_bytes: 1 << 20,
                webkit_growth_bytes: growth - (1 << 20),
                produced_bytes: 1 << 30,
                held_seconds: 8.0,
                processes: 3,
            });
        }
        r.cpu.push(CpuRow {
            key: "seq".into(),
            path: WebPath::Frames,
            wall_ms: 1000.0,
            cpu_ms: BTreeMap::from([(Group::HostMain, 300.0), (Group::WebMain, 450.0)]),
            frames_in: 2000,
            frames_out: 1000,
            deliveries: 1000,
            base64_chars_in: 1,
            base64_chars_out: 1,
        });
        r
    }

    #[test]
    fn goals_take_the_best_bus_path_and_name_every_path() {
        let mut r = sample();
        r.check_goals();
        let status: Vec<Status> = r.goals.iter().map(|g| g.status).collect();
        assert_eq!(
            status,
            [
                Status::Pass,
                Status::Miss,
                Status::Pass,
                Status::Pass,
                Status::NotMeasured
            ]
        );
        assert_eq!(
            r.goals[4].detail,
            "not measured: Tauri 2 was not run (pass --tauri)"
        );
        assert!(
            r.goals[0]
                .detail
                .starts_with("0.400x: best bus path native")
        );
        assert!(r.goals[0].detail.contains("frames 0.600 ms"));
        assert!(r.goals[0].detail.contains("localhost 1.00 ms"));
        assert!(r.goals[1].detail.contains("best bus path native 110 MB/s"));
        assert!(r.goals[3].detail.contains("best bus path frames"));
        assert!(r.goals[3].detail.contains("native 1000 MiB"));
        let table = r.table();
        assert!(table.contains("MISSED 1 of 4 measured goals"));
        assert!(table.contains("Tauri 2: not measured in this run"));
        assert!(table.contains("MISS  64 MiB download via the bus"));
        assert!(table.contains("the engine's Uint8Array.toBase64/fromBase64"));
    }

    #[test]
    fn an_empty_report_measures_nothing_and_says_so() {
        let mut r = WebviewReport {
            not_measured: peers(false),
            ..WebviewReport::default()
        };
        r.check_goals();
        assert_eq!(r.goals.len(), 5);
        assert!(r.goals.iter().all(|g| g.status == Status::NotMeasured));
        assert!(r.table().contains("No goal was measured."));
    }

    /// The sample with the Tauri peer's rows added to `seq` and `down`.
    pub(crate) fn sample_with_tauri(invoke_ms: f64) -> WebviewReport {
        let mut r = sample();
        r.not_measured = peers(true);
        r.tauri = Some(TauriPeer {
            version: "2.12.5".into(),
            transport: "custom protocol (ipc://localhost, fetch)".into(),
            user_agent: "UA".into(),
            binary: "target/tauri-peer/release/tauri-peer".into(),
        });
        let add = |m: &mut Measurement, path: WebPath, v: f64| {
            m.paths.push(PathValues {
                path,
                value: Spread::of(vec![v, v]).unwrap(),
            });
        };
        let seq = &mut r.measurements[0];
        add(seq, WebPath::TauriInvoke, invoke_ms);
        add(seq, WebPath::TauriScheme, 0.7);
        add(seq, WebPath::TauriLocalhost, 1.1);
        let down = &mut r.measurements[2];
        add(down, WebPath::TauriInvoke, 90.0);
        add(down, WebPath::TauriChannel, 40.0);
        add(down, WebPath::TauriScheme, 120.0);
        add(down, WebPath::TauriLocalhost, 95.0);
        r
    }

    #[test]
    fn the_tauri_goal_compares_the_best_bus_path_with_invoke() {
        // bus native 0.4 ms against invoke 0.6 ms: 0.667x, a PASS at <= 0.8x
        let mut r = sample_with_tauri(0.6);
        r.check_goals();
        let g = &r.goals[4];
        assert_eq!(g.status, Status::Pass);
        assert!(g.goal.contains("at most 0.8x Tauri 2's invoke"));
        assert_eq!(
            g.detail,
            "0.667x: best bus path native 0.400 ms / tauri-invoke 0.600 ms; tauri-scheme 0.700 ms; baselines: localhost 1.00 ms (bus page), tauri-localhost 1.10 ms (Tauri page)"
        );
        // invoke 0.45 ms: 0.889x, a MISS
        let mut r = sample_with_tauri(0.45);
        r.check_goals();
        assert_eq!(r.goals[4].status, Status::Miss);
        let table = r.table();
        assert!(table.contains("MISS  small-request latency via the bus: at most 0.8x Tauri"));
        assert!(table.contains("Tauri 2.12.5 peer"));
        assert!(table.contains("tauri-channel"));
        // the download row: best bus native 110 / best Tauri scheme 120; scheme / its localhost 95
        assert!(table.contains("0.917x (native / tauri-scheme)"), "{table}");
        assert!(table.contains("1.26x (tauri-scheme)"), "{table}");
        assert!(table.contains("Tauri 2, paused 1 GiB stream: not measured"));
        assert!(!table.contains("run with --tauri"));
        // the peer ran but gave no invoke number
        let mut r = sample_with_tauri(0.5);
        r.measurements[0]
            .paths
            .retain(|v| v.path != WebPath::TauriInvoke);
        r.check_goals();
        assert_eq!(r.goals[4].status, Status::NotMeasured);
        assert!(
            r.goals[4]
                .detail
                .contains("the Tauri peer gave no invoke latency")
        );
    }

    #[test]
    fn tauri_paths_are_named_and_run_what_the_peer_runs() {
        assert_eq!(WebPath::TauriLocalhost.peer_name(), "localhost");
        assert_eq!(WebPath::TauriInvoke.peer_name(), "tauri-invoke");
        assert!(WebPath::TauriChannel.runs("down"));
        assert!(!WebPath::TauriChannel.runs("seq"));
        assert!(WebPath::TauriScheme.runs("up"));
        assert!(!WebPath::TauriInvoke.runs("busy"));
        assert!(WebPath::Frames.runs("busy"));
        assert_eq!(
            serde_json::to_string(&WebPath::TauriLocalhost).unwrap(),
            "\"tauri-localhost\""
        );
        assert_eq!(
            serde_json::to_string(&WebPath::Native).unwrap(),
            "\"native\""
        );
        assert!(WebPath::TAURI.iter().all(|p| p.is_tauri()));
        assert!(!WebPath::ALL.iter().any(|p| p.is_tauri()));
    }

    #[test]
    fn a_worse_native_path_does_not_hide_a_better_frames_one() {
        let x = m("down", false, [150.0, 90.0, 100.0]);
        assert_eq!(x.best_bus(), Some((WebPath::Frames, 150.0)));
        let y = m("up", true, [150.0, 90.0, 100.0]);
        assert_eq!(y.best_bus(), Some((WebPath::Native, 90.0)));
    }
}
