//! `benches`: the in-process bus, hyper over loopback TCP and the framed port, measured
//! side by side in one run, so that every comparison is a ratio of numbers taken on the
//! same machine at the same time.
//!
//! ```text
//! cargo run -p benches --release -- rust [--quick] [--json FILE]
//! cargo run -p benches --release -- callgrind
//! cargo run -p benches --release -- all
//! cargo run -p benches --release -- webview [--quick] [--tauri]
//! cargo run -p benches --release -- websocket [--quick] [--rounds N]
//! cargo run -p benches -- table benches/results/FILE.json [--goals]
//! ```
//!
//! Every measuring run writes its JSON, with the machine it ran on, to `benches/results/`
//! (or `--json FILE`). See `benches/README.md` for what each number means.
#![forbid(unsafe_code)]

mod args;
mod callgrind;
mod handler;
mod machine;
mod paths;
mod pouchdb_report;
mod report;
mod run;
mod stats;
mod websocket;
mod webview;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use args::{Cli, Command, Handler, Options, PathKind};
use clap::Parser;
use report::Report;

fn main() -> ExitCode {
    let command = Cli::parse().command;
    let result = match &command {
        Command::Table { files, goals } => {
            report::table_of(files, *goals).map(|table| print!("{table}"))
        }
        Command::One {
            path,
            handler,
            iters,
        } => one(*path, *handler, *iters),
        _ => {
            let (mode, options) = command.measuring().expect("a measuring mode");
            measure(mode, &options)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the callgrind mode runs under valgrind: set up, warm up, then `iters` tiny GETs.
fn one(path: PathKind, handler: Handler, iters: u64) -> Result<(), String> {
    let mut rig = run::rig_for_one()?;
    rig.tiny_loop(path, handler, 50)?;
    rig.tiny_loop(path, handler, iters as usize)
}

/// Runs a measuring mode: its report, printed as tables and written as JSON.
fn measure(mode: &str, options: &Options) -> Result<(), String> {
    if mode == "webview" || mode == "websocket" {
        // With no DISPLAY this re-runs the program under xvfb-run and exits with its
        // status: first, so only the run that measures names and records anything.
        testkit::display::ensure()?;
    }
    let machine = machine::Machine::read();
    let json = options
        .json
        .clone()
        .unwrap_or_else(|| default_json(mode, options.quick, &machine.started_utc));
    prepare_output(&json)?;
    eprintln!("machine: {}", machine.summary());
    let mut report = Report::new(machine, mode, options.quick);
    let measured = run_mode(mode, options, &mut report);
    if measured.is_err() && std::fs::metadata(&json).is_ok_and(|m| m.len() == 0) {
        // The file prepare_output made: a failed run records nothing.
        let _ = std::fs::remove_file(&json);
    }
    measured?;
    print!("{}", report.table());
    report.write(&json)?;
    println!("\nJSON written to {}", json.display());
    Ok(())
}

fn run_mode(mode: &str, options: &Options, report: &mut Report) -> Result<(), String> {
    match mode {
        "webview" => webview::run(options, report)?,
        "websocket" => websocket::run(options, report)?,
        _ => {
            if mode != "rust" {
                callgrind::valgrind_version()?;
            }
            if mode != "callgrind" {
                let plan = run::Plan::new(options);
                report.settings = plan.describe();
                run::wall(&plan, report)?;
            }
            if mode != "rust" {
                callgrind::run(options, report)?;
            }
            run::check_goals(report);
        }
    }
    Ok(())
}

/// `benches/results/2026-12-03-1524-webview-quick.json`: where a run is recorded unless
/// `--json` says otherwise.
fn default_json(mode: &str, quick: bool, started_utc: &str) -> PathBuf {
    let stamp: String = started_utc
        .trim_end_matches(" UTC")
        .replace(' ', "-")
        .replace(':', "");
    let quick = if quick { "-quick" } else { "" };
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("results/{stamp}-{mode}{quick}.json"))
}

/// Checks that an output file can be written before minutes are spent measuring.
fn prepare_output(path: &Path) -> Result<(), String> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map(drop)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_are_recorded_under_results_by_date_and_mode() {
        let path = super::default_json("webview", true, "2026-12-03 15:24 UTC");
        assert!(path.ends_with("results/2026-12-03-1524-webview-quick.json"));
        assert!(super::default_json("all", false, "x").ends_with("results/x-all.json"));
    }
}
