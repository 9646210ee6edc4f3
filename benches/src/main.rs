//! `benches`: the in-process bus, hyper over loopback TCP and the framed port, measured
//! side by side in one run, so that every comparison is a ratio of numbers taken on the
//! same machine at the same time.
//!
//! ```text
//! cargo run -p benches --release -- rust [--quick] [--json out/bench.json] [--svg out/bench.svg]
//! cargo run -p benches --release -- callgrind
//! cargo run -p benches --release -- all --json out/bench.json --svg out/bench.svg
//! cargo run -p benches --release -- webview [--quick] [--tauri] [--json out/webview.json] [--svg out/webview.svg]
//! cargo run -p benches --release -- websocket [--quick] [--rounds N] [--json out/websocket.json]
//! ```
//!
//! See `benches/README.md` for what each number means.
#![forbid(unsafe_code)]

mod args;
mod callgrind;
mod handler;
mod machine;
mod paths;
mod report;
mod run;
mod stats;
mod svg;
mod websocket;
mod webview;

use std::path::Path;
use std::process::ExitCode;

use args::{Command, Handler, Options, PathKind, USAGE};
use report::Report;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let command = match args::parse(&argv) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Help => {
            print!("{USAGE}");
            Ok(())
        }
        Command::One {
            path,
            handler,
            iters,
        } => one(path, handler, iters),
        Command::Table(file) => std::fs::read_to_string(&file)
            .map_err(|e| format!("reading {}: {e}", file.display()))
            .and_then(|json| report::table_of(&json))
            .map(|table| print!("{table}")),
        Command::Rust(options) => measure("rust", &options),
        Command::Callgrind(options) => measure("callgrind", &options),
        Command::All(options) => measure("all", &options),
        Command::Webview(options) => webview::run(&options, prepare_output),
        Command::Websocket(options) => {
            let rounds = options.rounds.unwrap_or(if options.quick { 2 } else { 5 });
            if let Some(json) = &options.json {
                if let Err(e) = prepare_output(json) {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
            websocket::run(rounds, options.json.as_deref())
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

fn measure(mode: &str, options: &Options) -> Result<(), String> {
    if mode != "rust" {
        callgrind::valgrind_version()?;
    }
    for path in options.json.iter().chain(options.svg.iter()) {
        prepare_output(path)?;
    }
    let mut report = Report {
        machine: machine::Machine::read(),
        mode: mode.into(),
        quick: options.quick,
        ..Report::default()
    };
    eprintln!("machine: {}", report.machine.summary());
    if mode != "callgrind" {
        let plan = run::Plan::new(options);
        report.settings = plan.describe();
        run::wall(&plan, &mut report)?;
    }
    if mode != "rust" {
        callgrind::run(options, &mut report)?;
    }
    report.check_goals();
    print!("{}", report.table());
    if let Some(path) = &options.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| format!("serialising the report: {e}"))?;
        std::fs::write(path, json + "\n")
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("JSON written to {}", path.display());
    }
    if let Some(path) = &options.svg {
        std::fs::write(path, svg::render(&report))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("SVG chart written to {}", path.display());
    }
    Ok(())
}
