//! Instruction counts per tiny GET, under `valgrind --tool=callgrind`.
//!
//! This binary re-executes itself as `one --path P --iters N` under callgrind twice per
//! path, with a short and a long run; the difference of the two totals divided by the
//! difference of the iteration counts is the cost of one request, with start-up, set-up
//! and warm-up subtracted out. Instruction counts do not depend on the machine's load.

use std::path::Path;
use std::process::Command;

use crate::args::{Handler, Options, PathKind};
use crate::report::{Measurement, Report};
use crate::run::INSTRUCTIONS;

/// Tiny GETs of the short run; the long run makes `--iters` more.
const SHORT: u64 = 200;

/// Runs the callgrind measurements into `report`.
pub(crate) fn run(options: &Options, report: &mut Report) -> Result<(), String> {
    let version = valgrind_version()?;
    let exe = std::env::current_exe().map_err(|e| format!("finding this executable: {e}"))?;
    std::fs::create_dir_all(&options.dir)
        .map_err(|e| format!("creating {}: {e}", options.dir.display()))?;
    let long = SHORT + options.iters;
    report.settings.push((
        "callgrind".into(),
        format!(
            "{version}; per request = (Ir of {long} tiny GETs - Ir of {SHORT}) / {}; user-space instructions of every thread (the kernel's work for TCP is not counted)",
            options.iters
        ),
    ));
    report.settings.push((
        "callgrind profiles".into(),
        format!(
            "{}/callgrind.<path>.<handler>.{long}.out, with callgrind_annotate --inclusive=yes of each as annotate.<path>.<handler>.txt",
            options.dir.display()
        ),
    ));
    for handler in Handler::ALL {
        let mut row = Measurement::new(
            INSTRUCTIONS,
            &format!("instructions/{}", handler.name()),
            handler.words(),
            "",
            true,
        );
        for path in PathKind::CALLGRIND {
            row.push(
                path.name(),
                vec![per_request(options, &exe, handler, path, long)?],
            );
        }
        report.measurements.push(row);
    }
    Ok(())
}

/// The instructions of one tiny GET on `path` to `handler`: two runs under callgrind.
fn per_request(
    options: &Options,
    exe: &Path,
    handler: Handler,
    path: PathKind,
    long: u64,
) -> Result<f64, String> {
    let lane = format!("{path}/{}", handler.name());
    let mut totals = [0u64; 2];
    let mut files = Vec::new();
    for (slot, n) in [SHORT, long].into_iter().enumerate() {
        let file = options
            .dir
            .join(format!("callgrind.{path}.{}.{n}.out", handler.name()));
        eprintln!("callgrind   {lane}: {n} tiny GETs under valgrind");
        let output = Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", file.display()))
            .arg(exe)
            .args(["one", "--path", path.name(), "--handler", handler.name()])
            .args(["--iters", &n.to_string()])
            .output()
            .map_err(|e| format!("running valgrind: {e}"))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
            return Err(format!(
                "valgrind run of {lane} ({n} GETs) failed ({}):\n{}",
                output.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ));
        }
        totals[slot] = read_total(&file)?;
        files.push(file);
    }
    if totals[1] <= totals[0] {
        return Err(format!(
            "callgrind: {lane}: the long run counted {} instructions, not more than the short run's {}",
            totals[1], totals[0]
        ));
    }
    let per_request = (totals[1] - totals[0]) as f64 / options.iters as f64;
    eprintln!("callgrind   {lane}: {per_request:.0} instructions per tiny GET");
    let long_file = files.pop().expect("two runs");
    annotate(
        &long_file,
        &options
            .dir
            .join(format!("annotate.{path}.{}.txt", handler.name())),
    );
    Ok(per_request)
}

/// The installed valgrind's version line, or why the callgrind mode cannot run.
pub(crate) fn valgrind_version() -> Result<String, String> {
    match Command::new("valgrind").arg("--version").output() {
        Ok(out) if out.status.success() => {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        }
        Ok(out) => Err(format!(
            "`valgrind --version` failed ({}): the callgrind mode needs a working valgrind",
            out.status
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(
            "valgrind is not installed, and the callgrind mode runs this benchmark under \
             `valgrind --tool=callgrind` (Debian/Ubuntu: apt-get install valgrind)"
                .into(),
        ),
        Err(e) => Err(format!("cannot run valgrind: {e}")),
    }
}

fn read_total(file: &Path) -> Result<u64, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("reading callgrind output {}: {e}", file.display()))?;
    parse_total(&text).ok_or_else(|| format!("no totals line in {}", file.display()))
}

/// The `Ir` total of a callgrind output file (`totals:`, else `summary:`).
pub(crate) fn parse_total(text: &str) -> Option<u64> {
    let find = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    find("totals:").or_else(|| find("summary:"))
}

/// Writes `callgrind_annotate --inclusive=yes` of `file` to `out`, when the tool is there.
fn annotate(file: &Path, out: &Path) {
    let Ok(output) = Command::new("callgrind_annotate")
        .arg("--inclusive=yes")
        .arg(file)
        .output()
    else {
        return;
    };
    if output.status.success() && std::fs::write(out, &output.stdout).is_ok() {
        eprintln!("callgrind   profile: {}", out.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_read_from_callgrind_output() {
        let text =
            "version: 1\ncmd: x\nevents: Ir\nsummary: 123456\n\nfn=main\n1 2\ntotals: 123457\n";
        assert_eq!(parse_total(text), Some(123_457));
        assert_eq!(parse_total("events: Ir\nsummary: 99\n"), Some(99));
        assert_eq!(parse_total("events: Ir\n"), None);
        assert_eq!(parse_total("totals: lots\n"), None);
    }
}
