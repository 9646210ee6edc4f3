//! The command line, declared with clap: each mode accepts only the options it uses, and a
//! wrong one exits with status 2 and clap's sentence saying what is wrong.

use std::fmt;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `cargo run -p benches --release -- <mode> [options]`: the bus, the framed port and
/// localhost side by side in one run. Every measuring run writes its JSON (with the machine
/// it ran on) to `benches/results/` unless `--json` says where.
#[derive(Debug, Parser)]
#[command(name = "benches")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// What the user asked for.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Latency, throughput, peak memory and requests/s of the bus in process, the framed
    /// port and hyper over loopback TCP, side by side in one run.
    Rust(WallArgs),
    /// Instructions per tiny GET of each path under valgrind --tool=callgrind.
    Callgrind(GrindArgs),
    /// Both, in one report.
    All {
        #[command(flatten)]
        wall: WallArgs,
        #[command(flatten)]
        grind: Grind,
    },
    /// A real WebKitGTK WebView (under Xvfb when there is no display): the page's requests
    /// through the bus's frames, its app:// scheme and a localhost server, side by side.
    Webview {
        #[command(flatten)]
        run: RunArgs,
        /// Also build (the first time several minutes) and run the Tauri 2 peer app
        /// (benches/tauri-peer): invoke, Channel and URI-scheme protocol, interleaved
        /// round by round with the bus's paths.
        #[arg(long)]
        tauri: bool,
    },
    /// A real WebKitGTK WebView: the page's WebSocket through the bus next to WebKit's own
    /// to a localhost server (same axum handlers), side by side.
    Websocket(RunArgs),
    /// The markdown tables of recorded runs' JSON (any mode): what the READMEs' generated
    /// blocks hold.
    Table {
        /// The JSON files, one report each.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Only the goals of each run, with the machine it ran on.
        #[arg(long)]
        goals: bool,
    },
    /// Internal: what `callgrind` runs under valgrind, `iters` tiny GETs on one path.
    #[command(hide = true)]
    One {
        #[arg(long, value_enum)]
        path: PathKind,
        #[arg(long, value_enum, default_value_t = Handler::Axum)]
        handler: Handler,
        #[arg(long, value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
        iters: u64,
    },
}

/// Rounds and where the JSON goes: every measuring mode.
#[derive(Debug, Default, Args)]
pub(crate) struct RunArgs {
    /// rust/all: 3 rounds, shorter batches, no 1 GiB throughput size; webview: 2 rounds,
    /// shorter memory holds; websocket: 2 rounds.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Rounds per measurement (default 5; with --quick 3, webview and websocket 2).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=50))]
    pub(crate) rounds: Option<u16>,
    /// Where to write the JSON report (default: benches/results/DATE-MODE.json).
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,
}

/// The wall-clock modes' options (rust, all).
#[derive(Debug, Args)]
pub(crate) struct WallArgs {
    #[command(flatten)]
    pub(crate) run: RunArgs,
    /// Throughput body sizes, e.g. 1KiB,64KiB,1MiB (units: B, K/KiB, M/MiB, G/GiB).
    #[arg(long, value_name = "LIST", value_parser = parse_sizes)]
    pub(crate) sizes: Option<Sizes>,
    /// The framed client's response credit window.
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_window)]
    pub(crate) window: u32,
}

/// The callgrind mode's options.
#[derive(Debug, Args)]
pub(crate) struct GrindArgs {
    #[command(flatten)]
    pub(crate) grind: Grind,
    /// Where to write the JSON report (default: benches/results/DATE-callgrind.json).
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,
}

/// Instruction counting's options (callgrind, all).
#[derive(Debug, Args)]
pub(crate) struct Grind {
    /// Tiny GETs per measured callgrind run.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    pub(crate) iters: u64,
    /// Where callgrind's output and callgrind_annotate profiles go.
    #[arg(long, value_name = "DIR", default_value = "out/callgrind")]
    pub(crate) dir: PathBuf,
}

/// A list of body sizes, sorted (a newtype: clap would read a `Vec` as a repeated option).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sizes(pub(crate) Vec<u64>);

/// What the measuring code reads, whatever the mode.
#[derive(Debug, PartialEq)]
pub(crate) struct Options {
    pub(crate) quick: bool,
    /// Where to write the JSON report; `None`: the mode's default under `benches/results/`.
    pub(crate) json: Option<PathBuf>,
    /// Body sizes for the throughput table (default: 1 KiB, 64 KiB, 1 MiB, 64 MiB, 1 GiB).
    pub(crate) sizes: Option<Vec<u64>>,
    pub(crate) rounds: Option<usize>,
    /// The framed client's response window in bytes.
    pub(crate) window: u32,
    /// Tiny GETs per callgrind run (the difference between two runs).
    pub(crate) iters: u64,
    /// Where the callgrind output files go.
    pub(crate) dir: PathBuf,
    /// webview: also build and run the Tauri 2 peer (`benches/tauri-peer`).
    pub(crate) tauri: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            quick: false,
            json: None,
            sizes: None,
            rounds: None,
            window: 1 << 20,
            iters: 2000,
            dir: PathBuf::from("out/callgrind"),
            tauri: false,
        }
    }
}

impl Options {
    fn with_run(self, run: &RunArgs) -> Options {
        Options {
            quick: run.quick,
            rounds: run.rounds.map(usize::from),
            json: run.json.clone(),
            ..self
        }
    }

    fn with_wall(self, wall: &WallArgs) -> Options {
        Options {
            sizes: wall.sizes.clone().map(|s| s.0),
            window: wall.window,
            ..self.with_run(&wall.run)
        }
    }

    fn with_grind(self, grind: &Grind) -> Options {
        Options {
            iters: grind.iters,
            dir: grind.dir.clone(),
            ..self
        }
    }
}

impl Command {
    /// The measuring modes' name and options; `None` for `table` and `one`.
    pub(crate) fn measuring(&self) -> Option<(&'static str, Options)> {
        let o = Options::default();
        Some(match self {
            Command::Rust(wall) => ("rust", o.with_wall(wall)),
            Command::Callgrind(g) => (
                "callgrind",
                Options {
                    json: g.json.clone(),
                    ..o.with_grind(&g.grind)
                },
            ),
            Command::All { wall, grind } => ("all", o.with_wall(wall).with_grind(grind)),
            Command::Webview { run, tauri } => (
                "webview",
                Options {
                    tauri: *tauri,
                    ..o.with_run(run)
                },
            ),
            Command::Websocket(run) => ("websocket", o.with_run(run)),
            Command::Table { .. } | Command::One { .. } => return None,
        })
    }
}

/// The three ways a request can travel (and `bus.call` as a page's request).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum)]
pub(crate) enum PathKind {
    /// `bus.call` in the caller's task.
    Bus,
    /// `bus.call` of a request carrying what a framed session stamps on each of its page's
    /// requests (the page's `Caller`, as request extensions): the bus's share of a framed
    /// request, without the port. Only counted by the callgrind mode.
    BusPage,
    /// encode → `port::Session` → decode, with credit. Each frame is written into one
    /// buffer the client reuses and handed over borrowed (`Session::receive_slice`), as the
    /// iOS bridge hands over the engine's message.
    Framed,
    /// As [`Framed`](Self::Framed), with each frame in a `Bytes` of its own
    /// (`Session::receive`), as a bridge that decodes each frame into a new buffer hands
    /// it over. Only counted by the callgrind mode.
    FramedBytes,
    /// hyper server + hyper client over loopback TCP, keep-alive.
    Hyper,
}

impl PathKind {
    pub(crate) const ALL: [PathKind; 3] = [PathKind::Bus, PathKind::Framed, PathKind::Hyper];

    /// What the callgrind mode counts: [`ALL`](Self::ALL), `bus.call` as a page's request
    /// and the framed port with a buffer per frame.
    pub(crate) const CALLGRIND: [PathKind; 5] = [
        PathKind::Bus,
        PathKind::BusPage,
        PathKind::Framed,
        PathKind::FramedBytes,
        PathKind::Hyper,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            PathKind::Bus => "bus",
            PathKind::BusPage => "bus-page",
            PathKind::Framed => "framed",
            PathKind::FramedBytes => "framed-bytes",
            PathKind::Hyper => "hyper",
        }
    }
}

impl fmt::Display for PathKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The handler a tiny GET reaches: the same on every path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum)]
pub(crate) enum Handler {
    /// A bare `tower::Service` answering a static body: the transport is all that differs.
    Service,
    /// The axum `Router`'s `/tiny` route: routing, extractors, `IntoResponse`, as apps use it.
    Axum,
}

impl Handler {
    pub(crate) const ALL: [Handler; 2] = [Handler::Service, Handler::Axum];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Handler::Service => "service",
            Handler::Axum => "axum",
        }
    }

    /// How tables and goals name it.
    pub(crate) fn words(self) -> &'static str {
        match self {
            Handler::Service => "bare tower service",
            Handler::Axum => "axum Router",
        }
    }

    /// The route of its tiny GET.
    pub(crate) fn route(self) -> &'static str {
        match self {
            Handler::Service => "/bare",
            Handler::Axum => "/tiny",
        }
    }
}

/// The largest body size accepted (bodies are streamed, so this only bounds the run time).
pub(crate) const MAX_SIZE: u64 = 16 << 30;

/// Parses `1KiB,64KiB,1MiB`: binary units, case-insensitive, no duplicates.
pub(crate) fn parse_sizes(text: &str) -> Result<Sizes, String> {
    let mut sizes = Vec::new();
    for item in text.split(',') {
        let size = parse_size(item.trim())?;
        if sizes.contains(&size) {
            return Err(format!("{item:?} is listed twice"));
        }
        sizes.push(size);
    }
    sizes.sort_unstable();
    Ok(Sizes(sizes))
}

/// Parses one size: `512`, `512B`, `64K`, `64KiB`, `1M`, `1MiB`, `1G`, `1GiB`.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let bad = |why: &str| format!("{text:?} {why}");
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(bad("does not start with a number"));
    }
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        "kb" | "mb" | "gb" => {
            return Err(bad("is ambiguous: write KiB, MiB or GiB (binary units)"));
        }
        _ => return Err(bad("has an unknown unit (use B, K/KiB, M/MiB or G/GiB)")),
    };
    let n: u64 = digits.parse().map_err(|_| bad("is too large"))?;
    let size = n
        .checked_mul(1 << shift)
        .filter(|&s| s <= MAX_SIZE)
        .ok_or_else(|| bad("is over the 16 GiB maximum"))?;
    if size == 0 {
        return Err(bad("is zero"));
    }
    Ok(size)
}

fn parse_window(text: &str) -> Result<u32, String> {
    u32::try_from(parse_size(text)?)
        .ok()
        .filter(|w| *w >= 1024)
        .ok_or_else(|| format!("{text:?}: must be between 1 KiB and 4 GiB - 1"))
}

/// `1 KiB`, `64 MiB`, `1 GiB`, `1536 B`: the largest binary unit that divides exactly.
pub(crate) fn size_label(bytes: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift && bytes & ((1 << shift) - 1) == 0 {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("benches").chain(line.split_whitespace()))
            .map(|c| c.command)
    }

    fn options(line: &str) -> (&'static str, Options) {
        parse(line).unwrap().measuring().unwrap()
    }

    fn err(line: &str) -> String {
        parse(line).unwrap_err().to_string()
    }

    #[test]
    fn a_full_rust_command_line() {
        let (mode, o) = options("rust --quick --json out/b.json --sizes 1KiB,1M --rounds 7");
        assert_eq!(mode, "rust");
        assert!(o.quick);
        assert_eq!(o.json, Some(PathBuf::from("out/b.json")));
        assert_eq!(o.sizes, Some(vec![1024, 1 << 20]));
        assert_eq!(o.rounds, Some(7));
        assert_eq!(o.window, 1 << 20);
        assert_eq!(options("rust --window=256KiB").1.window, 256 << 10);
        assert_eq!(options("rust").1, Options::default());
    }

    #[test]
    fn every_mode_and_its_options() {
        let (mode, o) = options("webview --quick --rounds 3 --json out/w.json --tauri");
        assert_eq!(mode, "webview");
        assert!(o.quick && o.tauri);
        assert_eq!(o.rounds, Some(3));
        assert!(!options("webview").1.tauri);
        let (mode, o) = options("callgrind --iters 500 --dir x --json c.json");
        assert_eq!(
            (mode, o.iters, o.dir),
            ("callgrind", 500, PathBuf::from("x"))
        );
        let (mode, o) = options("all --quick --iters=300 --window 64K");
        assert_eq!(
            (mode, o.quick, o.iters, o.window),
            ("all", true, 300, 64 << 10)
        );
        assert_eq!(options("websocket --quick").0, "websocket");
        let Command::Table { files, goals } = parse("table a.json b.json --goals").unwrap() else {
            panic!("not table")
        };
        assert_eq!(files, [PathBuf::from("a.json"), PathBuf::from("b.json")]);
        assert!(goals);
        assert!(parse("table a.json").unwrap().measuring().is_none());
        let Command::One {
            path,
            handler,
            iters,
        } = parse("one --path hyper --iters 10").unwrap()
        else {
            panic!("not one")
        };
        assert_eq!((path, handler, iters), (PathKind::Hyper, Handler::Axum, 10));
        assert!(matches!(
            parse("one --handler=service --path bus --iters 3"),
            Ok(Command::One {
                path: PathKind::Bus,
                handler: Handler::Service,
                iters: 3
            })
        ));
    }

    #[test]
    fn bad_command_lines_are_refused_with_status_2() {
        for line in [
            "",
            "bench",
            "--quick rust",
            "rust --fast",
            "rust --json",
            "rust stray",
            "rust --rounds 0",
            "rust --rounds five",
            "rust --window 4GiB",
            "rust --window 512",
            "callgrind --window 1M",
            "rust --iters 100",
            "callgrind --quick",
            "webview --sizes 1K",
            "webview --iters 100",
            "webview --tauri=yes",
            "rust --tauri",
            "all --tauri",
            "table",
            "one --path tcp --iters 1",
            "one --path bus",
            "rust --svg x.svg",
        ] {
            let e = parse(line).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{line}: {e}");
        }
        assert!(err("rust --window 512").contains("must be between 1 KiB and 4 GiB - 1"));
        assert!(err("rust --rounds 0").contains("1..=50"));
        assert!(err("rust --tauri").contains("--tauri"));
        assert!(
            err("one --path tcp --iters 1").contains("bus, bus-page, framed, framed-bytes, hyper")
        );
    }

    #[test]
    fn sizes_parse_in_binary_units() {
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("512B").unwrap(), 512);
        assert_eq!(parse_size("64k").unwrap(), 64 << 10);
        assert_eq!(parse_size("64KiB").unwrap(), 64 << 10);
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_sizes("1M, 1K").unwrap().0, vec![1024, 1 << 20]);
    }

    #[test]
    fn bad_sizes_are_named() {
        for (sizes, why) in [
            ("1KB", "ambiguous"),
            ("1XiB", "unknown unit"),
            ("KiB", "does not start with a number"),
            ("0", "is zero"),
            ("17GiB", "16 GiB maximum"),
            ("99999999999999999999999", "too large"),
            ("1K,1K", "listed twice"),
            ("1K,,2K", "does not start with a number"),
        ] {
            assert!(parse_sizes(sizes).unwrap_err().contains(why), "{sizes}");
            assert!(
                err(&format!("rust --sizes={sizes}")).contains(why),
                "{sizes}"
            );
        }
    }

    #[test]
    fn size_labels() {
        assert_eq!(size_label(1024), "1 KiB");
        assert_eq!(size_label(64 << 20), "64 MiB");
        assert_eq!(size_label(1 << 30), "1 GiB");
        assert_eq!(size_label(1536), "1536 B");
        assert_eq!(size_label(3 << 19), "1536 KiB");
    }
}
