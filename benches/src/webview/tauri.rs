//! `--tauri`: builds the Tauri 2 peer app (`benches/tauri-peer`, a crate of its own outside
//! the workspace, so the test suite never builds Tauri) and drives it: one JSON command per
//! line on its stdin, one JSON report per line on its stdout. Its page runs the same
//! workloads as the bus's page, timed the same way, over Tauri's paths and over this run's
//! localhost server, so its rows are interleaved round by round with the bus's.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The Tauri 2 peer as it ran.
#[derive(Clone, Debug, Default)]
pub(crate) struct TauriPeer {
    /// `tauri::VERSION` as the peer reports it.
    pub(crate) version: String,
    /// How the peer's `invoke` calls travelled (custom protocol or postMessage).
    pub(crate) transport: String,
    pub(crate) user_agent: String,
    pub(crate) binary: String,
}

/// Where the peer's crate is (this crate's directory is `benches/`).
fn manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tauri-peer/Cargo.toml")
}

/// The peer's own target directory, under the workspace's: `$CARGO_TARGET_DIR/tauri-peer`,
/// or `target/tauri-peer` next to `benches/`.
pub(crate) fn target_dir(cargo_target_dir: Option<&str>) -> PathBuf {
    match cargo_target_dir.filter(|d| !d.is_empty()) {
        Some(dir) => Path::new(dir).join("tauri-peer"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tauri-peer"),
    }
}

/// Builds the peer in release mode and returns its binary.
pub(crate) fn build() -> Result<PathBuf, String> {
    let manifest = manifest();
    if !manifest.is_file() {
        return Err(format!(
            "--tauri: the peer's crate is missing ({} not found)",
            manifest.display()
        ));
    }
    let target = target_dir(std::env::var("CARGO_TARGET_DIR").ok().as_deref());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!(
        "building the Tauri 2 peer: {cargo} build --release --locked --manifest-path {} (target {}; the first build takes several minutes)",
        manifest.display(),
        target.display()
    );
    let status = Command::new(&cargo)
        .args(["build", "--release", "--locked", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("--tauri: cannot run {cargo} to build the Tauri peer: {e}"))?;
    if !status.success() {
        return Err(format!(
            "--tauri: building the Tauri peer failed ({status}); cargo's messages are above (it needs the WebKitGTK 4.1 development packages, as the rest of this mode does, and crates.io or a filled cargo cache)"
        ));
    }
    let binary = target.join("release/tauri-peer");
    if !binary.is_file() {
        return Err(format!(
            "--tauri: the build succeeded but {} is missing",
            binary.display()
        ));
    }
    Ok(binary)
}

/// A running peer.
pub(crate) struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    pub(crate) info: TauriPeer,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer").field("info", &self.info).finish()
    }
}

impl Peer {
    /// Starts `binary` against the localhost server at `local` (`http://127.0.0.1:PORT`) and
    /// waits for its page to be ready.
    pub(crate) fn start(binary: &Path, local: &str) -> Result<Peer, String> {
        let mut child = Command::new(binary)
            .args(["--driven", "--local", local])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the Tauri peer {}: {e}", binary.display()))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or("the Tauri peer has no stdout pipe")?;
        let (tx, lines) = mpsc::channel();
        std::thread::Builder::new()
            .name("tauri-peer-out".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| format!("cannot start a thread reading the Tauri peer: {e}"))?;
        let mut peer = Peer {
            child,
            stdin,
            lines,
            info: TauriPeer {
                binary: binary.display().to_string(),
                ..TauriPeer::default()
            },
        };
        let ready = peer.next_report(Duration::from_secs(90), "starting the Tauri peer")?;
        peer.info.version = ready["tauri"].as_str().unwrap_or("?").to_owned();
        peer.info.transport = ready["transport"].as_str().unwrap_or("?").to_owned();
        peer.info.user_agent = ready["user_agent"].as_str().unwrap_or("").to_owned();
        Ok(peer)
    }

    /// The next JSON line from the peer (other output is passed on to stderr).
    fn next_report(&mut self, timeout: Duration, what: &str) -> Result<Value, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => match parse_report(&line) {
                    Some(report) => return Ok(report),
                    None => eprintln!("tauri-peer: {line}"),
                },
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "{what}: no answer from the Tauri peer within {} s",
                        timeout.as_secs()
                    ));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self
                        .child
                        .wait()
                        .map_or_else(|e| format!("unknown: {e}"), |s| s.to_string());
                    return Err(format!(
                        "{what}: the Tauri peer ended ({status}); its message is above"
                    ));
                }
            }
        }
    }

    /// Runs `command` in the peer's page and returns its report, or the page's error.
    pub(crate) fn command(&mut self, command: &Value, timeout: Duration) -> Result<Value, String> {
        let what = format!(
            "{} on {} (Tauri peer)",
            command["kind"].as_str().unwrap_or("?"),
            command["path"].as_str().unwrap_or("?")
        );
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| format!("{what}: the peer's stdin is closed"))?;
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("{what}: cannot write to the Tauri peer: {e}"))?;
        let report = self.next_report(timeout, &what)?;
        if report["ok"] != true {
            return Err(format!(
                "{what}: the page reported an error: {}",
                report["error"].as_str().unwrap_or("(no message)")
            ));
        }
        Ok(report)
    }

    /// Ends the peer: closing its stdin ends it; after 20 s it is killed.
    pub(crate) fn close(mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    if !status.success() {
                        eprintln!("note: the Tauri peer ended with {status}");
                    }
                    return;
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => {
                    eprintln!(
                        "note: the Tauri peer did not end 20 s after its input closed; killing it"
                    );
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
            }
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // On an error path: do not leave the app (and its WebKit processes) behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A report line: a JSON object. Anything else is not one.
fn parse_report(line: &str) -> Option<Value> {
    let line = line.trim();
    if !line.starts_with('{') {
        return None;
    }
    serde_json::from_str::<Value>(line)
        .ok()
        .filter(Value::is_object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_are_json_objects_and_nothing_else() {
        assert_eq!(
            parse_report(r#" {"id":"c1","ok":true,"ms":3.5} "#).unwrap()["ms"],
            3.5
        );
        assert!(parse_report("Gtk-Message: 12:00: Failed to load module").is_none());
        assert!(parse_report("{not json").is_none());
        assert!(parse_report("[1,2]").is_none());
        assert!(parse_report("").is_none());
    }

    #[test]
    fn the_peer_builds_under_the_workspace_target_dir() {
        assert_eq!(
            target_dir(Some("/tmp/t")),
            PathBuf::from("/tmp/t/tauri-peer")
        );
        assert!(target_dir(None).ends_with("target/tauri-peer"));
        assert!(target_dir(Some("")).ends_with("target/tauri-peer"));
        assert!(manifest().ends_with("benches/tauri-peer/Cargo.toml"));
    }
}
