//! The results of a run, the goals they are checked against, and the final table.

use std::fmt::Write as _;

use crate::args::size_label;
use crate::machine::Machine;
use crate::stats::Spread;

/// Everything one run measured. Serialised as the `--json` output.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Report {
    /// The machine and when.
    pub(crate) machine: Machine,
    /// `rust`, `callgrind` or `all`.
    pub(crate) mode: String,
    /// Whether `--quick` was given.
    pub(crate) quick: bool,
    /// How the numbers were taken (an object in the JSON, in this order).
    #[serde(serialize_with = "as_map", deserialize_with = "from_map")]
    pub(crate) settings: Vec<(String, String)>,
    /// Tiny GET round trips, per path.
    pub(crate) latency: Vec<LatencyRow>,
    /// Throughput per body size, per lane (memcpy and the three paths).
    pub(crate) throughput: Vec<ThroughputRow>,
    /// Peak RSS growth while streaming one large body, per path.
    pub(crate) memory: Vec<MemoryRow>,
    /// Tiny GETs per second at 1 and 64 concurrent callers, per path.
    pub(crate) rps: Vec<RpsRow>,
    /// Instructions per tiny GET under callgrind, per path.
    pub(crate) instructions: Vec<InstructionRow>,
    /// The goals, checked.
    pub(crate) goals: Vec<Goal>,
}

/// Tiny GET latency of one path: per-round p50 and p99, and their medians.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct LatencyRow {
    pub(crate) path: String,
    /// `service` (a bare tower service) or `axum` (an axum Router route).
    pub(crate) handler: String,
    /// Round trips timed per round.
    pub(crate) samples_per_round: usize,
    /// p50 in µs (median over rounds, and each round).
    pub(crate) p50_us: Spread,
    /// p99 in µs (median over rounds, and each round).
    pub(crate) p99_us: Spread,
}

/// Throughput at one body size.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct ThroughputRow {
    pub(crate) size_bytes: u64,
    pub(crate) size: String,
    pub(crate) lanes: Vec<LaneThroughput>,
}

/// One lane's throughput at one size, in GB/s (10^9 bytes per second).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct LaneThroughput {
    pub(crate) lane: String,
    /// Bodies per timed batch.
    pub(crate) requests_per_batch: u64,
    pub(crate) gb_per_s: Spread,
}

/// Peak RSS growth of one path streaming one body.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct MemoryRow {
    pub(crate) path: String,
    pub(crate) streamed_bytes: u64,
    /// `None` when `/proc/self/clear_refs` could not be used.
    pub(crate) peak_growth_bytes: Option<u64>,
    pub(crate) seconds: f64,
    pub(crate) gb_per_s: f64,
}

/// Requests per second of one path at one number of concurrent callers.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct RpsRow {
    pub(crate) path: String,
    pub(crate) callers: usize,
    pub(crate) requests_per_batch: u64,
    pub(crate) requests_per_s: Spread,
}

/// Instructions (callgrind `Ir`) per tiny GET of one path.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct InstructionRow {
    pub(crate) path: String,
    /// `service` or `axum`, as for latency.
    pub(crate) handler: String,
    /// (total of the long run − total of the short run) / (extra requests).
    pub(crate) per_request: f64,
    pub(crate) short_run: (u64, u64),
    pub(crate) long_run: (u64, u64),
    /// The callgrind output of the long run.
    pub(crate) file: String,
}

/// Whether a goal was met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Status {
    #[serde(rename = "PASS")]
    Pass,
    #[serde(rename = "MISS")]
    Miss,
    #[serde(rename = "NOT MEASURED")]
    NotMeasured,
}

impl Status {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Miss => "MISS",
            Status::NotMeasured => "n/a",
        }
    }
}

/// One goal and what was measured against it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Goal {
    /// What is asked, in words.
    pub(crate) goal: String,
    pub(crate) status: Status,
    /// The measured ratio (or MiB, for the memory goal).
    pub(crate) measured: Option<f64>,
    /// The numbers behind it, or why it was not measured.
    pub(crate) detail: String,
}

/// Serialises ordered `(key, value)` settings as a JSON object, keeping their order.
pub(crate) fn as_map<S: serde::Serializer>(
    pairs: &[(String, String)],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

/// Reads [`as_map`]'s object back in its order.
fn from_map<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    struct Pairs;
    impl<'de> serde::de::Visitor<'de> for Pairs {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of strings")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut pairs = Vec::new();
            while let Some(pair) = map.next_entry()? {
                pairs.push(pair);
            }
            Ok(pairs)
        }
    }
    d.deserialize_map(Pairs)
}

/// The text report of a run recorded as JSON (`benches table FILE`): the README's figures
/// are this output for the committed JSON, so they cannot drift from it.
pub(crate) fn table_of(json: &str) -> Result<String, String> {
    let report: Report =
        serde_json::from_str(json).map_err(|e| format!("not a rust/callgrind/all report: {e}"))?;
    Ok(report.table())
}

/// Formats a number with about three significant digits.
pub(crate) fn sig(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() {
        "-".into()
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// The memory budget of the in-process goal.
pub(crate) const MEMORY_BUDGET: u64 = 32 << 20;

impl Report {
    fn lane(&self, size: u64, lane: &str) -> Option<f64> {
        self.throughput
            .iter()
            .find(|r| r.size_bytes == size)?
            .lanes
            .iter()
            .find(|l| l.lane == lane)
            .map(|l| l.gb_per_s.median)
    }

    fn latency_of(&self, path: &str, handler: &str) -> Option<&LatencyRow> {
        self.latency
            .iter()
            .find(|r| r.path == path && r.handler == handler)
    }

    fn memory_of(&self, path: &str) -> Option<&MemoryRow> {
        self.memory.iter().find(|r| r.path == path)
    }

    fn instructions_of(&self, path: &str, handler: &str) -> Option<f64> {
        self.instructions
            .iter()
            .find(|r| r.path == path && r.handler == handler)
            .map(|r| r.per_request)
    }

    /// Checks the goals against what this report holds.
    pub(crate) fn check_goals(&mut self) {
        let wall = self.mode != "callgrind";
        let grind = self.mode != "rust";
        let not_in = |mode: &str| format!("not measured: run the {mode} mode");
        let mut goals = Vec::new();

        // 1. Tiny round trip, with each handler.
        for (handler, words) in HANDLERS {
            let goal = format!(
                "tiny GET round trip ({words}): bus p50 at least 20x faster than hyper loopback"
            );
            goals.push(
                match (
                    self.latency_of("bus", handler),
                    self.latency_of("hyper", handler),
                ) {
                    (Some(bus), Some(hyper)) => {
                        let ratio = hyper.p50_us.median / bus.p50_us.median;
                        Goal {
                            goal,
                            status: if ratio >= 20.0 {
                                Status::Pass
                            } else {
                                Status::Miss
                            },
                            measured: Some(ratio),
                            detail: format!(
                                "{}x: hyper p50 {} us / bus p50 {} us",
                                sig(ratio),
                                sig(hyper.p50_us.median),
                                sig(bus.p50_us.median)
                            ),
                        }
                    }
                    _ => not_measured(
                        goal,
                        if wall {
                            "no latency data".into()
                        } else {
                            not_in("rust")
                        },
                    ),
                },
            );
        }

        // 2. Instructions, with each handler.
        for (handler, words) in HANDLERS {
            let goal = format!("instructions per tiny GET ({words}): hyper/bus at least 4");
            goals.push(
                match (
                    self.instructions_of("bus", handler),
                    self.instructions_of("hyper", handler),
                ) {
                    (Some(bus), Some(hyper)) => {
                        let ratio = hyper / bus;
                        Goal {
                            goal,
                            status: if ratio >= 4.0 {
                                Status::Pass
                            } else {
                                Status::Miss
                            },
                            measured: Some(ratio),
                            detail: format!(
                                "{}x: hyper {} / bus {} instructions per request (user space only)",
                                sig(ratio),
                                sig(hyper),
                                sig(bus)
                            ),
                        }
                    }
                    _ => not_measured(
                        goal,
                        if grind {
                            "no callgrind data".into()
                        } else {
                            not_in("callgrind")
                        },
                    ),
                },
            );
        }

        // 2b. Issue 16: the bridges' port against bus.call and hyper, and bus.call alone
        // (bare tower service: the transports' own cost).
        let pass = |ok: bool| if ok { Status::Pass } else { Status::Miss };
        let goal =
            "framed port tiny GET (bare tower service): at most 2x the instructions of bus.call"
                .to_owned();
        goals.push(
            match (
                self.instructions_of("framed", "service"),
                self.instructions_of("bus", "service"),
            ) {
                (Some(framed), Some(bus)) => Goal {
                    goal,
                    status: pass(framed <= 2.0 * bus),
                    measured: Some(framed / bus),
                    detail: format!(
                        "{}x: framed {} / bus {} instructions per request",
                        sig(framed / bus),
                        sig(framed),
                        sig(bus)
                    ),
                },
                _ => not_measured(
                    goal,
                    if grind {
                        "no callgrind data".into()
                    } else {
                        not_in("callgrind")
                    },
                ),
            },
        );
        let goal = "framed port tiny GET (bare tower service): p50 at most 0.5x hyper loopback's"
            .to_owned();
        goals.push(
            match (
                self.latency_of("framed", "service"),
                self.latency_of("hyper", "service"),
            ) {
                (Some(framed), Some(hyper)) => {
                    let ratio = framed.p50_us.median / hyper.p50_us.median;
                    Goal {
                        goal,
                        status: pass(ratio <= 0.5),
                        measured: Some(ratio),
                        detail: format!(
                            "{}x: framed p50 {} us / hyper p50 {} us",
                            sig(ratio),
                            sig(framed.p50_us.median),
                            sig(hyper.p50_us.median)
                        ),
                    }
                }
                _ => not_measured(
                    goal,
                    if wall {
                        "no latency data".into()
                    } else {
                        not_in("rust")
                    },
                ),
            },
        );
        let goal = "bus.call around a bare tower service: at most 4,000 instructions per tiny GET"
            .to_owned();
        goals.push(match self.instructions_of("bus", "service") {
            Some(bus) => Goal {
                goal,
                status: pass(bus <= 4000.0),
                measured: Some(bus),
                detail: format!(
                    "{} instructions per request (the client's request and body read included)",
                    sig(bus)
                ),
            },
            None => not_measured(
                goal,
                if grind {
                    "no callgrind data".into()
                } else {
                    not_in("callgrind")
                },
            ),
        });

        // 3. 1 GiB through the bus vs hyper.
        let goal = "1 GiB through the bus: at least 5x hyper loopback throughput".to_owned();
        let gib = 1u64 << 30;
        let from_table = self
            .lane(gib, "bus")
            .zip(self.lane(gib, "hyper"))
            .map(|(b, h)| (b, h, "median of the rounds"));
        let from_memory_run = || {
            let bus = self.memory_of("bus")?;
            let hyper = self.memory_of("hyper")?;
            (bus.streamed_bytes == gib && hyper.streamed_bytes == gib).then_some((
                bus.gb_per_s,
                hyper.gb_per_s,
                "one 1 GiB stream each (the memory run)",
            ))
        };
        goals.push(match from_table.or_else(from_memory_run) {
            Some((bus, hyper, how)) => {
                let ratio = bus / hyper;
                Goal {
                    goal,
                    status: if ratio >= 5.0 {
                        Status::Pass
                    } else {
                        Status::Miss
                    },
                    measured: Some(ratio),
                    detail: format!(
                        "{}x: bus {} GB/s / hyper {} GB/s, {how}",
                        sig(ratio),
                        sig(bus),
                        sig(hyper)
                    ),
                }
            }
            None => not_measured(
                goal,
                if wall {
                    "no 1 GiB data".into()
                } else {
                    not_in("rust")
                },
            ),
        });

        // 4. Framed vs memcpy, at the largest size measured.
        let goal = "framed port: at least 0.5x memcpy throughput".to_owned();
        let largest = self.throughput.iter().map(|r| r.size_bytes).max();
        goals.push(
            match largest.and_then(|s| Some((s, self.lane(s, "framed")?, self.lane(s, "memcpy")?)))
            {
                Some((size, framed, memcpy)) => {
                    let ratio = framed / memcpy;
                    let strict = self.lane(size, "memcpy64k").map_or(String::new(), |m| {
                        format!(
                            "; against memcpy64k (the same chunks into one cache-resident 64 KiB buffer, {} GB/s): {}x",
                            sig(m),
                            sig(framed / m)
                        )
                    });
                    Goal {
                        goal,
                        status: if ratio >= 0.5 {
                            Status::Pass
                        } else {
                            Status::Miss
                        },
                        measured: Some(ratio),
                        detail: format!(
                            "{}x at {}: framed {} GB/s / memcpy {} GB/s (body-sized buffer){strict}",
                            sig(ratio),
                            size_label(size),
                            sig(framed),
                            sig(memcpy)
                        ),
                    }
                }
                None => not_measured(
                    goal,
                    if wall {
                        "no throughput data".into()
                    } else {
                        not_in("rust")
                    },
                ),
            },
        );

        // 5. Memory growth in process.
        let goal =
            "peak RSS growth streaming 1 GiB in process (bus.call): at most 32 MiB".to_owned();
        goals.push(match self.memory_of("bus") {
            Some(MemoryRow {
                peak_growth_bytes: Some(growth),
                streamed_bytes,
                ..
            }) if *streamed_bytes == gib => Goal {
                goal,
                status: if *growth <= MEMORY_BUDGET {
                    Status::Pass
                } else {
                    Status::Miss
                },
                measured: Some(mib(*growth)),
                detail: format!("{} MiB", sig(mib(*growth))),
            },
            Some(MemoryRow {
                peak_growth_bytes: None,
                ..
            }) => not_measured(goal, "/proc/self/clear_refs is not usable here".into()),
            _ => not_measured(
                goal,
                if wall {
                    "no memory data".into()
                } else {
                    not_in("rust")
                },
            ),
        });
        self.goals = goals;
    }

    /// The final table, as printed.
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(w, "\n=== bus vs hyper loopback vs framed port: one run ===");
        let _ = writeln!(w, "machine: {}", self.machine.summary());
        let _ = writeln!(w, "started: {}", self.machine.started_utc);
        for (k, v) in &self.settings {
            let _ = writeln!(w, "  {k}: {v}");
        }

        if !self.latency.is_empty() {
            let _ = writeln!(
                w,
                "\nTiny GET round trip, microseconds (median over rounds of each round's percentile)"
            );
            let _ = writeln!(
                w,
                "  {:<8} {:<9} {:>9} {:>9}   {:>17}",
                "path", "handler", "p50", "p99", "p50 range"
            );
            for r in &self.latency {
                let _ = writeln!(
                    w,
                    "  {:<8} {:<9} {:>9} {:>9}   {:>17}",
                    r.path,
                    r.handler,
                    sig(r.p50_us.median),
                    sig(r.p99_us.median),
                    format!("{}-{}", sig(r.p50_us.min), sig(r.p50_us.max))
                );
            }
        }

        if !self.throughput.is_empty() {
            let _ = writeln!(
                w,
                "\nThroughput, GB/s (10^9 B/s; median over rounds; 64 KiB chunks)"
            );
            let _ = writeln!(
                w,
                "  {:<8} {:>9} {:>9} {:>9} {:>9} {:>9}   {:>14} {:>10}",
                "size",
                "memcpy",
                "memcpy64k",
                "bus",
                "framed",
                "hyper",
                "framed/memcpy",
                "bus/hyper"
            );
            for r in &self.throughput {
                let get = |lane: &str| self.lane(r.size_bytes, lane);
                let cell = |v: Option<f64>| v.map_or("-".into(), sig);
                let ratio = |a: Option<f64>, b: Option<f64>| {
                    a.zip(b)
                        .map_or("-".into(), |(a, b)| format!("{}x", sig(a / b)))
                };
                let _ = writeln!(
                    w,
                    "  {:<8} {:>9} {:>9} {:>9} {:>9} {:>9}   {:>14} {:>10}",
                    r.size,
                    cell(get("memcpy")),
                    cell(get("memcpy64k")),
                    cell(get("bus")),
                    cell(get("framed")),
                    cell(get("hyper")),
                    ratio(get("framed"), get("memcpy")),
                    ratio(get("bus"), get("hyper")),
                );
            }
        }

        if !self.memory.is_empty() {
            let _ = writeln!(
                w,
                "\nPeak RSS growth while streaming one body (VmHWM after clear_refs 5)"
            );
            let _ = writeln!(
                w,
                "  {:<8} {:>9} {:>14} {:>9} {:>9}",
                "path", "streamed", "peak growth", "seconds", "GB/s"
            );
            for r in &self.memory {
                let growth = r
                    .peak_growth_bytes
                    .map_or("n/a".into(), |g| format!("{} MiB", sig(mib(g))));
                let _ = writeln!(
                    w,
                    "  {:<8} {:>9} {:>14} {:>9} {:>9}",
                    r.path,
                    size_label(r.streamed_bytes),
                    growth,
                    sig(r.seconds),
                    sig(r.gb_per_s)
                );
            }
        }

        if !self.rps.is_empty() {
            let _ = writeln!(w, "\nTiny GETs per second (median over rounds)");
            let _ = writeln!(
                w,
                "  {:<8} {:>12} {:>12} {:>12}",
                "callers", "bus", "framed", "hyper"
            );
            let mut callers: Vec<usize> = self.rps.iter().map(|r| r.callers).collect();
            callers.dedup();
            for c in callers {
                let get = |path: &str| {
                    self.rps
                        .iter()
                        .find(|r| r.callers == c && r.path == path)
                        .map_or("-".into(), |r| format!("{:.0}", r.requests_per_s.median))
                };
                let _ = writeln!(
                    w,
                    "  {:<8} {:>12} {:>12} {:>12}",
                    c,
                    get("bus"),
                    get("framed"),
                    get("hyper")
                );
            }
        }

        if !self.instructions.is_empty() {
            let _ = writeln!(
                w,
                "\nInstructions per tiny GET (callgrind Ir, user space, all threads)"
            );
            for r in &self.instructions {
                let _ = writeln!(
                    w,
                    "  {:<8} {:<9} {:>9.0}   {}",
                    r.path, r.handler, r.per_request, r.file
                );
            }
        }

        write_goals(w, &self.goals);
        out
    }
}

/// The goals section every mode's table ends with: each goal with its verdict and detail,
/// then a summary that names every miss.
pub(crate) fn write_goals(w: &mut String, goals: &[Goal]) {
    if goals.is_empty() {
        return;
    }
    let _ = writeln!(w, "\nGoals");
    for g in goals {
        let _ = writeln!(w, "  {:<4}  {}", g.status.label(), g.goal);
        let _ = writeln!(w, "        {}", g.detail);
    }
    let missed: Vec<&Goal> = goals.iter().filter(|g| g.status == Status::Miss).collect();
    let unmeasured = goals
        .iter()
        .filter(|g| g.status == Status::NotMeasured)
        .count();
    let measured = goals.len() - unmeasured;
    if measured == 0 {
        let _ = writeln!(w, "\nNo goal was measured.");
    } else if missed.is_empty() {
        let _ = writeln!(w, "\n{measured} of {measured} measured goals met.");
    } else {
        let _ = writeln!(w, "\nMISSED {} of {measured} measured goals:", missed.len());
        for g in missed {
            let _ = writeln!(w, "  - {} ({})", g.goal, g.detail);
        }
    }
    if unmeasured > 0 {
        let _ = writeln!(
            w,
            "{unmeasured} goal(s) not measured in this mode (see n/a above)."
        );
    }
}

/// The handlers goals 1 and 2 are checked with, and how a goal names them.
const HANDLERS: [(&str, &str); 2] = [("service", "bare tower service"), ("axum", "axum Router")];

fn not_measured(goal: String, why: String) -> Goal {
    Goal {
        goal,
        status: Status::NotMeasured,
        measured: None,
        detail: why,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A report with every section filled, for the table and SVG tests.
    pub(crate) fn sample() -> Report {
        let s = |v: f64| Spread::of(vec![v * 0.9, v, v * 1.1]).unwrap();
        let mut r = Report {
            mode: "all".into(),
            settings: vec![("rounds".into(), "3".into())],
            ..Report::default()
        };
        for (handler, extra) in [("service", 0.0), ("axum", 1.0)] {
            for (path, p50) in [("bus", 1.0), ("framed", 30.0), ("hyper", 25.0)] {
                r.latency.push(LatencyRow {
                    path: path.into(),
                    handler: handler.into(),
                    samples_per_round: 100,
                    p50_us: s(p50 + extra),
                    p99_us: s((p50 + extra) * 3.0),
                });
            }
        }
        for size in [1u64 << 10, 1 << 20, 1 << 30] {
            r.throughput.push(ThroughputRow {
                size_bytes: size,
                size: size_label(size),
                lanes: [
                    ("memcpy", 10.0),
                    ("bus", 100.0),
                    ("framed", 4.0),
                    ("hyper", 3.0),
                ]
                .into_iter()
                .map(|(lane, v)| LaneThroughput {
                    lane: lane.into(),
                    requests_per_batch: 1,
                    gb_per_s: s(v),
                })
                .collect(),
            });
        }
        for (path, growth) in [
            ("bus", Some(1u64 << 18)),
            ("framed", Some(3 << 20)),
            ("hyper", None),
        ] {
            r.memory.push(MemoryRow {
                path: path.into(),
                streamed_bytes: 1 << 30,
                peak_growth_bytes: growth,
                seconds: 0.5,
                gb_per_s: 2.1,
            });
        }
        for callers in [1, 64] {
            for path in ["bus", "framed", "hyper"] {
                r.rps.push(RpsRow {
                    path: path.into(),
                    callers,
                    requests_per_batch: 64,
                    requests_per_s: s(10_000.0),
                });
            }
        }
        for (handler, extra) in [("service", 0.0), ("axum", 5_000.0)] {
            for (path, n) in [("bus", 5_000.0), ("framed", 40_000.0), ("hyper", 30_000.0)] {
                r.instructions.push(InstructionRow {
                    path: path.into(),
                    handler: handler.into(),
                    per_request: n + extra,
                    short_run: (100, 1),
                    long_run: (2100, 2),
                    file: "out/x & <y>".into(),
                });
            }
        }
        r
    }

    /// Every `<!-- generated: FILE -->` block of the README is `benches table FILE`'s
    /// output for the committed JSON: the README's figures cannot drift from it.
    #[test]
    fn readme_tables_are_the_committed_json() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        let mut blocks = 0;
        for rest in readme
            .match_indices("\n<!-- generated: ")
            .map(|(i, _)| &readme[i..])
        {
            let file = rest["\n<!-- generated: ".len()..]
                .split_once(" -->")
                .unwrap()
                .0;
            let json = std::fs::read_to_string(dir.join(file.trim_start_matches("benches/")))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            let block = rest
                .split_once("```text\n")
                .unwrap()
                .1
                .split_once("\n```")
                .unwrap()
                .0;
            assert_eq!(block, table_of(&json).unwrap().trim_matches('\n'), "{file}");
            blocks += 1;
        }
        assert!(blocks >= 1, "the README has no generated block");
    }

    #[test]
    fn goals_are_checked_and_misses_named() {
        let mut r = sample();
        r.check_goals();
        let status: Vec<Status> = r.goals.iter().map(|g| g.status).collect();
        // 25x, 13x (miss), 6x, 3.5x (miss), framed 8x bus's instructions (miss), framed
        // p50 1.2x hyper's (miss), bus 5,000 instructions (miss), 33x, 0.4x (miss), 0.25 MiB.
        assert_eq!(
            status,
            [
                Status::Pass,
                Status::Miss,
                Status::Pass,
                Status::Miss,
                Status::Miss,
                Status::Miss,
                Status::Miss,
                Status::Pass,
                Status::Miss,
                Status::Pass
            ]
        );
        let table = r.table();
        assert!(table.contains("MISSED 6 of 10 measured goals"));
        assert!(table.contains("8.00x: framed 40000 / bus 5000 instructions per request"));
        assert!(table.contains("framed port: at least 0.5x memcpy throughput"));
    }

    #[test]
    fn goals_without_data_say_which_mode_measures_them() {
        let mut r = Report {
            mode: "rust".into(),
            ..Report::default()
        };
        r.check_goals();
        assert!(r.goals.iter().all(|g| g.status == Status::NotMeasured));
        assert!(r.goals[2].detail.contains("callgrind mode"));
        let table = r.table();
        assert!(table.contains("10 goal(s) not measured"));
    }

    #[test]
    fn significant_digits() {
        assert_eq!(sig(123.456), "123");
        assert_eq!(sig(12.345), "12.3");
        assert_eq!(sig(1.2345), "1.23");
        assert_eq!(sig(0.12345), "0.123");
        assert_eq!(sig(f64::NAN), "-");
    }
}
