//! The command line: a small hand-rolled parser whose every error is a sentence.

use std::fmt;
use std::path::PathBuf;

/// What the user asked for.
#[derive(Debug, PartialEq)]
pub(crate) enum Command {
    /// Print the usage.
    Help,
    /// The wall-clock measurements (latency, throughput, memory, requests/s).
    Rust(Options),
    /// Instruction counts per tiny GET under `valgrind --tool=callgrind`.
    Callgrind(Options),
    /// Both, in one report.
    All(Options),
    /// A real WebKitGTK WebView: the bus by frames and by its scheme vs localhost.
    Webview(Options),
    /// A real WebKitGTK WebView: WebSockets through the bus vs WebKit's own to localhost.
    Websocket(Options),
    /// The text report of a recorded rust/callgrind/all JSON, as the run printed it.
    Table(PathBuf),
    /// Internal: what `callgrind` runs under valgrind — `iters` tiny GETs on one path.
    One {
        path: PathKind,
        handler: Handler,
        iters: u64,
    },
}

/// The options of the measuring modes. Which ones a mode accepts is checked by [`parse`].
#[derive(Debug, PartialEq)]
pub(crate) struct Options {
    /// Fewer rounds, shorter batches, no 1 GiB throughput size.
    pub(crate) quick: bool,
    /// Where to write the JSON report.
    pub(crate) json: Option<PathBuf>,
    /// Where to write the SVG chart.
    pub(crate) svg: Option<PathBuf>,
    /// Body sizes for the throughput table (default: 1 KiB, 64 KiB, 1 MiB, 64 MiB, 1 GiB).
    pub(crate) sizes: Option<Vec<u64>>,
    /// Rounds per measurement (default 5, or 3 with `--quick`).
    pub(crate) rounds: Option<usize>,
    /// The framed client's response window in bytes (default 1 MiB).
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
            svg: None,
            sizes: None,
            rounds: None,
            window: 1 << 20,
            iters: 2000,
            dir: PathBuf::from("out/callgrind"),
            tauri: false,
        }
    }
}

/// The three ways a request can travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PathKind {
    /// `bus.call` in the caller's task.
    Bus,
    /// encode → `port::Session` → decode, with credit.
    Framed,
    /// hyper server + hyper client over loopback TCP, keep-alive.
    Hyper,
}

impl PathKind {
    pub(crate) const ALL: [PathKind; 3] = [PathKind::Bus, PathKind::Framed, PathKind::Hyper];

    pub(crate) fn name(self) -> &'static str {
        match self {
            PathKind::Bus => "bus",
            PathKind::Framed => "framed",
            PathKind::Hyper => "hyper",
        }
    }

    fn parse(text: &str) -> Result<Self, ArgError> {
        match text {
            "bus" => Ok(PathKind::Bus),
            "framed" => Ok(PathKind::Framed),
            "hyper" => Ok(PathKind::Hyper),
            other => Err(ArgError(format!(
                "--path {other:?}: expected bus, framed or hyper"
            ))),
        }
    }
}

/// The handler a tiny GET reaches: the same on every path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
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

    /// The route of its tiny GET.
    pub(crate) fn route(self) -> &'static str {
        match self {
            Handler::Service => "/bare",
            Handler::Axum => "/tiny",
        }
    }

    fn parse(text: &str) -> Result<Self, ArgError> {
        match text {
            "service" => Ok(Handler::Service),
            "axum" => Ok(Handler::Axum),
            other => Err(ArgError(format!(
                "--handler {other:?}: expected service or axum"
            ))),
        }
    }
}

impl fmt::Display for PathKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A command line that could not be understood, with the reason.
#[derive(Debug, PartialEq)]
pub(crate) struct ArgError(pub(crate) String);

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) const USAGE: &str = "\
usage: cargo run -p benches --release -- <mode> [options]

modes:
  rust        latency, throughput, peak memory and requests/s of the bus in process,
              the framed port and hyper over loopback TCP, side by side in one run
  callgrind   instructions per tiny GET of each path under valgrind --tool=callgrind
  all         both, in one report
  webview     a real WebKitGTK WebView (under Xvfb when there is no display): the page's
              requests through the bus's frames, the bus's app:// scheme and a localhost
              server, side by side in one run
  websocket   a real WebKitGTK WebView: the page's WebSocket through the bus next to
              WebKit's own WebSocket to a localhost server (same axum handlers), side by
              side in one run
  table FILE  the text report of a recorded rust/callgrind/all run's JSON, as the run
              printed it (the README's figures are this, for benches/results/)
  help        this text

options (rust, all, webview, websocket):
  --quick            rust/all: 3 rounds, shorter batches, no 1 GiB throughput size;
                     webview: 2 rounds, shorter memory holds
  --rounds N         rounds per measurement (1-50; default 5; with --quick 3, webview 2)
options (rust, all):
  --sizes LIST       throughput body sizes, e.g. 1KiB,64KiB,1MiB (units: B, K/KiB, M/MiB, G/GiB)
  --window SIZE      the framed client's response credit window (default 1MiB)
options (callgrind, all):
  --iters N          tiny GETs per measured callgrind run (100-1000000; default 2000)
  --dir DIR          where callgrind output goes (default out/callgrind)
options (webview):
  --tauri            also build (cargo, first time several minutes) and run the Tauri 2 peer
                     app (benches/tauri-peer): invoke, Channel and URI-scheme protocol,
                     interleaved round by round with the bus's paths
options (every mode):
  --json FILE        write the results as JSON
  --svg FILE         write the results as an SVG chart
";

/// Parses the arguments after the program name.
pub(crate) fn parse(args: &[String]) -> Result<Command, ArgError> {
    let Some((mode, rest)) = args.split_first() else {
        return Err(ArgError("no mode given".into()));
    };
    let mode = mode.as_str();
    match mode {
        "help" | "--help" | "-h" => {
            if let Some(extra) = rest.first() {
                return Err(ArgError(format!(
                    "unexpected argument {extra:?} after help"
                )));
            }
            return Ok(Command::Help);
        }
        "one" => return parse_one(rest),
        "table" => {
            return match rest {
                [file] if !file.starts_with('-') => Ok(Command::Table(PathBuf::from(file))),
                _ => Err(ArgError(
                    "table takes one argument: the JSON of a rust, callgrind or all run".into(),
                )),
            };
        }
        "rust" | "callgrind" | "all" | "webview" | "websocket" => {}
        other if other.starts_with('-') => {
            return Err(ArgError(format!(
                "{other:?} given before a mode; the mode (rust, callgrind, all, webview, websocket) comes first"
            )));
        }
        other => {
            return Err(ArgError(format!(
                "unknown mode {other:?}: expected rust, callgrind, all, webview, websocket or help"
            )));
        }
    }
    let ws = mode == "websocket";
    let web = mode == "webview";
    let wall = mode == "rust" || mode == "all";
    let grind = mode == "callgrind" || mode == "all";
    let mut options = Options::default();
    let mut flags = Flags::new(rest);
    while let Some((flag, inline)) = flags.next_flag()? {
        match flag {
            "--quick" if wall || web || ws => {
                flags.no_value(flag, inline)?;
                options.quick = true;
            }
            "--sizes" if wall => {
                options.sizes = Some(parse_sizes(&flags.value(flag, inline)?)?);
            }
            "--rounds" if wall || web || ws => {
                options.rounds =
                    Some(parse_count(flag, &flags.value(flag, inline)?, 1, 50)? as usize);
            }
            "--window" if wall => {
                let text = flags.value(flag, inline)?;
                let size = parse_size(&text).map_err(|e| ArgError(e.0.replace("--sizes", flag)))?;
                options.window =
                    u32::try_from(size)
                        .ok()
                        .filter(|w| *w >= 1024)
                        .ok_or_else(|| {
                            ArgError(format!(
                                "{flag} {text:?}: must be between 1 KiB and 4 GiB - 1"
                            ))
                        })?;
            }
            "--iters" if grind => {
                options.iters = parse_count(flag, &flags.value(flag, inline)?, 100, 1_000_000)?;
            }
            "--dir" if grind => options.dir = PathBuf::from(flags.value(flag, inline)?),
            "--tauri" if web => {
                flags.no_value(flag, inline)?;
                options.tauri = true;
            }
            "--json" => options.json = Some(PathBuf::from(flags.value(flag, inline)?)),
            "--svg" => options.svg = Some(PathBuf::from(flags.value(flag, inline)?)),
            "--quick" | "--rounds" => {
                return Err(ArgError(format!(
                    "{flag} applies to the rust, all and webview modes, not to {mode}"
                )));
            }
            "--sizes" | "--window" => {
                return Err(ArgError(format!(
                    "{flag} applies to the rust and all modes, not to {mode}"
                )));
            }
            "--iters" | "--dir" => {
                return Err(ArgError(format!(
                    "{flag} applies to the callgrind and all modes, not to {mode}"
                )));
            }
            "--tauri" => {
                return Err(ArgError(format!(
                    "{flag} applies to the webview mode, not to {mode}"
                )));
            }
            other => return Err(ArgError(format!("unknown option {other:?} for {mode}"))),
        }
    }
    Ok(match mode {
        "rust" => Command::Rust(options),
        "callgrind" => Command::Callgrind(options),
        "webview" => Command::Webview(options),
        "websocket" => Command::Websocket(options),
        _ => Command::All(options),
    })
}

fn parse_one(rest: &[String]) -> Result<Command, ArgError> {
    let mut path = None;
    let mut handler = Handler::Axum;
    let mut iters = None;
    let mut flags = Flags::new(rest);
    while let Some((flag, inline)) = flags.next_flag()? {
        match flag {
            "--path" => path = Some(PathKind::parse(&flags.value(flag, inline)?)?),
            "--handler" => handler = Handler::parse(&flags.value(flag, inline)?)?,
            "--iters" => {
                iters = Some(parse_count(
                    flag,
                    &flags.value(flag, inline)?,
                    0,
                    10_000_000,
                )?);
            }
            other => return Err(ArgError(format!("unknown option {other:?} for one"))),
        }
    }
    match (path, iters) {
        (Some(path), Some(iters)) => Ok(Command::One {
            path,
            handler,
            iters,
        }),
        _ => Err(ArgError(
            "one needs --path bus|framed|hyper and --iters N (and optionally --handler service|axum)"
                .into(),
        )),
    }
}

/// Walks `--flag value` and `--flag=value` arguments.
struct Flags<'a> {
    args: std::slice::Iter<'a, String>,
}

impl<'a> Flags<'a> {
    fn new(args: &'a [String]) -> Self {
        Flags { args: args.iter() }
    }

    /// The next flag's name and, for `--flag=value`, its inline value.
    fn next_flag(&mut self) -> Result<Option<(&'a str, Option<&'a str>)>, ArgError> {
        let Some(arg) = self.args.next() else {
            return Ok(None);
        };
        if !arg.starts_with("--") {
            return Err(ArgError(format!(
                "unexpected argument {arg:?}: options start with --"
            )));
        }
        Ok(Some(match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value)),
            None => (arg.as_str(), None),
        }))
    }

    fn value(&mut self, flag: &str, inline: Option<&str>) -> Result<String, ArgError> {
        let value = match inline {
            Some(value) => value,
            None => match self.args.next() {
                Some(value) if !value.starts_with("--") => value.as_str(),
                _ => return Err(ArgError(format!("{flag} needs a value"))),
            },
        };
        if value.is_empty() {
            return Err(ArgError(format!("{flag} needs a value")));
        }
        Ok(value.to_owned())
    }

    fn no_value(&self, flag: &str, inline: Option<&str>) -> Result<(), ArgError> {
        match inline {
            Some(_) => Err(ArgError(format!("{flag} takes no value"))),
            None => Ok(()),
        }
    }
}

fn parse_count(flag: &str, text: &str, min: u64, max: u64) -> Result<u64, ArgError> {
    let n: u64 = text
        .replace('_', "")
        .parse()
        .map_err(|_| ArgError(format!("{flag} {text:?}: not a whole number")))?;
    if n < min || n > max {
        return Err(ArgError(format!(
            "{flag} {n}: must be between {min} and {max}"
        )));
    }
    Ok(n)
}

/// The largest body size accepted (bodies are streamed, so this only bounds the run time).
pub(crate) const MAX_SIZE: u64 = 16 << 30;

/// Parses `1KiB,64KiB,1MiB`: binary units, case-insensitive, no duplicates.
pub(crate) fn parse_sizes(text: &str) -> Result<Vec<u64>, ArgError> {
    let mut sizes = Vec::new();
    for item in text.split(',') {
        let size = parse_size(item.trim())?;
        if sizes.contains(&size) {
            return Err(ArgError(format!("--sizes: {item:?} is listed twice")));
        }
        sizes.push(size);
    }
    sizes.sort_unstable();
    Ok(sizes)
}

/// Parses one size: `512`, `512B`, `64K`, `64KiB`, `1M`, `1MiB`, `1G`, `1GiB`.
pub(crate) fn parse_size(text: &str) -> Result<u64, ArgError> {
    let bad = |why: &str| ArgError(format!("--sizes: {text:?} {why}"));
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

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    fn err(line: &str) -> String {
        parse(&args(line)).unwrap_err().0
    }

    #[test]
    fn a_full_rust_command_line() {
        let Command::Rust(o) = parse(&args(
            "rust --quick --json out/b.json --svg=out/b.svg --sizes 1KiB,1M --rounds 7",
        ))
        .unwrap() else {
            panic!("not rust")
        };
        assert!(o.quick);
        assert_eq!(o.json, Some(PathBuf::from("out/b.json")));
        assert_eq!(o.svg, Some(PathBuf::from("out/b.svg")));
        assert_eq!(o.sizes, Some(vec![1024, 1 << 20]));
        assert_eq!(o.rounds, Some(7));
        assert_eq!(o.window, 1 << 20);
        assert!(
            matches!(parse(&args("rust --window 256KiB")), Ok(Command::Rust(o)) if o.window == 256 << 10)
        );
    }

    #[test]
    fn the_webview_mode_takes_quick_rounds_and_outputs() {
        let Command::Webview(o) = parse(&args(
            "webview --quick --rounds 3 --json out/w.json --svg=out/w.svg",
        ))
        .unwrap() else {
            panic!("not webview")
        };
        assert!(o.quick);
        assert_eq!(o.rounds, Some(3));
        assert_eq!(o.json, Some(PathBuf::from("out/w.json")));
        assert_eq!(o.svg, Some(PathBuf::from("out/w.svg")));
        assert!(matches!(parse(&args("webview")), Ok(Command::Webview(o)) if !o.quick && !o.tauri));
        assert!(
            matches!(parse(&args("webview --quick --tauri")), Ok(Command::Webview(o)) if o.quick && o.tauri)
        );
    }

    #[test]
    fn modes_and_help() {
        assert_eq!(parse(&args("help")).unwrap(), Command::Help);
        assert_eq!(
            parse(&args("table benches/results/x.json")).unwrap(),
            Command::Table(PathBuf::from("benches/results/x.json"))
        );
        assert!(err("table").contains("table takes one argument"));
        assert!(err("table a.json b.json").contains("table takes one argument"));
        assert_eq!(parse(&args("--help")).unwrap(), Command::Help);
        assert!(
            matches!(parse(&args("callgrind --iters 500")), Ok(Command::Callgrind(o)) if o.iters == 500)
        );
        assert!(
            matches!(parse(&args("all --quick --iters=300")), Ok(Command::All(o)) if o.quick && o.iters == 300)
        );
        assert_eq!(
            parse(&args("one --path hyper --iters 10")).unwrap(),
            Command::One {
                path: PathKind::Hyper,
                handler: Handler::Axum,
                iters: 10
            }
        );
        assert_eq!(
            parse(&args("one --handler=service --path bus --iters 3")).unwrap(),
            Command::One {
                path: PathKind::Bus,
                handler: Handler::Service,
                iters: 3
            }
        );
    }

    #[test]
    fn bad_command_lines_are_named() {
        assert_eq!(err(""), "no mode given");
        assert!(err("bench").contains("unknown mode \"bench\""));
        assert!(
            err("--quick rust")
                .contains("the mode (rust, callgrind, all, webview, websocket) comes first")
        );
        assert!(err("rust --fast").contains("unknown option \"--fast\""));
        assert!(err("rust --json").contains("--json needs a value"));
        assert!(err("rust --json --quick").contains("--json needs a value"));
        assert!(err("rust --quick=yes").contains("takes no value"));
        assert!(err("rust stray").contains("unexpected argument \"stray\""));
        assert!(err("rust --rounds 0").contains("between 1 and 50"));
        assert!(err("rust --rounds five").contains("not a whole number"));
        assert!(err("rust --window 4GiB").contains("between 1 KiB and 4 GiB - 1"));
        assert!(err("rust --window 512").contains("between 1 KiB and 4 GiB - 1"));
        assert!(
            err("rust --window lots").contains("--window: \"lots\" does not start with a number")
        );
        assert!(err("callgrind --window 1M").contains("rust and all modes"));
        assert!(err("rust --iters 100").contains("callgrind and all modes"));
        assert!(err("callgrind --quick").contains("rust, all and webview modes"));
        assert!(err("webview --sizes 1K").contains("rust and all modes, not to webview"));
        assert!(err("webview --window 1M").contains("rust and all modes, not to webview"));
        assert!(err("webview --iters 100").contains("callgrind and all modes, not to webview"));
        assert!(err("webview --fast").contains("unknown option \"--fast\" for webview"));
        assert!(err("webview --rounds 0").contains("between 1 and 50"));
        assert!(err("webview --tauri=yes").contains("--tauri takes no value"));
        assert!(err("rust --tauri").contains("--tauri applies to the webview mode, not to rust"));
        assert!(err("all --tauri").contains("webview mode, not to all"));
        assert!(err("callgrind --tauri").contains("webview mode, not to callgrind"));
        assert!(err("webview stray").contains("unexpected argument \"stray\""));
        assert!(err("one --path tcp --iters 1").contains("expected bus, framed or hyper"));
        assert!(err("one --path bus").contains("one needs"));
        assert!(
            err("one --path bus --handler actix --iters 1").contains("expected service or axum")
        );
        assert!(err("help me").contains("after help"));
    }

    #[test]
    fn sizes_parse_in_binary_units() {
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("512B").unwrap(), 512);
        assert_eq!(parse_size("64k").unwrap(), 64 << 10);
        assert_eq!(parse_size("64KiB").unwrap(), 64 << 10);
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_sizes("1M, 1K").unwrap(), vec![1024, 1 << 20]);
    }

    #[test]
    fn bad_sizes_are_named() {
        assert!(err("rust --sizes 1KB").contains("ambiguous"));
        assert!(err("rust --sizes 1XiB").contains("unknown unit"));
        assert!(err("rust --sizes KiB").contains("does not start with a number"));
        assert!(err("rust --sizes 0").contains("is zero"));
        assert!(err("rust --sizes 17GiB").contains("16 GiB maximum"));
        assert!(err("rust --sizes 99999999999999999999999").contains("too large"));
        assert!(err("rust --sizes 1K,1K").contains("listed twice"));
        assert!(err("rust --sizes 1K,,2K").contains("does not start with a number"));
        assert!(err("rust --sizes -1").contains("does not start with a number"));
        assert!(err("rust --sizes=-1").contains("does not start with a number"));
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
