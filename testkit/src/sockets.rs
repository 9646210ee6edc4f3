//! Listening sockets held by processes, read from `/proc` — the proof that the bus opened
//! none, rather than a claim.

use std::collections::HashSet;
use std::io;

/// A listening TCP socket, or a bound and unconnected UDP socket, held by one of the
/// processes checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// The process holding it.
    pub pid: u32,
    /// `tcp`, `tcp6`, `udp` or `udp6`.
    pub table: String,
    /// The local address, as `/proc/net` prints it (hex).
    pub local: String,
}

/// `pid` and all its descendants (children, grandchildren, ...).
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let parent = all[i];
        // Children are listed per thread: a child started from any thread counts.
        let threads = std::fs::read_dir(format!("/proc/{parent}/task"))
            .map(|d| d.flatten().map(|t| t.path()).collect::<Vec<_>>())
            .unwrap_or_default();
        for thread in threads {
            let children = std::fs::read_to_string(thread.join("children")).unwrap_or_default();
            for child in children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
            {
                if !all.contains(&child) {
                    all.push(child);
                }
            }
        }
        i += 1;
    }
    all
}

/// The summed resident set size, in bytes, of `pids` (processes that exited count 0).
pub fn rss(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .sum::<u64>()
        * 1024
}

/// Every listening TCP socket and bound, unconnected UDP socket held by `pids`.
///
/// # Errors
/// When `/proc` cannot be read.
pub fn listeners(pids: &[u32]) -> io::Result<Vec<Listener>> {
    let mut found = Vec::new();
    for &pid in pids {
        let mut inodes = HashSet::new();
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue; // the process exited meanwhile
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let target = target.to_string_lossy().into_owned();
                if let Some(inode) = target
                    .strip_prefix("socket:[")
                    .and_then(|t| t.strip_suffix(']'))
                {
                    inodes.insert(inode.to_owned());
                }
            }
        }
        if inodes.is_empty() {
            continue;
        }
        for table in ["tcp", "tcp6", "udp", "udp6"] {
            // Each process's own view: it may be in another network namespace.
            let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
                continue;
            };
            for row in text.lines().skip(1) {
                let cols: Vec<&str> = row.split_whitespace().collect();
                if cols.len() < 10 {
                    continue;
                }
                // TCP in LISTEN; UDP bound and unconnected (a connected UDP socket, like a
                // resolver's, talks only to its one peer and cannot be reached by others).
                let listening = if table.starts_with("udp") {
                    cols[2].split_once(':').is_some_and(|(addr, port)| {
                        addr.bytes().all(|b| b == b'0') && port == "0000"
                    })
                } else {
                    cols[3] == "0A"
                };
                if listening && inodes.contains(cols[9]) {
                    found.push(Listener {
                        pid,
                        table: table.to_owned(),
                        local: cols[1].to_owned(),
                    });
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_listener_is_found_and_disappears() {
        let me = std::process::id();
        let before = listeners(&[me]).unwrap();
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let during = listeners(&[me]).unwrap();
        assert_eq!(during.len(), before.len() + 1, "{during:?}");
        drop(socket);
        assert_eq!(listeners(&[me]).unwrap(), before);
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(
            listeners(&[me]).unwrap().len(),
            before.len() + 1,
            "a bound UDP socket counts"
        );
        udp.connect("127.0.0.1:9").unwrap();
        assert_eq!(
            listeners(&[me]).unwrap(),
            before,
            "a connected UDP client does not"
        );
        assert!(process_tree(me).contains(&me));
    }
}
