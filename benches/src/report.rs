//! One model for every mode's results, its goals, and its markdown tables.
//!
//! A run is a list of measurements, each a row of values per path (a column), grouped in
//! sections; the goals are checked from those values when the run ends and stored with
//! them. `benches table FILE` renders a recorded run's JSON as the run printed it: the
//! READMEs' generated blocks are that output, checked by `readme_blocks_are_the_committed_json`.

use std::fmt::Write as _;

use crate::machine::Machine;
use crate::stats::Spread;

/// Everything one run measured, whatever the mode. Serialised as its JSON.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Report {
    /// The machine and when.
    pub(crate) machine: Machine,
    /// `rust`, `callgrind`, `all`, `webview` or `websocket`.
    pub(crate) mode: String,
    /// Whether `--quick` was given.
    pub(crate) quick: bool,
    /// How the numbers were taken, and what was not measured (an object in the JSON, in
    /// this order).
    #[serde(serialize_with = "as_map", deserialize_with = "from_map")]
    pub(crate) settings: Vec<(String, String)>,
    pub(crate) measurements: Vec<Measurement>,
    /// The goals, checked.
    pub(crate) goals: Vec<Goal>,
}

/// One measurement: a row of the section's table, one value per path.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Measurement {
    /// The table it is a row of.
    pub(crate) section: String,
    /// A key for code: `seq`, `p50/service`, `throughput/1 GiB`, ...
    pub(crate) key: String,
    pub(crate) title: String,
    pub(crate) unit: String,
    pub(crate) lower_is_better: bool,
    pub(crate) paths: Vec<PathValue>,
}

/// One path's per-round values of a measurement.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct PathValue {
    pub(crate) path: String,
    pub(crate) value: Spread,
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
    /// The measured ratio (or value, for an absolute goal).
    pub(crate) measured: Option<f64>,
    /// The numbers behind it, or why it was not measured.
    pub(crate) detail: String,
}

/// A goal's bound on the measured ratio or value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Limit {
    AtMost(f64),
    AtLeast(f64),
}

impl Limit {
    fn holds(self, x: f64) -> bool {
        match self {
            Limit::AtMost(l) => x <= l,
            Limit::AtLeast(l) => x >= l,
        }
    }
}

/// A named value a goal compares: (`"framed p50"`, 1.48).
pub(crate) type Named = (String, f64);

impl Goal {
    /// `a / b` held to `limit`; `missing` says why when either side was not measured.
    pub(crate) fn ratio(
        goal: &str,
        a: Option<Named>,
        b: Option<Named>,
        unit: &str,
        limit: Limit,
        missing: &str,
    ) -> Goal {
        match (a, b.filter(|(_, v)| *v > 0.0)) {
            (Some((a_name, a)), Some((b_name, b))) => {
                let ratio = a / b;
                Goal::checked(
                    goal,
                    ratio,
                    limit,
                    format!(
                        "{}x: {a_name} {}{unit} / {b_name} {}{unit}",
                        sig(ratio),
                        sig(a),
                        sig(b)
                    ),
                )
            }
            _ => Goal::not_measured(goal, missing),
        }
    }

    /// A measured `value` held to `limit`, with its `detail`.
    pub(crate) fn checked(goal: &str, value: f64, limit: Limit, detail: String) -> Goal {
        Goal {
            goal: goal.into(),
            status: if limit.holds(value) {
                Status::Pass
            } else {
                Status::Miss
            },
            measured: Some(value),
            detail,
        }
    }

    pub(crate) fn not_measured(goal: &str, why: &str) -> Goal {
        Goal {
            goal: goal.into(),
            status: Status::NotMeasured,
            measured: None,
            detail: why.into(),
        }
    }
}

/// Serialises ordered `(key, value)` settings as a JSON object, keeping their order.
fn as_map<S: serde::Serializer>(pairs: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
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

/// Formats a number with about three significant digits.
pub(crate) fn sig(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() {
        "-".into()
    } else if x.fract() == 0.0 && a < 1e15 {
        // Counts and whole milliseconds: no decimals to pretend to.
        format!("{x:.0}")
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

pub(crate) fn mib(bytes: f64) -> f64 {
    bytes / (1u64 << 20) as f64
}

impl Measurement {
    /// A measurement of one value per path, each a [`Spread`] of its rounds.
    pub(crate) fn new(
        section: &str,
        key: &str,
        title: &str,
        unit: &str,
        lower_is_better: bool,
    ) -> Measurement {
        Measurement {
            section: section.into(),
            key: key.into(),
            title: title.into(),
            unit: unit.into(),
            lower_is_better,
            paths: Vec::new(),
        }
    }

    /// Adds `path`'s rounds (none: nothing is added).
    pub(crate) fn push(&mut self, path: &str, rounds: Vec<f64>) {
        if let Some(value) = Spread::of(rounds) {
            self.paths.push(PathValue {
                path: path.into(),
                value,
            });
        }
    }

    /// [`push`](Self::push), as a builder.
    pub(crate) fn with(mut self, path: &str, rounds: Vec<f64>) -> Measurement {
        self.push(path, rounds);
        self
    }

    /// `path`'s median.
    pub(crate) fn of(&self, path: &str) -> Option<f64> {
        self.paths
            .iter()
            .find(|p| p.path == path)
            .map(|p| p.value.median)
    }

    /// The best (by `lower_is_better`) of `paths` that were measured.
    pub(crate) fn best_of(&self, paths: &[&str]) -> Option<Named> {
        paths
            .iter()
            .filter_map(|p| Some((p.to_string(), self.of(p)?)))
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

impl Report {
    pub(crate) fn new(machine: Machine, mode: &str, quick: bool) -> Report {
        Report {
            machine,
            mode: mode.into(),
            quick,
            ..Report::default()
        }
    }

    pub(crate) fn measurement(&self, key: &str) -> Option<&Measurement> {
        self.measurements.iter().find(|m| m.key == key)
    }

    /// `path`'s median of measurement `key`.
    pub(crate) fn value(&self, key: &str, path: &str) -> Option<f64> {
        self.measurement(key)?.of(path)
    }

    /// `path`'s value of `key`, named `path label` for a goal's detail.
    pub(crate) fn named(&self, key: &str, path: &str, label: &str) -> Option<Named> {
        Some((format!("{path}{label}"), self.value(key, path)?))
    }

    /// The markdown tables of the run, as printed at its end and by `benches table`.
    pub(crate) fn table(&self) -> String {
        let mut w = self.header();
        let mut sections: Vec<&str> = Vec::new();
        for m in &self.measurements {
            if !sections.contains(&m.section.as_str()) {
                sections.push(&m.section);
            }
        }
        for section in sections {
            let rows: Vec<&Measurement> = self
                .measurements
                .iter()
                .filter(|m| m.section == section)
                .collect();
            let mut columns: Vec<&str> = Vec::new();
            for p in rows.iter().flat_map(|m| &m.paths) {
                if !columns.contains(&p.path.as_str()) {
                    columns.push(&p.path);
                }
            }
            let _ = writeln!(w, "\n{section}\n");
            let _ = writeln!(w, "| measurement | {} |", columns.join(" | "));
            let _ = writeln!(w, "|---|{}", "---:|".repeat(columns.len()));
            for m in rows {
                let cells: Vec<String> = columns
                    .iter()
                    .map(|c| {
                        m.paths
                            .iter()
                            .find(|p| p.path == *c)
                            .map_or("-".into(), cell)
                    })
                    .collect();
                let title = if m.unit.is_empty() {
                    m.title.clone()
                } else {
                    format!("{} ({})", m.title, m.unit)
                };
                let _ = writeln!(w, "| {title} | {} |", cells.join(" | "));
            }
        }
        self.write_goals(&mut w);
        w
    }

    /// Only the goals, with the run's first line: what the root README shows.
    pub(crate) fn goals_table(&self) -> String {
        let mut w = self.title();
        self.write_goals(&mut w);
        w
    }

    /// `**all run**, started ... on <machine>`.
    fn title(&self) -> String {
        format!(
            "**{}{} run**, started {} on {}\n",
            self.mode,
            if self.quick { " --quick" } else { "" },
            self.machine.started_utc,
            self.machine.summary()
        )
    }

    fn header(&self) -> String {
        let mut w = self.title() + "\n";
        for (k, v) in &self.settings {
            let _ = writeln!(w, "- {k}: {v}");
        }
        w
    }

    /// Each goal with its verdict and detail, then a line naming how many were met.
    fn write_goals(&self, w: &mut String) {
        if self.goals.is_empty() {
            return;
        }
        let _ = writeln!(w, "\n| goal | status | measured |\n|---|---|---|");
        for g in &self.goals {
            let _ = writeln!(w, "| {} | {} | {} |", g.goal, g.status.label(), g.detail);
        }
        let missed = self
            .goals
            .iter()
            .filter(|g| g.status == Status::Miss)
            .count();
        let measured = self
            .goals
            .iter()
            .filter(|g| g.status != Status::NotMeasured)
            .count();
        let unmeasured = self.goals.len() - measured;
        let _ = writeln!(
            w,
            "\n{} of {measured} measured goals met{}.",
            measured - missed,
            if unmeasured > 0 {
                format!("; {unmeasured} not measured in this run (n/a)")
            } else {
                String::new()
            }
        );
    }

    /// Writes the JSON to `path`.
    pub(crate) fn write(&self, path: &std::path::Path) -> Result<(), String> {
        let json = serde_json::to_string_pretty(self)
            .map_err(|e| format!("serialising the report: {e}"))?;
        std::fs::write(path, json + "\n").map_err(|e| format!("writing {}: {e}", path.display()))
    }
}

/// `median (min–max)`, or the one value of a single round.
fn cell(p: &PathValue) -> String {
    let v = &p.value;
    if v.rounds.len() > 1 && v.min != v.max {
        format!("{} ({}–{})", sig(v.median), sig(v.min), sig(v.max))
    } else {
        sig(v.median)
    }
}

/// `benches table FILES [--goals]`: the markdown of recorded runs, one after another.
pub(crate) fn table_of(files: &[std::path::PathBuf], goals_only: bool) -> Result<String, String> {
    let mut out = Vec::new();
    for file in files {
        let json = std::fs::read_to_string(file)
            .map_err(|e| format!("reading {}: {e}", file.display()))?;
        let value: serde_json::Value = serde_json::from_str(&json)
            .map_err(|e| format!("{} is not JSON: {e}", file.display()))?;
        if crate::pouchdb_report::is_pouchdb(&value) {
            out.push(
                crate::pouchdb_report::table(value, goals_only)
                    .map_err(|e| format!("{}: {e}", file.display()))?,
            );
            continue;
        }
        // From the text, not the `Value`: a `Value`'s maps are sorted, and `settings` keeps
        // the order the run wrote.
        let report: Report = serde_json::from_str(&json)
            .map_err(|e| format!("{} is not a benches report: {e}", file.display()))?;
        out.push(if goals_only {
            report.goals_table()
        } else {
            report.table()
        });
    }
    Ok(out.join("\n"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every generated block of the READMEs is `benches table`'s output for the committed
    /// JSON: `<!-- generated: benches table ARGS -->`, the output, `<!-- end generated -->`.
    #[test]
    fn readme_blocks_are_the_committed_json() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut blocks = 0;
        for readme in ["README.md", "benches/README.md"] {
            let text = std::fs::read_to_string(root.join(readme)).unwrap();
            for (i, _) in text.match_indices("<!-- generated: benches table ") {
                let rest = &text[i + "<!-- generated: benches table ".len()..];
                let (args, rest) = rest.split_once(" -->\n").unwrap();
                let (block, _) = rest
                    .split_once("<!-- end generated -->")
                    .unwrap_or_else(|| panic!("{readme}: a generated block has no end"));
                let goals = args.split_whitespace().any(|a| a == "--goals");
                let files: Vec<_> = args
                    .split_whitespace()
                    .filter(|a| !a.starts_with("--"))
                    .map(|f| root.join(f))
                    .collect();
                let expected = table_of(&files, goals).unwrap();
                assert_eq!(
                    block.trim(),
                    expected.trim(),
                    "{readme}: the block of `benches table {args}` is not its output; run it and paste"
                );
                blocks += 1;
            }
        }
        assert!(blocks >= 2, "the READMEs have {blocks} generated blocks");
    }

    #[test]
    fn tables_have_a_column_per_path_and_goals_say_how_many_were_met() {
        let mut r = Report::new(Machine::default(), "webview", true);
        r.settings.push(("rounds".into(), "2".into()));
        r.measurements.push(
            Measurement::new("Page", "seq", "small GET", "ms", true)
                .with("frames", vec![1.0, 2.0])
                .with("localhost", vec![3.0]),
        );
        r.measurements
            .push(Measurement::new("Page", "up", "upload", "ms", true).with("native", vec![]));
        r.goals.push(Goal::ratio(
            "seq at most 0.5x localhost",
            r.named("seq", "frames", ""),
            r.named("seq", "localhost", ""),
            " ms",
            Limit::AtMost(0.5),
            "not measured",
        ));
        r.goals.push(Goal::ratio(
            "up",
            r.named("up", "frames", ""),
            None,
            " ms",
            Limit::AtMost(0.5),
            "no upload",
        ));
        let t = r.table();
        assert!(t.contains("**webview --quick run**"), "{t}");
        assert!(t.contains("| measurement | frames | localhost |"), "{t}");
        assert!(t.contains("| small GET (ms) | 1.50 (1–2) | 3 |"), "{t}");
        assert!(t.contains("| upload (ms) | - | - |"), "{t}");
        assert!(
            t.contains(
                "| seq at most 0.5x localhost | PASS | 0.500x: frames 1.50 ms / localhost 3 ms |"
            ),
            "{t}"
        );
        assert!(t.contains("| up | n/a | no upload |"), "{t}");
        assert!(t.contains("1 of 1 measured goals met; 1 not measured in this run (n/a)."));
        let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back.table(), t);
        assert!(!r.goals_table().contains("| small GET"));
    }

    #[test]
    fn goals_hold_their_limits() {
        let g = |a: f64, limit| {
            Goal::ratio(
                "g",
                Some(("a".into(), a)),
                Some(("b".into(), 2.0)),
                "",
                limit,
                "-",
            )
            .status
        };
        assert_eq!(g(1.0, Limit::AtMost(0.5)), Status::Pass);
        assert_eq!(g(1.2, Limit::AtMost(0.5)), Status::Miss);
        assert_eq!(g(3.0, Limit::AtLeast(1.5)), Status::Pass);
        assert_eq!(g(2.9, Limit::AtLeast(1.5)), Status::Miss);
        let zero = Goal::ratio(
            "g",
            Some(("a".into(), 1.0)),
            Some(("b".into(), 0.0)),
            "",
            Limit::AtMost(1.0),
            "why",
        );
        assert_eq!(
            (zero.status, zero.detail.as_str()),
            (Status::NotMeasured, "why")
        );
        let m = Measurement::new("s", "k", "t", "u", false)
            .with("a", vec![1.0])
            .with("b", vec![3.0]);
        assert_eq!(m.best_of(&["a", "b", "c"]), Some(("b".into(), 3.0)));
    }

    #[test]
    fn significant_digits() {
        assert_eq!(sig(123.456), "123");
        assert_eq!(sig(12.345), "12.3");
        assert_eq!(sig(1.2345), "1.23");
        assert_eq!(sig(0.12345), "0.123");
        assert_eq!(sig(f64::NAN), "-");
        assert_eq!(sig(0.0), "0");
        assert_eq!(sig(14.0), "14");
        assert_eq!(sig(6003.0), "6003");
    }
}
