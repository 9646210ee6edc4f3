//! The results of a `webview` run, its goals and its table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::machine::Machine;
use crate::report::{Goal, Status, as_map, sig, write_goals};
use crate::stats::Spread;
use crate::webview::procs::Group;

/// The three ways the page's request can travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum WebPath {
    /// The page's `fetch` (the shim's default route): frames over the relay to a session.
    Frames,
    /// WebKit's own fetch to `app://`: the scheme handler, the response through a pipe.
    Native,
    /// WebKit's own fetch to the same router on `http://127.0.0.1:PORT`.
    Localhost,
}

impl WebPath {
    pub(crate) const ALL: [WebPath; 3] = [WebPath::Frames, WebPath::Native, WebPath::Localhost];
    /// The bus's paths, in the order goals list them.
    pub(crate) const BUS: [WebPath; 2] = [WebPath::Frames, WebPath::Native];

    pub(crate) fn name(self) -> &'static str {
        match self {
            WebPath::Frames => "frames",
            WebPath::Native => "native",
            WebPath::Localhost => "localhost",
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            WebPath::Frames => {
                "bus, frames: the page's fetch (bridge-js shim, its default route) -> base64 frames as DOM events -> isolated-world relay -> script message handler on the host's main thread -> port::Session -> bus; answers batched into one evaluate_javascript per main-loop turn"
            }
            WebPath::Native => {
                "bus, native scheme: WebKit's own fetch (InprocBusBridge.installation().originals.fetch) -> app:// scheme handler -> bus; the response streams through a 1 MiB pipe that WebKit reads on the host's main thread; bodies as Uint8Array with x-inproc-bus-body: 1"
            }
            WebPath::Localhost => {
                "localhost: WebKit's own fetch -> http://127.0.0.1:PORT, the same axum Router served by hyper in this process (testkit::serve_localhost, 2 workers), CORS permissive, HTTP/1.1 keep-alive"
            }
        }
    }
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
        WebPath::BUS
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
    pub(crate) goals: Vec<Goal>,
}

/// The memory budget of the paused-stream goal.
pub(crate) const MEMORY_BUDGET: i64 = 64 << 20;

pub(crate) fn mib(bytes: i64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// The peers the issue names that this mode does not run.
pub(crate) fn peers() -> Vec<Unmeasured> {
    vec![Unmeasured {
        name: "Tauri 2".into(),
        note: "not measured in this run (out of scope for this mode; no numbers are given for it)"
            .into(),
    }]
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
        self.goals = goals;
    }

    /// The final table, as printed.
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(
            w,
            "\n=== WebView: the bus by frames and by its scheme vs localhost, one run ==="
        );
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
            let _ = write!(w, "  {:<6} {:<10} {:>9}", "meas.", "path", "wall");
            for g in Group::ALL {
                let _ = write!(w, " {:>13}", g.label());
            }
            let _ = writeln!(w, " {:>9} {:>9} {:>10}", "frames in", "out", "deliveries");
            for row in &self.cpu {
                let _ = write!(
                    w,
                    "  {:<6} {:<10} {:>9.0}",
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
                "  evaluate_javascript no-op, host -> page -> host: {} us",
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
                "  a frames small GET from the page (mean of {}, {} us in all): fetch() -> request frame out {} us; -> first answer frame in {} us (relay post, host main thread, bus, evaluate_javascript back); -> body read {} us",
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
            not_measured: peers(),
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
            [Status::Pass, Status::Miss, Status::Pass, Status::Pass]
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
            not_measured: peers(),
            ..WebviewReport::default()
        };
        r.check_goals();
        assert_eq!(r.goals.len(), 4);
        assert!(r.goals.iter().all(|g| g.status == Status::NotMeasured));
        assert!(r.table().contains("No goal was measured."));
    }

    #[test]
    fn a_worse_native_path_does_not_hide_a_better_frames_one() {
        let x = m("down", false, [150.0, 90.0, 100.0]);
        assert_eq!(x.best_bus(), Some((WebPath::Frames, 150.0)));
        let y = m("up", true, [150.0, 90.0, 100.0]);
        assert_eq!(y.best_bus(), Some((WebPath::Native, 90.0)));
    }
}
