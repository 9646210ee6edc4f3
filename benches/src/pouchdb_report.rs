//! `benches table` for the JSON of `--bin pouchdb` (its own shape: rounds of push, pull and
//! live latency per backend, the store's service time, and the goals it checked), so the
//! README's PouchDB figures are generated from the recorded run like every other table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(serde::Deserialize)]
struct PouchRun {
    n: u64,
    attachments: String,
    machine: BTreeMap<String, serde_json::Value>,
    rounds: Vec<Round>,
    median: BTreeMap<String, BTreeMap<String, f64>>,
    goals: BTreeMap<String, Goal>,
    page_alone_ms: Option<PageAlone>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Round {
    round: u64,
    target: String,
    push_ms: f64,
    pull_ms: f64,
    live_ms: Vec<f64>,
    service_ms: Option<f64>,
}

#[derive(serde::Deserialize)]
struct Goal {
    ratio: f64,
    result: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageAlone {
    push_ms: f64,
    pull_ms: f64,
}

/// Whether `json` is a `--bin pouchdb` run (`"bench": "pouchdb"`).
pub(crate) fn is_pouchdb(json: &serde_json::Value) -> bool {
    json.get("bench").and_then(|b| b.as_str()) == Some("pouchdb")
}

/// The markdown a README shows of a `--bin pouchdb` run: rounds, medians and goals
/// (`goals_only`: the goals alone).
pub(crate) fn table(json: serde_json::Value, goals_only: bool) -> Result<String, String> {
    let run: PouchRun =
        serde_json::from_value(json).map_err(|e| format!("not a pouchdb run: {e}"))?;
    let mut out = String::new();
    if !goals_only {
        let machine = |k: &str| {
            run.machine.get(k).map_or(String::new(), |v| {
                v.as_str().map_or_else(|| v.to_string(), str::to_owned)
            })
        };
        let _ = writeln!(
            out,
            "{} documents + {} attachments; {} CPUs {}, load average at the end {}.\n",
            run.n,
            run.attachments,
            machine("cpus"),
            machine("cpu"),
            machine("loadavg_at_end")
        );
        out.push_str(
            "| round | backend | push | pull | live, each write (ms) | bus-couch service time |\n",
        );
        out.push_str("|---|---|---|---|---|---|\n");
        for r in &run.rounds {
            let backend = match r.target.as_str() {
                "bus" => "bus-couch over the bus",
                "localhost" => "pouchdb-server, localhost",
                other => other,
            };
            let live: Vec<String> = r.live_ms.iter().map(|v| format!("{v}")).collect();
            let service = r.service_ms.map_or(String::new(), |s| {
                format!(
                    "{s:.0} ms ({:.0} % of push + pull)",
                    100.0 * s / (r.push_ms + r.pull_ms)
                )
            });
            let _ = writeln!(
                out,
                "| {} | {backend} | {:.0} ms | {:.0} ms | {} | {service} |",
                r.round,
                r.push_ms,
                r.pull_ms,
                live.join(" ")
            );
        }
        out.push('\n');
        out.push_str(
            "| median | bus-couch over the bus | pouchdb-server, localhost |\n|---|---|---|\n",
        );
        for (key, title) in [
            ("push_ms", "push"),
            ("pull_ms", "pull"),
            ("live_ms", "live latency"),
        ] {
            let m = run
                .median
                .get(key)
                .ok_or_else(|| format!("no median {key}"))?;
            let get = |t: &str| m.get(t).map_or("–".to_owned(), |v| format!("{v} ms"));
            let _ = writeln!(out, "| {title} | {} | {} |", get("bus"), get("localhost"));
        }
        if let Some(page) = &run.page_alone_ms {
            let _ = writeln!(
                out,
                "\nThe page alone (IndexedDB to IndexedDB, no backend): push {:.0} ms, pull {:.0} ms.",
                page.push_ms, page.pull_ms
            );
        }
        out.push('\n');
    }
    out.push_str("| goal | ratio | result |\n|---|---|---|\n");
    for (name, goal) in &run.goals {
        let _ = writeln!(out, "| {name} | {:.2}x | {} |", goal.ratio, goal.result);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_recorded_run_renders_its_goals() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/results/2026-12-03-pouchdb.json"
        );
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(super::is_pouchdb(&json));
        let table = super::table(json, false).unwrap();
        assert!(
            table.contains("| push >= 2x faster | 1.59x | MISS |"),
            "{table}"
        );
        assert!(
            table.contains("| 0 | bus-couch over the bus | 5579 ms | 6256 ms |"),
            "{table}"
        );
    }
}
