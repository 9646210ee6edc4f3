//! What machine the numbers were taken on, and the process's memory counters.

use std::time::{SystemTime, UNIX_EPOCH};

/// The machine, as `nproc`, `/proc/cpuinfo`, `/proc/meminfo` and `/proc/loadavg` tell it.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Machine {
    /// CPUs this process may run on.
    pub(crate) cpus: usize,
    /// The first `model name` of `/proc/cpuinfo`.
    pub(crate) cpu_model: String,
    /// `MemTotal`, in GiB.
    pub(crate) memory_gib: f64,
    /// The kernel release.
    pub(crate) kernel: String,
    /// The 1/5/15-minute load averages when the run started (other work on the machine).
    pub(crate) load_at_start: String,
    /// When the run started, UTC.
    pub(crate) started_utc: String,
}

impl Machine {
    pub(crate) fn read() -> Machine {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let memory_gib = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kib| kib / (1024.0 * 1024.0));
        let load = read("/proc/loadavg");
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            memory_gib,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            load_at_start: load
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
            started_utc: utc_now(),
        }
    }

    /// One line: `2 CPUs (AMD EPYC), 23.4 GiB, Linux 6.1, load 0.52 0.40 0.31`.
    pub(crate) fn summary(&self) -> String {
        format!(
            "{} CPUs ({}), {:.1} GiB RAM, Linux {}, load at start {}",
            self.cpus, self.cpu_model, self.memory_gib, self.kernel, self.load_at_start
        )
    }
}

fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn status_kib(field: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("reading /proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/self/status"))
}

/// Resets the peak-RSS counter (`clear_refs` 5) and returns the current RSS in bytes.
pub(crate) fn reset_peak() -> Result<u64, String> {
    std::fs::write("/proc/self/clear_refs", "5")
        .map_err(|e| format!("resetting VmHWM through /proc/self/clear_refs: {e}"))?;
    Ok(status_kib("VmRSS:")? * 1024)
}

/// The peak RSS since the last reset, in bytes.
pub(crate) fn peak() -> Result<u64, String> {
    Ok(status_kib("VmHWM:")? * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }
}
