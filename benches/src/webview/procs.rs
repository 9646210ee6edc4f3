//! The host and WebKit's processes, read from `/proc`: resident memory per process, and CPU
//! time per thread grouped by what the thread does.

use std::collections::BTreeMap;

/// `/proc/*/stat` times are in USER_HZ, which Linux fixes at 100 for user space.
const TICK_MS: f64 = 10.0;

/// What a thread is, for the CPU table. In the order the table prints them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Group {
    /// The host's main thread: GTK, WebKit's UI process, the scheme reads, the relay's
    /// message handler, `evaluate_javascript`.
    HostMain,
    /// The bus's runtime (sessions, scheme responses, handlers).
    BusWorkers,
    /// The localhost server's runtime workers (`testkit::serve_localhost`; its accept loop
    /// runs on an unnamed thread, counted as "host other").
    LocalServer,
    /// Other threads of the host (GLib/WebKit helpers).
    HostOther,
    /// The web process's main thread: the page's JavaScript, DOM events, the shim.
    WebMain,
    /// The web process's other threads (JIT, GC, IPC).
    WebOther,
    /// WebKit's network process (localhost connections, loads).
    Network,
    /// Anything else below the host (e.g. a D-Bus proxy).
    Other,
}

impl Group {
    pub(crate) const ALL: [Group; 8] = [
        Group::HostMain,
        Group::BusWorkers,
        Group::LocalServer,
        Group::HostOther,
        Group::WebMain,
        Group::WebOther,
        Group::Network,
        Group::Other,
    ];

    /// The column heading.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Group::HostMain => "host main",
            Group::BusWorkers => "bus workers",
            Group::LocalServer => "localhost srv",
            Group::HostOther => "host other",
            Group::WebMain => "web main",
            Group::WebOther => "web other",
            Group::Network => "network",
            Group::Other => "other",
        }
    }
}

/// Which group a thread belongs to.
pub(crate) fn classify(host: u32, pid: u32, tid: u32, process: &str, thread: &str) -> Group {
    if pid == host {
        if tid == host {
            Group::HostMain
        } else if thread.starts_with("bus-worker") {
            Group::BusWorkers
        } else if thread.starts_with("tokio-r") {
            // tokio's default worker name (`tokio-rt-worker`; `tokio-runtime-worker` before
            // 1.4x): the bus's runtime is named `bus-worker`, so this is the localhost server.
            Group::LocalServer
        } else {
            Group::HostOther
        }
    } else if process.starts_with("WebKitWebProces") {
        if tid == pid {
            Group::WebMain
        } else {
            Group::WebOther
        }
    } else if process.starts_with("WebKitNetworkPr") {
        Group::Network
    } else {
        Group::Other
    }
}

/// Resident memory of each process of the tree, in bytes.
pub(crate) fn rss_by_pid(host: u32) -> BTreeMap<u32, u64> {
    testkit::sockets::process_tree(host)
        .into_iter()
        .map(|pid| (pid, testkit::sockets::rss(&[pid])))
        .filter(|(_, rss)| *rss > 0)
        .collect()
}

/// Growth from `base` to `now`, split into (host, everything else): a process new since
/// `base` counts whole, one that is gone counts nothing.
pub(crate) fn growth(host: u32, base: &BTreeMap<u32, u64>, now: &BTreeMap<u32, u64>) -> (i64, i64) {
    let mut host_growth = 0i64;
    let mut others = 0i64;
    for (pid, rss) in now {
        let delta = *rss as i64 - base.get(pid).copied().unwrap_or(0) as i64;
        if *pid == host {
            host_growth += delta;
        } else {
            others += delta;
        }
    }
    (host_growth, others)
}

/// CPU time consumed so far by every thread of the tree, in ticks, by (pid, tid).
#[derive(Clone, Debug, Default)]
pub(crate) struct CpuSample {
    threads: BTreeMap<(u32, u32), (Group, u64)>,
}

impl CpuSample {
    pub(crate) fn take(host: u32) -> CpuSample {
        let mut threads = BTreeMap::new();
        for pid in testkit::sockets::process_tree(host) {
            let process = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
                continue;
            };
            for task in tasks.flatten() {
                let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
                    continue;
                };
                let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
                    continue;
                };
                if let Some((thread, ticks)) = parse_stat(&stat) {
                    let group = classify(host, pid, tid, process.trim(), thread);
                    threads.insert((pid, tid), (group, ticks));
                }
            }
        }
        CpuSample { threads }
    }

    /// CPU milliseconds per group between `self` (earlier) and `later`. Threads that
    /// started meanwhile count from zero; threads that ended meanwhile are lost.
    pub(crate) fn until(&self, later: &CpuSample) -> BTreeMap<Group, f64> {
        let mut out = BTreeMap::new();
        for (key, (group, ticks)) in &later.threads {
            let before = self.threads.get(key).map_or(0, |(_, t)| *t);
            *out.entry(*group).or_insert(0.0) += ticks.saturating_sub(before) as f64 * TICK_MS;
        }
        out
    }
}

/// The thread's name and its user + system time in ticks, from `/proc/.../stat`.
fn parse_stat(stat: &str) -> Option<(&str, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?;
    // After the name: state (field 3) ... utime (14), stime (15).
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_even_with_odd_names() {
        let line = "4242 (bus-worker (1)) S 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 4 0";
        assert_eq!(parse_stat(line), Some(("bus-worker (1)", 175)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn threads_are_grouped_by_process_and_name() {
        assert_eq!(classify(10, 10, 10, "benches", "benches"), Group::HostMain);
        assert_eq!(
            classify(10, 10, 11, "benches", "bus-worker"),
            Group::BusWorkers
        );
        assert_eq!(
            classify(10, 10, 12, "benches", "tokio-rt-worker"),
            Group::LocalServer
        );
        assert_eq!(classify(10, 10, 13, "benches", "gmain"), Group::HostOther);
        assert_eq!(classify(10, 20, 20, "WebKitWebProces", "x"), Group::WebMain);
        assert_eq!(
            classify(10, 20, 21, "WebKitWebProces", "JSC"),
            Group::WebOther
        );
        assert_eq!(classify(10, 30, 31, "WebKitNetworkPr", "x"), Group::Network);
        assert_eq!(classify(10, 40, 40, "xdg-dbus-proxy", "x"), Group::Other);
    }

    #[test]
    fn growth_counts_new_processes_whole_and_ignores_gone_ones() {
        let base = BTreeMap::from([(1, 100), (2, 50), (3, 70)]);
        let now = BTreeMap::from([(1, 130), (2, 40), (4, 25)]);
        assert_eq!(growth(1, &base, &now), (30, 15));
    }

    #[test]
    fn this_process_is_sampled() {
        let me = std::process::id();
        assert!(rss_by_pid(me).get(&me).is_some_and(|r| *r > 0));
        let a = CpuSample::take(me);
        let mut x = 0u64;
        for i in 0..3_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let b = CpuSample::take(me);
        assert!(a.until(&b).values().all(|ms| *ms >= 0.0));
    }
}
